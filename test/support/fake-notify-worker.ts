// A stand-in for the Worker's /internal/notify (GET position, POST notices) on loopback, for
// tests of the indexer's notifier: it records every request and can refuse some.
import { createServer, type Server } from 'node:http';

export interface Posted {
  auth: string | undefined;
  notices: Record<string, unknown>[];
  atMs: number;
}

/** A stand-in for POST/GET /internal/notify that records every request. */
export class FakeWorker {
  readonly #secret: string;
  readonly posts: Posted[] = [];
  readonly accepted: Record<string, unknown>[] = [];
  workerSeq: number | null = null;
  workerTip: string | null = null;
  /** Statuses to answer the next POSTs with, before answering 200 again. */
  failNext: number[] = [];
  /** Requests refused for a wrong secret (they are not recorded in `posts`). */
  refused = 0;
  server: Server | null = null;
  url = '';

  constructor(secret: string) {
    this.#secret = secret;
  }

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const reply = (status: number, body: unknown): void => {
          response.writeHead(status, { 'Content-Type': 'application/json' });
          response.end(JSON.stringify(body));
        };
        if (request.headers.authorization !== `Bearer ${this.#secret}`) {
          this.refused += 1;
          return reply(401, {});
        }
        if (request.method === 'GET') {
          return reply(200, { ok: true, seq: this.workerSeq, tip_hash: this.workerTip });
        }
        const text = Buffer.concat(chunks).toString('utf8');
        const notices = JSON.parse(text) as Record<string, unknown>[];
        this.posts.push({ auth: request.headers.authorization, notices, atMs: Date.now() });
        const failure = this.failNext.shift();
        // As the Worker answers (worker/notify-route.ts): a reason under `error`.
        if (failure !== undefined) {
          return reply(failure, { ok: false, error: `refused ${failure}` });
        }
        this.accepted.push(...notices);
        reply(200, { ok: true });
      });
    });
    await new Promise<void>((done) => this.server?.listen(0, '127.0.0.1', done));
    const address = this.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    this.url = `http://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((done) => this.server?.close(() => done()));
  }

  acceptedSeqs(): number[] {
    const whole = this.accepted.filter((notice) => notice.more !== true);
    return whole.map((notice) => Number(notice.seq));
  }
}
