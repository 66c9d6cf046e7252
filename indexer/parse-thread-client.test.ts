// BlockParser: the parse thread prepares real blocks exactly as inline preparation does, and its
// failures come back as the errors sync expects (BlockError, DaemonRpcError).
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getCoin } from '../core/coins.ts';
import { loadChainFile } from '../tools/chain-file.ts';
import type { PreparedBlock } from './block-prep.ts';
import { BlockError } from './block-verify.ts';
import { DaemonRpcError } from './daemon.ts';
import { BlockParser } from './parse-thread-client.ts';

const BITCOIN = loadChainFile(join(import.meta.dirname, '../data/bitcoin_mainnet_0-255.json'));
const coin = getCoin('Bitcoin', 'mainnet');
const threaded = new BlockParser(coin, true);
const inline = new BlockParser(coin, false);

afterAll(async () => {
  await threaded.close();
});

// The block hash as the node names it: sha256d of the header, display order.
function hashOf(blockHex: string): string {
  const header = Buffer.from(blockHex.slice(0, 160), 'hex');
  const once = createHash('sha256').update(header).digest();
  return createHash('sha256').update(once).digest().reverse().toString('hex');
}

function plain(p: PreparedBlock): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(p).map(([key, value]) => [
      key,
      ArrayBuffer.isView(value)
        ? Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')
        : value,
    ])
  );
}

describe('BlockParser', () => {
  it('prepares blocks on the thread exactly as inline, txids checked independently', async () => {
    const heights = [0, 9, 170, 181, 255];
    for (const height of heights) {
      const hex = BITCOIN[height] ?? '';
      const [onThread, here] = await Promise.all([
        threaded.parse(hex, height, hashOf(hex)),
        inline.parse(hex, height, hashOf(hex)),
      ]);
      expect(plain(onThread)).toEqual(plain(here));
      const first = onThread.raw.subarray(onThread.txBounds[0], onThread.txBounds[1]);
      const once = createHash('sha256').update(first).digest();
      const txid = createHash('sha256').update(once).digest();
      expect(Buffer.from(onThread.txids.subarray(0, 32)).equals(txid)).toBe(true);
    }
  });

  it('rejects a block with a bad merkle root as a BlockError naming height and hash', async () => {
    const hex = BITCOIN[170] ?? '';
    // Flip one byte of the last tx's locktime: still parses, txids no longer fold to the root.
    const broken = hex.slice(0, -2) + (hex.endsWith('00') ? '01' : '00');
    const failure = threaded.parse(broken, 170, hashOf(broken));
    await expect(failure).rejects.toBeInstanceOf(BlockError);
    await expect(failure).rejects.toThrow(/^block 170 [0-9a-f]{64}: merkle root mismatch/);
  });

  it('rejects a block other than the one asked for, and a non-hex answer', async () => {
    const hex = BITCOIN[5] ?? '';
    await expect(threaded.parse(hex, 5, hashOf(BITCOIN[6] ?? ''))).rejects.toThrow(/instead/);
    const garbage = threaded.parse(`${hex.slice(0, 200)}zz${hex.slice(202)}`, 5, hashOf(hex));
    await expect(garbage).rejects.toBeInstanceOf(DaemonRpcError);
  });

  it('rejects what is still waiting when closed', async () => {
    const parser = new BlockParser(coin, true);
    const pending = parser.parse(BITCOIN[1] ?? '', 1, hashOf(BITCOIN[1] ?? ''));
    const rejected = expect(pending).rejects.toThrow(/closed/);
    await parser.close();
    await rejected;
  });
});
