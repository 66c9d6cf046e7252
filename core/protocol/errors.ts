// Electrum JSON-RPC error codes and the RpcError every client-visible failure is thrown as.
import { truncateForMessage } from '../bytes.ts';

/** The body of the request is not JSON (JSON-RPC 2.0 §5.1). */
export const PARSE_ERROR = -32700;
/** Not a request object, an empty or oversized batch, a bad id, or a reply over MAX_SEND. */
export const INVALID_REQUEST = -32600;
/** No method of that name (or not in the negotiated protocol version). */
export const METHOD_NOT_FOUND = -32601;
/** Wrong number or names of parameters; value checks use BAD_REQUEST like ElectrumX. */
export const INVALID_PARAMS = -32602;
/** Our own failure; the client gets no detail, the log gets all of it. */
export const INTERNAL_ERROR = -32603;
/** A bad parameter value or a request the chain cannot answer (ElectrumX BAD_REQUEST). */
export const BAD_REQUEST = 1;
/** What the node said when it refused (ElectrumX DAEMON_ERROR), e.g. an unknown tx. */
export const DAEMON_ERROR = 2;
/** A script hash's history would not fit in one reply (ElectrumX RPC_ERROR_HISTORY_TOO_LONG). */
export const HISTORY_TOO_LARGE = 10001;
/** The session's cost passed the hard limit; the connection closes after this reply (aiorpcx). */
export const EXCESSIVE_RESOURCE_USAGE = -101;
/** A request waited or ran longer than REQUEST_TIMEOUT (aiorpcx). */
export const SERVER_BUSY = -102;

/** The one message a client sees for our own failures (DESIGN §5: no stack, SQL or secrets). */
export const INTERNAL_ERROR_MESSAGE = 'internal server error';

/** Options of an RpcError beyond its code and message. */
export interface RpcErrorOptions {
  /** The session closes once this error's reply is sent (ElectrumX ReplyAndDisconnect). */
  disconnect?: boolean;
  cause?: unknown;
}

/**
 * An error reply: `code` and `message` go to the client verbatim, so the message must never hold
 * secrets, SQL or stack traces. Anything thrown that is not an RpcError becomes INTERNAL_ERROR.
 */
export class RpcError extends Error {
  readonly code: number;
  readonly disconnect: boolean;

  constructor(code: number, message: string, options: RpcErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RpcError';
    this.code = code;
    this.disconnect = options.disconnect ?? false;
  }
}

/** The -32603 error sent in place of an unexpected exception. */
export function internalError(cause?: unknown): RpcError {
  return new RpcError(INTERNAL_ERROR, INTERNAL_ERROR_MESSAGE, { cause });
}

// Strings a message could not show as is: empty, whitespace at either end, control characters.
const UNSEEN_IN_MESSAGE = /^$|^\s|\s$|[\u0000-\u001f\u007f]/;

/**
 * Shows a client-supplied value in an error message the way ElectrumX does (a string as is, other
 * values as JSON), cut to `maxChars` so a huge parameter cannot bloat the reply. A string whose
 * value would not be visible that way is JSON-quoted: `"" is not a valid script hash`, not
 * ` is not a valid script hash`.
 */
export function describeValue(value: unknown, maxChars = 80): string {
  if (typeof value === 'string') {
    const shown = UNSEEN_IN_MESSAGE.test(value) ? JSON.stringify(value) : value;
    return truncateForMessage(shown, maxChars);
  }
  if (value === undefined) return 'undefined';
  let text: string;
  try {
    text = typeof value === 'bigint' ? value.toString() : String(JSON.stringify(value));
  } catch {
    text = typeof value;
  }
  return truncateForMessage(text, maxChars);
}

/** An integer with thousands separators, as Python's `{:,d}` prints it in ElectrumX messages. */
export function withThousands(value: number): string {
  const digits = Math.trunc(Math.abs(value)).toString();
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return value < 0 ? `-${grouped}` : grouped;
}
