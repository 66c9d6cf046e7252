// Tests for tools/chain-file.ts on the data/ chain files (data/SOURCES.md) and on broken files.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadChainFile } from './chain-file.ts';

const fromRoot = (path: string): string => new URL(`../${path}`, import.meta.url).pathname;
const sha256d = (data: Uint8Array): Buffer =>
  createHash('sha256').update(createHash('sha256').update(data).digest()).digest();
const headerHashHex = (blockHex: string): string =>
  sha256d(Buffer.from(blockHex.slice(0, 160), 'hex')).reverse().toString('hex');

const dir = mkdtempSync(join(tmpdir(), 'chain-file-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeTemp(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

describe('loadChainFile', () => {
  it('reads the Bitcoin mainnet chain, block i at height i, tip as SOURCES.md gives it', () => {
    const blocks = loadChainFile(fromRoot('data/bitcoin_mainnet_0-255.json'));
    expect(blocks).toHaveLength(256);
    expect(headerHashHex(blocks[1] ?? '')).toBe(
      '00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048'
    );
    expect(headerHashHex(blocks[255] ?? '')).toBe(
      '00000000d0a75c861fabf9ff7b92022f60e4afeed9331fe5aa073d8e4706fe3c'
    );
  });

  it('ignores keys other than blocks (mocktime, stats, _source)', () => {
    expect(loadChainFile(fromRoot('data/bitcoincash_regtest_0-103.json'))).toHaveLength(104);
    expect(loadChainFile(fromRoot('data/radiant_mainnet_0-1.json'))).toHaveLength(2);
  });

  it('lowercases hex', () => {
    const block = loadChainFile(fromRoot('data/radiant_mainnet_0-1.json'))[0] ?? '';
    const path = writeTemp('upper.json', JSON.stringify({ blocks: [block.toUpperCase()] }));
    expect(loadChainFile(path)).toEqual([block]);
  });

  it('names the file and the bad block', () => {
    const good = loadChainFile(fromRoot('data/radiant_mainnet_0-1.json'))[0] ?? '';
    const cases: [string, RegExp][] = [
      ['{"blocks": [', /cannot read chain file .*broken/],
      ['[1, 2]', /"blocks" array expected/],
      ['{"blocks": "00"}', /must be an array/],
      [JSON.stringify({ blocks: [good, `${good}0`] }), /block 1 is not even-length hex/],
      [JSON.stringify({ blocks: [good, 'zz'.repeat(200)] }), /block 1 is not even-length hex/],
      [JSON.stringify({ blocks: [7] }), /block 0 is not even-length hex \(number\)/],
      [JSON.stringify({ blocks: ['00'.repeat(80)] }), /block 0 is only 80 bytes/],
    ];
    for (const [index, [content, message]] of cases.entries()) {
      const path = writeTemp(`broken-${index}.json`, content);
      expect(() => loadChainFile(path)).toThrow(message);
    }
    expect(() => loadChainFile(join(dir, 'missing.json'))).toThrow(/cannot read chain file/);
  });
});
