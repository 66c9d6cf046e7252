// `npm run bench:index`: indexes a generated 1M-tx chain from a simulated node; prints the speed.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { getCoin, type Coin } from '../core/coins.ts';
import { useNodeHashes } from '../indexer/node-hashes.ts';
import { openChainWriter, readChainBinary } from './chain-binary.ts';
import { ChainGenerator } from './chain-generator.ts';
import { startSimNode } from './sim-node.ts';

const PROJECT_DIR = resolve(import.meta.dirname, '..');
const USAGE = `usage: npm run bench:index -- [options]

Generates (once, then cached) a chain of --blocks blocks of --txs wallet-like txs (Zipf address
reuse, tools/chain-generator.ts), serves it from the simulated node in its own process, runs the
real indexer process (indexer/main.ts) into a fresh index file, and prints tx/s, blocks/s, peak
RSS (VmHWM of the indexer process), RSS at 25/50/75/100% of the chain, and the index size.

  --coin NAME       Radiant | BitcoinCash | Bitcoin (default Radiant; regtest)
  --blocks N        default 2000
  --txs M           default 500 (2000 x 500 = 1,000,000 txs plus coinbases)
  --seed S          default 1
  --cache DIR       where generated chains are kept (default tmp/bench in the project)
  --flush-blocks N  FLUSH_BLOCKS for the indexer (default: the indexer's own)

FLUSH_BLOCKS, FLUSH_TXS, UTXO_CACHE_MB, DEFER_INDEX_BLOCKS and REORG_LIMIT are passed to the
indexer when set in the environment (--flush-blocks wins); the settings it ran with are printed.
  --keep            keep the index directory and print its path
  --cpu-prof DIR    run the indexer under node --cpu-prof, writing one profile per thread to DIR
  --timeout-s T     give up after T seconds of indexing (default 1800)`;

const OPTIONS = {
  coin: { type: 'string', default: 'Radiant' },
  blocks: { type: 'string', default: '2000' },
  txs: { type: 'string', default: '500' },
  seed: { type: 'string', default: '1' },
  cache: { type: 'string' },
  'flush-blocks': { type: 'string' },
  keep: { type: 'boolean', default: false },
  'cpu-prof': { type: 'string' },
  'timeout-s': { type: 'string', default: '1800' },
  serve: { type: 'string' },
  help: { type: 'boolean', default: false },
} as const;

const SAMPLE_MS = 200;
// The indexer's tuning settings: passed through from this environment when set.
const TUNING_SETTINGS = [
  'FLUSH_BLOCKS',
  'FLUSH_TXS',
  'UTXO_CACHE_MB',
  'DEFER_INDEX_BLOCKS',
  'REORG_LIMIT',
];
const MIB = 1_048_576;

type LogEvent = Record<string, unknown>;

function wholeNumber(text: string, name: string): number {
  if (!/^\d+$/.test(text)) throw new Error(`--${name} must be a whole number, got "${text}"`);
  return Number(text);
}

