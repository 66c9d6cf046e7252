// Indexer entry point (`npm run indexer`): start checks, config, the index (mirrored to DB_URL when
// it names a libSQL server), index server, node, sync, mempool, admin RPC, metrics, notices and
// the broadcast relay.
import { createAdminCommands } from './admin-commands.ts';
import { startAdminRpc } from './admin-rpc.ts';
import { BlockError } from './block-writer.ts';
import {
  ConfigError,
  daemonUrlSchemeProblem,
  loadConfig,
  misspelledSettings,
  type IndexerConfig,
} from './config.ts';
import { Daemon, NodeReachability } from './daemon.ts';
import {
  IndexLockedError,
  acquireIndexLock,
  openIndexDb,
  type IndexDb,
  type IndexLock,
} from './db.ts';
import { startIndexServer } from './index-server/server.ts';
import { log, setLogLevel } from './log.ts';
import { secretsFromEnv } from './logger.ts';
import { startMempool, type MempoolHandle } from './mempool.ts';
import { createIndexerMetrics, startMetricsServer, type IndexerMetrics } from './metrics.ts';
import { NodeInfoWake, runNodeInfo } from './node-info.ts';
import { startNotifier, type Notifier } from './notifier.ts';
import { RemoteIndexError, startRemoteMirror, type RemoteMirror } from './remote-writer.ts';
import { ChainMismatchError } from './reorg.ts';
import { startRelay } from './relay.ts';
import { Sync, type BlockRejection, type SyncObserver } from './sync.ts';
import { checkUnsafeStart } from './unsafe-start.ts';

const EXIT_FAILED = 1;
const EXIT_BAD_CONFIG = 2;
// At shutdown the remote mirror gets this long to send the last commits.
const REMOTE_DRAIN_MS = 15_000;
/** How long a broadcast retries a node that is down before the wallet is told so. */
const RELAY_NODE_RETRY_MS = 2_000;

type Closer = () => Promise<void> | void;

// DESIGN §7: weak or default credentials, admin ports off loopback and root are refused before
// anything listens, each with its own line naming the setting and the fix (never the value).
function refuseUnsafeStart(): void {
  // Without http:// the start checks would only see "no credentials" (the user name is parsed
  // as the scheme); the missing scheme is the actual mistake.
  const schemeProblem = daemonUrlSchemeProblem(process.env.DAEMON_URL);
  if (schemeProblem !== undefined) {
    log.error('bad_config', { error: schemeProblem });
    process.exit(EXIT_BAD_CONFIG);
  }
  const refusals = checkUnsafeStart(process.env);
  if (refusals.length === 0) return;
  for (const refusal of refusals) {
    log.error('unsafe_setting', { setting: refusal.setting, error: refusal.message });
  }
  process.exit(EXIT_BAD_CONFIG);
}

function readConfig(): IndexerConfig {
  try {
    const config = loadConfig();
    setLogLevel(config.logLevel);
    for (const { name, suggestion } of misspelledSettings()) {
      log.warn('unknown_setting', { setting: name, did_you_mean: suggestion });
    }
    return config;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    log.error('bad_config', { error: error.message });
    process.exit(EXIT_BAD_CONFIG);
  }
}

// First signal: finish the transaction in progress, close, exit 0. A second one: leave at once
// (SQLite's journal keeps the file at the last commit). Ctrl-C under `npm run` delivers SIGINT
// twice within milliseconds (the terminal's process group, then npm forwarding it), so a repeat
// inside SIGNAL_REPEAT_MS counts as the same request.
const SIGNAL_REPEAT_MS = 1_000;

function stopOnSignals(controller: AbortController): void {
  let firstSignalAtMs = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      if (Date.now() - firstSignalAtMs < SIGNAL_REPEAT_MS) return;
      log.warn('forced_exit', { signal });
      process.exit(EXIT_FAILED);
    }
    firstSignalAtMs = Date.now();
    log.info('stopping', { signal });
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

// At height 0 a different block means the node runs another chain: the usual cause is COIN/NET.
function blockRejectedMessage(error: BlockError, config: IndexerConfig): string {
  if (error.height !== 0 || !error.reason.startsWith('the node sent block')) return error.message;
  const { name, net } = config.coin;
  return (
    `${error.message}: the node's genesis block is not ${name} ${net}'s; ` +
    'check COIN and NET against the node at DAEMON_URL'
  );
}

