// JSON text for replies: like JSON.stringify, but bigint amounts are written as exact integers.

/**
 * JSON text written into a reply as it is: amounts in coins with their 8 decimals ("0.30000000",
 * as the node prints them), answers kept from an earlier encodeJson (the edge cache), and a
 * request's number id beyond 2^53 as the client wrote it (a number token JSON.parse accepted).
 * The text must be one valid JSON value; no other client input goes in here.
 */
export class RawJson {
  readonly text: string;

  constructor(text: string) {
    this.text = text;
  }
}

const COIN_DECIMALS = 8;

/**
 * An amount in satoshis/photons as a JSON number in coins with exactly 8 decimals, the node's
 * ValueFromAmount (radiant-node src/core_write.cpp); exact for any int64, unlike a double.
 */
export function coinAmount(sats: bigint): RawJson {
  const negative = sats < 0n;
  const digits = (negative ? -sats : sats).toString().padStart(COIN_DECIMALS + 1, '0');
  const whole = digits.slice(0, -COIN_DECIMALS);
  return new RawJson(`${negative ? '-' : ''}${whole}.${digits.slice(-COIN_DECIMALS)}`);
}

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
      else if (value instanceof RawJson) parts.push(value.text);
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
