// A minimal JSON-RPC client for a node URL with credentials (http://user:password@host:port),
// used by the sim-node CLI's client mode and by tests.

/** An error reply of the node: its code and message. */
export class NodeCallError extends Error {
  override name = 'NodeCallError';
  readonly code: number;
  readonly httpStatus: number;

  constructor(code: number, message: string, httpStatus: number) {
    super(message);
    this.code = code;
    this.httpStatus = httpStatus;
  }
}

/** The URL without its credentials, and the Basic authorization header they make. */
export function splitNodeUrl(url: string): { endpoint: string; authorization: string } {
  const parsed = new URL(url);
  const user = decodeURIComponent(parsed.username);
  const password = decodeURIComponent(parsed.password);
  parsed.username = '';
  parsed.password = '';
  const token = Buffer.from(`${user}:${password}`).toString('base64');
  return { endpoint: parsed.toString(), authorization: `Basic ${token}` };
}

/**
 * Calls `method` and returns its result.
 * @throws NodeCallError for an error reply; Error when the answer is not a JSON-RPC reply.
 */
export async function callNode(
  url: string,
  method: string,
  params: unknown[] = [],
  timeoutMs = 30_000
): Promise<unknown> {
  const { endpoint, authorization } = splitNodeUrl(url);
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '1.0', id: 1, method, params }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  if (response.status === 401) {
    throw new Error('HTTP 401 from the node: wrong user or password in the URL');
  }
  let reply: { result?: unknown; error?: { code: number; message: string } | null };
  try {
    reply = JSON.parse(text) as typeof reply;
  } catch {
    const body = text === '' ? 'an empty body' : text.slice(0, 120);
    throw new Error(`HTTP ${response.status} from the node, not JSON: ${body}`);
  }
  if (reply.error !== null && reply.error !== undefined) {
    throw new NodeCallError(reply.error.code, reply.error.message, response.status);
  }
  return reply.result;
}