/** A listener's port is taken: the setting that chose it, not a stack trace. */
class PortInUseError extends Error {
  override name = 'PortInUseError';
  constructor(
    readonly setting: string,
    readonly host: string,
    readonly port: number
  ) {
    super(`${setting} ${port} on ${host} is in use: stop what holds it, or choose another port`);
  }
}

// Starts a listener, turning EADDRINUSE into a PortInUseError naming `setting`.
async function listenFor<T>(
  setting: string,
  where: { host: string; port: number },
  start: () => Promise<T>
): Promise<T> {
  try {
    return await start();
  } catch (error) {
    if ((error as NodeJS.ErrnoException | null)?.code !== 'EADDRINUSE') throw error;
    throw new PortInUseError(setting, where.host, where.port);
  }
}

function logFailure(error: unknown, config: IndexerConfig): void {
  if (error instanceof PortInUseError) {
    const { setting, host, port } = error;
    log.error('port_in_use', { setting, host, port, error: error.message });
  } else if (error instanceof BlockError) {
    const { height, hashHex: hash } = error;
    log.error('block_rejected', { height, hash, error: blockRejectedMessage(error, config) });
  } else if (error instanceof IndexLockedError) {
    log.error('index_locked', { error: error.message });
  } else if (error instanceof ChainMismatchError) {
    log.error('chain_mismatch', { error: error.message });
  } else if (error instanceof RemoteIndexError) {
    log.error('remote_index_refused', { error: error.message });
  } else {
    const stack = error instanceof Error ? error.stack : undefined;
    log.error('fatal', { error: error instanceof Error ? error.message : String(error), stack });
  }
}

/** What the running parts share: metrics, and who to tell after a commit. */
interface Running {
  metrics: IndexerMetrics;
  notifier: Notifier | undefined;
  mirror: RemoteMirror | undefined;
  nodeHeight: number | null;
  /** Asks the fee refresh (node-info.ts) to run again: a block arrived at the node's tip. */
  nodeInfoWake: NodeInfoWake;
  /** The block sync refuses and waits below, if any. */
  rejection: BlockRejection | null;
}

// After any commit (blocks, unwind, mempool): the Worker hears of it, and the remote gets it.
// With a remote index the notices wait for the remote (mirror.onSent, and the notifier's
// visibleSeq bound), not the local commit.
function committed(running: Running): void {
  if (running.mirror === undefined) running.notifier?.wake();
  running.mirror?.wake();
}

function syncObserver(running: Running): SyncObserver {
  return {
    nodeHeight: (height) => {
      running.nodeHeight = height;
      running.metrics.setNodeHeight(height);
    },
    committed: ({ height, blocks, txs, durationMs }) => {
      running.metrics.setIndexHeight(height);
      if (blocks > 0) running.metrics.recordFlush({ blocks, txs, durationMs });
      committed(running);
      // Not during initial sync: a refresh per flush would only cost the node calls.
      if (blocks > 0 && height >= (running.nodeHeight ?? Infinity)) running.nodeInfoWake.newTip();
    },
    blockRejected: (rejection) => {
      running.rejection = rejection;
      running.metrics.setBlockRejected(rejection !== null);
    },
  };
}

async function startMirror(
  config: IndexerConfig,
  db: IndexDb,
  running: Running,
  closers: Closer[]
): Promise<void> {
  if (config.remoteDb === undefined) return;
  const mirror = await startRemoteMirror({
    db,
    dbPath: config.dbPath,
    url: config.remoteDb.url,
    authToken: config.remoteDb.authToken,
    log,
    onSent: () => running.notifier?.wake(),
  });
  running.mirror = mirror;
  closers.push(async () => {
    const caughtUp = await mirror.drain(REMOTE_DRAIN_MS);
    if (!caughtUp) log.warn('remote_index_behind', { ...mirror.status() });
    await mirror.close();
  });
}

