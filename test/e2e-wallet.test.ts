// End to end: real blocks through the simulated node, the indexer and the Worker (wrangler dev),
// queried by a real Electrum client over WebSocket; answers checked against an independent reading
// of the same chain file (test/support/reference-chain.ts).
import { ElectrumClient, type ElectrumClientEvents } from '@electrum-cash/network';
import { ElectrumWebSocket } from '@electrum-cash/web-socket';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startStack, type Stack } from '../tools/stack.ts';
import {
  electrumScriptHash,
  readReferenceChain,
  referenceBranch,
  referenceStatus,
  type HeaderHashName,
  type ReferenceChain,
} from './support/reference-chain.ts';

interface ChainCase {
  file: string;
  coin: string;
  net: string;
  headerHash: HeaderHashName;
  /** Tip hash from the fixture's SOURCES.md (never from our code). */
  tipHash: string;
}

const CASES: ChainCase[] = [
  {
    file: 'data/bitcoin_mainnet_0-255.json',
    coin: 'Bitcoin',
    net: 'mainnet',
    headerHash: 'sha256d',
    tipHash: '00000000d0a75c861fabf9ff7b92022f60e4afeed9331fe5aa073d8e4706fe3c',
  },
  {
    file: 'data/bitcoincash_regtest_0-103.json',
    coin: 'BitcoinCash',
    net: 'regtest',
    headerHash: 'sha256d',
    // bchn_rpc_getblockstats.json `stats` (getblockstats of height 103).
    tipHash: '',
  },
  {
    file: 'data/radiant_mainnet_0-1.json',
    coin: 'Radiant',
    net: 'mainnet',
    headerHash: 'sha512_256d',
    tipHash: '000000007dcdf37998c00a132c37b5f35143434aa02ef272e1ecf3cd8cbd180d',
  },
];

function loadBlocks(file: string): string[] {
  const parsed = JSON.parse(readFileSync(resolve(file), 'utf8')) as { blocks: string[] };
  return parsed.blocks;
}

function bchRegtestTipHash(): string {
  const fixture = JSON.parse(
    readFileSync('test/fixtures/chains/bchn_rpc_getblockstats.json', 'utf8')
  ) as { stats: { height: number; blockhash: string }[] };
  const tip = fixture.stats.find((entry) => entry.height === 103);
  if (tip === undefined) throw new Error('fixture lacks height 103 stats');
  return tip.blockhash;
}

type Reply = { id: unknown; result?: unknown; error?: { code: number; message: string } };

/** A raw WebSocket session for byte-level checks the client library hides. */
async function openRaw(url: string): Promise<{ send(text: string): Promise<Reply>; close(): void }> {
  const socket = new WebSocket(url);
  await new Promise((done, fail) => {
    socket.once('open', done);
    socket.once('error', fail);
  });
  return {
    send: (text) =>
      new Promise((done, fail) => {
        const timer = setTimeout(() => fail(new Error(`no reply to ${text.slice(0, 80)}`)), 10_000);
        socket.once('message', (data) => {
          clearTimeout(timer);
          const frame = String(data);
          expect(frame.endsWith('\n')).toBe(false);
          done(JSON.parse(frame) as Reply);
        });
        socket.send(text);
      }),
    close: () => socket.close(),
  };
}

