// Tests of the broadcast relay against the simulated node through the indexer's Daemon client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getCoin } from '../core/coins.ts';
import { rejectTexts } from '../tools/sim-node-mempool.ts';
import { chainBlocks, p2pkh, rpc, spend, txidOf } from '../tools/sim-node-testkit.ts';
import { startSimNode, type SimNode } from '../tools/sim-node.ts';
import { Daemon } from './daemon.ts';
import { startRelay, type Relay, type RelayDaemon } from './relay.ts';

const coin = getCoin('Radiant', 'mainnet');
const SECRET = 'relay-test-secret-0123456789';
const USER = 'relayuser';
const PASSWORD = 'relay-node-password';

let node: SimNode;
let relay: Relay;
const accepted: string[] = [];
let nodeCalls = 0;

/** POSTs a body to a relay; returns status and parsed JSON. */
async function post(
  url: string,
  body: string,
  token: string | null = SECRET
): Promise<{ status: number; json: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const response = await fetch(url, { method: 'POST', headers, body });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

const rawtx = (hex: string): string => JSON.stringify({ rawtx: hex });

// Block 1's coinbase (Radiant mainnet, data/radiant_mainnet_0-1.json) pays 50,000 RXD at vout 0;
// the simulated node checks no scripts, so a lone OP_TRUE spends it.
let coinbaseTxid = '';

beforeAll(async () => {
  const blocks = chainBlocks('data/radiant_mainnet_0-1.json');
  node = await startSimNode({ coin, blocks, user: USER, password: PASSWORD });
  const block1 = blocks[1] ?? '';
  // Header (80 bytes), tx count (1 byte), then the coinbase until the end of the block.
  coinbaseTxid = txidOf(block1.slice(162));
  const daemon = new Daemon({
    url: `http://127.0.0.1:${node.port}`,
    user: USER,
    password: PASSWORD,
    giveUpAfterMs: 1_500,
    firstRetryMs: 100,
  });
  const counting: RelayDaemon = {
    call: (method, params) => {
      nodeCalls += 1;
      return daemon.call(method, params);
    },
  };
  relay = await startRelay({
    host: '127.0.0.1',
    port: 0,
    secret: SECRET,
    daemon: counting,
    coin,
    onAccepted: (txid) => accepted.push(txid),
  });
});

afterAll(async () => {
  await relay?.close();
  await node?.close();
});

describe('relay', () => {
  it('hands a tx to the node and returns its txid', async () => {
    const hex = spend([{ txid: coinbaseTxid, vout: 0 }], [{ value: 10_000n, script: p2pkh(1) }]);
    const reply = await post(relay.url, rawtx(hex));
    expect(reply).toEqual({ status: 200, json: { txid: txidOf(hex) } });
    expect(accepted).toEqual([txidOf(hex)]);
    expect(await rpc(node, 'getrawmempool')).toEqual([txidOf(hex)]);
  });

  it("returns the node's rejection verbatim with its code", async () => {
    const other = spend([{ txid: coinbaseTxid, vout: 0 }], [{ value: 20_000n, script: p2pkh(2) }]);
    const conflict = await post(relay.url, rawtx(other));
    expect(conflict).toEqual({
      status: 422,
      json: { rejected: { code: -26, message: 'txn-mempool-conflict (code 18)' } },
    });
    const missing = spend([{ txid: 'ee'.repeat(32), vout: 3 }], [{ value: 1n, script: p2pkh(3) }]);
    expect(await post(relay.url, rawtx(missing))).toEqual({
      status: 422,
      json: { rejected: { code: -25, message: rejectTexts(coin).missingInputs } },
    });
  });

  it('refuses garbage, oversize bodies and bad tokens without calling the node', async () => {
    const before = nodeCalls;
    const expectRefused = async (body: string, status: number, token: string | null = SECRET) => {
      const reply = await post(relay.url, body, token);
      expect(reply.status).toBe(status);
      expect(typeof reply.json.error).toBe('string');
    };
    await expectRefused(rawtx('zz'), 400);
    await expectRefused(rawtx('abc'), 400);
    await expectRefused(rawtx(''), 400);
    await expectRefused(rawtx('0100000000'), 400);
    await expectRefused('not json', 400);
    await expectRefused('{"hex":"00"}', 400);
    await expectRefused(rawtx('00'.repeat(1_000_001)), 400);
    await expectRefused(rawtx('00'.repeat(1_001_000)), 413);
    await expectRefused(rawtx('0100'), 401, null);
    await expectRefused(rawtx('0100'), 401, 'wrong-secret-0123456789');
    await expectRefused(rawtx('0100'), 401, `${SECRET}x`);
    expect(nodeCalls).toBe(before);
    const wrongPath = await fetch(relay.url.replace('/broadcast', '/other'), { method: 'POST' });
    expect(wrongPath.status).toBe(404);
    expect((await fetch(relay.url)).status).toBe(405);
  });

  it('answers 502 when the node is down and 504 when it hangs', async () => {
    node.setFault('down');
    try {
      const hex = spend([{ txid: coinbaseTxid, vout: 0 }], [{ value: 30_000n, script: p2pkh(4) }]);
      const reply = await post(relay.url, rawtx(hex));
      expect(reply).toEqual({ status: 502, json: { error: 'the node is unavailable' } });
    } finally {
      node.setFault('none');
    }
    const hanging = await startRelay({
      host: '127.0.0.1',
      port: 0,
      secret: SECRET,
      daemon: { call: () => new Promise(() => {}) },
      coin,
      nodeTimeoutMs: 200,
    });
    try {
      const hex = spend([{ txid: coinbaseTxid, vout: 0 }], [{ value: 40_000n, script: p2pkh(5) }]);
      const reply = await post(hanging.url, rawtx(hex));
      expect(reply).toEqual({ status: 504, json: { error: 'the node did not answer in time' } });
    } finally {
      await hanging.close();
    }
  });

  it('will not start with a weak secret', async () => {
    const daemon = { call: () => Promise.reject(new Error('unused')) };
    const options = { host: '127.0.0.1', port: 0, daemon, coin };
    await expect(startRelay({ ...options, secret: 'short' })).rejects.toThrow(RangeError);
    await expect(startRelay({ ...options, secret: 'has a space in it!!' })).rejects.toThrow(
      RangeError
    );
  });
});
