// The node RPC methods the simulated node answers, with radiant-node's result shapes and errors
// (src/rpc/blockchain.cpp, rawtransaction.cpp, mining.cpp, net.cpp of radiant-node).
import type { Coin } from '../core/coins.ts';
import { parseTx } from '../core/tx.ts';
import type { ChainBlock, SimChain } from './sim-node-chain.ts';
import {
  NodeRpcError,
  RPC_INVALID_ADDRESS_OR_KEY,
  RPC_INVALID_PARAMETER,
  RPC_TYPE_ERROR,
} from './sim-node-errors.ts';
import { JsonAmount, type JsonValue } from './sim-node-json.ts';
import type { SimMempool } from './sim-node-mempool.ts';
import {
  boolParam,
  hashParam,
  intParam,
  isAbsent,
  levelParam,
  fromUsage,
  stringParam,
  type MethodSpec,
} from './sim-node-rpc.ts';
import { blockToJson, difficulty, headerToJson, txToJson } from './sim-node-tx-json.ts';

/** What the node methods read and change. */
export interface NodeContext {
  coin: Coin;
  chain: SimChain;
  mempool: SimMempool;
  /** The node's clock (mocktime when set), seconds since the epoch. */
  nowSec(): number;
  /**
   * The fee rate estimatesmartfee reports for `mode` (estimatefee and no mode: null), sats per kB;
   * null = no estimate.
   */
  feeRateSatsPerKb(mode: EstimateMode | null): bigint | null;
  /** The relay fee, incremental fee and mempool floor the node reports. */
  nodeFees(): SimNodeFees;
}

/** estimatesmartfee's estimate_mode values other than UNSET (Bitcoin Core common/messages.cpp). */
export type EstimateMode = 'CONSERVATIVE' | 'ECONOMICAL';
const ESTIMATE_MODES: readonly string[] = ['UNSET', 'ECONOMICAL', 'CONSERVATIVE'];

/** The node's fee settings, sats per kB. */
export interface SimNodeFees {
  /** getnetworkinfo relayfee and getmempoolinfo minrelaytxfee (-minrelaytxfee). */
  relayFeeSatsPerKb: bigint;
  /**
   * getnetworkinfo incrementalfee (and getmempoolinfo incrementalrelayfee on Bitcoin Core 24+);
   * null = not reported, as radiant-node and Bitcoin Cash Node.
   */
  incrementalFeeSatsPerKb: bigint | null;
  /**
   * The full mempool's rolling minimum fee: getmempoolinfo mempoolminfee reports the larger of
   * it and the relay fee (txmempool GetMinFee). 0 while the mempool is not full.
   */
  mempoolFloorSatsPerKb: bigint;
}

/** What each coin's node says about itself in getnetworkinfo, and its minimum relay fee. */
interface NodeIdentity {
  version: number;
  subversion: string;
  relayFeeSatsPerKb: bigint;
}

// radiant-node: version 1.3.0 (CMakeLists.txt), DEFAULT_MIN_RELAY_TX_FEE_PER_KB 1,000,000
// photons (validation.h). Bitcoin Cash Node and Bitcoin Core: 1,000 sats/kB.
const IDENTITIES: Record<Coin['name'], NodeIdentity> = {
  Radiant: { version: 1030000, subversion: '/Radiant Node:1.3.0/', relayFeeSatsPerKb: 1_000_000n },
  BitcoinCash: {
    version: 27010000,
    subversion: '/Bitcoin Cash Node:27.1.0(EB32.0)/',
    relayFeeSatsPerKb: 1000n,
  },
  Bitcoin: { version: 270000, subversion: '/Satoshi:27.0.0/', relayFeeSatsPerKb: 1000n },
};

/** The minimum relay fee the simulated node reports for `coin`, sats per kB. */
export function relayFeeSatsPerKb(coin: Coin): bigint {
  return IDENTITIES[coin.name].relayFeeSatsPerKb;
}

// Bitcoin Core policy/policy.h DEFAULT_INCREMENTAL_RELAY_FEE: 1,000 sats/kvB. radiant-node and
// Bitcoin Cash Node report no incremental fee.
const BITCOIN_INCREMENTAL_FEE_SATS_PER_KB = 1000n;

