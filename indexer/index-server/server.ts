// Starts and stops the Hrana index server: read-only HTTP access to the index for the Worker.
import { statSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import { log as indexerLog, type LogFields, type LogLevel } from '../log.ts';
import type { FrontConfig, FrontToMain, MainToFront } from './messages.ts';
import { spawnModuleThread } from '../thread-spawn.ts';

/** Where the server's log events go; defaults to the indexer's JSON logger. */
export type IndexServerLog = (level: LogLevel, event: string, fields: LogFields) => void;

export interface IndexServerOptions {
  /** The SQLite index file; it must exist and should be in WAL mode. */
  dbPath: string;
  /** Address to bind; 127.0.0.1 unless the Worker must reach it from outside. */
  host: string;
  /** TCP port; 0 picks a free one (see `url`). */
  port: number;
  /** Bearer token clients must send; at least 16 characters. */
  authToken: string;
  /** A stream idle this long is closed and its transaction rolled back (default 10,000 ms). */
  idleStreamMs?: number;
  /** Open streams at most; a new one beyond gets HTTP 503 (default 256). */
  maxStreams?: number;
  /** SQLite reader threads (default 2). */
  readerThreads?: number;
  /** Largest accepted request body (default 1 MiB). */
  maxBodyBytes?: number;
  /** Largest results of one request before RESPONSE_TOO_LARGE (default 16 MiB). */
  maxResponseBytes?: number;
  /**
   * A read still running after this long is abandoned with HTTP 503 and its reader thread
   * replaced, since SQLite statements cannot be interrupted from better-sqlite3 (default 30 s).
   */
  stuckReadMs?: number;
  /**
   * Default true. False lets clients write, so that tests can stand this server in for sqld
   * (the remote libSQL mirror's tests); only on a loopback address.
   */
  readOnly?: boolean;
  log?: IndexServerLog;
}

export interface IndexServer {
  /** Base URL for @libsql/client, e.g. `http://127.0.0.1:8081`. */
  url: string;
  /** Stops listening, rolls back open streams, closes connections and ends the threads. */
  close(): Promise<void>;
  /**
   * After close: true when a thread could not be ended, i.e. a read abandoned as stuck that is
   * still running inside SQLite (nothing can stop a thread there). It also keeps the process
   * from exiting normally: the caller must end it another way.
   */
  threadsStuck(): boolean;
}

const FRONT_MODULE = new URL('./front-thread.ts', import.meta.url);
const MIN_TOKEN_CHARS = 16;
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;
// After terminate(): a thread that has not ended by then is stuck in native code for good.
const STOP_GRACE_MS = 2_000;

const DEFAULTS = {
  idleStreamMs: 10_000,
  maxStreams: 256,
  readerThreads: 2,
  maxBodyBytes: 1_048_576,
  maxResponseBytes: 16_777_216,
  stuckReadMs: 30_000,
} as const;

function integerOption(
  name: keyof typeof DEFAULTS | 'port',
  value: number | undefined,
  range: [min: number, max: number]
): number {
  const chosen = value ?? (name === 'port' ? 0 : DEFAULTS[name]);
  const [min, max] = range;
  if (!Number.isInteger(chosen) || chosen < min || chosen > max) {
    const message = `${name} must be an integer from ${min} to ${max}, got ${chosen}`;
    throw new RangeError(`index server: ${message}`);
  }
  return chosen;
}

/** Checks the options and fills in defaults; throws before any thread starts. */
export function frontConfigOf(o: IndexServerOptions): FrontConfig {
  if (o.authToken.length < MIN_TOKEN_CHARS) {
    // DESIGN §7: never serve with an empty or trivial credential.
    throw new RangeError(`index server: auth token under ${MIN_TOKEN_CHARS} characters or more`);
  }
  if (o.host.trim() === '') throw new RangeError('index server: host is empty');
  const readOnly = o.readOnly ?? true;
  if (!readOnly && !isLoopback(o.host)) {
    throw new RangeError('index server: a writable server (tests only) must bind loopback');
  }
  if (statSync(o.dbPath, { throwIfNoEntry: false })?.isFile() !== true) {
    throw new RangeError(`index server: no index file at ${o.dbPath}`);
  }
  const GIB = 1 << 30;
  return {
    dbPath: o.dbPath,
    host: o.host,
    port: integerOption('port', o.port, [0, 65_535]),
    authToken: o.authToken,
    idleStreamMs: integerOption('idleStreamMs', o.idleStreamMs, [10, 3_600_000]),
    maxStreams: integerOption('maxStreams', o.maxStreams, [1, 100_000]),
    readerThreads: integerOption('readerThreads', o.readerThreads, [1, 64]),
    maxBodyBytes: integerOption('maxBodyBytes', o.maxBodyBytes, [1_024, GIB]),
    maxResponseBytes: integerOption('maxResponseBytes', o.maxResponseBytes, [1_024, GIB]),
    stuckReadMs: integerOption('stuckReadMs', o.stuckReadMs, [100, 3_600_000]),
    readOnly,
  };
}

function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === '::1' || host === 'localhost' || host.startsWith('127.');
}

