// Binary chain files (.bin) for chains too large for JSON, and a streaming JSON chain-file writer.
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';

// Layout: the 8 magic bytes, then per block (index = height) its length as u32 LE and its bytes.
const MAGIC = Buffer.from('EECHAIN1', 'ascii');

/** Writes blocks one by one to a file, as a binary chain file or a JSON chain file. */
export interface ChainWriter {
  add(block: Uint8Array): void;
  close(): void;
}

/**
 * A writer for `path`: a binary chain file, or a JSON chain file ({"blocks": [hex, ...]},
 * data/SOURCES.md) written a block at a time, never whole in memory. A JSON file over ~500 MB
 * cannot be read back by loadChainFile (V8's string limit): use binary for those.
 */
export function openChainWriter(path: string, binary = path.endsWith('.bin')): ChainWriter {
  const fd = openSync(path, 'w');
  let count = 0;
  if (binary) writeSync(fd, MAGIC);
  else writeSync(fd, '{"blocks": [\n');
  return {
    add(block: Uint8Array): void {
      if (binary) {
        const length = Buffer.alloc(4);
        length.writeUInt32LE(block.length, 0);
        writeSync(fd, length);
        writeSync(fd, block);
      } else {
        const hex = Buffer.from(block.buffer, block.byteOffset, block.length).toString('hex');
        writeSync(fd, `${count === 0 ? '' : ',\n'}"${hex}"`);
      }
      count += 1;
    },
    close(): void {
      if (!binary) writeSync(fd, '\n]}\n');
      closeSync(fd);
    },
  };
}

/**
 * Reads a binary chain file: the blocks as views into one buffer, index = height.
 * @throws Error naming the file when the magic or a length is wrong.
 */
export function readChainBinary(path: string): Uint8Array[] {
  const bytes = readFileSync(path);
  if (!bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new Error(`${path} is not a binary chain file (no ${MAGIC.toString('ascii')} magic)`);
  }
  const blocks: Uint8Array[] = [];
  let at = MAGIC.length;
  while (at < bytes.length) {
    if (at + 4 > bytes.length) throw new Error(`${path}: truncated length at byte ${at}`);
    const length = bytes.readUInt32LE(at);
    if (at + 4 + length > bytes.length) {
      throw new Error(`${path}: block ${blocks.length} runs past the end of the file`);
    }
    blocks.push(new Uint8Array(bytes.buffer, bytes.byteOffset + at + 4, length));
    at += 4 + length;
  }
  return blocks;
}
