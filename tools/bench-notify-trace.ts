// Hop-by-hop timing for `npm run bench:notify --trace`: reads the debug lines of the notifier,
// the notify route, the hubs and the sessions (each carries its lag behind the notice's commit
// time) and prints percentiles per hop, so the time from commit to receipt can be placed; and the
// CPU time the Worker's processes spend per block, a figure other load on the machine leaves alone.
import { readdirSync, readFileSync } from 'node:fs';

/** One hop's figure as the log lines give it: which event, which field. */
interface HopField {
  name: string;
  event: string;
  field: string;
}

// In path order. lag_ms fields are measured from the commit (the notifier's first sight of the
// row); the others are durations inside that hop.
const HOPS: HopField[] = [
  { name: 'commit -> POST sent (read + pack)', event: 'notify_sent', field: 'post_lag_ms' },
  { name: 'POST round trip (whole fan-out)', event: 'notify_sent', field: 'ms' },
  { name: 'commit -> /internal/notify received', event: 'notify_routed', field: 'lag_ms' },
  { name: 'commit -> hub deliver starts', event: 'hub_delivered', field: 'lag_ms' },
  { name: 'hub plan (subscriber lookup)', event: 'hub_delivered', field: 'plan_ms' },
  { name: 'hub status read', event: 'hub_delivered', field: 'read_ms' },
  { name: 'hub fan-out (all wakes answered)', event: 'hub_delivered', field: 'fan_out_ms' },
  { name: 'sessions woken per hub', event: 'hub_delivered', field: 'woken' },
  { name: 'commit -> session wake starts', event: 'notify_wake', field: 'lag_ms' },
  { name: 'session wake queued behind earlier work', event: 'notify_wake', field: 'queued_ms' },
  { name: 'session wake (read + frames)', event: 'notify_wake', field: 'ms' },
  { name: 'commit -> session frames sent', event: 'notify_wake', field: 'done_lag_ms' },
];

/** Collects hop figures from log lines; `line()` takes every line of the stack's processes. */
export class HopTrace {
  readonly #values = new Map<string, number[]>();
  // Warnings and errors by event name, so a stall can be told from a failure.
  readonly #problems = new Map<string, number>();
  #lines = 0;

  /** Takes one log line (bound, so it can be passed as a callback). */
  readonly line = (text: string): void => {
    const start = text.indexOf('{');
    if (start < 0) return;
    const problem = /"level":"(warn|error)","event":"([a-z_]+)"/.exec(text);
    if (problem !== null) {
      const key = `${problem[1]} ${problem[2]}`;
      this.#problems.set(key, (this.#problems.get(key) ?? 0) + 1);
    }
    if (!/notify_sent|notify_routed|hub_delivered|notify_wake/.test(text)) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text.slice(start));
    } catch {
      return;
    }
    if (typeof parsed !== 'object' || parsed === null) return;
    const record = parsed as Record<string, unknown>;
    this.#lines += 1;
    for (const hop of HOPS) {
      const value = record[hop.field];
      if (record.event !== hop.event || typeof value !== 'number') continue;
      const key = `${hop.event}.${hop.field}`;
      const list = this.#values.get(key);
      if (list === undefined) this.#values.set(key, [value]);
      else list.push(value);
    }
  };

  /** Forgets everything so far (the subscribe phase's lines). */
  clear(): void {
    this.#values.clear();
    this.#problems.clear();
    this.#lines = 0;
  }

  /** Prints p50 / p99 / max of every hop seen. */
  print(percentile: (sorted: number[], fraction: number) => number): void {
    console.log(`hop by hop (${this.#lines} trace lines):`);
    for (const hop of HOPS) {
      const values = [...(this.#values.get(`${hop.event}.${hop.field}`) ?? [])];
      if (values.length === 0) continue;
      values.sort((a, b) => a - b);
      const [p50, p99] = [percentile(values, 0.5), percentile(values, 0.99)];
      const figures = `n=${values.length} p50=${p50} p99=${p99} max=${values.at(-1)}`;
      console.log(`  ${hop.name.padEnd(44)} ${figures}`);
    }
    const problems = [...this.#problems].map(([event, count]) => `${event} x${count}`);
    console.log(`warnings and errors: ${problems.length === 0 ? 'none' : problems.join(', ')}`);
  }
}

interface ProcStat {
  name: string;
  ppid: number;
  ticks: number;
}

/** One /proc/<pid>/stat line: command, parent pid and CPU time (user + system, clock ticks). */
function readStat(pid: number): ProcStat | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may hold spaces) start after its closing parenthesis.
    const name = text.slice(text.indexOf('(') + 1, text.lastIndexOf(')'));
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(fields[1]);
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ppid) && Number.isFinite(ticks) ? { name, ppid, ticks } : null;
  } catch {
    return null;
  }
}

// Linux reports CPU time in clock ticks of 1/100 s (USER_HZ) on every architecture we run on.
const MS_PER_TICK = 10;

/**
 * CPU time (ms) used so far by `rootPid` and every process below it (wrangler: its workerd), by
 * command name; null off Linux. Exited children are not counted: compare readings of one tree.
 */
export function treeCpuMs(rootPid: number | undefined): Map<string, number> | null {
  if (rootPid === undefined) return null;
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return null;
  }
  const stats = new Map<number, ProcStat>();
  for (const name of entries) {
    const stat = readStat(Number(name));
    if (stat !== null) stats.set(Number(name), stat);
  }
  const inTree = new Set([rootPid]);
  // Bounded: each pass adds at least one process or stops.
  for (let pass = 0; pass < stats.size; pass++) {
    const before = inTree.size;
    for (const [pid, stat] of stats) if (inTree.has(stat.ppid)) inTree.add(pid);
    if (inTree.size === before) break;
  }
  const byName = new Map<string, number>();
  for (const pid of inTree) {
    const stat = stats.get(pid);
    if (stat === undefined) continue;
    byName.set(stat.name, (byName.get(stat.name) ?? 0) + stat.ticks * MS_PER_TICK);
  }
  return byName;
}

/** CPU ms per block and process name between two treeCpuMs readings, as one line. */
export function cpuPerBlock(
  before: Map<string, number> | null,
  after: Map<string, number> | null,
  blocks: number
): string {
  if (before === null || after === null) return 'CPU time per block: not available here';
  const parts: string[] = [];
  let total = 0;
  for (const [name, ms] of after) {
    const used = Math.round((ms - (before.get(name) ?? 0)) / blocks);
    total += used;
    parts.push(`${name} ${used} ms`);
  }
  return `Worker processes' CPU time per block: ${total} ms (${parts.join(', ')})`;
}
