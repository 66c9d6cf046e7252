// What every Electrum method handler receives: the index, the chain, server facts, the session.
import type { Coin } from '../../core/coins.ts';
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

/** The context passed to every handler of worker/methods/. */
export interface MethodContext {
  index: IndexReader;
  coin: Coin;
  server: ServerInfo;
  session: SessionControl;
}
