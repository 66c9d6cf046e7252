// `npm run bench:abuse`: one client spams get_history on a long history while a second client,
// in another /24, keeps making small requests. Prints the spammer's added delay against the
// model's (REQUEST_SLEEP x the way from soft to hard), when it was cut off, and the second
// client's latencies before, during and after, with its p99 against 120% of its baseline.
// Options: --history N (2000), --soft N (100), --hard N (1000), --sleep MS (2500),
// --baseline-s S (10), --after-s S (3), --max-spam-s S (120). Everything runs on loopback.
import { parseArgs } from 'node:util';
import {
  errorOf,
  LimitsClient,
  startLimitsStack,
  treeRssBytes,
  type LimitsStack,
} from '../test/limits-stack.ts';

const SPAMMER_IP = '203.0.113.50';
const VICTIM_IP = '198.51.100.50';
const BANDWIDTH_UNIT = 5000;
const HISTORY_METHOD = 'blockchain.scripthash.get_history';
// About 10 requests a second: a busy wallet, far below the soft limit over the whole run.
const VICTIM_PAUSE_MS = 100;

interface Options {
  history: number;
  soft: number;
  hard: number;
  sleepMs: number;
  baselineSec: number;
  afterSec: number;
  maxSpamSec: number;
}

function readOptions(): Options {
  const { values } = parseArgs({
    options: {
      history: { type: 'string', default: '2000' },
      soft: { type: 'string', default: '100' },
      hard: { type: 'string', default: '1000' },
      sleep: { type: 'string', default: '2500' },
      'baseline-s': { type: 'string', default: '10' },
      'after-s': { type: 'string', default: '3' },
      'max-spam-s': { type: 'string', default: '120' },
    },
  });
  const number = (name: keyof typeof values): number => {
    const value = Number(values[name]);
    if (!Number.isFinite(value) || value <= 0) {
      throw new RangeError(`--${name} must be a positive number`);
    }
    return value;
  };
  return {
    history: number('history'),
    soft: number('soft'),
    hard: number('hard'),
    sleepMs: number('sleep'),
    baselineSec: number('baseline-s'),
    afterSec: number('after-s'),
    maxSpamSec: Math.min(600, number('max-spam-s')),
  };
}

function percentile(values: readonly number[], share: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))] ?? Number.NaN;
}

function summary(values: readonly number[]): string {
  const ms = (share: number) => percentile(values, share).toFixed(1).padStart(7);
  const count = String(values.length).padStart(5);
  return `n=${count} p50 ${ms(0.5)} p90 ${ms(0.9)} p99 ${ms(0.99)} max ${ms(1)}`;
}

/** The victim's latencies, tagged with the phase they fell in. */
class Victim {
  readonly samples: { phase: string; atMs: number; ms: number }[] = [];
  phase = 'baseline';
  #running = true;
  #loop: Promise<void> | null = null;

  constructor(
    readonly client: LimitsClient,
    readonly scriptHash: string
  ) {}

  /** Why the second client stopped early, if it did. */
  failure: string | null = null;

  start(): void {
    this.#loop = (async () => {
      for (let i = 0; i < 1_000_000 && this.#running; i++) {
        const exchange = await this.client.call(HISTORY_METHOD, [this.scriptHash]);
        if (exchange === null || errorOf(exchange) !== undefined) {
          const closed = exchange === null ? JSON.stringify(await this.client.closed) : '';
          this.failure = `request ${i} failed: ${exchange?.frame ?? `closed ${closed}`}`;
          return;
        }
        this.samples.push({ phase: this.phase, atMs: performance.now(), ms: exchange.ms });
        await new Promise((resolve) => setTimeout(resolve, VICTIM_PAUSE_MS));
      }
    })();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
  }

  of(phase: string): number[] {
    return this.samples.filter((sample) => sample.phase === phase).map((sample) => sample.ms);
  }
}

interface SpamRow {
  atSec: number;
  ms: number;
  modelCost: number;
  expectedSleepMs: number;
}

interface SpamRun {
  rows: SpamRow[];
  cutAtSec: number | null;
}

async function spam(stack: LimitsStack, options: Options, t0: number): Promise<SpamRun> {
  const spammer = await LimitsClient.open(stack.wsUrl, SPAMMER_IP);
  const decayPerSec = options.hard / 10_000;
  let cost = 0;
  let costAt = performance.now();
  const costNow = () => Math.max(0, cost - ((performance.now() - costAt) / 1000) * decayPerSec);
  const rows: SpamRow[] = [];
  const deadline = performance.now() + options.maxSpamSec * 1000;
  for (let id = 0; performance.now() < deadline; id++) {
    const params = [stack.index.bigScriptHash];
    const text = JSON.stringify({ id, method: HISTORY_METHOD, params });
    cost = costNow() + Buffer.byteLength(text) / BANDWIDTH_UNIT;
    costAt = performance.now();
    const before = cost;
    const exchange = await spammer.exchange(text, 60_000);
    const atSec = (performance.now() - t0) / 1000;
    if (exchange === null || errorOf(exchange)?.code === -101) {
      spammer.terminate();
      return { rows, cutAtSec: atSec };
    }
    cost = costNow() + 0.2 + options.history / 1000 + exchange.bytesOut / BANDWIDTH_UNIT;
    costAt = performance.now();
    const share = (before - options.soft) / (options.hard - options.soft);
    const expectedSleepMs = Math.min(1, Math.max(0, share)) * options.sleepMs;
    rows.push({ atSec, ms: exchange.ms, modelCost: before, expectedSleepMs });
  }
  spammer.terminate();
  return { rows, cutAtSec: null };
}

