// The text of each request's "id" as the client wrote it. JSON.parse turns a number id beyond
// 2^53 into the nearest double (12345678901234567891 becomes 12345678901234567000), and a reply
// must carry the id the client sent: ElectrumX, in Python, echoes any integer exactly.

const SPACE = new Set([' ', '\t', '\n', '\r']);

function skipSpace(text: string, at: number): number {
  let index = at;
  while (index < text.length && SPACE.has(text.charAt(index))) index++;
  return index;
}

// `at` is an opening quote; returns the index after the closing one.
function skipString(text: string, at: number): number {
  let index = at + 1;
  while (index < text.length) {
    const char = text.charAt(index);
    if (char === '\\') index += 2;
    else if (char === '"') return index + 1;
    else index++;
  }
  return index;
}

// Returns the index after the value starting at `at`. Nested values are skipped by counting
// brackets outside strings, without recursion, so a deeply nested parameter costs no stack.
function skipValue(text: string, at: number): number {
  const first = text.charAt(at);
  if (first === '"') return skipString(text, at);
  if (first !== '{' && first !== '[') {
    let index = at;
    while (index < text.length && !',}] \t\n\r'.includes(text.charAt(index))) index++;
    return index;
  }
  let depth = 0;
  let index = at;
  while (index < text.length) {
    const char = text.charAt(index);
    if (char === '"') {
      index = skipString(text, index);
      continue;
    }
    if (char === '{' || char === '[') depth++;
    else if (char === '}' || char === ']') depth--;
    index++;
    if (depth === 0) return index;
  }
  return index;
}

// The text of the last "id" member of the object at `at` (JSON.parse keeps the last of
// duplicate keys), and the index after the object.
function objectId(text: string, at: number): { id: string | undefined; end: number } {
  let id: string | undefined;
  let index = skipSpace(text, at + 1);
  while (index < text.length && text.charAt(index) !== '}') {
    const keyEnd = skipString(text, index);
    // A key may spell "id" with escapes ("\u0069d"): decode it as JSON.parse did.
    const key: unknown = JSON.parse(text.slice(index, keyEnd));
    const valueStart = skipSpace(text, skipSpace(text, keyEnd) + 1);
    const valueEnd = skipValue(text, valueStart);
    if (key === 'id') id = text.slice(valueStart, valueEnd);
    index = skipSpace(text, valueEnd);
    if (text.charAt(index) === ',') index = skipSpace(text, index + 1);
  }
  return { id, end: index + 1 };
}

/**
 * The "id" texts of a message that JSON.parse accepted: one for a request object, one per
 * member of a batch (undefined where the member is not an object or has no id).
 */
export function idTexts(text: string): string | undefined | (string | undefined)[] {
  const start = skipSpace(text, 0);
  if (text.charAt(start) === '{') return objectId(text, start).id;
  if (text.charAt(start) !== '[') return undefined;
  const ids: (string | undefined)[] = [];
  let index = skipSpace(text, start + 1);
  while (index < text.length && text.charAt(index) !== ']') {
    if (text.charAt(index) === '{') {
      const object = objectId(text, index);
      ids.push(object.id);
      index = object.end;
    } else {
      ids.push(undefined);
      index = skipValue(text, index);
    }
    index = skipSpace(text, index);
    if (text.charAt(index) === ',') index = skipSpace(text, index + 1);
  }
  return ids;
}
