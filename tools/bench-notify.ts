// `npm run bench:notify`: many WebSocket sessions with script-hash subscriptions, blocks touching a
// sample of them, and the latency from the indexer's commit to each notification's receipt. The
// wallet client and block helpers here also serve the notification tests.
import { createHash, randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { concatBytes } from '../core/bytes.ts';
import { getCoin, type Coin } from '../core/coins.ts';
import { buildBlock, heightPush, serializeTx } from './block-builder.ts';
import { cpuPerBlock, HopTrace, treeCpuMs } from './bench-notify-trace.ts';
import type { SimNode } from './sim-node.ts';
import { startStack, type Stack } from './stack.ts';

/**
 * Indexer settings for a stack: a fast poll, and what the indexer's start checks ask for (its
 * own admin credentials, a free admin port, root allowed in this container; DESIGN §7).
 */
export function indexerEnv(pollIntervalMs: number): Record<string, string> {
  return {
    POLL_INTERVAL_MS: String(pollIntervalMs),
    RPC_PORT: '0',
    RPC_USER: 'notify-bench',
    RPC_PASSWORD: randomBytes(16).toString('hex'),
    ALLOW_ROOT: process.getuid?.() === 0 ? '1' : '',
  };
}

/** A notification as a wallet received it. */
export interface Received {
  method: string;
  params: unknown[];
  atMs: number;
}

interface Pending {
  done: (value: unknown) => void;
  fail: (error: Error) => void;
  timer: NodeJS.Timeout;
}

interface Frame {
  id?: unknown;
  method?: string;
  params?: unknown[];
  result?: unknown;
  error?: unknown;
}

const SCRIPTHASH_SUBSCRIBE = 'blockchain.scripthash.subscribe';
const HEADERS_SUBSCRIBE = 'blockchain.headers.subscribe';
const CHAIN_FILE = 'data/radiant_mainnet_0-1.json';

async function connect(url: string, timeoutMs: number): Promise<WebSocket> {
  const socket = new WebSocket(url);
  await new Promise<void>((done, fail) => {
    const timer = setTimeout(() => {
      fail(new Error(`no connection to ${url} in ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('open', () => {
      clearTimeout(timer);
      done();
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      fail(error);
    });
  });
  return socket;
}

/** A bare Electrum client over one WebSocket that keeps every notification it receives. */
export class WalletSocket {
  readonly notifications: Received[] = [];
  /** Frames that were not JSON-RPC objects (or arrays of them), kept instead of thrown. */
  readonly malformed: string[] = [];
  readonly #socket: WebSocket;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #onNotification: (() => void) | null = null;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.on('message', (data) => this.#receive(String(data)));
  }

  /** Connects to `url` (ws://...). */
  static async open(url: string, timeoutMs = 10_000): Promise<WalletSocket> {
    return new WalletSocket(await connect(url, timeoutMs));
  }

  // Runs inside ws's 'message' event: anything thrown here is an uncaught exception that ends
  // the process, so a frame that is not JSON (or holds a non-object) is recorded, not thrown.
  #receive(text: string): void {
    const atMs = Date.now();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.malformed.push(text.slice(0, 200));
      return;
    }
    for (const item of Array.isArray(parsed) ? parsed : [parsed]) {
      if (typeof item !== 'object' || item === null) {
        this.malformed.push(text.slice(0, 200));
        continue;
      }
      const frame = item as Frame;
      if (typeof frame.method === 'string') {
        this.notifications.push({ method: frame.method, params: frame.params ?? [], atMs });
        this.#onNotification?.();
        continue;
      }
      const pending = this.#pending.get(Number(frame.id));
      if (pending === undefined) continue;
      this.#pending.delete(Number(frame.id));
      clearTimeout(pending.timer);
      if (frame.error !== undefined) pending.fail(new Error(JSON.stringify(frame.error)));
      else pending.done(frame.result);
    }
  }

  #expect(id: number, what: string, timeoutMs: number): Promise<unknown> {
    return new Promise((done, fail) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        fail(new Error(`${what}: no reply in ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { done, fail, timer });
    });
  }

  /** One request; resolves with its result, rejects with its error. */
  async call(method: string, params: unknown[], timeoutMs = 15_000): Promise<unknown> {
    const id = this.#nextId++;
    const reply = this.#expect(id, method, timeoutMs);
    this.#socket.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    return reply;
  }

  /** Several requests in one batch message; results in request order. */
  async batch(calls: [string, unknown[]][], timeoutMs = 30_000): Promise<unknown[]> {
    const frames = calls.map(([method, params]) => {
      return { jsonrpc: '2.0', id: this.#nextId++, method, params };
    });
    const replies = frames.map((frame) => this.#expect(frame.id, frame.method, timeoutMs));
    this.#socket.send(JSON.stringify(frames));
    return Promise.all(replies);
  }

  /** Resolves once `count` notifications arrived in all; rejects after `timeoutMs`. */
  async waitForCount(count: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.notifications.length < count) {
      const leftMs = deadline - Date.now();
      if (leftMs <= 0) {
        const got = this.notifications.length;
        throw new Error(`${got} of ${count} notifications after ${timeoutMs} ms`);
      }
      await new Promise<void>((done) => {
        const timer = setTimeout(done, leftMs);
        this.#onNotification = () => {
          clearTimeout(timer);
          done();
        };
      });
      this.#onNotification = null;
    }
  }

  close(): void {
    this.#socket.terminate();
  }
}

/** P2PKH output script of a 20-byte key hash. */
export function p2pkhScript(hash160: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(0x76, 0xa9, 0x14), hash160, Uint8Array.of(0x88, 0xac));
}

/** The script hash wallets send: SHA-256 of the script (node:crypto), reversed, hex. */
export function walletScriptHash(script: Uint8Array): string {
  return createHash('sha256').update(script).digest().reverse().toString('hex');
}

/** `count` fresh P2PKH scripts of random key hashes. */
export function freshScripts(count: number): Uint8Array[] {
  return Array.from({ length: count }, () => p2pkhScript(randomBytes(20)));
}

/** A block mined onto the node whose coinbase pays each of `scripts` once. */
export interface MinedBlock {
  height: number;
  coinbase: Uint8Array;
  hex: string;
}

/** Mines a block paying every script in `scripts` from its coinbase and appends it to `node`. */
export function mineToScripts(node: SimNode, coin: Coin, scripts: Uint8Array[]): MinedBlock {
  const height = node.tipHeight() + 1;
  const tipHeader = Buffer.from(node.blockHex(height - 1).slice(0, 160), 'hex');
  // A random tag after the BIP34 height keeps every coinbase (and txid) distinct.
  const scriptSig = concatBytes(heightPush(height), Uint8Array.of(8), randomBytes(8));
  const input = { prevTxid: new Uint8Array(32), prevVout: 0xffffffff, script: scriptSig };
  const coinbase = serializeTx({
    version: 1,
    inputs: [{ ...input, sequence: 0xffffffff }],
    outputs: scripts.map((script) => ({ value: 1_000n, script })),
    locktime: 0,
  });
  const time = Math.max(tipHeader.readUInt32LE(68) + 1, Math.floor(Date.now() / 1000));
  const hex = buildBlock({ coin, prevHash: node.tipHash(), txs: [coinbase], time });
  node.addBlocks([hex]);
  return { height, coinbase, hex };
}

/** How openSubscribers opens its sessions. */
export interface OpenOptions {
  /** Also subscribe every session to headers. */
  headers?: boolean;
  /** Sessions being opened at once (default 10: each runs its subscribes concurrently). */
  concurrency?: number;
}

/** Opens one session per entry of `scriptHashes`, subscribed to that entry's hashes. */
export async function openSubscribers(
  wsUrl: string,
  scriptHashes: string[][],
  options: OpenOptions = {}
): Promise<WalletSocket[]> {
  const sessions: WalletSocket[] = [];
  let next = 0;
  const opener = async (): Promise<void> => {
    for (let i = next++; i < scriptHashes.length; i = next++) {
      const wallet = await WalletSocket.open(wsUrl);
      const calls: [string, unknown[]][] = [['server.version', ['bench-notify', '1.4']]];
      if (options.headers === true) calls.push([HEADERS_SUBSCRIBE, []]);
      for (const hash of scriptHashes[i] ?? []) calls.push([SCRIPTHASH_SUBSCRIBE, [hash]]);
      sessions[i] = wallet;
      await wallet.batch(calls);
    }
  };
  try {
    await Promise.all(Array.from({ length: options.concurrency ?? 10 }, opener));
  } catch (error) {
    for (const wallet of sessions) wallet?.close();
    throw error;
  }
  return sessions;
}

/** The `fraction` percentile (0..1) of ascending values, nearest rank. */
export function percentile(sorted: number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

interface BenchOptions {
  sessions: number;
  subs: number;
  blocks: number;
  touch: number;
  headers: boolean;
  /** Worker at LOG_LEVEL debug; prints where the time goes, hop by hop (slows it a little). */
  trace: boolean;
}

function readOptions(): BenchOptions {
  const { values } = parseArgs({
    options: {
      sessions: { type: 'string', default: '1000' },
      subs: { type: 'string', default: '10' },
      blocks: { type: 'string', default: '10' },
      touch: { type: 'string', default: '100' },
      headers: { type: 'boolean', default: false },
      trace: { type: 'boolean', default: false },
    },
  });
  const int = (text: string, name: string, max: number): number => {
    const value = Number(text);
    if (Number.isInteger(value) && value >= 1 && value <= max) return value;
    throw new Error(`--${name} must be an integer in 1..${max}`);
  };
  const sessions = int(values.sessions, 'sessions', 5_000);
  const subs = int(values.subs, 'subs', 100);
  const blocks = int(values.blocks, 'blocks', 100);
  const touch = Math.min(int(values.touch, 'touch', 5_000), sessions * subs);
  return { sessions, subs, blocks, touch, headers: values.headers, trace: values.trace };
}

/** The subscribed sessions and what the bench knows about them. */
interface Subscribed {
  hashes: string[][];
  scriptOf: Map<string, Uint8Array>;
  wallets: WalletSocket[];
  commitMsByHeight: Map<number, number>;
}

interface Latencies {
  scripthashMs: number[];
  headersMs: number[];
  missing: number;
  extra: number;
  /** Frames that were not JSON-RPC, over all sessions (WalletSocket.malformed). */
  malformed: number;
}

/** Picks `count` distinct subscribed script hashes at random, with their sessions. */
function sample(hashes: string[][], count: number): { session: number; hash: string }[] {
  const picked = new Map<string, number>();
  while (picked.size < count) {
    const session = Math.floor(Math.random() * hashes.length);
    const list = hashes[session] ?? [];
    const hash = list[Math.floor(Math.random() * list.length)];
    if (hash !== undefined) picked.set(hash, session);
  }
  return [...picked].map(([hash, session]) => ({ session, hash }));
}

// Mines one block touching `touch` subscriptions; records each notification's latency.
async function measureBlock(stack: Stack, options: BenchOptions, s: Subscribed, out: Latencies) {
  const before = s.wallets.map((wallet) => wallet.notifications.length);
  const touched = sample(s.hashes, options.touch);
  const scripts = touched.map(({ hash }) => s.scriptOf.get(hash) ?? new Uint8Array(0));
  const { height } = mineToScripts(stack.simNode, getCoin('Radiant', 'mainnet'), scripts);
  const expected = new Map<number, number>();
  for (const { session } of touched) expected.set(session, (expected.get(session) ?? 0) + 1);
  const wanted = (i: number): number => (expected.get(i) ?? 0) + (options.headers ? 1 : 0);
  const waits = s.wallets.map((wallet, i) => {
    return wallet.waitForCount((before[i] ?? 0) + wanted(i), 30_000);
  });
  await Promise.allSettled(waits);
  // A moment more, so that extra notifications are counted too.
  await new Promise((done) => setTimeout(done, 500));
  const commitMs = await commitTimeOf(s, height);
  const blockMs: number[] = [];
  s.wallets.forEach((wallet, i) => {
    const fresh = wallet.notifications.slice(before[i] ?? 0);
    out.missing += Math.max(0, wanted(i) - fresh.length);
    out.extra += Math.max(0, fresh.length - wanted(i));
    for (const item of fresh) {
      const list = item.method === HEADERS_SUBSCRIBE ? out.headersMs : out.scripthashMs;
      list.push(item.atMs - commitMs);
      blockMs.push(item.atMs - commitMs);
    }
  });
  blockMs.sort((a, b) => a - b);
  const [p50, max] = [percentile(blockMs, 0.5), blockMs.at(-1) ?? Number.NaN];
  console.log(`block ${height}: ${touched.length} hashes touched, p50 ${p50} ms, max ${max} ms`);
}

// The commit time of a block's notice. The notifier reports it once the Worker acknowledged the
// POST, which is after the whole fan-out: it may come after the last receipt.
async function commitTimeOf(s: Subscribed, height: number, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const commitMs = s.commitMsByHeight.get(height);
    if (commitMs !== undefined) return commitMs;
    if (Date.now() > deadline) throw new Error(`no acknowledged notice for height ${height}`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

function report(latencies: Latencies, options: BenchOptions): boolean {
  const line = (name: string, values: number[]): number => {
    const sorted = [...values].sort((a, b) => a - b);
    const [p50, p99] = [percentile(sorted, 0.5), percentile(sorted, 0.99)];
    const max = sorted.at(-1) ?? Number.NaN;
    console.log(`${name}: n=${sorted.length} p50=${p50} ms p99=${p99} ms max=${max} ms`);
    return p99;
  };
  console.log(`commit -> receipt, ${options.blocks} blocks, ${options.touch} hashes touched each`);
  const p99 = line('scripthash notifications', latencies.scripthashMs);
  if (options.headers) line('headers notifications', latencies.headersMs);
  console.log(`missing ${latencies.missing}, unexpected ${latencies.extra}`);
  if (latencies.malformed > 0) console.log(`frames that were not JSON-RPC: ${latencies.malformed}`);
  const { missing, extra, malformed } = latencies;
  const met = p99 < 1_000 && missing === 0 && extra === 0 && malformed === 0;
  console.log(met ? 'target met: p99 < 1 s, none missing' : 'TARGET MISSED');
  return met;
}

async function subscribeAll(stack: Stack, options: BenchOptions): Promise<Subscribed> {
  const scripts = Array.from({ length: options.sessions }, () => freshScripts(options.subs));
  const hashes = scripts.map((list) => list.map(walletScriptHash));
  const scriptOf = new Map(scripts.flat().map((script) => [walletScriptHash(script), script]));
  const startedMs = Date.now();
  const wallets = await openSubscribers(stack.wsUrl, hashes, { headers: options.headers });
  const ms = Date.now() - startedMs;
  console.log(`${options.sessions} sessions x ${options.subs} subscriptions in ${ms} ms`);
  return { hashes, scriptOf, wallets, commitMsByHeight: new Map() };
}

async function runBench(options: BenchOptions): Promise<boolean> {
  const commitMsByHeight = new Map<number, number>();
  const startedMs = Date.now();
  const trace = options.trace ? new HopTrace() : null;
  const stack = await startStack({
    chainFile: CHAIN_FILE,
    coin: 'Radiant',
    net: 'mainnet',
    notify: 'stack',
    indexerEnv: indexerEnv(50),
    ...(trace === null ? {} : { workerVars: { LOG_LEVEL: 'debug' }, onLog: trace.line }),
    onNotifySent: (sent) => {
      // The first notice of a height is its block's; a later one (mempool) would be later.
      for (const { height, commitMs } of sent) {
        if (!commitMsByHeight.has(height)) commitMsByHeight.set(height, commitMs);
      }
    },
  });
  let subscribed: Subscribed | null = null;
  try {
    console.log(`stack up in ${Date.now() - startedMs} ms`);
    subscribed = { ...(await subscribeAll(stack, options)), commitMsByHeight };
    trace?.clear();
    const latencies: Latencies = {
      scripthashMs: [],
      headersMs: [],
      missing: 0,
      extra: 0,
      malformed: 0,
    };
    const cpuBeforeMs = treeCpuMs(stack.wrangler.pid);
    for (let block = 0; block < options.blocks; block++) {
      await measureBlock(stack, options, subscribed, latencies);
    }
    const cpuAfterMs = treeCpuMs(stack.wrangler.pid);
    for (const wallet of subscribed.wallets) latencies.malformed += wallet.malformed.length;
    const badFrame = subscribed.wallets.flatMap((wallet) => wallet.malformed)[0];
    if (badFrame !== undefined) console.log(`first frame that was not JSON-RPC: ${badFrame}`);
    trace?.print(percentile);
    console.log(cpuPerBlock(cpuBeforeMs, cpuAfterMs, options.blocks));
    return report(latencies, options);
  } finally {
    for (const wallet of subscribed?.wallets ?? []) wallet?.close();
    await stack.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  runBench(readOptions()).then(
    (met) => {
      process.exitCode = met ? 0 : 1;
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    }
  );
}