function printSpam(rows: readonly SpamRow[], cutAtSec: number | null): void {
  const unthrottled = rows.filter((row) => row.expectedSleepMs === 0).map((row) => row.ms);
  const baseline = percentile(unthrottled, 0.5);
  console.log('\nspammer (get_history, one request at a time)');
  console.log('   t (s)  cost (model)  latency ms  added ms  model sleep ms');
  for (const row of rows) {
    const added = row.ms - baseline;
    const cells = [
      row.atSec.toFixed(2).padStart(8),
      row.modelCost.toFixed(1).padStart(12),
      row.ms.toFixed(1).padStart(10),
      added.toFixed(1).padStart(8),
      row.expectedSleepMs.toFixed(1).padStart(14),
    ];
    console.log(cells.join('  '));
  }
  if (cutAtSec === null) console.log('never cut off');
  else console.log(`cut off (-101, closed) at ${cutAtSec.toFixed(2)} s`);
}

// The second client's p99 in 5-second windows of the spam: "throughout", not just overall.
function printWindows(victim: Victim, t0: number): void {
  const during = victim.samples.filter((sample) => sample.phase === 'during');
  const windows = new Map<number, number[]>();
  for (const sample of during) {
    const window = Math.floor((sample.atMs - t0) / 5000);
    windows.set(window, [...(windows.get(window) ?? []), sample.ms]);
  }
  console.log('  during, by 5 s window:');
  for (const [window, values] of windows) {
    const span = `${String(window * 5).padStart(4)}-${String(window * 5 + 5).padEnd(4)}`;
    console.log(`    ${span} s ${summary(values)}`);
  }
}

async function main(): Promise<void> {
  const options = readOptions();
  console.log('starting index server and wrangler dev on 127.0.0.1 ...');
  const stack = await startLimitsStack(
    {
      EXEMPT_PRIVATE: 'false',
      COST_SOFT_LIMIT: String(options.soft),
      COST_HARD_LIMIT: String(options.hard),
      REQUEST_SLEEP: String(options.sleepMs),
    },
    options.history
  );
  try {
    const victimClient = await LimitsClient.open(stack.wsUrl, VICTIM_IP);
    const victim = new Victim(victimClient, stack.index.smallScriptHash);
    const rssBefore = stack.wrangler.pid === undefined ? 0 : treeRssBytes(stack.wrangler.pid);
    victim.start();
    await new Promise((resolve) => setTimeout(resolve, options.baselineSec * 1000));
    victim.phase = 'during';
    const t0 = performance.now();
    const { rows, cutAtSec } = await spam(stack, options, t0);
    victim.phase = 'after';
    await new Promise((resolve) => setTimeout(resolve, options.afterSec * 1000));
    await victim.stop();
    victim.client.close();
    if (victim.failure !== null) throw new Error(`the second client failed: ${victim.failure}`);
    const rssAfter = stack.wrangler.pid === undefined ? 0 : treeRssBytes(stack.wrangler.pid);
    printSpam(rows, cutAtSec);
    console.log('\nsecond client (get_history of 3 entries, another /24), latency ms');
    for (const phase of ['baseline', 'during', 'after']) {
      console.log(`  ${phase.padEnd(8)} ${summary(victim.of(phase))}`);
    }
    printWindows(victim, t0);
    const base = percentile(victim.of('baseline'), 0.99);
    const during = percentile(victim.of('during'), 0.99);
    const ok = during <= base * 1.2;
    const verdict = ok ? 'PASS' : 'FAIL';
    const p99s = `${during.toFixed(1)} ms vs baseline ${base.toFixed(1)} ms`;
    console.log(`\np99 during spam ${p99s} (target <= 120%): ${verdict}`);
    const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
    console.log(`wrangler + workerd RSS ${mib(rssBefore)} -> ${mib(rssAfter)}`);
    if (!ok || cutAtSec === null) process.exitCode = 1;
  } catch (error) {
    // The Worker's last log lines usually say why a client was closed.
    const lines = stack.output.join('').split('\n').filter((line) => line.includes('"level"'));
    console.error(lines.slice(-20).join('\n'));
    throw error;
  } finally {
    await stack.stop();
  }
}

await main();
