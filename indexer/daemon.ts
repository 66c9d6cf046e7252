// JSON-RPC client for the full node: basic auth, batches, and retries while the node is unwell.
import { log } from './log.ts';

/** The node answered a call with a JSON-RPC error (a real answer: never retried). */
export class DaemonRpcError extends Error {
  override name = 'DaemonRpcError';
  readonly code: number;
  readonly method: string;

  constructor(method: string, code: number, message: string) {
    super(`${method}: node error ${code}: ${message.slice(0, 200)}`);
    this.code = code;
    this.method = method;
  }
}

/** Retrying was cut short: the indexer is stopping or the retry budget ran out. */
export class DaemonStoppedError extends Error {
  override name = 'DaemonStoppedError';
}

export interface DaemonOptions {
  /** http://host:port without credentials (what config.ts gives). */
  url: string;
  user: string;
  password: string;
  /** Per request; a node that stays silent longer counts as down. */
  timeoutMs?: number;
  firstRetryMs?: number;
  maxRetryMs?: number;
  /** Give up (DaemonStoppedError) after retrying this long; unlimited when omitted. */
  giveUpAfterMs?: number;
  /** Aborting it ends any retry wait at once with DaemonStoppedError. */
  signal?: AbortSignal;
  /** Told of each failed attempt: down, unauthorized, garbage or warming_up (metrics). */
  onFailure?: (kind: string) => void;
  /**
   * The node's state, shared with the other clients of the same node (the relay's own Daemon),
   * so one outage is one log line; a Daemon of its own when omitted.
   */
  reachability?: NodeReachability;
}

/**
 * Whether a node answers, as the last attempt of any of its clients found it. It logs one line
 * per change of state, not one per retry (an outage can last hours) nor one per client.
 */
export class NodeReachability {
  private state = 'ok';

  constructor(private readonly url: string) {}

  /** `ok`, or why the last attempt failed: down, unauthorized, garbage or warming_up. */
  get current(): string {
    return this.state;
  }

  /** Records an attempt's outcome (`ok` or the failure's kind); logs a change of state. */
  record(state: string, detail: string, attempt: number): void {
    if (state === this.state) return;
    const previous = this.state;
    this.state = state;
    const url = this.url;
    if (state === 'ok') log.info('daemon_available', { url, was: previous, attempt });
    else log.warn('daemon_unavailable', { url, reason: state, detail });
  }
}

export interface RpcCall {
  method: string;
  params: unknown[];
}

interface RpcReply {
  id: unknown;
  result?: unknown;
  error?: { code?: unknown; message?: unknown } | null;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; state: string; detail: string };

// bitcoind answers -28 while it loads its block index; worth waiting for, like an outage.
const RPC_IN_WARMUP = -28;

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((done) => {
    const timer = setTimeout(finish, ms);
    function finish(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', finish);
      done();
    }
    signal?.addEventListener('abort', finish, { once: true });
  });

function isReply(value: unknown): value is RpcReply {
  return typeof value === 'object' && value !== null && 'id' in value;
}

type OptionalSetting = 'giveUpAfterMs' | 'signal' | 'onFailure' | 'reachability';

/** A node's JSON-RPC endpoint. Transport trouble is retried with backoff until it clears. */
export class Daemon {
  private readonly options: Required<Omit<DaemonOptions, OptionalSetting>> &
    Pick<DaemonOptions, OptionalSetting>;
  private readonly authorization: string;
  private readonly node: NodeReachability;
  private nextId = 1;

