// Routes of the Hrana HTTP front: version checks, health, pipelines and cursors.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HRANA_CODES, HranaError, quoteForMessage } from './errors.ts';
import {
  bearerChecker,
  HttpError,
  parseJsonBody,
  readBody,
  sendError,
  sendJson,
} from './http-io.ts';
import type { FrontConfig, LogMessage, ReaderReply } from './messages.ts';
import { parseCursorBody, parsePipelineBody, type HranaVersion } from './protocol.ts';
import type { ReaderPool } from './reader-pool.ts';
import type { StreamEntry, StreamRegistry } from './stream-registry.ts';

/** What the routes need from the front thread. */
export interface FrontDeps {
  config: FrontConfig;
  registry: StreamRegistry;
  readers: ReaderPool;
  log(level: LogMessage['level'], event: string, fields: Record<string, unknown>): void;
}

type Route =
  | { kind: 'health'; method: 'GET' }
  | { kind: 'version'; method: 'GET'; version: HranaVersion }
  | { kind: 'pipeline' | 'cursor'; method: 'POST'; version: HranaVersion };

// TODO(someday): no protobuf encoding, which HRANA_3_SPEC asks of v3 servers. GET /v3-protobuf
// answers 404, which is how @libsql/hrana-client decides to fall back to JSON (http/client.js,
// findEndpoint). @libsql/client 0.18 posts to /v2/pipeline straight away, with no version check.
const ROUTES = new Map<string, Route>([
  ['/health', { kind: 'health', method: 'GET' }],
  ['/v2', { kind: 'version', method: 'GET', version: 2 }],
  ['/v3', { kind: 'version', method: 'GET', version: 3 }],
  ['/v2/pipeline', { kind: 'pipeline', method: 'POST', version: 2 }],
  ['/v3/pipeline', { kind: 'pipeline', method: 'POST', version: 3 }],
  ['/v3/cursor', { kind: 'cursor', method: 'POST', version: 3 }],
]);

type Work =
  | { kind: 'pipeline'; version: HranaVersion; requests: unknown[] }
  | { kind: 'cursor'; version: HranaVersion; batch: unknown };

interface Replied {
  body: string;
  baton: string | null;
}

// A malformed body is the client's mistake: the whole request fails with 400 (HTTP_V2_SPEC).
function asHttpFailure(error: unknown): unknown {
  if (error instanceof HranaError && !(error instanceof HttpError)) {
    return new HttpError(400, error.code, error.message);
  }
  return error;
}

/** The front thread's request handling; `listener` goes to http.createServer. */
export class HranaRoutes {
  private readonly isAuthorized: (header: string | undefined) => boolean;

  constructor(private readonly deps: FrontDeps) {
    this.isAuthorized = bearerChecker(deps.config.authToken);
  }

  readonly listener = (req: IncomingMessage, res: ServerResponse): void => {
    this.route(req, res).catch((error: unknown) => this.fail(req, res, asHttpFailure(error)));
  };

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const target = ROUTES.get(path);
    if (target === undefined) {
      throw new HttpError(404, HRANA_CODES.NOT_FOUND, `no endpoint ${quoteForMessage(path)}`);
    }
    if (req.method !== target.method) {
      const message = `${path} takes ${target.method} only`;
      throw new HttpError(405, HRANA_CODES.METHOD_NOT_ALLOWED, message, { allow: target.method });
    }
    switch (target.kind) {
      case 'health':
        return sendJson(res, 200, '{"status":"ok"}');
      case 'version':
        // HTTP_V2_SPEC "Check support for version 2": any 2xx answer means supported.
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`Hrana over HTTP v${target.version} (JSON), read-only electrum-edge index\n`);
        return;
      case 'pipeline':
        return this.pipeline(req, res, target.version);
      case 'cursor':
        return this.cursor(req, res, target.version);
    }
  }

  private async pipeline(req: IncomingMessage, res: ServerResponse, version: HranaVersion) {
    this.requireAuth(req);
    const { baton, requests } = parsePipelineBody(await this.readJson(req));
    const reply = await this.runOnReader(baton, { kind: 'pipeline', version, requests });
    const batonJson = reply.baton === null ? 'null' : JSON.stringify(reply.baton);
    sendJson(res, 200, `{"baton":${batonJson},"base_url":null,"results":${reply.body}}`);
  }

  // HRANA_3_SPEC "Execute a batch using a cursor (JSON)": one JSON object per line, the first
  // with the baton, then the cursor entries. sqld labels this text/plain, and so do we.
  private async cursor(req: IncomingMessage, res: ServerResponse, version: HranaVersion) {
    this.requireAuth(req);
    const { baton, batch } = parseCursorBody(await this.readJson(req));
    const reply = await this.runOnReader(baton, { kind: 'cursor', version, batch });
    const text = `${JSON.stringify({ baton: reply.baton, base_url: null })}\n${reply.body}`;
    res.writeHead(200, {
      'content-type': 'text/plain',
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
    });
    res.end(text);
  }

  private requireAuth(req: IncomingMessage): void {
    if (this.isAuthorized(req.headers.authorization)) return;
    const headers = { 'www-authenticate': 'Bearer' };
    throw new HttpError(401, HRANA_CODES.UNAUTHORIZED, 'missing or wrong bearer token', headers);
  }

  private async readJson(req: IncomingMessage): Promise<unknown> {
    return parseJsonBody(await readBody(req, this.deps.config.maxBodyBytes));
  }

  private takeStream(baton: string | null): { entry: StreamEntry; isNew: boolean } {
    const { registry, readers, config } = this.deps;
    if (baton === null) {
      const entry = registry.open(readers.leastBusy());
      if (entry !== null) return { entry, isNew: true };
      const message = `all ${config.maxStreams} streams are open; retry shortly`;
      throw new HttpError(503, HRANA_CODES.STREAMS_EXHAUSTED, message, { 'retry-after': '1' });
    }
    const acquired = registry.acquire(baton);
    if (acquired.ok) return { entry: acquired.entry, isNew: false };
    if (acquired.dropped !== null) readers.drop(acquired.dropped.reader, acquired.dropped.key);
    if (acquired.code === 'STREAM_EXPIRED') {
      const message = `the stream was idle over ${config.idleStreamMs} ms and was closed`;
      throw new HttpError(400, HRANA_CODES.STREAM_EXPIRED, message);
    }
    throw new HttpError(400, HRANA_CODES.BATON_INVALID, 'unknown or already used baton');
  }

  // Runs work on the stream's reader; the registry hands out the next baton when it is done.
  private async runOnReader(baton: string | null, work: Work): Promise<Replied> {
    const { registry, readers } = this.deps;
    const { entry, isNew } = this.takeStream(baton);
    let reply: ReaderReply;
    try {
      reply = await readers.run(entry.reader, { ...work, streamKey: entry.key, isNew });
    } catch (error) {
      registry.discard(entry);
      throw error;
    }
    if (reply.kind === 'lost') {
      registry.discard(entry);
      throw new HttpError(500, HRANA_CODES.INTERNAL, reply.message);
    }
    return { body: reply.body, baton: registry.release(entry, reply.closed) };
  }

  private fail(req: IncomingMessage, res: ServerResponse, error: unknown): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (error instanceof HttpError) {
      // Unread body bytes would be parsed as the next request: close the connection instead.
      if (!req.complete) res.setHeader('connection', 'close');
      return sendError(res, error);
    }
    const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
    this.deps.log('error', 'index_server_request_failed', { path: req.url?.slice(0, 60), detail });
    sendError(res, new HttpError(500, HRANA_CODES.INTERNAL, 'internal error'));
  }
}
