// Indexer entry point (`npm run indexer`): config, index file, index server, node info, sync.
import { BlockError } from './block-writer.ts';
import { ConfigError, loadConfig, type IndexerConfig } from './config.ts';
import { Daemon } from './daemon.ts';
import { openIndexDb, type IndexDb } from './db.ts';
import { startIndexServer } from './index-server/server.ts';
import { log, setLogLevel } from './log.ts';
import { runNodeInfo } from './node-info.ts';
import { ChainMismatchError } from './reorg.ts';
import { Sync } from './sync.ts';

const EXIT_FAILED = 1;
const EXIT_BAD_CONFIG = 2;

function readConfig(): IndexerConfig {
  try {
    const config = loadConfig();
    setLogLevel(config.logLevel);
    return config;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    log.error('bad_config', { error: error.message });
    process.exit(EXIT_BAD_CONFIG);
  }
}

// First signal: finish the transaction in progress, close, exit 0. A second one: leave at once
// (SQLite's journal keeps the file at the last commit).
function stopOnSignals(controller: AbortController): void {
  const onSignal = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      log.warn('forced_exit', { signal });
      process.exit(EXIT_FAILED);
    }
    log.info('stopping', { signal });
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

function logFailure(error: unknown): void {
  if (error instanceof BlockError) {
    const { height, hashHex: hash, message } = error;
    log.error('block_rejected', { height, hash, error: message });
  } else if (error instanceof ChainMismatchError) {
    log.error('chain_mismatch', { error: error.message });
  } else {
    const stack = error instanceof Error ? error.stack : undefined;
    log.error('fatal', { error: error instanceof Error ? error.message : String(error), stack });
  }
}

async function runIndexer(
  config: IndexerConfig,
  db: IndexDb,
  controller: AbortController
): Promise<void> {
  const server = await startIndexServer({
    dbPath: config.dbPath,
    host: config.indexServerHost,
    port: config.indexServerPort,
    authToken: config.indexServerToken,
  });
  log.info('index_server_listening', { url: server.url });
  try {
    const daemon = new Daemon({
      url: config.daemonUrl,
      user: config.daemonUser,
      password: config.daemonPassword,
      signal: controller.signal,
    });
    const nodeInfo = runNodeInfo(db, daemon, controller.signal);
    const sync = new Sync({
      db,
      daemon,
      coin: config.coin,
      reorgLimit: config.reorgLimit,
      flushBlocks: config.flushBlocks,
      pollIntervalMs: config.pollIntervalMs,
      signal: controller.signal,
    });
    try {
      await sync.run();
    } finally {
      controller.abort();
      await nodeInfo;
    }
  } finally {
    await server.close();
  }
}

async function main(): Promise<void> {
  const config = readConfig();
  const controller = new AbortController();
  stopOnSignals(controller);
  log.info('starting', {
    coin: config.coin.name,
    net: config.coin.net,
    daemon_url: config.daemonUrl,
    db_path: config.dbPath,
    reorg_limit: config.reorgLimit,
    flush_blocks: config.flushBlocks,
  });
  let db: IndexDb | undefined;
  let exitCode = 0;
  try {
    db = openIndexDb(config.dbPath, config.coin);
    await runIndexer(config, db, controller);
    log.info('stopped', { height: db.readChainState().height });
  } catch (error) {
    logFailure(error);
    exitCode = EXIT_FAILED;
  } finally {
    db?.close();
  }
  process.exit(exitCode);
}

await main();
