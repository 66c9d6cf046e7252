// Session state that survives hibernation, and the SessionControl of each transport.
// Small fields live in the socket's attachment; script-hash subscriptions in the Session
// object's own SQLite storage, since an attachment is size-limited.
import { hashToHex } from '../core/bytes.ts';
import { BAD_REQUEST, RpcError, withThousands } from '../core/protocol/errors.ts';
import { PROTOCOL_MIN } from '../core/protocol/version.ts';
import type { RequestOrder, SessionControl } from './methods/context.ts';

/**
 * Most script hashes one session may subscribe to unless told otherwise (ElectrumX's
 * MAX_SESSION_SUBS default); the Session passes the MAX_SUBS of its budget (worker/limits/).
 */
export const MAX_SESSION_SUBS = 50_000;

/** The attachment of a session's WebSocket; kept small (structured clone, size-limited). */
export interface SessionAttachment {
  sessionId: string;
  openedAtMs: number;
  protocolVersion: string;
  versionSent: boolean;
  clientName: string;
  headersSubscribed: boolean;
  subscriptionCount: number;
  /** server.version was asked for (absent in attachments older than this field). */
  versionRequested?: boolean;
  /** A request came before the first server.version (absent in older attachments too). */
  requestsBeforeVersion?: boolean;
}

/** The attachment of a new session. */
export function newAttachment(sessionId: string, nowMs: number): SessionAttachment {
  return {
    sessionId,
    openedAtMs: nowMs,
    protocolVersion: PROTOCOL_MIN,
    versionSent: false,
    clientName: '',
    headersSubscribed: false,
    subscriptionCount: 0,
  };
}

function isAttachment(value: unknown): value is SessionAttachment {
  if (typeof value !== 'object' || value === null) return false;
  const fields = value as Record<string, unknown>;
  return (
    typeof fields.sessionId === 'string' &&
    typeof fields.protocolVersion === 'string' &&
    typeof fields.subscriptionCount === 'number'
  );
}

/** Reads a socket's attachment back after hibernation. @throws Error when it is missing. */
export function readAttachment(ws: WebSocket): SessionAttachment {
  const value: unknown = ws.deserializeAttachment();
  if (!isAttachment(value)) throw new Error('WebSocket has no session attachment');
  return value;
}

/**
 * The SessionControl of a WebSocket session. Every change is applied to `state` synchronously and
 * written straight back to the attachment, so requests that interleave at their awaits (a batch,
 * or the next message arriving while a query runs) never overwrite each other's changes.
 */
export class WebSocketSession implements SessionControl, RequestOrder {
  readonly #ws: WebSocket;
  readonly #state: SessionAttachment;
  readonly #sql: SqlStorage;
  readonly #maxSubs: number;

  constructor(ws: WebSocket, state: SessionAttachment, sql: SqlStorage, maxSubs = MAX_SESSION_SUBS) {
    this.#ws = ws;
    this.#state = state;
    this.#sql = sql;
    this.#maxSubs = maxSubs;
  }

  /** Creates the subscription table of a Session object if it is new. */
  static prepareStorage(sql: SqlStorage): void {
    sql.exec(
      'CREATE TABLE IF NOT EXISTS subscriptions ' +
        '(script_hash TEXT PRIMARY KEY, sent_as TEXT NOT NULL, status TEXT)'
    );
  }

  #save(): void {
    this.#ws.serializeAttachment(this.#state);
  }

  protocolVersion(): string {
    return this.#state.protocolVersion;
  }

  versionSent(): boolean {
    return this.#state.versionSent;
  }

  setVersion(clientName: string, protocolVersion: string): void {
    this.#state.versionSent = true;
    this.#state.clientName = clientName;
    this.#state.protocolVersion = protocolVersion;
    this.#save();
  }

  noteRequest(method: string): void {
    if (this.#state.versionRequested === true) return;
    if (method === 'server.version') this.#state.versionRequested = true;
    else if (this.#state.requestsBeforeVersion === true) return;
    else this.#state.requestsBeforeVersion = true;
    this.#save();
  }

  requestsBeforeVersion(): boolean {
    return this.#state.requestsBeforeVersion === true;
  }

  subscribeHeaders(): void {
    if (this.#state.headersSubscribed) return;
    this.#state.headersSubscribed = true;
    this.#save();
  }

  subscribeScriptHash(hashx: Uint8Array, sentAs: string, status: string | null): void {
    const key = hashToHex(hashx);
    const found = this.#sql.exec('SELECT 1 FROM subscriptions WHERE script_hash = ?', key);
    const known = found.toArray();
    if (known.length === 0 && this.#state.subscriptionCount >= this.#maxSubs) {
      const limit = withThousands(this.#maxSubs);
      throw new RpcError(BAD_REQUEST, `too many subscriptions (at most ${limit} per session)`);
    }
    this.#sql.exec(
      'INSERT INTO subscriptions (script_hash, sent_as, status) VALUES (?, ?, ?) ' +
        'ON CONFLICT (script_hash) DO UPDATE SET ' +
        'sent_as = excluded.sent_as, status = excluded.status',
      key,
      sentAs,
      status
    );
    if (known.length === 0) {
      this.#state.subscriptionCount += 1;
      this.#save();
    }
  }

  unsubscribeScriptHash(hashx: Uint8Array): boolean {
    const key = hashToHex(hashx);
    const cursor = this.#sql.exec('DELETE FROM subscriptions WHERE script_hash = ?', key);
    if (cursor.rowsWritten === 0) return false;
    this.#state.subscriptionCount = Math.max(0, this.#state.subscriptionCount - 1);
    this.#save();
    return true;
  }
}

/**
 * The SessionControl of one stateless HTTP request: server.version applies to the rest of the
 * same batch and is then forgotten. Subscriptions never reach it (refused before dispatch).
 */
export class HttpRequestSession implements SessionControl, RequestOrder {
  #version = PROTOCOL_MIN;
  #versionSent = false;
  #versionRequested = false;
  #requestsBeforeVersion = false;

  noteRequest(method: string): void {
    if (this.#versionRequested) return;
    if (method === 'server.version') this.#versionRequested = true;
    else this.#requestsBeforeVersion = true;
  }

  requestsBeforeVersion(): boolean {
    return this.#requestsBeforeVersion;
  }

  protocolVersion(): string {
    return this.#version;
  }

  versionSent(): boolean {
    return this.#versionSent;
  }

  setVersion(_clientName: string, protocolVersion: string): void {
    this.#versionSent = true;
    this.#version = protocolVersion;
  }

  subscribeHeaders(): void {
    throw new Error('headers subscription reached the stateless HTTP session');
  }

  subscribeScriptHash(): void {
    throw new Error('script hash subscription reached the stateless HTTP session');
  }

  unsubscribeScriptHash(): boolean {
    throw new Error('script hash unsubscription reached the stateless HTTP session');
  }
}
