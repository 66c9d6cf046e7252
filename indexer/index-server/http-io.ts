// HTTP plumbing of the index server: bounded bodies, JSON replies, bearer-token check.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HRANA_CODES, HranaError } from './errors.ts';

/** A failure that ends the HTTP request with `status` and a Hrana `Error` JSON body. */
export class HttpError extends HranaError {
  override name = 'HttpError';
  readonly status: number;
  /** Extra response headers, e.g. `allow` on a 405. */
  readonly headers: Record<string, string>;

  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(code, message);
    this.status = status;
    this.headers = headers;
  }
}

/**
 * Reads the whole body, refusing more than `maxBytes`: from Content-Length before reading, or
 * while reading when the length is not declared (chunked).
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const tooLarge = (): HttpError => {
    const message = `request body over the limit of ${maxBytes} bytes`;
    return new HttpError(413, HRANA_CODES.BODY_TOO_LARGE, message);
  };
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > maxBytes) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let sizeBytes = 0;
    req.on('data', (chunk: Buffer) => {
      sizeBytes += chunk.length;
      if (sizeBytes > maxBytes) {
        req.removeAllListeners('data');
        req.pause();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, sizeBytes)));
    req.on('error', reject);
    // A client that hangs up mid-body never sends 'end'; settle so nothing waits forever.
    req.on('close', () => {
      if (req.complete) return;
      reject(new HttpError(400, HRANA_CODES.PROTO_ERROR, 'request body cut off'));
    });
  });
}

/** Parses a JSON body; a syntax error is the client's (400). */
export function parseJsonBody(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, HRANA_CODES.JSON_INVALID, 'the request body is not valid JSON');
  }
}

/**
 * Sends JSON text. The content type is exactly `application/json`: @libsql/hrana-client reads an
 * error body as a Hrana `Error` only for that exact string (http/stream.js, errorFromResponse).
 */
export function sendJson(
  res: ServerResponse,
  status: number,
  json: string,
  headers: Record<string, string> = {}
): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(json),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(json);
}

/** Sends a Hrana `Error` body with the status and headers of the failure. */
export function sendError(res: ServerResponse, error: HttpError): void {
  const json = JSON.stringify({ message: error.message, code: error.code });
  sendJson(res, error.status, json, error.headers);
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * Checks `Authorization: Bearer <token>` in constant time. Both sides are hashed first so the
 * comparison runs over equal lengths and leaks neither the token's length nor a matching prefix.
 */
export function bearerChecker(expectedToken: string): (header: string | undefined) => boolean {
  const expected = sha256(expectedToken);
  return (header) => {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
    const presented = sha256(match?.[1] ?? '');
    return timingSafeEqual(presented, expected) && match !== null;
  };
}
