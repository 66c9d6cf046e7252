// Fees copied from the node: estimatesmartfee 1..25 with no mode and per estimate mode (estimatefee
// where it is gone), the relay fee, the incremental fee and the mempool floor.
import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getCoin } from '../core/coins.ts';
import { tempDir } from '../test/indexer-support.ts';
import { freePort } from '../tools/stack.ts';
import { Daemon } from './daemon.ts';
import { openIndexDb } from './db.ts';
import {
  NEW_TIP_REFRESH_GAP_MS,
  NodeInfoWake,
  readNodeFees,
  runNodeInfo,
  writeNodeFees,
} from './node-info.ts';

type Answer = (method: string, params: unknown[]) => { result?: unknown; error?: unknown };
const servers: Server[] = [];
const dirs: string[] = [];

afterAll(() => {
  servers.forEach((server) => server.close());
  dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true }));
});

async function daemonAnswering(answer: Answer): Promise<Daemon> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const calls = JSON.parse(Buffer.concat(chunks).toString()) as {
        id: number;
        method: string;
        params: unknown[];
      }[];
      const replies = calls.map((c) => ({
        result: null,
        error: null,
        ...answer(c.method, c.params),
        id: c.id,
      }));
      res.end(JSON.stringify(replies));
    });
  });
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const port = (server.address() as AddressInfo).port;
  return new Daemon({ url: `http://127.0.0.1:${port}`, user: 'u', password: 'p' });
}

const NOT_FOUND = { error: { code: -32601, message: 'Method not found' } };

