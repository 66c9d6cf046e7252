// `npm run chain:generate`: writes a synthetic chain to a file or streams it into a sim node.
import { parseArgs } from 'node:util';
import { hashToHex } from '../core/bytes.ts';
import { getCoin, type Coin } from '../core/coins.ts';
import { useNodeHashes } from '../indexer/node-hashes.ts';
import { openChainWriter } from './chain-binary.ts';
import { ChainGenerator, type ChainGeneratorOptions } from './chain-generator.ts';
import { callNode } from './sim-node-client.ts';

const USAGE = `usage: npm run chain:generate -- --blocks N --txs M (--out FILE | --url URL) [...]

Generates a deterministic chain of regtest-difficulty blocks of wallet-like transactions
(P2PKH, P2SH, OP_RETURN; Radiant NFT/FT refs and version-3 txs; Bitcoin P2WPKH), with spends
inside a block and Zipf address reuse.

  --coin NAME        Radiant | BitcoinCash | Bitcoin (default Radiant)
  --net NET          regtest | mainnet (default regtest; a mainnet chain keeps the real
                     genesis block and mines regtest-difficulty blocks on it)
  --blocks N         blocks after genesis
  --txs M            transactions per block besides the coinbase
  --seed S           same seed and options give the same bytes (default 1)
  --keys K           distinct addresses (default max(1000, N*M/4))
  --zipf E           address reuse exponent (default 1)
  --same-block P     share of inputs spending an output of the same block (default 0.2)
  --out FILE         FILE.bin: binary chain file (tools/chain-binary.ts); any other name: a JSON
                     chain file {"blocks": [hex, ...]} (keep it under ~500 MB to read it back)
  --url URL          instead of a file: append the blocks to a running sim node whose chain is
                     only the same genesis block (sim_addblocks), e.g. one from npm run sim-node

example: npm run chain:generate -- --coin Radiant --blocks 200 --txs 500 --out /tmp/chain.json`;

const OPTIONS = {
  coin: { type: 'string', default: 'Radiant' },
  net: { type: 'string', default: 'regtest' },
  blocks: { type: 'string' },
  txs: { type: 'string' },
  seed: { type: 'string', default: '1' },
  keys: { type: 'string' },
  zipf: { type: 'string' },
  'same-block': { type: 'string' },
  out: { type: 'string' },
  url: { type: 'string' },
  help: { type: 'boolean', default: false },
} as const;

const SIM_NODE_BATCH_BLOCKS = 20;

function numberOption(
  text: string | undefined,
  name: string,
  integer: boolean
): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  const valid = text.trim() !== '' && Number.isFinite(value) && value >= 0;
  if (!valid || (integer && !Number.isInteger(value))) {
    throw new Error(`--${name} must be a ${integer ? 'whole ' : ''}number >= 0, got "${text}"`);
  }
  return value;
}

type Values = ReturnType<typeof parse>['values'];

function generatorOptions(values: Values, coin: Coin): ChainGeneratorOptions {
  const blocks = numberOption(values.blocks, 'blocks', true);
  const txsPerBlock = numberOption(values.txs, 'txs', true);
  if (blocks === undefined || txsPerBlock === undefined) {
    throw new Error(`--blocks and --txs are required\n\n${USAGE}`);
  }
  const options: ChainGeneratorOptions = { coin, blocks, txsPerBlock };
  options.seed = numberOption(values.seed, 'seed', true) ?? 1;
  const keys = numberOption(values.keys, 'keys', true);
  if (keys !== undefined) options.keys = keys;
  const zipf = numberOption(values.zipf, 'zipf', false);
  if (zipf !== undefined) options.zipfExponent = zipf;
  const sameBlock = numberOption(values['same-block'], 'same-block', false);
  if (sameBlock !== undefined) options.sameBlockSpendShare = sameBlock;
  return options;
}

function parse(): ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>> {
  return parseArgs({ options: OPTIONS });
}

async function streamToNode(url: string, generator: ChainGenerator, coin: Coin): Promise<number> {
  const genesis = generator.nextBlock();
  const nodeGenesis = await callNode(url, 'getblockhash', [0]);
  const ours = hashToHex(coin.headerHash(genesis.subarray(0, 80)));
  const tip = await callNode(url, 'getblockcount');
  if (nodeGenesis !== ours || tip !== 0) {
    const theirs = `it has ${String(nodeGenesis)}, tip ${String(tip)}`;
    throw new Error(`the node must hold only genesis ${ours} (${theirs})`);
  }
  let batch: string[] = [];
  let sent = 0;
  for (const block of generator.blocks()) {
    batch.push(Buffer.from(block.buffer, block.byteOffset, block.length).toString('hex'));
    if (batch.length >= SIM_NODE_BATCH_BLOCKS) {
      await callNode(url, 'sim_addblocks', [batch], 120_000);
      sent += batch.length;
      batch = [];
    }
  }
  if (batch.length > 0) await callNode(url, 'sim_addblocks', [batch], 120_000);
  return sent + batch.length;
}

async function main(): Promise<void> {
  const { values } = parse();
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if ((values.out === undefined) === (values.url === undefined)) {
    throw new Error(`give exactly one of --out FILE and --url URL\n\n${USAGE}`);
  }
  const coin = getCoin(values.coin, values.net);
  useNodeHashes();
  const generator = new ChainGenerator(generatorOptions(values, coin));
  const started = Date.now();
  if (values.url !== undefined) {
    const count = await streamToNode(values.url, generator, coin);
    console.log(`appended ${count} blocks in ${Date.now() - started} ms`);
    return;
  }
  const writer = openChainWriter(values.out ?? '');
  let count = 0;
  try {
    for (const block of generator.blocks()) {
      writer.add(block);
      count += 1;
    }
  } finally {
    writer.close();
  }
  const ms = Date.now() - started;
  console.log(`wrote ${count} blocks (genesis included) to ${values.out} in ${ms} ms`);
}

main().catch((error: unknown) => {
  console.error(`chain:generate: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