async function startObservability(
  config: IndexerConfig,
  running: Running,
  closers: Closer[]
): Promise<void> {
  if (config.metrics !== undefined) {
    const { host, port } = config.metrics;
    const { registry } = running.metrics;
    const server = await listenFor('PROMETHEUS_PORT', { host, port }, () =>
      startMetricsServer({ registry, host, port, logger: log })
    );
    closers.push(() => server.close());
  }
  if (config.notify !== undefined) {
    const notifier = startNotifier({
      dbPath: config.dbPath,
      url: config.notify.url,
      secret: config.notify.secret,
      // With a remote index, notices follow the remote's sends rather than the local file, and
      // name no commit the remote does not hold yet.
      watchFile: config.remoteDb === undefined,
      visibleSeq: () => running.mirror?.changeSeq() ?? Number.MAX_SAFE_INTEGER,
      onSent: (sent) => sent.forEach(() => running.metrics.recordNotify(true)),
    });
    running.notifier = notifier;
    closers.push(() => notifier.close());
  }
}

async function startAdmin(
  config: IndexerConfig,
  parts: { db: IndexDb; daemon: Daemon; running: Running; controller: AbortController },
  closers: Closer[]
): Promise<void> {
  const { db, daemon, running, controller } = parts;
  const commands = createAdminCommands({
    db,
    dbPath: config.dbPath,
    coin: config.coin,
    reorgLimit: config.reorgLimit,
    daemon,
    daemonUrl: config.daemonUrl,
    daemonUser: config.daemonUser,
    nodeHeight: () => running.nodeHeight,
    rejection: () => running.rejection,
    startedAtMs: Date.now(),
    workerAdmin: config.workerAdmin,
    remoteStatus: running.mirror === undefined ? undefined : () => running.mirror?.status(),
    onUnwound: (height) => {
      running.metrics.setIndexHeight(height);
      committed(running);
    },
    stop: () => controller.abort(),
  });
  closers.push(() => commands.close());
  const { host, port, user, password } = config.adminRpc;
  const secrets = secretsFromEnv(process.env);
  const { handlers } = commands;
  const options = { host, port, user, password, handlers, logger: log, secrets };
  const server = await listenFor('RPC_PORT', { host, port }, () => startAdminRpc(options));
  closers.push(() => server.close());
}

// The Worker's broadcasts reach the node through here (RELAY_PORT + RELAY_SECRET); each accepted
// tx refreshes the mempool at once, so get_mempool and the subscribers see it without a poll.
// The relay logs `relay_listening` with its URL itself.
async function startBroadcastRelay(
  config: IndexerConfig,
  parts: { relayDaemon: Daemon; mempool: MempoolHandle },
  closers: Closer[]
): Promise<void> {
  if (config.relay === undefined) return;
  const { host, port, secret } = config.relay;
  const relayOptions = {
    host,
    port,
    secret,
    daemon: parts.relayDaemon,
    coin: config.coin,
    onAccepted: () => void parts.mempool.refreshNow(),
  };
  const relay = await listenFor('RELAY_PORT', { host, port }, () => startRelay(relayOptions));
  closers.push(() => relay.close());
}

// Set when a thread could not be ended at shutdown (IndexServer.threadsStuck): Node would wait
// for it forever on exit, so the process ends by the default action of SIGTERM instead.
let stuckThreads = false;

// The index server logs `index_server_listening` itself (the demo and the tests wait for it).
async function startServingIndex(config: IndexerConfig, closers: Closer[]): Promise<void> {
  const host = config.indexServerHost;
  const port = config.indexServerPort;
  const options = {
    dbPath: config.dbPath,
    host,
    port,
    authToken: config.indexServerToken,
    stuckReadMs: config.indexServerReadTimeoutMs,
  };
  const server = await listenFor('INDEX_SERVER_PORT', { host, port }, () =>
    startIndexServer(options)
  );
  closers.push(async () => {
    await server.close();
    if (server.threadsStuck()) stuckThreads = true;
  });
}