/** The fee settings a fresh simulated node of `coin` has. */
export function defaultNodeFees(coin: Coin): SimNodeFees {
  return {
    relayFeeSatsPerKb: relayFeeSatsPerKb(coin),
    incrementalFeeSatsPerKb: coin.name === 'Bitcoin' ? BITCOIN_INCREMENTAL_FEE_SATS_PER_KB : null,
    mempoolFloorSatsPerKb: 0n,
  };
}

const PROTOCOL_VERSION = 70016;
// Bitcoin Core policy/fees.h: estimatesmartfee answers targets 1..1008 blocks.
const MAX_CONF_TARGET = 1008;
const MAX_MEMPOOL_BYTES = 300_000_000;
// Per-entry overhead for getmempoolinfo's usage, an approximation of the node's bookkeeping.
const MEMPOOL_ENTRY_OVERHEAD_BYTES = 400;
const CHAIN_NAMES = { mainnet: 'main', testnet: 'test', regtest: 'regtest' } as const;

type Method = MethodSpec<NodeContext>;

function activeBlock(context: NodeContext, height: number): ChainBlock {
  const block = context.chain.blockAt(height);
  if (block === undefined) throw new Error(`no block at height ${height} (cannot happen)`);
  return block;
}

function knownBlock(context: NodeContext, hashHex: string): ChainBlock {
  const block = context.chain.blockByHash(hashHex);
  if (block === undefined) throw new NodeRpcError(RPC_INVALID_ADDRESS_OR_KEY, 'Block not found');
  return block;
}

function getblockchaininfo(_params: unknown[], context: NodeContext): JsonValue {
  const { chain, coin } = context;
  const tip = chain.tip();
  let sizeOnDiskBytes = 0;
  for (let height = 0; height <= chain.height; height++) {
    sizeOnDiskBytes += activeBlock(context, height).raw.length;
  }
  return {
    chain: CHAIN_NAMES[coin.net],
    blocks: chain.height,
    headers: chain.height,
    bestblockhash: tip.hashHex,
    difficulty: difficulty(tip.header.bits),
    mediantime: tip.medianTimeSec,
    verificationprogress: 1,
    initialblockdownload: false,
    chainwork: tip.chainWork.toString(16).padStart(64, '0'),
    size_on_disk: sizeOnDiskBytes,
    pruned: false,
    warnings: '',
  };
}

function getblockhash(params: unknown[], context: NodeContext): JsonValue {
  const height = intParam(params, 0);
  if (height < 0 || height > context.chain.height) {
    throw new NodeRpcError(RPC_INVALID_PARAMETER, 'Block height out of range');
  }
  return activeBlock(context, height).hashHex;
}

// radiant-node takes a height as well as a hash here.
function getblockheader(params: unknown[], context: NodeContext): JsonValue {
  let block: ChainBlock;
  if (typeof params[0] === 'number') {
    const height = intParam(params, 0);
    if (height < 0) {
      throw new NodeRpcError(RPC_INVALID_PARAMETER, `Target block height ${height} is negative`);
    }
    if (height > context.chain.height) {
      throw new NodeRpcError(
        RPC_INVALID_PARAMETER,
        `Target block height ${height} after current tip ${context.chain.height}`
      );
    }
    block = activeBlock(context, height);
  } else {
    block = knownBlock(context, hashParam(params, 0, 'hash_or_height'));
  }
  const verbose = isAbsent(params, 1) ? true : boolParam(params, 1);
  if (!verbose) return block.raw.subarray(0, 80).toString('hex');
  return headerToJson(context.chain, block);
}

function getblock(params: unknown[], context: NodeContext): JsonValue {
  const block = knownBlock(context, hashParam(params, 0, 'blockhash'));
  const verbosity = levelParam(params, 1, 1);
  if (verbosity <= 0) return block.raw.toString('hex');
  return blockToJson(context.chain, block, verbosity);
}