/** The cached chain file for these options, generated first when missing. */
function cachedChain(coin: Coin, blocks: number, txs: number, seed: number, dir: string): string {
  const path = join(dir, `chain-${coin.name}-${coin.net}-${blocks}x${txs}-seed${seed}-v1.bin`);
  if (existsSync(path)) return path;
  mkdirSync(dir, { recursive: true });
  console.log(`generating ${blocks} blocks x ${txs} txs into ${path} (once)...`);
  const started = Date.now();
  useNodeHashes();
  const partial = `${path}.partial`;
  const writer = openChainWriter(partial, true);
  try {
    const generator = new ChainGenerator({ coin, blocks, txsPerBlock: txs, seed });
    for (const block of generator.blocks()) writer.add(block);
  } finally {
    writer.close();
  }
  renameSync(partial, path);
  console.log(`generated in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return path;
}

/** Child mode: serve a binary chain file from a sim node; prints {"url": ...} when listening. */
async function serve(path: string, coin: Coin): Promise<void> {
  const blocks = readChainBinary(path).map((block) =>
    Buffer.from(block.buffer, block.byteOffset, block.length).toString('hex')
  );
  const password = randomBytes(12).toString('hex');
  const node = await startSimNode({ coin, blocks, user: 'bench', password });
  console.log(JSON.stringify({ url: node.url, tip: node.tipHeight() }));
  const stop = (): void => void node.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

function followJson(child: ChildProcess, onEvent: (event: LogEvent) => void, tail: string[]): void {
  for (const stream of [child.stdout, child.stderr]) {
    if (stream === null) continue;
    createInterface({ input: stream }).on('line', (line) => {
      tail.push(line);
      if (tail.length > 20) tail.shift();
      if (!line.startsWith('{')) return;
      try {
        onEvent(JSON.parse(line) as LogEvent);
      } catch {
        // not JSON after all: kept in the tail for error reports
      }
    });
  }
}

function startChild(
  args: string[],
  env: Record<string, string>,
  nodeArgs: string[] = []
): ChildProcess {
  return spawn(process.execPath, [...nodeArgs, '--import', 'tsx', ...args], {
    cwd: PROJECT_DIR,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

async function startNodeProcess(
  chain: string,
  coin: Coin
): Promise<{ child: ChildProcess; url: string }> {
  const child = startChild(['tools/bench-index.ts', '--serve', chain, '--coin', coin.name], {});
  const tail: string[] = [];
  const url = await new Promise<string>((done, fail) => {
    followJson(child, (event) => typeof event.url === 'string' && done(event.url), tail);
    child.once('exit', () => fail(new Error(`sim node exited:\n${tail.join('\n')}`)));
  });
  return { child, url };
}

/** VmHWM and VmRSS of a process in MiB, from /proc (0 once it is gone). */
function memoryMib(pid: number): { hwm: number; rss: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (name: string): number =>
      Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    return { hwm: kib('VmHWM') / 1024, rss: kib('VmRSS') / 1024 };
  } catch {
    return { hwm: 0, rss: 0 };
  }
}

// utime + stime (fields 14 and 15 of /proc/<pid>/stat, all threads) in clock ticks of 10 ms (the
// kernel's USER_HZ of 100 on Linux x86-64 and arm64).
const TICK_SECONDS = 0.01;

/**
 * CPU seconds a process (all threads) or, with `tid`, one of its threads has used so far (0 once
 * it is gone). The main thread's tid is the pid.
 */
function cpuSeconds(pid: number, tid?: number): number {
  try {
    const path = tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`;
    const stat = readFileSync(path, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): utime is field 14, stime field 15.
    return (Number(fields[11]) + Number(fields[12])) * TICK_SECONDS;
  } catch {
    return 0;
  }
}

function readHeight(dbPath: string): number {
  if (!existsSync(dbPath)) return -1;
  try {
    const db = new Database(dbPath, { readonly: true, fileMustExist: true });
    try {
      const row = db.prepare('SELECT height FROM chain_state WHERE id = 0').get() as
        | { height: number }
        | undefined;
      return row?.height ?? -1;
    } finally {
      db.close();
    }
  } catch {
    return -1; // not migrated yet
  }
}

function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'unknown';
  }
}

function fileBytes(path: string): number {
  return existsSync(path) ? statSync(path).size : 0;
}

interface RunResult {
  seconds: number;
  cpuSeconds: number;
  mainThreadCpuSeconds: number;
  peakMib: number;
  rssAtQuarters: number[];
  dbBytes: number;
  caughtUp: LogEvent;
}