async function runIndexer(
  config: IndexerConfig,
  db: IndexDb,
  controller: AbortController,
  closers: Closer[]
): Promise<void> {
  const metrics = createIndexerMetrics({ dbPath: config.dbPath });
  metrics.setIndexHeight(db.readChainState().height);
  const running: Running = {
    metrics,
    notifier: undefined,
    mirror: undefined,
    nodeHeight: null,
    nodeInfoWake: new NodeInfoWake(),
    rejection: null,
  };
  await startMirror(config, db, running, closers);
  await startServingIndex(config, closers);
  await startObservability(config, running, closers);
  const { coin, reorgLimit, pollIntervalMs, flushBlocks, flushTxs } = config;
  const { utxoCacheBytes, deferIndexBlocks } = config;
  const { signal } = controller;
  // One node, one state: an outage the relay meets too is logged once (daemon_unavailable).
  const reachability = new NodeReachability(config.daemonUrl);
  const daemon = new Daemon({
    url: config.daemonUrl,
    user: config.daemonUser,
    password: config.daemonPassword,
    signal,
    onFailure: (kind) => metrics.recordNodeError(kind),
    reachability,
  });
  await startAdmin(config, { db, daemon, running, controller }, closers);
  const nodeInfo = runNodeInfo(db, daemon, signal, undefined, running.nodeInfoWake);
  const common = { db, daemon, coin, reorgLimit, pollIntervalMs, signal };
  const mempool = startMempool({
    ...common,
    onChange: ({ txCount, sizeBytes }) => {
      metrics.setMempool(txCount, sizeBytes);
      committed(running);
    },
    onNoticesReleased: () => committed(running),
  });
  // A wallet waiting on a broadcast hears at once that the node is down, instead of after the
  // retries sync would make: the relay's calls give up after RELAY_NODE_RETRY_MS.
  const relayDaemon = new Daemon({
    url: config.daemonUrl,
    user: config.daemonUser,
    password: config.daemonPassword,
    signal,
    giveUpAfterMs: RELAY_NODE_RETRY_MS,
    onFailure: (kind) => metrics.recordNodeError(kind),
    reachability,
  });
  await startBroadcastRelay(config, { relayDaemon, mempool }, closers);
  const observer = syncObserver(running);
  const tuning = { flushBlocks, flushTxs, utxoCacheBytes, deferIndexBlocks };
  const sync = new Sync({ ...common, ...tuning, observer });
  try {
    await sync.run();
  } finally {
    controller.abort();
    await Promise.all([nodeInfo, mempool.stopped]);
  }
}

// One indexer per DB_DIRECTORY: a second one is refused (IndexLockedError, naming the other pid);
// the lock of a process that is gone is taken over with a warning.
function takeLock(dbPath: string): IndexLock {
  const lock = acquireIndexLock(dbPath);
  if (lock.stalePid !== undefined) {
    log.warn('stale_lock_taken_over', { lock: lock.path, pid: lock.stalePid });
  }
  return lock;
}

// Parts close in the reverse order they started; one that fails to close does not stop the rest.
async function closeAll(closers: Closer[]): Promise<void> {
  for (const close of closers.reverse()) {
    try {
      await close();
    } catch (error) {
      log.warn('close_failed', { error });
    }
  }
}

async function main(): Promise<void> {
  refuseUnsafeStart();
  const config = readConfig();
  const controller = new AbortController();
  stopOnSignals(controller);
  log.info('starting', {
    coin: config.coin.name,
    net: config.coin.net,
    daemon_url: config.daemonUrl,
    db_path: config.dbPath,
    remote_db: config.remoteDb?.url ?? null,
    reorg_limit: config.reorgLimit,
    flush_blocks: config.flushBlocks,
    flush_txs: config.flushTxs,
    utxo_cache_mb: config.utxoCacheBytes / 1_048_576,
    defer_index_blocks: config.deferIndexBlocks,
  });
  let db: IndexDb | undefined;
  let lock: IndexLock | undefined;
  const closers: Closer[] = [];
  let exitCode = 0;
  try {
    lock = takeLock(config.dbPath);
    db = openIndexDb(config.dbPath, config.coin);
    await runIndexer(config, db, controller, closers);
  } catch (error) {
    logFailure(error, config);
    exitCode = EXIT_FAILED;
  } finally {
    controller.abort();
    await closeAll(closers);
    if (db !== undefined && exitCode === 0) {
      log.info('stopped', { height: db.readChainState().height });
    }
    db?.close();
    lock?.release();
  }
  if (stuckThreads) {
    // Everything is closed and committed; only the stuck read is left to end.
    log.warn('exit_forced', { reason: 'an index server read is still running inside SQLite' });
    process.removeAllListeners('SIGTERM');
    process.kill(process.pid, 'SIGTERM');
  }
  process.exit(exitCode);
}

await main();
