// What every Electrum method handler receives: the index, the chain, server facts, the session.
import type { Coin } from '../../core/coins.ts';
import type { RawJson } from '../../core/protocol/json.ts';
import type { IndexReader } from '../index-reader.ts';

/** Fixed facts about this server, from wrangler vars. */
export interface ServerInfo {
  /** server.version's first element and server.features' server_version. */
  serverVersion: string;
  banner: string;
  donationAddress: string;
}

/**
 * The session a request arrived on. A WebSocket session remembers what these calls set; the
 * stateless HTTP endpoint remembers nothing (and refuses subscriptions before a handler runs).
 */
export interface SessionControl {
  /** The negotiated protocol version (PROTOCOL_MIN until server.version). */
  protocolVersion(): string;
  /** True once server.version was received on this session. */
  versionSent(): boolean;
  /** Records server.version: the client's name and the negotiated version. */
  setVersion(clientName: string, protocolVersion: string): void;
  subscribeHeaders(): void;
  /**
   * Remembers a script hash (internal order), the text the client sent for it (notifications
   * echo that text, as ElectrumX does) and the status just returned.
   * @throws RpcError when the session holds too many subscriptions.
   */
  subscribeScriptHash(hashx: Uint8Array, sentAs: string, status: string | null): void;
  /** Forgets a script hash; false when it was not subscribed. */
  unsubscribeScriptHash(hashx: Uint8Array): boolean;
}

/**
 * Immutable answers kept between requests (worker/edge-cache.ts). Keys name method and
 * parameters; the cache adds the chain. Only answers about blocks deeper than the reorg limit
 * go in: nothing that a reorg or the mempool can change.
 */
export interface AnswerCache {
  /** The stored answer as JSON text, or undefined when there is none. */
  get(key: string): Promise<RawJson | undefined>;
  put(key: string, value: unknown): Promise<void>;
}

/** Sends a raw tx to the node through the indexer's relay (worker/relay-client.ts). */
export interface TxRelay {
  /**
   * @returns the node's txid (display hex).
   * @throws RpcError(BAD_REQUEST) with the node's rejection; any other error is our failure.
   */
  broadcast(rawTxHex: string): Promise<string>;
}

/**
 * Whether a session sent requests before server.version: from protocol 1.6 server.version must
 * be the first message (protocol-changes.rst), so such a session cannot negotiate 1.6.
 */
export interface RequestOrder {
  /**
   * Notes a request by method name, in message order (before any handler runs, so a batch that
   * starts with server.version counts as version-first however its handlers interleave).
   */
  noteRequest(method: string): void;
  /** True when some request came before the first server.version request. */
  requestsBeforeVersion(): boolean;
}

/** The context passed to every handler of worker/methods/. */
export interface MethodContext {
  index: IndexReader;
  coin: Coin;
  server: ServerInfo;
  session: SessionControl;
  /** Absent: nothing is cached. */
  cache?: AnswerCache;
  /** Blocks below the tip a reorg may replace (REORG_LIMIT); absent: nothing counts as final. */
  reorgLimit?: number;
  /** Absent: broadcast is not configured and fails as our own error. */
  relay?: TxRelay;
  /** Absent: the 1.6 first-message rule is not checked (no state to check it with). */
  order?: RequestOrder;
}