describe('node fees', () => {
  it('reads estimatesmartfee for targets 1..25, -1 where the node has no estimate', async () => {
    const daemon = await daemonAnswering((method, params) => {
      if (method === 'getnetworkinfo') return { result: { relayfee: 0.00001, version: 1 } };
      if (method !== 'estimatesmartfee') return NOT_FOUND;
      const rate = [0.0002, 0.0001, 0.00005][Number(params[0]) - 1];
      return rate !== undefined
        ? { result: { feerate: rate, blocks: Number(params[0]) } }
        : { result: { errors: ['Insufficient data or no feerate found'], blocks: 0 } };
    });
    const fees = await readNodeFees(daemon);
    expect(fees.relayFee).toBe(0.00001);
    expect(fees.estimates).toHaveLength(25);
    expect(fees.estimates.slice(0, 4)).toEqual([0.0002, 0.0001, 0.00005, -1]);
    expect(fees.estimates.slice(3).every((rate) => rate === -1)).toBe(true);
  });

  it('reads each estimate mode, the incremental fee and the mempool floor (Core)', async () => {
    // Figures per mode chosen apart so a mix-up shows: no mode 3e-4, CONSERVATIVE 5e-4,
    // ECONOMICAL 1e-4 for targets 1 and 2, none beyond.
    const rates: Record<string, number> = {
      '': 0.0003,
      CONSERVATIVE: 0.0005,
      ECONOMICAL: 0.0001,
    };
    const daemon = await daemonAnswering((method, params) => {
      if (method === 'getnetworkinfo') {
        return { result: { relayfee: 0.00001, incrementalfee: 0.00002 } };
      }
      if (method === 'getmempoolinfo') {
        // Core 24+ reports incrementalrelayfee here too; ElectrumX reads this one.
        const result = { mempoolminfee: 0.00004, minrelaytxfee: 0.00001 };
        return { result: { ...result, incrementalrelayfee: 0.00003 } };
      }
      if (method !== 'estimatesmartfee') return NOT_FOUND;
      const rate = rates[String(params[1] ?? '')];
      if (Number(params[0]) > 2 || rate === undefined) {
        return { result: { blocks: 0, errors: ['Insufficient data or no feerate found'] } };
      }
      return { result: { feerate: rate, blocks: 2 } };
    });
    const fees = await readNodeFees(daemon);
    const tail = Array.from({ length: 23 }, () => -1);
    expect(fees).toEqual({
      relayFee: 0.00001,
      incrementalFee: 0.00003,
      mempoolMinFee: 0.00004,
      estimates: [0.0003, 0.0003, ...tail],
      estimatesByMode: {
        CONSERVATIVE: [0.0005, 0.0005, ...tail],
        ECONOMICAL: [0.0001, 0.0001, ...tail],
      },
    });
  });

  it('keeps the no-mode figure for a refused mode; incrementalfee of getnetworkinfo', async () => {
    const daemon = await daemonAnswering((method, params) => {
      if (method === 'getnetworkinfo') {
        return { result: { relayfee: 0.00001, incrementalfee: 0.00002 } };
      }
      if (method === 'getmempoolinfo') return { result: { mempoolminfee: 0.00001 } };
      if (method !== 'estimatesmartfee') return NOT_FOUND;
      if (params.length > 1) {
        return { error: { code: -8, message: 'Invalid estimate_mode parameter' } };
      }
      return { result: { feerate: 0.0001 * Number(params[0]), blocks: Number(params[0]) } };
    });
    const fees = await readNodeFees(daemon);
    const plain = Array.from({ length: 25 }, (_, i) => 0.0001 * (i + 1));
    expect(fees.estimates).toEqual(plain);
    expect(fees.estimatesByMode).toEqual({ CONSERVATIVE: plain, ECONOMICAL: plain });
    expect([fees.incrementalFee, fees.mempoolMinFee]).toEqual([0.00002, 0.00001]);
  });

  it('falls back to estimatefee where estimatesmartfee is gone (Radiant, BCHN)', async () => {
    const daemon = await daemonAnswering((method) => {
      if (method === 'getnetworkinfo') return { result: { relayfee: 0.001 } };
      if (method === 'getmempoolinfo') {
        return { result: { mempoolminfee: 0.002, minrelaytxfee: 0.001 } };
      }
      if (method === 'estimatefee') return { result: 0.0005 };
      return NOT_FOUND;
    });
    const fees = await readNodeFees(daemon);
    const estimates = Array.from({ length: 25 }, () => 0.0005);
    expect(fees).toEqual({
      relayFee: 0.001,
      incrementalFee: null,
      mempoolMinFee: 0.002,
      estimates,
      estimatesByMode: { CONSERVATIVE: estimates, ECONOMICAL: estimates },
    });
  });

  it('leaves the mempool floor unknown when the node refuses getmempoolinfo', async () => {
    const daemon = await daemonAnswering((method) => {
      if (method === 'getnetworkinfo') return { result: { relayfee: 0.001 } };
      if (method === 'estimatefee') return { result: 0.0005 };
      return NOT_FOUND;
    });
    const fees = await readNodeFees(daemon);
    expect([fees.relayFee, fees.incrementalFee, fees.mempoolMinFee]).toEqual([0.001, null, null]);
  });

  it('writes relay_fee, node_fees and the 25 rows per mode, replacing earlier figures', () => {
    const dir = tempDir();
    dirs.push(dir);
    const db = openIndexDb(join(dir, 'index.db'), getCoin('Radiant', 'mainnet'));
    const none = Array.from({ length: 25 }, () => -1);
    const first = { relayFee: 0.01, incrementalFee: 0.5, mempoolMinFee: 0.5, estimates: none };
    writeNodeFees(db, { ...first, estimatesByMode: { CONSERVATIVE: none, ECONOMICAL: none } });
    const rates = (scale: number): number[] => Array.from({ length: 25 }, (_, i) => i * scale);
    writeNodeFees(db, {
      relayFee: 0.02,
      incrementalFee: null,
      mempoolMinFee: 0.03,
      estimates: rates(0.001),
      estimatesByMode: { CONSERVATIVE: rates(0.002), ECONOMICAL: rates(0.0005) },
    });
    const relay = db.prepare('SELECT relay_fee FROM chain_state').get();
    const nodeFees = db.prepare('SELECT * FROM node_fees').all();
    const rows = db
      .prepare('SELECT target_blocks, fee_rate FROM fee_estimates ORDER BY 1')
      .all() as { target_blocks: number; fee_rate: number }[];
    const byMode = db
      .prepare('SELECT mode, target_blocks, fee_rate FROM fee_estimates_by_mode ORDER BY 1, 2')
      .all() as { mode: string; target_blocks: number; fee_rate: number }[];
    db.close();
    expect(relay).toEqual({ relay_fee: 0.02 });
    expect(nodeFees).toEqual([{ id: 0, incremental_fee: null, mempool_min_fee: 0.03 }]);
    expect(rows).toHaveLength(25);
    expect(rows[0]).toEqual({ target_blocks: 1, fee_rate: 0 });
    expect(rows[24]).toEqual({ target_blocks: 25, fee_rate: 0.024 });
    expect(byMode).toHaveLength(50);
    expect(byMode[24]).toEqual({ mode: 'CONSERVATIVE', target_blocks: 25, fee_rate: 0.048 });
    expect(byMode[49]).toEqual({ mode: 'ECONOMICAL', target_blocks: 25, fee_rate: 0.012 });
  });
});

