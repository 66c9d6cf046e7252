// Fees and balances end to end without wrangler: the simulated node's fee settings, read by the
// indexer's node-info into an index file, served by the index server, read by the Worker's
// LibsqlIndexReader and answered by the Worker's handlers (estimatefee per mode, mempool.get_info,
// get_balance and its cost).
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getCoin } from '../core/coins.ts';
import { handleMessage, wholeFrame } from '../core/protocol/dispatch.ts';
import { MAX_SEND_BYTES } from '../core/protocol/framing.ts';
import { METHODS } from '../core/protocol/methods.ts';
import { Daemon } from '../indexer/daemon.ts';
import { openIndexDb, type IndexDb } from '../indexer/db.ts';
import type { IndexServer } from '../indexer/index-server/server.ts';
import { readNodeFees, writeNodeFees } from '../indexer/node-info.ts';
import { loadChainFile } from '../tools/chain-file.ts';
import type { SimNode } from '../tools/sim-node.ts';
import { HANDLERS } from '../worker/handlers.ts';
import { LibsqlIndexReader } from '../worker/libsql-reader.ts';
import { requestCost } from '../worker/limits/method-cost.ts';
import { scripthashGetBalance } from '../worker/methods/scripthash.ts';
import type { MethodContext, SessionControl } from '../worker/methods/context.ts';
import {
  caughtUpAt,
  PROJECT_DIR,
  SIM_PASSWORD,
  SIM_USER,
  startIndexer,
  startTestNode,
  stopIndexer,
  tempDir,
} from './indexer-support.ts';
import { startWorkerReader } from './support/local-index.ts';

const coin = getCoin('Bitcoin', 'mainnet');
const dir = tempDir('fees-e2e-');
let node: SimNode;
let db: IndexDb;
let server: IndexServer;
let reader: LibsqlIndexReader;

// One script hash with three confirmed outputs (and one of another script hash), display hex.
const HOLDER = '11'.repeat(32);
const OTHER = '22'.repeat(32);
const internal = (displayHex: string): Buffer => Buffer.from(displayHex, 'hex').reverse();

function session(version: string): SessionControl {
  return {
    protocolVersion: () => version,
    versionSent: () => true,
    setVersion: () => {},
    subscribeHeaders: () => {},
    subscribeScriptHash: () => {},
    unsubscribeScriptHash: () => false,
  };
}

function context(version = '1.6'): MethodContext {
  const server = { serverVersion: 'test 1.0', banner: 'b', donationAddress: '' };
  return { index: reader, coin, server, session: session(version) };
}

/** The reply text to one request; our own failure (a -32603 reply) throws its cause instead. */
async function reply(method: string, params: unknown[], version = '1.6'): Promise<string> {
  const failures: unknown[] = [];
  const outcome = await handleMessage(JSON.stringify({ id: 1, method, params }), {
    methods: METHODS,
    handlers: HANDLERS,
    context: context(version),
    protocolVersion: () => version,
    onInternalError: (error) => failures.push(error),
  });
  if (failures.length > 0) throw failures[0];
  return outcome.reply ?? 'null';
}

async function refreshFees(): Promise<void> {
  const url = new URL(node.url);
  const daemon = new Daemon({ url: url.origin, user: SIM_USER, password: SIM_PASSWORD });
  writeNodeFees(db, await readNodeFees(daemon));
}

beforeAll(async () => {
  const blocks = loadChainFile(join(PROJECT_DIR, 'data/bitcoin_mainnet_0-255.json'));
  node = await startTestNode(coin, blocks.slice(0, 1));
  db = openIndexDb(join(dir, 'index.db'), coin);
  const utxo = db.prepare('INSERT INTO utxos (tx_num, vout, hashx, value) VALUES (?, ?, ?, ?)');
  [
    [0, 0, HOLDER, 5_000_000_000n],
    [1, 3, HOLDER, 2n ** 60n],
    [2, 1, HOLDER, 7n],
    [2, 2, OTHER, 100n],
  ].forEach(([txNum, vout, hashx, value]) => utxo.run(txNum, vout, internal(String(hashx)), value));
  ({ server, reader } = await startWorkerReader(join(dir, 'index.db')));
});

