// Fees copied from the node: estimatesmartfee 1..25 (and estimatefee where it is gone), relay fee.
import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getCoin } from '../core/coins.ts';
import { tempDir } from '../test/indexer-support.ts';
import { Daemon } from './daemon.ts';
import { openIndexDb } from './db.ts';
import { readNodeFees, writeNodeFees } from './node-info.ts';

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

  it('falls back to estimatefee where estimatesmartfee is gone (Radiant, BCHN)', async () => {
    const daemon = await daemonAnswering((method) => {
      if (method === 'getnetworkinfo') return { result: { relayfee: 0.001 } };
      if (method === 'estimatefee') return { result: 0.0005 };
      return NOT_FOUND;
    });
    const fees = await readNodeFees(daemon);
    expect(fees).toEqual({ relayFee: 0.001, estimates: Array.from({ length: 25 }, () => 0.0005) });
  });

  it('writes relay_fee and the 25 fee_estimates rows, replacing earlier figures', () => {
    const dir = tempDir();
    dirs.push(dir);
    const db = openIndexDb(join(dir, 'index.db'), getCoin('Radiant', 'mainnet'));
    writeNodeFees(db, { relayFee: 0.01, estimates: Array.from({ length: 25 }, () => -1) });
    const estimates = Array.from({ length: 25 }, (_, i) => i / 1000);
    writeNodeFees(db, { relayFee: 0.02, estimates });
    const relay = db.prepare('SELECT relay_fee FROM chain_state').get();
    const rows = db
      .prepare('SELECT target_blocks, fee_rate FROM fee_estimates ORDER BY 1')
      .all() as { target_blocks: number; fee_rate: number }[];
    db.close();
    expect(relay).toEqual({ relay_fee: 0.02 });
    expect(rows).toHaveLength(25);
    expect(rows[0]).toEqual({ target_blocks: 1, fee_rate: 0 });
    expect(rows[24]).toEqual({ target_blocks: 25, fee_rate: 0.024 });
  });
});
