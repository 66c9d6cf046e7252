// Tests for the simulated node's fault modes (garbage, slow, down, error500) and that control
// calls get through them.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getCoin } from '../core/coins.ts';
import { startSimNode, type SimNode } from './sim-node.ts';
import { chainBlocks, post, rpc } from './sim-node-testkit.ts';

const SLOW_DELAY_MS = 300;
let node: SimNode;

beforeAll(async () => {
  node = await startSimNode({
    coin: getCoin('Radiant', 'mainnet'),
    blocks: chainBlocks('data/radiant_mainnet_0-1.json'),
    user: 'u',
    password: 'p',
    slowDelayMs: SLOW_DELAY_MS,
  });
});
afterEach(() => node.setFault('none'));
afterAll(async () => {
  await node.close();
});

describe('fault modes', () => {
  it('none answers normally', async () => {
    expect(await rpc(node, 'getblockcount')).toBe(1);
  });

  it('garbage answers 200 with a body that is not JSON', async () => {
    node.setFault('garbage');
    const answer = await post(node, { id: 1, method: 'getblockcount' });
    expect(answer.status).toBe(200);
    expect(answer.json).toBeUndefined();
    expect(() => JSON.parse(answer.text) as unknown).toThrow();
  });

  it('slow holds each reply', async () => {
    node.setFault('slow');
    const startedAt = Date.now();
    expect(await rpc(node, 'getblockcount')).toBe(1);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(SLOW_DELAY_MS - 20);
  });

  it('error500 answers as a node in warmup: HTTP 500, code -28, for every method', async () => {
    node.setFault('error500');
    const single = await post(node, { id: 4, method: 'getblockcount' });
    expect([single.status, single.json]).toEqual([
      500,
      { result: null, error: { code: -28, message: 'Loading block index...' }, id: 4 },
    ]);
    const unknown = await post(node, { id: 5, method: 'nosuchmethod' });
    expect((unknown.json as { error: { code: number } }).error.code).toBe(-28);
    const batch = await post(node, [{ id: 1, method: 'getblockcount' }]);
    expect([batch.status, batch.json]).toEqual([
      200,
      [{ result: null, error: { code: -28, message: 'Loading block index...' }, id: 1 }],
    ]);
  });

  it('down resets every connection without an answer until the fault is cleared', async () => {
    expect(await rpc(node, 'getblockcount')).toBe(1);
    node.setFault('down');
    await expect(rpc(node, 'getblockcount')).rejects.toThrow();
    node.setFault('none');
    expect(await rpc(node, 'getblockcount')).toBe(1);
  });

  it('lets sim_* control calls through every fault', async () => {
    for (const mode of ['garbage', 'slow', 'error500', 'down'] as const) {
      expect(await rpc(node, 'sim_fault', [mode])).toBe(mode);
      const healthy = await rpc(node, 'getblockcount').then(
        (count) => count === 1,
        () => false
      );
      expect(healthy).toBe(mode === 'slow');
      expect(await rpc(node, 'sim_fault', ['none'])).toBe('none');
      expect(await rpc(node, 'getblockcount')).toBe(1);
    }
    await expect(rpc(node, 'sim_fault', ['broken'])).rejects.toThrow(/unknown fault mode "broken"/);
  });
});