function urlOf(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

// Log events come from the threads at any time; the first other message settles the start.
function waitForListening(front: Worker, write: IndexServerLog): Promise<number> {
  front.on('message', (message: FrontToMain) => {
    if (message.kind === 'log') write(message.level, message.event, message.fields);
  });
  return new Promise((resolve, reject) => {
    const fail = (error: Error): void => {
      clearTimeout(timer);
      void front.terminate();
      reject(error);
    };
    const late = (): void => fail(new Error('index server did not start in time'));
    const timer = setTimeout(late, START_TIMEOUT_MS);
    front.once('error', fail);
    front.on('message', function settle(message: FrontToMain) {
      if (message.kind === 'log') return;
      front.off('message', settle);
      front.off('error', fail);
      clearTimeout(timer);
      if (message.kind === 'listening') resolve(message.port);
      else {
        const error = new Error(`index server: ${message.message}`);
        fail(Object.assign(error, { code: message.code }));
      }
    });
  });
}

// Asks the front thread to shut down cleanly; one that does not exit in time is terminated.
async function stop(front: Worker, exited: Promise<void>): Promise<boolean> {
  front.postMessage({ kind: 'close' } satisfies MainToFront);
  const timer = setTimeout(() => void front.terminate(), STOP_TIMEOUT_MS);
  let giveUp: ReturnType<typeof setTimeout> | undefined;
  const abandoned = new Promise<boolean>((done) => {
    giveUp = setTimeout(() => done(false), STOP_TIMEOUT_MS + STOP_GRACE_MS);
  });
  const ended = await Promise.race([exited.then(() => true), abandoned]);
  clearTimeout(timer);
  clearTimeout(giveUp);
  return ended;
}

/**
 * Serves the SQLite index at `dbPath` over Hrana HTTP (HTTP_V2_SPEC, HRANA_3_SPEC) on `/v2` and
 * `/v3`, read-only, for `@libsql/client/web` and drizzle. HTTP runs in a worker thread and SQLite
 * reads in further threads, so the caller's thread may block in long write transactions.
 */
export async function startIndexServer(o: IndexServerOptions): Promise<IndexServer> {
  const config = frontConfigOf(o);
  const write: IndexServerLog =
    o.log ?? ((level, event, fields) => indexerLog[level](event, fields));
  const front = spawnModuleThread(FRONT_MODULE, config);
  const port = await waitForListening(front, write);
  let closing: Promise<void> | undefined;
  front.on('error', (error) => write('error', 'index_server_crashed', { detail: error.message }));
  const exited = new Promise<void>((resolve) => {
    front.once('exit', (code) => {
      if (closing === undefined) write('error', 'index_server_stopped', { exitCode: code });
      resolve();
    });
  });
  const url = urlOf(config.host, port);
  if (!isLoopback(config.host)) {
    // Reachable beyond this machine: fine when the Worker needs it, but say so (DESIGN §7).
    write('warn', 'index_server_public', { host: config.host });
  }
  if (!config.readOnly) write('warn', 'index_server_writable', { url });
  write('info', 'index_server_listening', { url, readers: config.readerThreads });
  let stuck = false;
  const close = async (): Promise<void> => {
    if (!(await stop(front, exited))) {
      stuck = true;
      write('warn', 'index_server_thread_stuck', { why: 'a read still running in SQLite' });
    }
  };
  return { url, close: () => (closing ??= close()), threadsStuck: () => stuck };
}