function indexerEnv(url: string, coin: Coin, dir: string, values: Values): Record<string, string> {
  const env: Record<string, string> = {
    DAEMON_URL: url,
    COIN: coin.name,
    NET: coin.net,
    DB_DIRECTORY: dir,
    INDEX_SERVER_PORT: '0',
    INDEX_SERVER_TOKEN: randomBytes(16).toString('hex'),
    POLL_INTERVAL_MS: '200',
    // The admin RPC must not take its default port next to other engineers' runs.
    RPC_PORT: '0',
    RPC_USER: 'bench',
    RPC_PASSWORD: randomBytes(16).toString('hex'),
    // Containers here run as root; the start checks refuse that unless told (DESIGN §7).
    ALLOW_ROOT: process.getuid?.() === 0 ? '1' : '',
  };
  for (const name of TUNING_SETTINGS) {
    const value = process.env[name]?.trim();
    if (value !== undefined && value !== '') env[name] = value;
  }
  if (values['flush-blocks'] !== undefined) env.FLUSH_BLOCKS = values['flush-blocks'];
  return env;
}

// What the indexer itself says it runs with (its `starting` line), so a run's figures can be
// matched to its settings.
function describeSettings(event: LogEvent): string {
  const fields = [
    'flush_blocks',
    'flush_txs',
    'utxo_cache_mb',
    'defer_index_blocks',
    'reorg_limit',
  ];
  return fields.map((field) => `${field}=${JSON.stringify(event[field] ?? null)}`).join(' ');
}

