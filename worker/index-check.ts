// Whether the index this Worker reads is of the chain its COIN and NET name (once per isolate).
import type { Client } from '@libsql/client/web';
import type { Coin } from '../core/coins.ts';
import { hashToHex, truncateForMessage } from '../core/bytes.ts';
import type { Handler } from '../core/protocol/dispatch.ts';
import { INTERNAL_ERROR, INTERNAL_ERROR_MESSAGE, RpcError } from '../core/protocol/errors.ts';
import type { IndexReader } from './index-reader.ts';
import { LibsqlIndexReader } from './libsql-reader.ts';
import { bytesOrNull, column } from './libsql-values.ts';
import { createLogger, describeError, type Logger } from './log.ts';
import type { MethodContext } from './methods/context.ts';

/** The check's answer: the index is of our chain, or the reason it is not (for /health, logs). */
export type ChainVerdict = { ok: true } | { ok: false; reason: string };

/** What the index says it holds: chain_state's coin and net, the genesis hash when indexed. */
export interface IndexChain {
  coin: string;
  net: string;
  /** Display hex of headers row 0, or null before the indexer wrote it. */
  genesisHash: string | null;
}

const UNREACHABLE =
  /network connection lost|fetch failed|ECONNREFUSED|connect(ion)? (refused|failed)/i;

/**
 * Why a read of the index failed, as far as its error tells: `refused` (our index server and
 * Turso answer a bad LIBSQL_AUTH_TOKEN with 401: a setting to fix, not an outage to wait out),
 * `unreachable` (nothing answers at LIBSQL_URL), or null (something else).
 */
export function indexFailureKind(error: unknown): 'refused' | 'unreachable' | null {
  const text = String(describeError(error).error ?? '');
  if (/\bUNAUTHORIZED\b|\b401\b/.test(text)) return 'refused';
  return UNREACHABLE.test(text) ? 'unreachable' : null;
}

// A mismatch is read again now and then, so an index rebuilt in place is picked up.
const MISMATCH_RECHECK_MS = 60_000;
// After a failed read or an empty index, requests are served unchecked this long before retrying,
// so an unreachable index does not cost an extra read on every request.
const UNKNOWN_RETRY_MS = 5_000;

const CHAIN_SQL =
  'SELECT c.coin, c.net, h.hash FROM chain_state c LEFT JOIN headers h ON h.height = 0 ' +
  'WHERE c.id = 0';

async function readIndexChain(client: Client): Promise<IndexChain | null> {
  const result = await client.execute({ sql: CHAIN_SQL, args: [] });
  const row = result.rows[0];
  if (row === undefined) return null;
  const hash = bytesOrNull(column(row, 2, 'headers.hash'), 'headers.hash');
  return {
    coin: truncateForMessage(String(column(row, 0, 'chain_state.coin')), 40),
    net: truncateForMessage(String(column(row, 1, 'chain_state.net')), 40),
    genesisHash: hash === null ? null : hashToHex(hash),
  };
}

/**
 * Compares what the index holds with the chain of this Worker's COIN and NET, then the genesis
 * hash when the index has one (Bitcoin and Bitcoin Cash share theirs, so coin and net decide
 * between those two).
 */
export function judgeIndexChain(coin: Coin, found: IndexChain): ChainVerdict {
  if (found.coin !== coin.name || found.net !== coin.net) {
    const reason = `index is ${found.coin} ${found.net}, this Worker is ${coin.name} ${coin.net}`;
    return { ok: false, reason };
  }
  const genesis = found.genesisHash;
  if (genesis !== null && genesis !== coin.genesisHash) {
    const reason =
      `index genesis block is ${genesis}, ${coin.name} ${coin.net} ` +
      `has ${coin.genesisHash}`;
    return { ok: false, reason };
  }
  return { ok: true };
}

/**
 * The cached verdict of one isolate for one (coin, net, index URL). A match is kept for the
 * isolate's life; a mismatch is re-read every minute; an unreadable or empty index gives null
 * (serve as before) and is retried after a few seconds. One error line per new mismatch reason.
 */
export class IndexChainCheck {
  readonly #coin: Coin;
  readonly #log: Logger;
  #verdict: ChainVerdict | null = null;
  #checkedAtMs = Number.NEGATIVE_INFINITY;
  #pending: Promise<ChainVerdict | null> | null = null;
  #loggedReason: string | null = null;

  constructor(coin: Coin, log: Logger) {
    this.#coin = coin;
    this.#log = log;
  }

  /** The verdict, reading the index through `client` only when the cached one is stale. */
  async verdict(client: Client): Promise<ChainVerdict | null> {
    if (!this.#stale()) return this.#verdict;
    this.#pending ??= this.#check(client).finally(() => {
      this.#pending = null;
    });
    return this.#pending;
  }

  #stale(): boolean {
    const ageMs = Date.now() - this.#checkedAtMs;
    if (this.#verdict === null) return ageMs >= UNKNOWN_RETRY_MS;
    return !this.#verdict.ok && ageMs >= MISMATCH_RECHECK_MS;
  }

  async #check(client: Client): Promise<ChainVerdict | null> {
    try {
      const found = await readIndexChain(client);
      this.#verdict = found === null ? null : judgeIndexChain(this.#coin, found);
    } catch (error) {
      this.#log.warn('index_chain_check_failed', describeError(error));
      this.#verdict = null;
    }
    this.#checkedAtMs = Date.now();
    const verdict = this.#verdict;
    if (verdict !== null && !verdict.ok && verdict.reason !== this.#loggedReason) {
      this.#loggedReason = verdict.reason;
      this.#log.error('index_chain_mismatch', { reason: verdict.reason });
    }
    return verdict;
  }
}

// Module state lives as long as the isolate: one check per deployment setting it serves.
const checks = new Map<string, IndexChainCheck>();

/** This isolate's check of the index at `url` against `coin`. */
export function indexChainCheck(coin: Coin, url: string, logLevel?: string): IndexChainCheck {
  const key = `${coin.name} ${coin.net} ${url}`;
  let check = checks.get(key);
  if (check === undefined) {
    check = new IndexChainCheck(coin, createLogger(logLevel));
    checks.set(key, check);
  }
  return check;
}

/** The libSQL reader with the check of its chain, which the method handlers consult. */
export class CheckedIndexReader extends LibsqlIndexReader {
  readonly #client: Client;
  readonly #check: IndexChainCheck;

  constructor(client: Client, check: IndexChainCheck) {
    super(client);
    this.#client = client;
    this.#check = check;
  }

  /** The isolate's cached verdict on this index's chain (null: unknown, serve as before). */
  chainVerdict(): Promise<ChainVerdict | null> {
    return this.#check.verdict(this.#client);
  }
}

/**
 * Wraps a method handler so that a Worker whose index is of another chain answers nothing from
 * it: DESIGN §5's internal row (-32603 "internal server error"; the reason goes to the log and
 * /health), then the session closes. Readers other than CheckedIndexReader (tests' fakes) pass.
 */
export function refusingOtherChains(handler: Handler<MethodContext>): Handler<MethodContext> {
  return async (context, args, room) => {
    const index: IndexReader = context.index;
    // instanceof sees through the Proxy of worker/notify-tracker.ts (it keeps the prototype).
    if (index instanceof CheckedIndexReader) {
      const verdict = await index.chainVerdict();
      if (verdict !== null && !verdict.ok) {
        throw new RpcError(INTERNAL_ERROR, INTERNAL_ERROR_MESSAGE, { disconnect: true });
      }
    }
    return handler(context, args, room);
  };
}
