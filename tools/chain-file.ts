// Chain files: JSON objects whose `blocks` array holds raw block hex, index = height
// (data/SOURCES.md).
import { readFileSync } from 'node:fs';

const HEX_RE = /^(?:[0-9a-fA-F]{2})+$/;
// A header is 80 bytes and a block holds at least one tx (>= 60 bytes): anything shorter is not
// a block.
const MIN_BLOCK_HEX_CHARS = 2 * (80 + 1 + 60);

/**
 * Reads a chain file and returns its block hex strings in height order (lowercased). Keys other
 * than `blocks` (`_source`, `mocktime`, `stats`...) are ignored.
 * @throws Error naming the file and the first bad entry when the file is not such an object.
 */
export function loadChainFile(path: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`cannot read chain file ${path}: ${reason}`, { cause: error });
  }
  return parseChainJson(parsed, path);
}

/** Validates an already-parsed chain file object; `name` only labels error messages. */
export function parseChainJson(parsed: unknown, name: string): string[] {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`chain file ${name}: a JSON object with a "blocks" array expected`);
  }
  const blocks: unknown = (parsed as Record<string, unknown>).blocks;
  if (!Array.isArray(blocks)) {
    throw new Error(`chain file ${name}: "blocks" must be an array of block hex strings`);
  }
  return blocks.map((entry: unknown, height) => {
    if (typeof entry !== 'string' || !HEX_RE.test(entry)) {
      const shown = typeof entry === 'string' ? `"${entry.slice(0, 40)}"` : typeof entry;
      throw new Error(`chain file ${name}: block ${height} is not even-length hex (${shown})`);
    }
    if (entry.length < MIN_BLOCK_HEX_CHARS) {
      throw new Error(`chain file ${name}: block ${height} is only ${entry.length / 2} bytes`);
    }
    return entry.toLowerCase();
  });
}