function getrawmempool(params: unknown[], context: NodeContext): JsonValue {
  const verbose = isAbsent(params, 0) ? false : boolParam(params, 0);
  const { mempool } = context;
  if (!verbose) return mempool.list().map((entry) => entry.txidHex);
  const out: { [txid: string]: JsonValue } = {};
  for (const entry of mempool.list()) {
    const fee = new JsonAmount(entry.feeSats);
    out[entry.txidHex] = {
      fees: { base: fee, modified: fee },
      // Older bitcoind and ElectrumX-era tooling read these flat fields.
      fee,
      modifiedfee: fee,
      size: entry.sizeBytes,
      time: entry.timeSec,
      height: entry.height,
      depends: mempool.parentsOf(entry),
      spentby: mempool.childrenOf(entry),
    };
  }
  return out;
}

function getmempoolinfo(_params: unknown[], context: NodeContext): JsonValue {
  const { mempool, coin } = context;
  const bytes = mempool.totalBytes();
  const fees = context.nodeFees();
  const { relayFeeSatsPerKb: relay, mempoolFloorSatsPerKb: floor } = fees;
  const incremental = fees.incrementalFeeSatsPerKb;
  return {
    loaded: true,
    size: mempool.size,
    bytes,
    usage: bytes + mempool.size * MEMPOOL_ENTRY_OVERHEAD_BYTES,
    maxmempool: MAX_MEMPOOL_BYTES,
    mempoolminfee: new JsonAmount(floor > relay ? floor : relay),
    minrelaytxfee: new JsonAmount(relay),
    // Bitcoin Core 24+ (rpc/mempool.cpp MempoolInfoToJSON); not in radiant-node or BCHN.
    incrementalrelayfee:
      coin.name === 'Bitcoin' && incremental !== null ? new JsonAmount(incremental) : undefined,
  };
}

const TX_NOT_FOUND_SUFFIX = '. Use gettransaction for wallet transactions.';

function getrawtransaction(params: unknown[], context: NodeContext): JsonValue {
  const txidHex = hashParam(params, 0, 'parameter 1');
  const { chain, coin, mempool } = context;
  const genesis = chain.blockAt(0);
  if (genesis !== undefined && txidHex === headerMerkleHex(genesis)) {
    throw new NodeRpcError(
      RPC_INVALID_ADDRESS_OR_KEY,
      'The genesis block coinbase is not considered an ordinary transaction and cannot be retrieved'
    );
  }
  const verbose = levelParam(params, 1, 0) !== 0;
  if (!isAbsent(params, 2)) {
    return txInBlock(context, txidHex, hashParam(params, 2, 'parameter 3'), verbose);
  }
  const pooled = mempool.get(txidHex);
  if (pooled !== undefined) return verbose ? txToJson(pooled.tx, coin) : hexOf(pooled.tx.raw);
  const confirmed = chain.findTx(txidHex);
  if (confirmed === undefined) {
    throw new NodeRpcError(
      RPC_INVALID_ADDRESS_OR_KEY,
      `No such mempool or blockchain transaction${TX_NOT_FOUND_SUFFIX}`
    );
  }
  if (!verbose) return hexOf(confirmed.raw);
  return txToJson(parseTx(confirmed.raw, coin), coin, { chain, block: confirmed.block });
}

/** getrawtransaction with a block hash: only that block is searched (stale blocks too). */
function txInBlock(
  context: NodeContext,
  txidHex: string,
  blockHex: string,
  verbose: boolean
): JsonValue {
  const { chain, coin } = context;
  const block = chain.blockByHash(blockHex);
  if (block === undefined) {
    throw new NodeRpcError(RPC_INVALID_ADDRESS_OR_KEY, 'Block hash not found');
  }
  const tx = chain.parsed(block).txs.find((candidate) => hexOfHash(candidate.txid) === txidHex);
  if (tx === undefined) {
    throw new NodeRpcError(
      RPC_INVALID_ADDRESS_OR_KEY,
      `No such transaction found in the provided block${TX_NOT_FOUND_SUFFIX}`
    );
  }
  if (!verbose) return hexOf(tx.raw);
  return { ...txToJson(tx, coin, { chain, block }), in_active_chain: chain.isActive(block) };
}

function sendrawtransaction(params: unknown[], context: NodeContext): JsonValue {
  // rawtransaction.cpp checks the types first (RPCTypeCheck), which reports -3.
  if (typeof params[0] !== 'string') {
    throw new NodeRpcError(RPC_TYPE_ERROR, `Expected type string, got ${jsonTypeName(params[0])}`);
  }
  if (!isAbsent(params, 1)) boolParam(params, 1);
  return context.mempool.acceptHex(params[0], context.nowSec());
}

