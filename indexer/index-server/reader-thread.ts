// Reader thread: owns read-only SQLite connections and runs the requests of its streams.
import { parentPort, workerData } from 'node:worker_threads';
import type { HranaError } from './errors.ts';
import type { FrontToReader, LogMessage, ReaderConfig, ReaderToFront } from './messages.ts';
import type { HranaVersion } from './protocol.ts';
import { ReaderConnection } from './reader-connection.ts';
import { ResponseBudget } from './stmt-runner.ts';
import { runCursor, runPipeline, type ExecContext, type ReaderStream } from './stream-executor.ts';

// Idle connections kept for the next streams; opening one costs a file open and a schema read.
const MAX_IDLE_CONNECTIONS = 8;

const port = parentPort;
if (port === null) throw new Error('reader-thread.ts must run as a worker thread');
const config = workerData as ReaderConfig;
const idle: ReaderConnection[] = [];
const streams = new Map<number, ReaderStream>();

function post(message: ReaderToFront): void {
  port?.postMessage(message);
}

function log(level: LogMessage['level'], event: string, fields: Record<string, unknown>): void {
  post({ kind: 'log', level, event, fields: { reader: config.index, ...fields } });
}

function context(version: HranaVersion): ExecContext {
  return {
    version,
    budget: new ResponseBudget(config.maxResponseBytes),
    reportInternal(error: HranaError): void {
      const cause = error.cause instanceof Error ? error.cause.stack : String(error.cause);
      log('error', 'index_server_internal_error', { cause });
    },
  };
}

function openStream(streamKey: number): ReaderStream {
  const conn = idle.pop() ?? new ReaderConnection(config.dbPath, config.readOnly);
  const stream: ReaderStream = { conn, sqls: new Map(), closed: false };
  streams.set(streamKey, stream);
  return stream;
}

/** Ends a stream: rolls back what it left open and keeps its connection for the next stream. */
function releaseStream(streamKey: number): void {
  const stream = streams.get(streamKey);
  if (stream === undefined) return;
  streams.delete(streamKey);
  if (stream.conn.reset() && idle.length < MAX_IDLE_CONNECTIONS) {
    idle.push(stream.conn);
  } else {
    stream.conn.close();
  }
}

function runOnStream(
  message: Extract<FrontToReader, { kind: 'pipeline' | 'cursor' }>
): ReaderToFront {
  const stream = message.isNew ? openStream(message.streamKey) : streams.get(message.streamKey);
  if (stream === undefined) {
    return { kind: 'lost', id: message.id, message: 'the stream is no longer open on its reader' };
  }
  const ctx = context(message.version);
  const body =
    message.kind === 'pipeline'
      ? runPipeline(stream, message.requests, ctx)
      : runCursor(stream, message.batch, ctx).join('\n') + '\n';
  if (stream.closed) releaseStream(message.streamKey);
  return { kind: 'reply', id: message.id, body, closed: stream.closed };
}

function shutDown(): void {
  for (const key of [...streams.keys()]) releaseStream(key);
  for (const conn of idle.splice(0)) conn.close();
  port?.close();
}

port.on('message', (message: FrontToReader) => {
  switch (message.kind) {
    case 'pipeline':
    case 'cursor':
      try {
        post(runOnStream(message));
      } catch (error) {
        // Only opening a connection can throw here; the executors turn every SQL failure into a
        // Hrana error result.
        const detail = error instanceof Error ? error.message : String(error);
        log('error', 'index_server_stream_failed', { detail });
        post({ kind: 'lost', id: message.id, message: 'could not open the index' });
      }
      return;
    case 'drop':
      releaseStream(message.streamKey);
      return;
    case 'close':
      shutDown();
      return;
  }
});

function start(): void {
  try {
    const conn = new ReaderConnection(config.dbPath, config.readOnly);
    conn.db.prepare('SELECT count(*) FROM sqlite_schema').get();
    const journalMode = conn.db.pragma('journal_mode', { simple: true });
    if (config.index === 0 && journalMode !== 'wal') {
      // Without WAL a reader waits on every write transaction, the stall this design avoids.
      log('warn', 'index_not_wal', { journalMode: String(journalMode) });
    }
    idle.push(conn);
    post({ kind: 'ready' });
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    post({ kind: 'failed', message: `cannot open the index read-only: ${detail}` });
  }
}

start();
