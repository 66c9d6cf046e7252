// Notes what one client message changed in the session's subscriptions, so the session can tell
// the hubs in one batch afterwards and re-check what the client was just told.
import { bytesToHex, hashToHex } from '../core/bytes.ts';
import type { ChainTip, IndexReader } from './index-reader.ts';
import type { SessionControl } from './methods/context.ts';

/** The tip a blockchain.headers.subscribe reply carried, as header hex. */
export interface TipTold {
  height: number;
  headerHex: string;
}

/**
 * The index as the handlers see it, remembering the last tip() result: headers.subscribe reads
 * the tip and then calls subscribeHeaders(), so at that call the remembered tip is the one the
 * reply carries. A Proxy, so methods added to IndexReader pass through untouched.
 */
function recordingTips(index: IndexReader, record: (tip: ChainTip | null) => void): IndexReader {
  return new Proxy(index, {
    get(target, property) {
      if (property === 'tip') {
        return async (): Promise<ChainTip | null> => {
          const tip = await target.tip();
          record(tip);
          return tip;
        };
      }
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** A SessionControl that passes every call on and records subscription changes. */
export class TrackedSession implements SessionControl {
  readonly #inner: SessionControl;
  /** Script hash (display hex) -> what this message last did to it. */
  readonly changes = new Map<string, 'add' | 'remove'>();
  /** Every script hash subscribed in this message, new or repeated: each is re-checked. */
  readonly subscribed = new Set<string>();
  /** Set when this message subscribed to headers: the tip the reply gave (null if unknown). */
  headersTold: TipTold | null | undefined = undefined;
  /** The IndexReader to hand the handlers. */
  readonly index: IndexReader;
  /** When the message began: registrations it owes are compared with hubs' fan-outs from here. */
  readonly startedMs = Date.now();
  #lastTip: ChainTip | null = null;

  constructor(inner: SessionControl, index: IndexReader) {
    this.#inner = inner;
    this.index = recordingTips(index, (tip) => {
      this.#lastTip = tip;
    });
  }

  /** True when the message changed anything the hubs or the re-check must hear about. */
  hasWork(): boolean {
    return this.changes.size > 0 || this.subscribed.size > 0 || this.headersTold !== undefined;
  }

  protocolVersion(): string {
    return this.#inner.protocolVersion();
  }

  versionSent(): boolean {
    return this.#inner.versionSent();
  }

  setVersion(clientName: string, protocolVersion: string): void {
    this.#inner.setVersion(clientName, protocolVersion);
  }

  subscribeHeaders(): void {
    this.#inner.subscribeHeaders();
    const tip = this.#lastTip;
    this.headersTold =
      tip === null ? null : { height: tip.height, headerHex: bytesToHex(tip.header) };
  }

  subscribeScriptHash(hashx: Uint8Array, sentAs: string, status: string | null): void {
    this.#inner.subscribeScriptHash(hashx, sentAs, status);
    const hex = hashToHex(hashx);
    this.changes.set(hex, 'add');
    this.subscribed.add(hex);
  }

  unsubscribeScriptHash(hashx: Uint8Array): boolean {
    const removed = this.#inner.unsubscribeScriptHash(hashx);
    if (removed) {
      const hex = hashToHex(hashx);
      this.changes.set(hex, 'remove');
      this.subscribed.delete(hex);
    }
    return removed;
  }
}
