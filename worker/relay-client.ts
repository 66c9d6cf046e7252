// The Worker's side of broadcasting: POST the raw tx to the indexer's relay (indexer/relay.ts).
import { BAD_REQUEST, DAEMON_ERROR, RpcError } from '../core/protocol/errors.ts';
import type { TxRelay } from './methods/context.ts';

/** Where blockchain.transaction.broadcast sends raw txs (RELAY_URL, RELAY_SECRET). */
export interface RelaySettings {
  url: string;
  secret: string;
}

// A relay that takes longer than this is treated as down (our failure, -32603).
const RELAY_TIMEOUT_MS = 45_000;

/**
 * ElectrumX's wording of a rejected broadcast: wallets show it and some match on it, so the
 * node's message and the raw tx follow it verbatim (DESIGN §5).
 */
export function rejectionMessage(nodeMessage: string, rawTxHex: string): string {
  return `the transaction was rejected by network rules.\n\n${nodeMessage}\n[${rawTxHex}]`;
}

/** A broadcast the node could not be reached for: nothing was sent. */
export const NODE_UNAVAILABLE_MESSAGE =
  'daemon error: the node is unavailable, the transaction was not sent; try again later';
/** A broadcast the node took but did not answer in time: sending it again is harmless. */
export const NODE_SILENT_MESSAGE =
  'daemon error: the node did not answer in time; the transaction may have been sent, ' +
  'and broadcasting it again is safe';

interface RelayReply {
  txid?: unknown;
  rejected?: { message?: unknown };
  error?: unknown;
}

/** A TxRelay over HTTP with the shared bearer secret. */
export class HttpTxRelay implements TxRelay {
  readonly #settings: RelaySettings;

  constructor(settings: RelaySettings) {
    this.#settings = settings;
  }

  async broadcast(rawTxHex: string): Promise<string> {
    const response = await fetch(this.#settings.url, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${this.#settings.secret}`,
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({ rawtx: rawTxHex }),
      signal: AbortSignal.timeout(RELAY_TIMEOUT_MS),
    });
    const text = await response.text();
    let reply: RelayReply;
    try {
      reply = JSON.parse(text) as RelayReply;
    } catch {
      throw new Error(`relay answered HTTP ${response.status} with a non-JSON body`);
    }
    if (response.status === 200 && typeof reply.txid === 'string') return reply.txid;
    const nodeMessage = reply.rejected?.message;
    if (response.status === 422 && typeof nodeMessage === 'string') {
      throw new RpcError(BAD_REQUEST, rejectionMessage(nodeMessage, rawTxHex));
    }
    // The node is down or silent: the wallet's to know (code 2, as other node trouble), not ours.
    if (response.status === 502) throw new RpcError(DAEMON_ERROR, NODE_UNAVAILABLE_MESSAGE);
    if (response.status === 504) throw new RpcError(DAEMON_ERROR, NODE_SILENT_MESSAGE);
    // 400 means the relay refused what we already checked: a mismatch between the two, ours.
    const detail = typeof reply.error === 'string' ? reply.error.slice(0, 200) : 'no detail';
    throw new Error(`relay answered HTTP ${response.status}: ${detail}`);
  }
}
