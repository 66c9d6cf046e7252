// JSON text for replies: like JSON.stringify, but bigint amounts are written as exact integers.

/**
 * Serializes a reply value. Amounts are bigint because Radiant balances pass 2^53 (DESIGN §3);
 * JSON.stringify refuses bigint and a Number would round, so this writes their decimal digits.
 * Object keys whose value is undefined are left out, as JSON.stringify does.
 * @throws TypeError on a non-finite number or a value JSON cannot hold (a bug in a handler).
 */
export function encodeJson(value: unknown): string {
  const parts: string[] = [];
  writeValue(value, parts);
  return parts.join('');
}

function writeValue(value: unknown, parts: string[]): void {
  switch (typeof value) {
    case 'string':
      parts.push(JSON.stringify(value));
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`cannot encode ${value} as JSON`);
      parts.push(String(value));
      return;
    case 'bigint':
      parts.push(value.toString());
      return;
    case 'boolean':
      parts.push(value ? 'true' : 'false');
      return;
    case 'object':
      if (value === null) parts.push('null');
      else if (Array.isArray(value)) writeArray(value, parts);
      else writeObject(value as Record<string, unknown>, parts);
      return;
    default:
      throw new TypeError(`cannot encode a ${typeof value} as JSON`);
  }
}

function writeArray(items: readonly unknown[], parts: string[]): void {
  parts.push('[');
  for (let i = 0; i < items.length; i++) {
    if (i > 0) parts.push(',');
    const item = items[i];
    // JSON.stringify writes null for holes and undefined array items.
    writeValue(item === undefined ? null : item, parts);
  }
  parts.push(']');
}

function writeObject(object: Record<string, unknown>, parts: string[]): void {
  if (ArrayBuffer.isView(object)) throw new TypeError('cannot encode binary data as JSON');
  parts.push('{');
  let first = true;
  for (const [key, item] of Object.entries(object)) {
    if (item === undefined) continue;
    if (!first) parts.push(',');
    first = false;
    parts.push(JSON.stringify(key), ':');
    writeValue(item, parts);
  }
  parts.push('}');
}
