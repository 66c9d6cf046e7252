// The index chain check of worker/index-check.ts in Node: its verdicts, and that it reads the
// index once per isolate rather than once per request.
import { createHash } from 'node:crypto';
import type { Client, ResultSet } from '@libsql/client/web';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { getCoin } from '../core/coins.ts';
import { IndexChainCheck, judgeIndexChain } from '../worker/index-check.ts';
import { createLogger } from '../worker/log.ts';

// Bitcoin Core chainparams.cpp: mainnet and regtest genesis hashes (display hex).
const BITCOIN_MAINNET_GENESIS = '000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f';
const REGTEST_GENESIS = '0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206';

function internalOrder(displayHex: string): ArrayBuffer {
  const bytes = Buffer.from(displayHex, 'hex').reverse();
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
}

/** A client whose execute answers one chain_state row (or throws), counting its calls. */
function fakeClient(answer: () => unknown[] | null): { client: Client; reads: () => number } {
  let reads = 0;
  const execute = async (): Promise<ResultSet> => {
    reads += 1;
    const row = answer();
    return { rows: row === null ? [] : [row] } as unknown as ResultSet;
  };
  return { client: { execute } as unknown as Client, reads: () => reads };
}

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('judgeIndexChain', () => {
  const bitcoin = getCoin('Bitcoin', 'mainnet');

  it('accepts the index of its own chain, genesis present or not', () => {
    const found = { coin: 'Bitcoin', net: 'mainnet', genesisHash: BITCOIN_MAINNET_GENESIS };
    expect(judgeIndexChain(bitcoin, found)).toEqual({ ok: true });
    expect(judgeIndexChain(bitcoin, { ...found, genesisHash: null })).toEqual({ ok: true });
  });

  it('names both chains when coin or net differ', () => {
    const found = { coin: 'Bitcoin', net: 'mainnet', genesisHash: BITCOIN_MAINNET_GENESIS };
    const radiant = getCoin('Radiant', 'mainnet');
    const reason = 'index is Bitcoin mainnet, this Worker is Radiant mainnet';
    expect(judgeIndexChain(radiant, found)).toEqual({ ok: false, reason });
    const testnet = getCoin('Bitcoin', 'testnet');
    expect(judgeIndexChain(testnet, found)).toMatchObject({ ok: false });
  });

  it('refuses an index whose genesis block is another, on mainnet and on regtest', () => {
    const other = createHash('sha256').update('another chain').digest('hex');
    const found = { coin: 'Bitcoin', net: 'mainnet', genesisHash: other };
    const reason =
      `index genesis block is ${other}, Bitcoin mainnet has ${BITCOIN_MAINNET_GENESIS}`;
    expect(judgeIndexChain(bitcoin, found)).toEqual({ ok: false, reason });
    const regtest = getCoin('Bitcoin', 'regtest');
    expect(judgeIndexChain(regtest, { ...found, net: 'regtest' })).toMatchObject({ ok: false });
    const real = { ...found, net: 'regtest', genesisHash: REGTEST_GENESIS };
    expect(judgeIndexChain(regtest, real)).toEqual({ ok: true });
  });
});

describe('IndexChainCheck', () => {
  const coin = getCoin('BitcoinCash', 'regtest');
  const log = createLogger('error');

  it('reads the index once for many requests, concurrent or not', async () => {
    const { client, reads } = fakeClient(() => [
      'BitcoinCash',
      'regtest',
      internalOrder(REGTEST_GENESIS),
    ]);
    const check = new IndexChainCheck(coin, log);
    const first = await Promise.all([check.verdict(client), check.verdict(client)]);
    for (let request = 0; request < 20; request++) await check.verdict(client);
    expect(first).toEqual([{ ok: true }, { ok: true }]);
    expect(reads()).toBe(1);
  });

  it('serves unchecked after a failed read, and reads again a few seconds later', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    let fail = true;
    const { client, reads } = fakeClient(() => {
      if (fail) throw new Error('index unreachable');
      return ['Radiant', 'mainnet', null];
    });
    const check = new IndexChainCheck(coin, log);
    vi.spyOn(console, 'log').mockImplementation(() => {});
    expect(await check.verdict(client)).toBeNull();
    expect(await check.verdict(client)).toBeNull();
    expect(reads()).toBe(1);
    fail = false;
    vi.setSystemTime(1_000_000 + 5_000);
    const reason = 'index is Radiant mainnet, this Worker is BitcoinCash regtest';
    expect(await check.verdict(client)).toEqual({ ok: false, reason });
    expect(reads()).toBe(2);
  });

  it('logs a mismatch once, however often it is re-read', async () => {
    vi.useFakeTimers({ now: 2_000_000 });
    const { client, reads } = fakeClient(() => ['Bitcoin', 'regtest', null]);
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: unknown) => lines.push(String(line)));
    const check = new IndexChainCheck(coin, log);
    for (let minute = 0; minute < 3; minute++) {
      vi.setSystemTime(2_000_000 + minute * 61_000);
      expect(await check.verdict(client)).toMatchObject({ ok: false });
      expect(await check.verdict(client)).toMatchObject({ ok: false });
    }
    expect(reads()).toBe(3);
    const errors = lines.filter((line) => line.includes('"event":"index_chain_mismatch"'));
    expect(errors).toHaveLength(1);
  });
});