  constructor(options: DaemonOptions) {
    this.options = { timeoutMs: 60_000, firstRetryMs: 250, maxRetryMs: 10_000, ...options };
    const credentials = `${options.user}:${options.password}`;
    this.authorization = `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;
    this.node = options.reachability ?? new NodeReachability(options.url);
  }

  /** `ok`, or why the last attempt (of any client sharing it) failed; see NodeReachability. */
  get reachability(): string {
    return this.node.current;
  }

  /** One call; throws DaemonRpcError when the node answers with an error. */
  async call<T = unknown>(method: string, params: unknown[] = []): Promise<T> {
    const [reply] = await this.batch([{ method, params }]);
    if (reply === undefined || reply instanceof DaemonRpcError) {
      throw reply ?? new DaemonRpcError(method, 0, 'no reply');
    }
    return reply as T;
  }

  /**
   * Sends the calls as one JSON-RPC batch; each slot holds its result or its DaemonRpcError.
   * The whole batch is retried while the node is down, warming up or answering garbage.
   */
  async batch(
    calls: RpcCall[],
    accept: (result: unknown) => boolean = () => true
  ): Promise<unknown[]> {
    if (calls.length === 0) return [];
    const started = Date.now();
    let delayMs = this.options.firstRetryMs;
    for (let attempt = 1; ; attempt++) {
      if (this.stopped()) throw new DaemonStoppedError('indexer stopping');
      const outcome = await this.attempt(calls, accept);
      if (this.stopped()) throw new DaemonStoppedError('indexer stopping');
      if (outcome.ok) {
        this.node.record('ok', '', attempt);
        return outcome.value;
      }
      this.node.record(outcome.state, outcome.detail, attempt);
      this.options.onFailure?.(outcome.state);
      const budget = this.options.giveUpAfterMs;
      if (budget !== undefined && Date.now() - started + delayMs > budget) {
        throw new DaemonStoppedError(`node unavailable for ${budget} ms (${outcome.state})`);
      }
      await sleep(delayMs, this.options.signal);
      delayMs = Math.min(delayMs * 2, this.options.maxRetryMs);
    }
  }

  private async attempt(
    calls: RpcCall[],
    accept: (result: unknown) => boolean
  ): Promise<Outcome<unknown[]>> {
    const firstId = this.nextId;
    this.nextId += calls.length;
    const body = calls.map((call, i) => ({ jsonrpc: '1.0', id: firstId + i, ...call }));
    let status: number;
    let text: string;
    try {
      const response = await fetch(this.options.url, {
        method: 'POST',
        headers: { authorization: this.authorization, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: this.requestSignal(),
      });
      status = response.status;
      text = await response.text();
    } catch (error) {
      const reason = error instanceof Error ? (error.cause ?? error) : error;
      return { ok: false, state: 'down', detail: String(reason).slice(0, 200) };
    }
    if (status === 401 || status === 403) {
      const detail = `HTTP ${status}: check DAEMON_URL credentials`;
      return { ok: false, state: 'unauthorized', detail };
    }
    return this.readReplies(calls, firstId, status, text, accept);
  }

  private readReplies(
    calls: RpcCall[],
    firstId: number,
    status: number,
    text: string,
    accept: (result: unknown) => boolean
  ): Outcome<unknown[]> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return { ok: false, state: 'garbage', detail: `HTTP ${status}, body is not JSON` };
    }
    const replies = Array.isArray(parsed) ? parsed : [parsed];
    const out: unknown[] = new Array(calls.length);
    const filled = new Set<number>();
    for (const reply of replies) {
      if (!isReply(reply) || typeof reply.id !== 'number') continue;
      const slot = reply.id - firstId;
      const call = calls[slot];
      if (call === undefined) continue;
      const error = reply.error;
      if (error !== undefined && error !== null) {
        const code = typeof error.code === 'number' ? error.code : 0;
        if (code === RPC_IN_WARMUP) {
          return { ok: false, state: 'warming_up', detail: String(error.message) };
        }
        out[slot] = new DaemonRpcError(call.method, code, String(error.message ?? ''));
      } else if (accept(reply.result)) {
        out[slot] = reply.result;
      } else {
        const detail = `${call.method}: result of an unexpected shape`;
        return { ok: false, state: 'garbage', detail };
      }
      filled.add(slot);
    }
    if (filled.size !== calls.length) {
      const detail = `HTTP ${status}, ${filled.size}/${calls.length} replies`;
      return { ok: false, state: 'garbage', detail };
    }
    return { ok: true, value: out };
  }

  private stopped(): boolean {
    return this.options.signal?.aborted === true;
  }

  // A stop aborts the request in flight too, so SIGTERM never waits out a hung node.
  private requestSignal(): AbortSignal {
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    const stop = this.options.signal;
    return stop === undefined ? timeout : AbortSignal.any([timeout, stop]);
  }

  /** The node's tip height (getblockcount); an answer that is not a height counts as garbage. */
  async blockCount(): Promise<number> {
    const isHeight = (result: unknown): boolean =>
      typeof result === 'number' && Number.isSafeInteger(result) && result >= 0;
    const [reply] = await this.batch([{ method: 'getblockcount', params: [] }], isHeight);
    if (reply instanceof DaemonRpcError) throw reply;
    return Number(reply);
  }

  /** Block hashes (display hex) of heights from..from+count-1; DaemonRpcError if one is missing. */
  async blockHashes(fromHeight: number, count: number): Promise<string[]> {
    const calls = Array.from({ length: count }, (_, i) => ({
      method: 'getblockhash',
      params: [fromHeight + i],
    }));
    const replies = await this.batch(calls, (result) => isHex(result, 64));
    return replies.map(hexOrThrow);
  }

  /**
   * Raw blocks (getblock <hash> 0), decoded. DaemonRpcError if one is unknown or is not hex.
   * Plain Uint8Arrays, not Buffers: Buffer#slice does not copy, and core code that slices and
   * edits a script (zeroing refs for the script hash) would write into the block.
   */
  async blocks(hashes: string[]): Promise<Uint8Array[]> {
    const calls = hashes.map((hash) => ({ method: 'getblock', params: [hash, 0] }));
    // A full hex check is a second pass over megabytes; decoding stops at the first non-hex
    // character, which the length comparison below catches instead.
    const accept = (result: unknown): boolean =>
      typeof result === 'string' && result.length > 0 && result.length % 2 === 0;
    const replies = await this.batch(calls, accept);
    return replies.map((reply, i) => {
      if (reply instanceof DaemonRpcError) throw reply;
      const hex = String(reply);
      const bytes = new Uint8Array(hex.length / 2);
      const decoded = Buffer.from(bytes.buffer).write(hex, 'hex');
      if (decoded !== bytes.length) {
        const where = `${hashes[i] ?? ''}: non-hex character at ${2 * decoded}`;
        throw new DaemonRpcError('getblock', 0, where);
      }
      return bytes;
    });
  }
}

const HEX = /^[0-9a-fA-F]*$/;

/** True for a hex string of `length` chars (0: any non-empty even length). */
function isHex(value: unknown, length: number): value is string {
  if (typeof value !== 'string') return false;
  const sized = length === 0 ? value.length > 0 && value.length % 2 === 0 : value.length === length;
  return sized && HEX.test(value);
}

function hexOrThrow(reply: unknown): string {
  if (reply instanceof DaemonRpcError) throw reply;
  return String(reply).toLowerCase();
}
