// Initial-sync progress: a JSON log line every few seconds and, on a terminal, a bar on stderr.
import { log } from './log.ts';

/** Where a progress bar is drawn: process.stderr, when it is a terminal. */
export interface BarStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): boolean;
}

export interface ProgressOptions {
  /** Between two sync_progress log lines (default 5000). */
  logIntervalMs?: number;
  /** The bar's stream; none when omitted or not a terminal. */
  bar?: BarStream | null;
  now?: () => number;
}

const DEFAULT_LOG_INTERVAL_MS = 5_000;
const BAR_REDRAW_MS = 250;
const BAR_WIDTH = 30;
const MIB = 1_048_576;

/** "1h02m", "3m20s", "45s": the ETA as people read it. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const whole = Math.round(seconds);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = whole % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(s).padStart(2, '0')}s`;
  return `${s}s`;
}

interface Mark {
  ms: number;
  height: number;
  txs: number;
}

/**
 * Tracks how fast blocks are applied while the index is behind the node. Rates are over the last
 * log interval (what the indexer does now), the ETA assumes the remaining blocks go at that pace.
 * The bar never goes into the JSON logs: it is drawn only on a terminal's stderr.
 */
export class SyncProgress {
  private readonly logIntervalMs: number;
  private readonly bar: BarStream | null;
  private readonly now: () => number;
  private lastLog: Mark | null = null;
  // The mark before lastLog: the bar's rates span one to two log intervals, never a few blocks.
  private earlierLog: Mark | null = null;
  private lastBarMs = 0;
  private barShown = false;
  private txs = 0;

  constructor(options: ProgressOptions = {}) {
    this.logIntervalMs = options.logIntervalMs ?? DEFAULT_LOG_INTERVAL_MS;
    this.bar = options.bar?.isTTY === true ? options.bar : null;
    this.now = options.now ?? Date.now;
  }

  /** After each applied block: `height` is ours, `tipHeight` the node's, `txs` the block's. */
  blockApplied(height: number, tipHeight: number, txs: number): void {
    this.txs += txs;
    const ms = this.now();
    // The first block of a range only sets the baseline: its own duration is unknown.
    if (this.lastLog === null) this.lastLog = { ms, height, txs: this.txs };
    const since = this.lastLog;
    if (ms - since.ms >= this.logIntervalMs) {
      this.logLine(ms, height, tipHeight, since);
      this.earlierLog = since;
      this.lastLog = { ms, height, txs: this.txs };
    }
    if (this.bar !== null && (ms - this.lastBarMs >= BAR_REDRAW_MS || height === tipHeight)) {
      this.lastBarMs = ms;
      this.drawBar(height, tipHeight, ms);
    }
  }

  /** The node's tip is reached (or sync stopped): clears the bar, next range starts afresh. */
  finish(): void {
    this.lastLog = null;
    this.earlierLog = null;
    if (this.bar !== null && this.barShown) this.bar.write('\r\x1b[K');
    this.barShown = false;
  }

  private rates(ms: number, height: number, since: Mark): { txPerS: number; blocksPerS: number } {
    const seconds = Math.max((ms - since.ms) / 1000, 1e-3);
    const txPerS = (this.txs - since.txs) / seconds;
    return { txPerS, blocksPerS: (height - since.height) / seconds };
  }

  private logLine(ms: number, height: number, tipHeight: number, since: Mark): void {
    const { txPerS, blocksPerS } = this.rates(ms, height, since);
    const etaS = blocksPerS > 0 ? (tipHeight - height) / blocksPerS : null;
    log.info('sync_progress', {
      height,
      node_height: tipHeight,
      tx_per_s: Math.round(txPerS),
      blocks_per_s: Math.round(blocksPerS * 10) / 10,
      eta_s: etaS === null ? null : Math.round(etaS),
      rss_mb: Math.round(process.memoryUsage().rss / MIB),
    });
  }

  private drawBar(height: number, tipHeight: number, ms: number): void {
    const bar = this.bar;
    const since = this.earlierLog ?? this.lastLog;
    if (bar === null || since === null) return;
    const share = tipHeight > 0 ? Math.min(1, Math.max(0, height / tipHeight)) : 1;
    const filled = Math.round(share * BAR_WIDTH);
    const { txPerS, blocksPerS } = this.rates(ms, height, since);
    const eta = blocksPerS > 0 ? formatDuration((tipHeight - height) / blocksPerS) : '?';
    const text =
      `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${(share * 100).toFixed(1)}% ` +
      `${height}/${tipHeight} ${Math.round(txPerS).toLocaleString('en-US')} tx/s ETA ${eta}`;
    const width = bar.columns ?? 100;
    bar.write(`\r${text.slice(0, Math.max(0, width - 1))}\x1b[K`);
    this.barShown = true;
  }
}