function estimatefee(params: unknown[], context: NodeContext): JsonValue {
  if (!isAbsent(params, 0)) intParam(params, 0);
  const rate = context.feeRateSatsPerKb(null);
  return rate === null ? -1 : new JsonAmount(rate);
}

// Bitcoin Core rpc/fees.cpp; radiant-node and Bitcoin Cash Node have no estimatesmartfee.
function estimatesmartfee(params: unknown[], context: NodeContext): JsonValue {
  const target = intParam(params, 0);
  if (target < 1 || target > MAX_CONF_TARGET) {
    throw new NodeRpcError(
      RPC_INVALID_PARAMETER,
      `Invalid conf_target, must be between 1 and ${MAX_CONF_TARGET}`
    );
  }
  const mode = isAbsent(params, 1) ? 'UNSET' : stringParam(params, 1).toUpperCase();
  if (!ESTIMATE_MODES.includes(mode)) {
    throw new NodeRpcError(RPC_INVALID_PARAMETER, 'Invalid estimate_mode parameter');
  }
  const rate = context.feeRateSatsPerKb(mode === 'UNSET' ? null : (mode as EstimateMode));
  if (rate === null) return { errors: ['Insufficient data or no feerate found'], blocks: 0 };
  // The node tracks no 1-block target: it answers for 2 at least.
  return { feerate: new JsonAmount(rate), blocks: Math.max(2, target) };
}

function getnetworkinfo(_params: unknown[], context: NodeContext): JsonValue {
  const { coin } = context;
  const identity = IDENTITIES[coin.name];
  const fees = context.nodeFees();
  const incremental = fees.incrementalFeeSatsPerKb;
  const network = (name: string, reachable: boolean): JsonValue => ({
    name,
    limited: !reachable,
    reachable,
    proxy: '',
    proxy_randomize_credentials: false,
  });
  return {
    version: identity.version,
    subversion: identity.subversion,
    protocolversion: PROTOCOL_VERSION,
    localservices: '0000000000000425',
    localrelay: true,
    timeoffset: 0,
    networkactive: true,
    connections: 0,
    networks: [network('ipv4', true), network('ipv6', true), network('onion', false)],
    relayfee: new JsonAmount(fees.relayFeeSatsPerKb),
    incrementalfee: incremental === null ? undefined : new JsonAmount(incremental),
    excessutxocharge: coin.name === 'Bitcoin' ? undefined : new JsonAmount(0n),
    localaddresses: [],
    warnings: '',
  };
}

function jsonTypeName(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value === 'object' ? 'object' : typeof value;
}

function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

function hexOfHash(hash: Uint8Array): string {
  return Buffer.from(hash).reverse().toString('hex');
}

function headerMerkleHex(block: ChainBlock): string {
  return hexOfHash(block.header.merkleRoot);
}

/** The node methods, by name. */
export const NODE_METHODS: ReadonlyMap<string, Method> = new Map([
  fromUsage('getblockchaininfo', getblockchaininfo),
  fromUsage<NodeContext>('getblockcount', (_params, context) => context.chain.height),
  fromUsage<NodeContext>('getbestblockhash', (_params, context) => context.chain.tip().hashHex),
  fromUsage('getblockhash height', getblockhash),
  fromUsage('getblockheader "hash_or_height" ( verbose )', getblockheader),
  fromUsage('getblock "blockhash" ( verbosity )', getblock),
  fromUsage('getrawtransaction "txid" ( verbose "blockhash" )', getrawtransaction),
  fromUsage('getrawmempool ( verbose )', getrawmempool),
  fromUsage('getmempoolinfo', getmempoolinfo),
  fromUsage('sendrawtransaction "hexstring" ( allowhighfees )', sendrawtransaction),
  fromUsage('estimatefee ( nblocks )', estimatefee),
  fromUsage('estimatesmartfee conf_target ( "estimate_mode" )', estimatesmartfee),
  fromUsage('getnetworkinfo', getnetworkinfo),
]);
