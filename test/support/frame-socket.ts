// WebSocket clients for the end-to-end tests that see every frame exactly as the Worker sent it:
// a frame queue, and a JSON-RPC session on top of it.
import WebSocket from 'ws';

const REPLY_TIMEOUT_MS = 10_000;

/** A JSON-RPC error as the wire carries it. */
export interface ErrorJson {
  code: number;
  message: string;
}

/** One JSON-RPC reply object as received. */
export interface ReplyJson {
  jsonrpc?: string;
  id?: unknown;
  result?: unknown;
  error?: ErrorJson;
}

/** An upgrade answered with an HTTP status instead of 101. */
export class UpgradeRefused extends Error {
  readonly status: number;
  readonly retryAfter: string;

  constructor(status: number, retryAfter: string) {
    super(`upgrade refused with HTTP ${status}`);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

/** A WebSocket whose received frames queue up until the test asks for the next one. */
export class FrameSocket {
  readonly socket: WebSocket;
  readonly closed: Promise<{ code: number; reason: string }>;
  #frames: string[] = [];
  #waiters: ((frame: string | null) => void)[] = [];
  #isClosed = false;

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.on('message', (data) => {
      const frame = String(data);
      const waiter = this.#waiters.shift();
      if (waiter === undefined) this.#frames.push(frame);
      else waiter(frame);
    });
    this.closed = new Promise((done) => {
      socket.once('close', (code, reason) => {
        this.#isClosed = true;
        for (const waiter of this.#waiters.splice(0)) waiter(null);
        done({ code, reason: String(reason) });
      });
    });
  }

  /** Connects; rejects with UpgradeRefused when the server answers the upgrade with a status. */
  static async open(url: string, options: WebSocket.ClientOptions = {}): Promise<FrameSocket> {
    const socket = new WebSocket(url, options);
    const client = new FrameSocket(socket);
    await new Promise<void>((done, fail) => {
      socket.once('open', () => done());
      socket.once('unexpected-response', (_request, response) => {
        const retryAfter = String(response.headers['retry-after'] ?? '');
        fail(new UpgradeRefused(response.statusCode ?? 0, retryAfter));
        socket.terminate();
      });
      socket.once('error', fail);
    });
    return client;
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** The next frame, or null when the socket closed first. @throws after `timeoutMs`. */
  next(timeoutMs = REPLY_TIMEOUT_MS): Promise<string | null> {
    const frame = this.#frames.shift();
    if (frame !== undefined) return Promise.resolve(frame);
    if (this.#isClosed) return Promise.resolve(null);
    return new Promise((done, fail) => {
      const timer = setTimeout(() => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        fail(new Error(`no frame within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (received: string | null): void => {
        clearTimeout(timer);
        done(received);
      };
      this.#waiters.push(waiter);
    });
  }

  /** Sends a text (or, for a Buffer, binary) frame without waiting for anything. */
  send(data: string | Buffer): void {
    this.socket.send(data, { binary: typeof data !== 'string' });
  }

  close(): void {
    this.socket.close();
  }

  terminate(): void {
    this.socket.terminate();
  }
}

/** A JSON-RPC session over a FrameSocket: one reply frame expected per request sent. */
export interface RpcSession {
  readonly frames: FrameSocket;
  /** Sends one frame without waiting for anything. */
  send(text: string): void;
  /** Sends one frame (binary for a Buffer) and returns the next frame received, as text. */
  exchange(data: string | Buffer): Promise<string>;
  /** Sends a request with the next id; returns that id and the parsed reply, unchecked. */
  request(method: string, params?: unknown): Promise<{ sentId: number; reply: ReplyJson }>;
  /** Sends a request and returns the reply. @throws when the reply carries another id. */
  call(method: string, params?: unknown): Promise<ReplyJson>;
  /** The result of a call (undefined when it failed). */
  result(method: string, params?: unknown): Promise<unknown>;
  /** The error of a call (undefined when it succeeded). */
  failure(method: string, params?: unknown): Promise<ErrorJson | undefined>;
  readonly closed: Promise<{ code: number; reason: string }>;
  close(): void;
}

/** Opens a session on `url`; a reply that does not come within `replyTimeoutMs` fails the call. */
export async function openRpcSession(
  url: string,
  replyTimeoutMs = REPLY_TIMEOUT_MS
): Promise<RpcSession> {
  const frames = await FrameSocket.open(url);
  let nextId = 1;
  const exchange = async (data: string | Buffer): Promise<string> => {
    frames.send(data);
    const frame = await frames.next(replyTimeoutMs);
    if (frame === null) throw new Error('the socket closed before a reply frame');
    return frame;
  };
  const request = async (method: string, params: unknown = []) => {
    const sentId = nextId++;
    const frame = await exchange(JSON.stringify({ jsonrpc: '2.0', id: sentId, method, params }));
    return { sentId, reply: JSON.parse(frame) as ReplyJson };
  };
  const call = async (method: string, params?: unknown): Promise<ReplyJson> => {
    const { sentId, reply } = await request(method, params);
    if (reply.id !== sentId) throw new Error(`reply id ${String(reply.id)} for request ${sentId}`);
    return reply;
  };
  return {
    frames,
    send: (text) => frames.send(text),
    exchange,
    request,
    call,
    result: async (method, params) => (await call(method, params)).result,
    failure: async (method, params) => (await call(method, params)).error,
    closed: frames.closed,
    close: () => frames.close(),
  };
}
