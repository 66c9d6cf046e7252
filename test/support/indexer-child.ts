// The indexer's writing path alone (sync and the mempool follower on one index file), as a child
// process for the crash tests: it starts in a fraction of the full indexer's time, so a test can
// kill and restart it many times. Settings come from the environment:
// DAEMON_URL (http://user:password@host:port), COIN, NET, DB_DIRECTORY, FLUSH_BLOCKS,
// POLL_INTERVAL_MS, REORG_LIMIT.
import { join } from 'node:path';
import { getCoin } from '../../core/coins.ts';
import { Daemon } from '../../indexer/daemon.ts';
import { openIndexDb } from '../../indexer/db.ts';
import { log } from '../../indexer/log.ts';
import { startMempool } from '../../indexer/mempool.ts';
import { Sync } from '../../indexer/sync.ts';

function setting(name: string, fallback?: string): string {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is required`);
  return value;
}

const coin = getCoin(setting('COIN'), setting('NET'));
const node = new URL(setting('DAEMON_URL'));
const controller = new AbortController();
const { signal } = controller;
process.on('SIGTERM', () => controller.abort());
const db = openIndexDb(join(setting('DB_DIRECTORY'), 'index.db'), coin);
const daemon = new Daemon({
  url: `${node.protocol}//${node.host}`,
  user: decodeURIComponent(node.username),
  password: decodeURIComponent(node.password),
  signal,
  firstRetryMs: 20,
  maxRetryMs: 200,
});
const pollIntervalMs = Number(setting('POLL_INTERVAL_MS', '50'));
const reorgLimit = Number(setting('REORG_LIMIT', '200'));
const flushBlocks = Number(setting('FLUSH_BLOCKS', '100'));
const mempool = startMempool({ db, daemon, coin, reorgLimit, pollIntervalMs, signal });
// Blocks are parsed on this thread: a parse thread takes most of a second to start here, and
// what a kill can break is the SQLite writing, which is the same either way.
const sync = new Sync({
  ...{ db, daemon, coin, reorgLimit, flushBlocks, pollIntervalMs, signal },
  parseThread: false,
});
log.info('starting', { height: db.readChainState().height });
let exitCode = 0;
try {
  await sync.run();
} catch (error) {
  log.error('fatal', { error });
  exitCode = 1;
}
controller.abort();
await mempool.stopped;
log.info('stopped', { height: db.readChainState().height });
db.close();
process.exit(exitCode);
