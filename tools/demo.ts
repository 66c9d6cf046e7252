// `npm run demo`: serves a chain file from the simulated node, indexes it and starts the Worker,
// then prints the WebSocket address once every part is ready and the index is at the tip.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseBlock } from '../core/block.ts';
import { hashToHex, hexToBytes } from '../core/bytes.ts';
import { getCoin } from '../core/coins.ts';
import { scriptHash } from '../core/script.ts';
import { chooseCoin } from './chain-coin.ts';
import { startStack, type Stack } from './stack.ts';

const USAGE = `usage: npm run demo -- [--chain FILE] [--coin NAME] [--net NET] [--verbose]
  --chain   chain file {"blocks": [hex, ...]} (default data/bitcoin_mainnet_0-255.json)
  --coin    Radiant | BitcoinCash | Bitcoin (default: the coin whose genesis block the file starts
            with; Bitcoin when Bitcoin and Bitcoin Cash share it)
  --net     mainnet | testnet | regtest (default: likewise from the genesis block)
  --verbose show every log line of the node, indexer and Worker
  PORT      environment: the Worker's port (default 8787)`;

/** The script hash the tip block's coinbase pays: a ready example for the wallet page. */
function tipCoinbaseScriptHash(stack: Stack, coinName: string, net: string): string {
  const coin = getCoin(coinName, net);
  const tip = parseBlock(hexToBytes(stack.simNode.blockHex(stack.simNode.tipHeight())), coin);
  const script = tip.txs[0]?.outputs[0]?.script ?? new Uint8Array(0);
  return hashToHex(scriptHash(script, coin));
}

/**
 * The script the printed `pay` command pays: P2PKH of a made-up key hash, so its wallet page
 * starts empty and shows the payment arrive (height 0), then confirm once a block is mined.
 */
const DEMO_PAYEE_SCRIPT = `76a914${'de'.repeat(20)}88ac`;

function payeeScriptHash(coinName: string, net: string): string {
  return hashToHex(scriptHash(hexToBytes(DEMO_PAYEE_SCRIPT), getCoin(coinName, net)));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      chain: { type: 'string', default: 'data/bitcoin_mainnet_0-255.json' },
      coin: { type: 'string' },
      net: { type: 'string' },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const workerPort = Number(process.env.PORT ?? 8787);
  if (!Number.isInteger(workerPort) || workerPort < 1 || workerPort > 65535) {
    throw new Error(`PORT must be a TCP port number, got "${process.env.PORT}"`);
  }
  const chainFile = resolve(values.chain);
  const { coin, net } = chooseCoin(chainFile, values.coin, values.net);
  await expectPortFree(workerPort);
  const startedAt = Date.now();
  const recentLines: string[] = [];
  // Random per run, and longer than the Worker's minimum (worker/admin-auth.ts), so the admin
  // API is on and the printed `rpc sessions` works: the indexer calls the Worker with it.
  const workerAdminToken = randomBytes(24).toString('hex');
  const stack: Stack = await startStack({
    chainFile,
    coin,
    net,
    workerPort,
    // The indexer pushes change notices, so subscribed wallets hear of new blocks at once.
    notify: 'indexer',
    workerVars: { ADMIN_TOKEN: workerAdminToken },
    indexerEnv: {
      WORKER_ADMIN_URL: `http://127.0.0.1:${workerPort}`,
      WORKER_ADMIN_TOKEN: workerAdminToken,
    },
    onLog: (line) => {
      if (values.verbose) console.log(line);
      recentLines.push(line);
      if (recentLines.length > 40) recentLines.shift();
    },
  }).catch((error: unknown) => {
    if (!values.verbose) console.error(recentLines.join('\n'));
    throw error;
  });

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping the Worker, the indexer and the simulated node`);
    stack.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      }
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));

  const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
  // The simulated node's credentials are random and local to this run; the CLI needs them.
  console.log(`simulated node: ${stack.simNode.url} (tip ${stack.simNode.tipHeight()})`);
  console.log(`  mine a block:  npm run sim-node -- mine --url ${stack.simNode.url}`);
  // Two blocks deep where the chain has them (the genesis block is never replaced).
  const depth = Math.min(2, stack.simNode.tipHeight());
  const reorg = `npm run sim-node -- reorg --url ${stack.simNode.url} --depth ${depth}`;
  console.log(`  reorg:         ${depth > 0 ? reorg : 'mine a block first, then reorg --depth 1'}`);
  const pay = `npm run sim-node -- pay --url ${stack.simNode.url} --to ${DEMO_PAYEE_SCRIPT}`;
  console.log(`  pay (mempool): ${pay}`);
  console.log(`  its wallet:    ${stack.httpUrl}/wallet?scripthash=${payeeScriptHash(coin, net)}`);
  console.log(`index server:   ${stack.indexServerUrl} (token in this process only)`);
  const { host, port, user, password } = stack.adminRpc;
  const rpcEnv = `RPC_HOST=${host} RPC_PORT=${port} RPC_USER=${user} RPC_PASSWORD=${password}`;
  console.log(`admin RPC:      ${rpcEnv} ./bin/electrum-edge.js rpc getinfo`);
  console.log('  also:          rpc sessions, rpc groups (the Worker admin API is on)');
  const indexFile = join(stack.dbDirectory, 'index.db');
  console.log(`index file:     ${indexFile} (for backup --db; removed when the demo stops)`);
  const pageHash = tipCoinbaseScriptHash(stack, coin, net);
  console.log(`wallet page:    ${stack.httpUrl}/wallet?scripthash=${pageHash}`);
  console.log(
    `ready in ${seconds}s: ${coin} ${net} at height ${stack.simNode.tipHeight()}, ` +
      `Electrum over WebSocket at ${stack.wsUrl}`
  );
}

// Fails before any indexing when another program holds the Worker's port.
async function expectPortFree(port: number): Promise<void> {
  await new Promise<void>((done, fail) => {
    const probe = createServer();
    probe.once('error', () => {
      fail(new Error(`port ${port} is in use on 127.0.0.1: choose another with PORT=<port>`));
    });
    probe.listen(port, '127.0.0.1', () => probe.close(() => done()));
  });
}

main().catch((error: unknown) => {
  console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
