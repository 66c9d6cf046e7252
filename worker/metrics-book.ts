// The Worker's counters for GET /admin/metrics: what sessions report in batches, kept by the
// LimitsRegistry and rendered in the Prometheus text format. Pure code.

/** Upper bounds (seconds) of the notification latency histogram, commit to send. */
export const NOTIFY_LATENCY_BUCKETS_SEC: readonly number[] = [
  0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

/** What one session has counted since its last report. */
export interface MetricsBatch {
  /** Requests that reached a handler, by method name. */
  requests: Record<string, number>;
  /** Error replies, by Electrum error code (as text). */
  errors: Record<string, number>;
  /** 1 when the session was throttled for the first time in this batch. */
  throttled: number;
  /** 1 when the session was cut off at the hard limit in this batch. */
  cutOff: number;
  /** Notification latencies (ms, commit to send) observed since the last report. */
  notifyLatencyMs: number[];
}

/** The counters as they are persisted (structured clone). */
export interface MetricsState {
  requests: Record<string, number>;
  errors: Record<string, number>;
  throttled: number;
  cutOff: number;
  /** Cumulative counts per bucket of NOTIFY_LATENCY_BUCKETS_SEC, then +Inf. */
  latencyBuckets: number[];
  latencySumSec: number;
  latencyCount: number;
}

// Method names and codes come from clients: only this many distinct labels are kept, the rest
// are folded into one, so a client cannot grow the registry's memory without end.
const MAX_LABELS = 200;
const OTHER_LABEL = 'other';

/** Counters that start at zero. */
export function emptyMetrics(): MetricsState {
  return {
    requests: {},
    errors: {},
    throttled: 0,
    cutOff: 0,
    latencyBuckets: new Array<number>(NOTIFY_LATENCY_BUCKETS_SEC.length + 1).fill(0),
    latencySumSec: 0,
    latencyCount: 0,
  };
}

/** An empty batch for a session to fill. */
export function emptyBatch(): MetricsBatch {
  return { requests: {}, errors: {}, throttled: 0, cutOff: 0, notifyLatencyMs: [] };
}

/** True when the batch holds nothing worth sending. */
export function isEmptyBatch(batch: MetricsBatch): boolean {
  return (
    Object.keys(batch.requests).length === 0 &&
    Object.keys(batch.errors).length === 0 &&
    batch.throttled === 0 &&
    batch.cutOff === 0 &&
    batch.notifyLatencyMs.length === 0
  );
}

function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [label, count] of Object.entries(from)) {
    if (!Number.isFinite(count) || count <= 0) continue;
    const known = label in into || Object.keys(into).length < MAX_LABELS;
    const key = known ? label : OTHER_LABEL;
    into[key] = (into[key] ?? 0) + count;
  }
}

function observeLatency(state: MetricsState, latencyMs: number): void {
  if (!Number.isFinite(latencyMs)) return;
  // Clocks of the indexer and the edge differ a little: a negative latency counts as zero.
  const seconds = Math.max(0, latencyMs) / 1000;
  const index = NOTIFY_LATENCY_BUCKETS_SEC.findIndex((bound) => seconds <= bound);
  const bucket = index === -1 ? NOTIFY_LATENCY_BUCKETS_SEC.length : index;
  state.latencyBuckets[bucket] = (state.latencyBuckets[bucket] ?? 0) + 1;
  state.latencySumSec += seconds;
  state.latencyCount += 1;
}

/** Adds a session's batch to the counters (in place). */
export function addBatch(state: MetricsState, batch: MetricsBatch): void {
  addCounts(state.requests, batch.requests);
  addCounts(state.errors, batch.errors);
  state.throttled += Math.max(0, batch.throttled);
  state.cutOff += Math.max(0, batch.cutOff);
  for (const latencyMs of batch.notifyLatencyMs) observeLatency(state, latencyMs);
}

/** Reads persisted counters back; anything malformed starts from zero. */
export function readMetricsState(value: unknown): MetricsState {
  const fresh = emptyMetrics();
  if (typeof value !== 'object' || value === null) return fresh;
  const found = value as Partial<MetricsState>;
  const buckets = found.latencyBuckets;
  if (!Array.isArray(buckets) || buckets.length !== fresh.latencyBuckets.length) return fresh;
  return { ...fresh, ...found };
}

// Label values are escaped as the exposition format asks: backslash, quote and newline.
function labelValue(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function family(name: string, type: string, help: string): string[] {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
}

function labelled(name: string, label: string, counts: Record<string, number>): string[] {
  const labels = Object.keys(counts).sort();
  return labels.map((value) => `${name}{${label}="${labelValue(value)}"} ${counts[value] ?? 0}`);
}

function latencyLines(state: MetricsState): string[] {
  const name = 'electrum_edge_notify_latency_seconds';
  const lines = family(name, 'histogram', 'Time from the indexer commit to the notification send.');
  let cumulative = 0;
  NOTIFY_LATENCY_BUCKETS_SEC.forEach((bound, index) => {
    cumulative += state.latencyBuckets[index] ?? 0;
    lines.push(`${name}_bucket{le="${bound}"} ${cumulative}`);
  });
  lines.push(`${name}_bucket{le="+Inf"} ${state.latencyCount}`);
  lines.push(`${name}_sum ${state.latencySumSec}`, `${name}_count ${state.latencyCount}`);
  return lines;
}

/** The Prometheus text exposition (format 0.0.4) of the counters and the open sessions. */
export function renderPrometheus(state: MetricsState, sessionsOpen: number): string {
  const requests = 'electrum_edge_requests_total';
  const errors = 'electrum_edge_errors_total';
  const lines = [
    ...family(requests, 'counter', 'Electrum requests answered by a handler, by method.'),
    ...labelled(requests, 'method', state.requests),
    ...family(errors, 'counter', 'Error replies sent, by Electrum error code.'),
    ...labelled(errors, 'code', state.errors),
    ...family('electrum_edge_sessions_throttled_total', 'counter', 'Sessions that were throttled.'),
    `electrum_edge_sessions_throttled_total ${state.throttled}`,
    ...family('electrum_edge_sessions_cut_off_total', 'counter', 'Sessions cut off (-101).'),
    `electrum_edge_sessions_cut_off_total ${state.cutOff}`,
    ...family('electrum_edge_sessions_open', 'gauge', 'WebSocket sessions open now.'),
    `electrum_edge_sessions_open ${sessionsOpen}`,
    ...latencyLines(state),
  ];
  return `${lines.join('\n')}\n`;
}
