// `npm run sim-node`: serve a chain file from a simulated node, or drive a running one.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { getCoin } from '../core/coins.ts';
import { loadChainFile } from './chain-file.ts';
import { chooseCoin } from './chain-coin.ts';
import { callNode } from './sim-node-client.ts';
import { startSimNode } from './sim-node.ts';

const USAGE = `usage:
  npm run sim-node -- --chain FILE [--coin NAME] [--net NET] [--port N] [--host H]
                      [--user U] [--password P] [--mocktime SECONDS]
      serve FILE ({"blocks": [hex, ...]}) over JSON-RPC until Ctrl-C. --coin Radiant |
      BitcoinCash | Bitcoin and --net mainnet | testnet | regtest default to those whose
      genesis block FILE starts with; --port defaults to the coin's RPC port (0 picks one),
      --host to 127.0.0.1 (loopback only); the password is random unless given. Prints the URL
      with credentials.
  npm run sim-node -- mine --url URL [--to SCRIPTHEX] [--count N] [--value SATS] [--no-mempool]
  npm run sim-node -- reorg --url URL --depth N [--count M]
      drop the top N >= 1 blocks and mine M new ones (default N + 1) on the block below them
  npm run sim-node -- send --url URL HEX          sendrawtransaction
  npm run sim-node -- pay --url URL --to SCRIPTHEX [--value SATS]
      the node pays SATS (default 1000000) to the script from a coin of its chain, into its
      mempool (no signature: the simulated node checks none); prints the txid
  npm run sim-node -- fault --url URL MODE        none | garbage | slow | down | error500
  npm run sim-node -- call --url URL METHOD [JSON_PARAM...]   any method, e.g. getblockcount`;

const LOOPBACK_HOSTS = ['127.0.0.1', '::1', 'localhost'];

const OPTIONS = {
  chain: { type: 'string' },
  coin: { type: 'string' },
  net: { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string', default: '127.0.0.1' },
  user: { type: 'string', default: 'sim' },
  password: { type: 'string' },
  mocktime: { type: 'string' },
  url: { type: 'string' },
  to: { type: 'string' },
  count: { type: 'string' },
  value: { type: 'string' },
  depth: { type: 'string' },
  'no-mempool': { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const;

type ParsedArgs = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
type Values = ParsedArgs['values'];

function wholeNumber(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new Error(`--${name} must be a whole number, got "${text}"`);
  return Number(text);
}

async function serve(values: Values): Promise<void> {
  if (values.chain === undefined) throw new Error(`--chain FILE is required\n${USAGE}`);
  if (!LOOPBACK_HOSTS.includes(values.host)) {
    throw new Error(`--host must be a loopback address (${LOOPBACK_HOSTS.join(', ')})`);
  }
  // As the demo: the coin and net whose genesis block the file starts with, unless named.
  const chosen = chooseCoin(values.chain, values.coin, values.net);
  const coin = getCoin(chosen.coin, chosen.net);
  const node = await startSimNode({
    coin,
    blocks: loadChainFile(values.chain),
    user: values.user,
    password: values.password ?? randomBytes(12).toString('hex'),
    host: values.host === 'localhost' ? '127.0.0.1' : values.host,
    port: wholeNumber(values.port, 'port') ?? coin.defaultRpcPort,
    mocktime: wholeNumber(values.mocktime, 'mocktime'),
  });
  console.log(`sim-node listening: ${node.url}`);
  console.log(`${coin.name} ${coin.net}, tip ${node.tipHeight()} ${node.tipHash()}`);
  const stop = (): void => {
    node.close().then(
      () => process.exit(0),
      () => process.exit(1)
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

function requireUrl(values: Values): string {
  if (values.url === undefined) throw new Error(`--url URL is required\n${USAGE}`);
  return values.url;
}

async function reorg(url: string, values: Values): Promise<unknown> {
  const depth = wholeNumber(values.depth, 'depth');
  if (depth === undefined) throw new Error('reorg needs --depth N');
  // Depth 0 replaces nothing: the node would only mine on its tip, which `mine` is for.
  if (depth < 1) throw new Error(`--depth must be at least 1 (blocks to replace), got ${depth}`);
  const tipHeight = (await callNode(url, 'getblockcount')) as number;
  if (depth > tipHeight) {
    throw new Error(`--depth ${depth} is more than the node's height ${tipHeight}`);
  }
  const count = wholeNumber(values.count, 'count') ?? depth + 1;
  return callNode(url, 'sim_reorg', [tipHeight - depth, count]);
}

// A `call` parameter: JSON, so a string needs its quotes ('"<txid>"').
function jsonParam(arg: string, i: number): unknown {
  try {
    return JSON.parse(arg) as unknown;
  } catch {
    const shown = arg.length > 40 ? `${arg.slice(0, 40)}...` : arg;
    throw new Error(`parameter ${i + 1} (${shown}) is not JSON; quote a string: '"${shown}"'`);
  }
}

async function runClient(command: string, args: string[], values: Values): Promise<unknown> {
  const url = requireUrl(values);
  switch (command) {
    case 'mine': {
      const count = wholeNumber(values.count, 'count');
      const sats = wholeNumber(values.value, 'value');
      const value = sats === undefined ? undefined : String(sats);
      const options = { scriptHex: values.to, count, value, includeMempool: !values['no-mempool'] };
      return callNode(url, 'sim_mine', [options]);
    }
    case 'reorg':
      return reorg(url, values);
    case 'pay': {
      if (values.to === undefined) throw new Error('pay needs --to SCRIPTHEX');
      const sats = wholeNumber(values.value, 'value');
      return callNode(url, 'sim_pay', sats === undefined ? [values.to] : [values.to, String(sats)]);
    }
    case 'send':
      return callNode(url, 'sendrawtransaction', [args[0] ?? '']);
    case 'fault':
      return callNode(url, 'sim_fault', [args[0] ?? '']);
    case 'call':
      return callNode(url, args[0] ?? '', args.slice(1).map(jsonParam));
    default:
      throw new Error(`unknown command "${command}"\n${USAGE}`);
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ options: OPTIONS, allowPositionals: true });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const [command, ...args] = positionals;
  if (command === undefined) {
    await serve(values);
    return;
  }
  console.log(JSON.stringify(await runClient(command, args, values), null, 2));
}

main().catch((error: unknown) => {
  console.error(`sim-node: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