for (const chainCase of CASES) {
  describe(`wallet over WebSocket: ${chainCase.coin} ${chainCase.net}`, () => {
    let stack: Stack;
    let client: ElectrumClient<ElectrumClientEvents>;
    let reference: ReferenceChain;
    const logs: string[] = [];

    beforeAll(async () => {
      reference = readReferenceChain(loadBlocks(chainCase.file), chainCase.headerHash);
      stack = await startStack({
        chainFile: chainCase.file,
        coin: chainCase.coin,
        net: chainCase.net,
        onLog: (line) => logs.push(line),
      }).catch((error: unknown) => {
        console.error(logs.slice(-60).join('\n'));
        throw error;
      });
      const socket = new ElectrumWebSocket('127.0.0.1', stack.workerPort, false);
      client = new ElectrumClient('electrum-edge e2e', '1.4', socket);
      await client.connect();
    }, 180_000);

    afterAll(async () => {
      await client?.disconnect(true);
      await stack?.stop();
    });

    async function call(method: string, ...params: (string | number | boolean)[]): Promise<unknown> {
      const result = await client.request(method, ...params);
      if (result instanceof Error) throw result;
      return result;
    }

    it('serves the tip the fixture names, and every header byte for byte', async () => {
      const tipHeight = reference.headers.length - 1;
      const expectedTip = chainCase.tipHash || bchRegtestTipHash();
      expect(reference.blockHashes[tipHeight]).toBe(expectedTip);
      const tip = (await call('blockchain.headers.subscribe')) as { height: number; hex: string };
      expect(tip.height).toBe(tipHeight);
      expect(tip.hex).toBe(reference.headers[tipHeight]?.toString('hex'));
      for (const height of [0, 1, tipHeight]) {
        expect(await call('blockchain.block.header', height)).toBe(
          reference.headers[height]?.toString('hex')
        );
      }
      const chunk = (await call('blockchain.block.headers', 0, 2016)) as {
        count: number;
        hex: string;
        max: number;
      };
      expect(chunk.count).toBe(tipHeight + 1);
      expect(chunk.max).toBe(2016);
      expect(chunk.hex).toBe(Buffer.concat(reference.headers).toString('hex'));
    });

    it('agrees with the reference on every script hash: history, balance, UTXOs, status', async () => {
      expect(reference.history.size).toBeGreaterThan(0);
      for (const [scriptHash, history] of reference.history) {
        const served = (await call('blockchain.scripthash.get_history', scriptHash)) as {
          tx_hash: string;
          height: number;
        }[];
        expect(served.map((item) => ({ txHash: item.tx_hash, height: item.height }))).toEqual(
          history
        );
        const unspent = reference.unspent.get(scriptHash) ?? [];
        const confirmed = unspent.reduce((sum, output) => sum + output.value, 0n);
        const balance = (await call('blockchain.scripthash.get_balance', scriptHash)) as {
          confirmed: number;
          unconfirmed: number;
        };
        expect(BigInt(balance.confirmed)).toBe(confirmed);
        expect(balance.unconfirmed).toBe(0);
        const utxos = (await call('blockchain.scripthash.listunspent', scriptHash)) as {
          tx_hash: string;
          tx_pos: number;
          height: number;
          value: number;
        }[];
        const key = (u: { txid: string; vout: number; height: number; value: bigint }): string =>
          `${u.txid}:${u.vout}:${u.height}:${u.value}`;
        expect(utxos.map((u) => key({ txid: u.tx_hash, vout: u.tx_pos, height: u.height, value: BigInt(u.value) })).sort()).toEqual(
          unspent.map(key).sort()
        );
        const status = await call('blockchain.scripthash.subscribe', scriptHash);
        expect(status).toBe(referenceStatus(history));
        expect(await call('blockchain.scripthash.get_mempool', scriptHash)).toEqual([]);
      }
    });

    it.runIf(chainCase.coin === 'Bitcoin')(
      "follows block 9's coinbase to its spend in block 170",
      async () => {
        const coinbase9 = reference.blockTxids[9]?.[0] ?? '';
        const spend170 = reference.blockTxids[170]?.[1] ?? '';
        const output = reference.txs.get(coinbase9);
        expect(output?.height).toBe(9);
        // The first person-to-person payment, a widely published txid.
        expect(spend170).toBe('f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16');
        // Block 9's coinbase is a pay-to-pubkey output: push of 65 bytes, then OP_CHECKSIG.
        const script = (output?.raw ?? Buffer.alloc(0)).subarray(-4 - 67, -4);
        expect(script[0]).toBe(0x41);
        expect(script.at(-1)).toBe(0xac);
        const scriptHash = electrumScriptHash(script);
        const history = (await call('blockchain.scripthash.get_history', scriptHash)) as unknown[];
        // Block 170 spends block 9's coinbase and returns 40 BTC change to the same key, which
        // later blocks spend again; the first two entries are the famous pair.
        expect(history.slice(0, 2)).toEqual([
          { tx_hash: coinbase9, height: 9 },
          { tx_hash: spend170, height: 170 },
        ]);
        expect(history).toEqual(
          (reference.history.get(scriptHash) ?? []).map((item) => ({
            tx_hash: item.txHash,
            height: item.height,
          }))
        );
        const unspent = reference.unspent.get(scriptHash) ?? [];
        const balance = (await call('blockchain.scripthash.get_balance', scriptHash)) as {
          confirmed: number;
        };
        expect(BigInt(balance.confirmed)).toBe(unspent.reduce((sum, u) => sum + u.value, 0n));
      }
    );

    it('serves raw transactions, merkle branches and ids by position', async () => {
      for (const tx of reference.txs.values()) {
        expect(await call('blockchain.transaction.get', tx.txid)).toBe(tx.raw.toString('hex'));
        const txids = reference.blockTxids[tx.height] ?? [];
        const merkle = (await call('blockchain.transaction.get_merkle', tx.txid, tx.height)) as {
          block_height: number;
          merkle: string[];
          pos: number;
        };
        expect(merkle).toEqual({
          block_height: tx.height,
          merkle: referenceBranch(txids, tx.position),
          pos: tx.position,
        });
        expect(await call('blockchain.transaction.id_from_pos', tx.height, tx.position)).toBe(tx.txid);
        expect(await call('blockchain.transaction.id_from_pos', tx.height, tx.position, true)).toEqual({
          tx_hash: tx.txid,
          merkle: referenceBranch(txids, tx.position),
        });
      }
    });

    it('answers bad input with the documented errors and keeps the session open', async () => {
      const raw = await openRaw(stack.wsUrl);
      try {
        const tipHeight = reference.headers.length - 1;
        const cases: [string, number, RegExp][] = [
          ['{"id": 1, "method": ', -32700, /invalid JSON/i],
          ['[]', -32600, /batch is empty/i],
          ['"just a string"', -32600, /dictionary|object/i],
          ['{"id": 2, "method": "no.such.method", "params": []}', -32601, /unknown method "no.such.method"/],
          ['{"id": 3, "method": "blockchain.block.header", "params": []}', -32602, /arguments/],
          ['{"id": 4, "method": "blockchain.scripthash.get_history", "params": ["zz"]}', 1, /not a valid script hash/],
          ['{"id": 5, "method": "blockchain.transaction.get", "params": ["12ab"]}', 1, /should be a transaction hash/],
          [`{"id": 6, "method": "blockchain.block.header", "params": [${tipHeight + 1}]}`, 1, /out of range/],
          [
            `{"id": 7, "method": "blockchain.transaction.get", "params": ["${'ab'.repeat(32)}"]}`,
            2,
            /No such mempool or blockchain transaction/,
          ],
        ];
        for (const [text, code, message] of cases) {
          const reply = await raw.send(text);
          expect(reply.error?.code, text).toBe(code);
          expect(reply.error?.message, text).toMatch(message);
        }
        const ping = await raw.send('{"id": "still-open", "method": "server.ping", "params": []}\n');
        expect(ping).toMatchObject({ id: 'still-open', result: null });
      } finally {
        raw.close();
      }
    });

    it('knows its chain: server.features names the genesis hash', async () => {
      const features = (await call('server.features')) as { genesis_hash: string; hash_function: string };
      expect(features.genesis_hash).toBe(reference.blockHashes[0]);
      expect(features.hash_function).toBe('sha256');
      // A script hash no transaction touches has no status and an empty history.
      const unused = electrumScriptHash(Buffer.from('electrum-edge: no such script'));
      expect(reference.history.has(unused)).toBe(false);
      expect(await call('blockchain.scripthash.subscribe', unused)).toBeNull();
      expect(await call('blockchain.scripthash.get_history', unused)).toEqual([]);
    });
  });
}