afterAll(async () => {
  await server?.close();
  db?.close();
  await node?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('fees from the node to the Worker', () => {
  it('answers estimatefee per mode as the node estimates it', async () => {
    node.setFeeRate(3_000n);
    node.setFeeRate(8_000n, 'CONSERVATIVE');
    node.setFeeRate(null, 'ECONOMICAL');
    await refreshFees();
    expect(await reply('blockchain.estimatefee', [6])).toBe(
      '{"jsonrpc":"2.0","result":0.00003,"id":1}'
    );
    expect(await reply('blockchain.estimatefee', [6, 'CONSERVATIVE'])).toBe(
      '{"jsonrpc":"2.0","result":0.00008,"id":1}'
    );
    expect(await reply('blockchain.estimatefee', [6, 'economical'])).toBe(
      '{"jsonrpc":"2.0","result":-1,"id":1}'
    );
  });

  it('answers mempool.get_info with the node floors and relayfee with its relay fee', async () => {
    node.setNodeFees({
      relayFeeSatsPerKb: 2_000n,
      incrementalFeeSatsPerKb: 1_500n,
      mempoolFloorSatsPerKb: 12_345n,
    });
    await refreshFees();
    expect(await reply('mempool.get_info', [])).toBe(
      '{"jsonrpc":"2.0","result":{"mempoolminfee":0.00012345,"minrelaytxfee":0.00002000,' +
        '"incrementalrelayfee":0.00001500},"id":1}'
    );
    expect(await reply('blockchain.relayfee', [], '1.4.2')).toBe(
      '{"jsonrpc":"2.0","result":0.00002,"id":1}'
    );
  });
});

describe('get_balance through the index', () => {
  it('sums the confirmed outputs and charges 1 + their count / 50', async () => {
    const confirmed = 5_000_000_007n + 2n ** 60n;
    expect(await reply('blockchain.scripthash.get_balance', [HOLDER])).toBe(
      `{"jsonrpc":"2.0","result":{"confirmed":${confirmed},"unconfirmed":0},"id":1}`
    );
    const result = await scripthashGetBalance(context(), [HOLDER], wholeFrame(MAX_SEND_BYTES));
    const cost = requestCost('blockchain.scripthash.get_balance', 1, [HOLDER], result);
    // Three UTXOs: ElectrumX's 1.0 + 3 / 50.
    expect(cost).toBeCloseTo(1.06, 12);
    const nobody = ['33'.repeat(32)];
    const empty = await scripthashGetBalance(context(), nobody, wholeFrame(MAX_SEND_BYTES));
    expect(requestCost('blockchain.scripthash.get_balance', 1, [], empty)).toBe(1);
  });
});

describe('fees after a new block', () => {
  it('are read again from the node when a block arrives, not only every minute', async () => {
    const blocks = loadChainFile(join(PROJECT_DIR, 'data/bitcoin_mainnet_0-255.json'));
    const feeNode = await startTestNode(coin, blocks.slice(0, 3));
    const feeDir = tempDir('fees-new-tip-');
    feeNode.setFeeRate(2_000n);
    const run = startIndexer({
      DAEMON_URL: feeNode.url,
      COIN: coin.name,
      NET: coin.net,
      DB_DIRECTORY: feeDir,
    });
    const feeRate = (): number | undefined => {
      const index = new Database(join(feeDir, 'index.db'), { readonly: true });
      try {
        const row = index.prepare('SELECT fee_rate FROM fee_estimates WHERE target_blocks = 1');
        return (row.get() as { fee_rate: number } | undefined)?.fee_rate;
      } finally {
        index.close();
      }
    };
    const until = async (rate: number): Promise<number> => {
      const startedMs = Date.now();
      while (feeRate() !== rate && Date.now() - startedMs < 20_000) {
        await new Promise((done) => setTimeout(done, 50));
      }
      expect(feeRate()).toBe(rate);
      return Date.now() - startedMs;
    };
    try {
      await run.waitFor(caughtUpAt(2), 30_000);
      // 2,000 sat/kB as the node gives it, in coins per kB.
      await until(0.00002);
      feeNode.setFeeRate(5_000n);
      feeNode.mine();
      // The interval is 60 s; the new block brings the figure within seconds.
      expect(await until(0.00005)).toBeLessThan(15_000);
    } finally {
      await stopIndexer(run);
      await feeNode.close();
      rmSync(feeDir, { recursive: true, force: true });
    }
  }, 60_000);
});