describe('runNodeInfo and new blocks', () => {
  it('refreshes again soon after a new tip, not only every interval', async () => {
    const readsAtMs: number[] = [];
    const daemon = await daemonAnswering((method) => {
      if (method === 'getnetworkinfo') {
        readsAtMs.push(Date.now());
        return { result: { relayfee: 0.00001, version: 1 } };
      }
      return NOT_FOUND;
    });
    const dir = tempDir();
    dirs.push(dir);
    const db = openIndexDb(join(dir, 'index.db'), getCoin('Radiant', 'regtest'));
    const controller = new AbortController();
    const wake = new NodeInfoWake();
    const running = runNodeInfo(db, daemon, controller.signal, 60_000, wake);
    const waitReads = async (count: number): Promise<void> => {
      const deadline = Date.now() + 5_000;
      while (readsAtMs.length < count && Date.now() < deadline) {
        await new Promise((done) => setTimeout(done, 10));
      }
    };
    try {
      await waitReads(1);
      expect(readsAtMs).toHaveLength(1);
      // Two new tips in a row: one more refresh, no sooner than the gap after the first.
      wake.newTip();
      wake.newTip();
      await waitReads(2);
      expect(readsAtMs).toHaveLength(2);
      const gapMs = (readsAtMs[1] ?? 0) - (readsAtMs[0] ?? 0);
      expect(gapMs).toBeGreaterThanOrEqual(NEW_TIP_REFRESH_GAP_MS - 50);
      // No new tip: the next refresh waits for the 60 s interval.
      await new Promise((done) => setTimeout(done, 1_500));
      expect(readsAtMs).toHaveLength(2);
    } finally {
      controller.abort();
      await running;
      db.close();
    }
  }, 15_000);
});

describe('runNodeInfo stopping', () => {

  // Runs runNodeInfo against `port` (60 s between polls), stops it after 300 ms; returns how
  // long it took to return.
  async function stoppedAfter(port: number, password: string): Promise<number> {
    const dir = tempDir();
    dirs.push(dir);
    const db = openIndexDb(join(dir, 'index.db'), getCoin('Radiant', 'regtest'));
    const controller = new AbortController();
    const { signal } = controller;
    const url = `http://127.0.0.1:${port}`;
    const daemon = new Daemon({ url, user: 'u', password, signal });
    const startedMs = Date.now();
    const running = runNodeInfo(db, daemon, signal, 60_000);
    setTimeout(() => controller.abort(), 300);
    await running;
    db.close();
    return Date.now() - startedMs;
  }

  it('returns promptly when stopped while the node is down (not after the interval)', async () => {
    // A port nothing listens on: the node is down and the Daemon retries until the signal aborts.
    expect(await stoppedAfter(await freePort(), 'p')).toBeLessThan(2_000);
  }, 10_000);

  it('returns promptly when stopped while the node refuses the password', async () => {
    const server = createServer((_req, res) => {
      res.statusCode = 401;
      res.end();
    });
    servers.push(server);
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const port = (server.address() as AddressInfo).port;
    expect(await stoppedAfter(port, 'x')).toBeLessThan(2_000);
  }, 10_000);
});
