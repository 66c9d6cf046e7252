// The Worker's metric counters: batches add up, client-chosen labels are capped, and the text
// follows the Prometheus exposition format (checked line by line against the format's grammar).
import { describe, expect, it } from 'vitest';
import {
  addBatch,
  emptyBatch,
  emptyMetrics,
  isEmptyBatch,
  NOTIFY_LATENCY_BUCKETS_SEC,
  readMetricsState,
  renderPrometheus,
} from '../worker/metrics-book.ts';

// A sample line per the exposition format: metric name, optional {label="value",...}, a number.
const LABEL = String.raw`[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"`;
const SAMPLE = new RegExp(
  String.raw`^[a-zA-Z_:][a-zA-Z0-9_:]*(\{${LABEL}(,${LABEL})*\})? -?[0-9.e+]+$`
);

describe('addBatch', () => {
  it('adds the counts of several batches', () => {
    const state = emptyMetrics();
    const batch = emptyBatch();
    expect(isEmptyBatch(batch)).toBe(true);
    batch.requests['server.ping'] = 2;
    batch.errors['-32601'] = 1;
    batch.throttled = 1;
    addBatch(state, batch);
    addBatch(state, { ...emptyBatch(), requests: { 'server.ping': 3 }, cutOff: 1 });
    expect(state.requests).toEqual({ 'server.ping': 5 });
    expect(state.errors).toEqual({ '-32601': 1 });
    expect([state.throttled, state.cutOff]).toEqual([1, 1]);
  });

  it('folds labels past the cap into "other" and ignores negative counts', () => {
    const state = emptyMetrics();
    const requests: Record<string, number> = {};
    for (let index = 0; index < 250; index++) requests[`method.${index}`] = 1;
    addBatch(state, { ...emptyBatch(), requests: { ...requests, bad: -5 } });
    expect(Object.keys(state.requests)).toHaveLength(201);
    expect(state.requests.other).toBe(50);
    expect(state.requests.bad).toBeUndefined();
  });

  it('puts latencies in the first bucket whose bound holds them', () => {
    const state = emptyMetrics();
    // 40 ms -> 0.05 s bucket; 300 ms -> 0.5 s; 60 s -> +Inf; a negative clock skew -> first.
    addBatch(state, { ...emptyBatch(), notifyLatencyMs: [40, 300, 60_000, -5] });
    expect(state.latencyBuckets[0]).toBe(2);
    expect(state.latencyBuckets[NOTIFY_LATENCY_BUCKETS_SEC.indexOf(0.5)]).toBe(1);
    expect(state.latencyBuckets.at(-1)).toBe(1);
    expect(state.latencyCount).toBe(4);
    expect(state.latencySumSec).toBeCloseTo(0.04 + 0.3 + 60, 9);
  });
});

describe('renderPrometheus', () => {
  it('writes valid sample lines, escaped labels and cumulative buckets', () => {
    const state = emptyMetrics();
    const method = 'we"ird\\name\n';
    addBatch(state, { ...emptyBatch(), requests: { [method]: 1 }, notifyLatencyMs: [40, 300] });
    const text = renderPrometheus(state, 7);
    expect(text.endsWith('\n')).toBe(true);
    for (const line of text.trimEnd().split('\n')) {
      if (line.startsWith('# ')) expect(line).toMatch(/^# (HELP|TYPE) [a-z_]+ .+$/);
      else expect(line).toMatch(SAMPLE);
    }
    expect(text).toContain('electrum_edge_requests_total{method="we\\"ird\\\\name\\n"} 1');
    expect(text).toContain('electrum_edge_sessions_open 7');
    expect(text).toContain('electrum_edge_notify_latency_seconds_bucket{le="0.05"} 1');
    expect(text).toContain('electrum_edge_notify_latency_seconds_bucket{le="0.5"} 2');
    expect(text).toContain('electrum_edge_notify_latency_seconds_bucket{le="+Inf"} 2');
    expect(text).toContain('electrum_edge_notify_latency_seconds_count 2');
  });
});

describe('readMetricsState', () => {
  it('starts from zero on anything malformed, and keeps a stored state', () => {
    expect(readMetricsState(undefined)).toEqual(emptyMetrics());
    expect(readMetricsState({ latencyBuckets: [1] })).toEqual(emptyMetrics());
    const stored = { ...emptyMetrics(), throttled: 3 };
    expect(readMetricsState(structuredClone(stored))).toEqual(stored);
  });
});
