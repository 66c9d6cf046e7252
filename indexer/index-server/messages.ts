// Messages between the index server's threads: main <-> front (HTTP) <-> readers (SQLite).
import type { HranaVersion } from './protocol.ts';

/** A log event raised in a thread and written by the main thread's logger. */
export interface LogMessage {
  kind: 'log';
  level: 'debug' | 'info' | 'warn' | 'error';
  event: string;
  fields: Record<string, unknown>;
}

/** Settings of the front thread, fixed at start (workerData). */
export interface FrontConfig {
  dbPath: string;
  host: string;
  port: number;
  authToken: string;
  idleStreamMs: number;
  maxStreams: number;
  readerThreads: number;
  maxBodyBytes: number;
  maxResponseBytes: number;
  stuckReadMs: number;
  /** False only for tests that need a writable Hrana server (IndexServerOptions.readOnly). */
  readOnly: boolean;
}

/** Settings of a reader thread, fixed at start (workerData). */
export interface ReaderConfig {
  /** Position in the front's reader list; reader 0 reports facts about the file once. */
  index: number;
  dbPath: string;
  maxResponseBytes: number;
  readOnly: boolean;
}

export type MainToFront = { kind: 'close' };

export type FrontToMain =
  | { kind: 'listening'; port: number }
  /** `code`: the system error's, e.g. EADDRINUSE for a port that is taken. */
  | { kind: 'failed'; message: string; code?: string }
  | LogMessage;

/** Work on a stream for its reader: a pipeline or a cursor batch. */
export type StreamWork =
  | {
      kind: 'pipeline';
      streamKey: number;
      isNew: boolean;
      version: HranaVersion;
      requests: unknown[];
    }
  | { kind: 'cursor'; streamKey: number; isNew: boolean; version: HranaVersion; batch: unknown };

/** Messages to a reader: work with a reply id, the end of a stream, or shutdown. */
export type FrontToReader =
  | (StreamWork & { id: number })
  | { kind: 'drop'; streamKey: number }
  | { kind: 'close' };

/**
 * A reader's answer. `body` is the JSON text of the pipeline `results` array, or the cursor's
 * entry lines; `closed` tells whether the stream ended. `lost` means the reader holds no such
 * stream (it was restarted) and the request could not run at all.
 */
export type ReaderReply =
  | { kind: 'reply'; id: number; body: string; closed: boolean }
  | { kind: 'lost'; id: number; message: string };

export type ReaderToFront =
  | { kind: 'ready' }
  | { kind: 'failed'; message: string }
  | ReaderReply
  | LogMessage;