/** Runs the indexer to the node's tip, sampling memory, CPU and the index height. */
async function runIndexer(
  url: string,
  coin: Coin,
  tip: number,
  values: Values
): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-index-'));
  const dbPath = join(dir, 'index.db');
  const profDir = values['cpu-prof'];
  const nodeArgs = profDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', resolve(profDir)];
  const child = startChild(['indexer/main.ts'], indexerEnv(url, coin, dir, values), nodeArgs);
  const pid = child.pid ?? 0;
  const tail: string[] = [];
  const seen = {
    startedMs: Date.now(),
    startCpu: 0,
    startMainCpu: 0,
    caughtUp: null as LogEvent | null,
  };
  followJson(child, (event) => {
    if (event.event === 'starting') {
      console.log(`  indexer settings: ${describeSettings(event)}`);
      seen.startedMs = Date.now();
      seen.startCpu = cpuSeconds(pid);
      seen.startMainCpu = cpuSeconds(pid, pid);
    }
    if (event.event === 'caught_up' && event.height === tip) seen.caughtUp = event;
    if (event.event === 'sync_progress') console.log(`  ${JSON.stringify(event)}`);
    // Part of the indexing time: utxos_by_hashx is built again at catch-up (indexer/sync.ts).
    if (event.event === 'indexes_rebuilt') console.log(`  ${JSON.stringify(event)}`);
  }, tail);
  const quarters = [0.25, 0.5, 0.75, 1].map((share) => Math.ceil(share * tip));
  const rssAtQuarters: number[] = [];
  let peakMib = 0;
  let cpu = 0;
  let mainCpu = 0;
  const deadline = Date.now() + 1000 * wholeNumber(values['timeout-s'], 'timeout-s');
  try {
    while (seen.caughtUp === null) {
      if (child.exitCode !== null) throw new Error(`indexer exited:\n${tail.join('\n')}`);
      if (Date.now() > deadline) throw new Error(`not caught up in time:\n${tail.join('\n')}`);
      await new Promise((done) => setTimeout(done, SAMPLE_MS));
      const memory = memoryMib(pid);
      peakMib = Math.max(peakMib, memory.hwm);
      cpu = cpuSeconds(pid) || cpu;
      mainCpu = cpuSeconds(pid, pid) || mainCpu;
      const height = readHeight(dbPath);
      for (let next = quarters[rssAtQuarters.length]; next !== undefined && height >= next; ) {
        rssAtQuarters.push(memory.rss);
        next = quarters[rssAtQuarters.length];
      }
    }
    const seconds = (Date.now() - seen.startedMs) / 1000;
    cpu = cpuSeconds(pid) || cpu;
    mainCpu = cpuSeconds(pid, pid) || mainCpu;
    peakMib = Math.max(peakMib, memoryMib(pid).hwm);
    await stopChild(child);
    const dbBytes = fileBytes(dbPath) + fileBytes(`${dbPath}-wal`) + fileBytes(`${dbPath}-shm`);
    return {
      seconds,
      cpuSeconds: cpu - seen.startCpu,
      mainThreadCpuSeconds: mainCpu - seen.startMainCpu,
      peakMib,
      rssAtQuarters,
      dbBytes,
      caughtUp: seen.caughtUp,
    };
  } finally {
    await stopChild(child);
    if (values.keep) console.log(`index kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'];

function countTxs(chain: string): number {
  let txs = 0;
  // Height 0 is skipped: the genesis coinbase is not indexed.
  for (const block of readChainBinary(chain).slice(1)) {
    const first = block[80] ?? 0;
    txs += first < 0xfd ? first : (block[81] ?? 0) | ((block[82] ?? 0) << 8);
  }
  return txs;
}

async function bench(values: Values): Promise<void> {
  const coin = getCoin(values.coin, 'regtest');
  const blocks = wholeNumber(values.blocks, 'blocks');
  const txs = wholeNumber(values.txs, 'txs');
  const seed = wholeNumber(values.seed, 'seed');
  const cacheDir = values.cache ?? join(PROJECT_DIR, 'tmp/bench');
  const chain = cachedChain(coin, blocks, txs, seed, cacheDir);
  const totalTxs = countTxs(chain);
  console.log(`chain ${chain}: ${blocks} blocks, ${totalTxs} txs; sim node in its own process`);
  const node = await startNodeProcess(chain, coin);
  try {
    const loadBefore = loadAverage();
    const nodeCpuBefore = cpuSeconds(node.child.pid ?? 0);
    const result = await runIndexer(node.url, coin, blocks, values);
    const nodeCpu = cpuSeconds(node.child.pid ?? 0) - nodeCpuBefore;
    const rate = (n: number): string => Math.round(n / result.seconds).toLocaleString('en-US');
    const perCpu = Math.round(totalTxs / result.cpuSeconds).toLocaleString('en-US');
    const perMain = Math.round(totalTxs / result.mainThreadCpuSeconds).toLocaleString('en-US');
    console.log(JSON.stringify({ indexer_caught_up: result.caughtUp }));
    const seconds = result.seconds.toFixed(1);
    console.log(`indexed ${totalTxs.toLocaleString('en-US')} txs in ${seconds} s`);
    console.log(`  ${rate(totalTxs)} tx/s, ${rate(blocks)} blocks/s (wall clock)`);
    console.log(
      `  indexer CPU ${result.cpuSeconds.toFixed(1)} s, all threads (${perCpu} tx/CPU-second); ` +
        `main thread ${result.mainThreadCpuSeconds.toFixed(1)} s (${perMain} tx/CPU-second)`
    );
    console.log(
      `  sim node CPU ${nodeCpu.toFixed(1)} s; load average ${loadBefore} before, ` +
        `${loadAverage()} after (other processes slow the wall clock, not the CPU figures)`
    );
    console.log(`  peak RSS (VmHWM) ${result.peakMib.toFixed(0)} MiB`);
    const quarters = result.rssAtQuarters.map((mib, i) => `${25 * (i + 1)}%: ${mib.toFixed(0)}`);
    console.log(`  RSS MiB at ${quarters.join(', ')}`);
    console.log(`  index size ${(result.dbBytes / MIB).toFixed(0)} MiB`);
  } finally {
    await stopChild(node.child);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: OPTIONS });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (values.serve !== undefined) {
    await serve(values.serve, getCoin(values.coin, 'regtest'));
    return;
  }
  await bench(values);
}

main().catch((error: unknown) => {
  console.error(`bench:index: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
