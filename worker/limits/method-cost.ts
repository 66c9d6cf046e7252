// The size-dependent part of a request's cost (DESIGN §6), read from its arguments and result;
// the base part is the method table's `cost` (core/protocol/methods.ts).
import { TREE_BUILT_TXS } from '../methods/block-trees.ts';
import { BALANCE_UTXO_COUNT, type BalanceJson } from '../methods/scripthash.ts';

type SizeCost = (args: readonly unknown[], result: unknown) => number;

function listLength(value: unknown): number {
  return Array.isArray(value) ? value.length : 0;
}

function field(value: unknown, name: string): unknown {
  if (typeof value !== 'object' || value === null) return undefined;
  return (value as Record<string, unknown>)[name];
}

function balanceUtxoCount(result: unknown): number {
  if (typeof result !== 'object' || result === null) return 0;
  const count = (result as Partial<BalanceJson>)[BALANCE_UTXO_COUNT];
  return typeof count === 'number' ? count : 0;
}

// A merkle branch of length L comes from a block of at most 2^L transactions: the proof is
// charged as if the block were that wide, since the result does not carry the exact count.
function merkleCost(result: unknown): number {
  const branch = field(result, 'merkle');
  if (!Array.isArray(branch)) return 0;
  return 2 ** Math.min(branch.length, 24) / 2500 + treeBuildCost(result);
}

/**
 * A proof whose block tree the Worker had to read and build (it was not kept in the isolate,
 * worker/methods/block-trees.ts) costs n_tx / 500 more: about what the build costs next to a
 * proof from a kept tree, so that proofs spread over more blocks than are kept pay for it.
 */
export const TREE_BUILD_COST_PER_TX = 1 / 500;

function treeBuildCost(result: unknown): number {
  if (typeof result !== 'object' || result === null) return 0;
  const txs = (result as { [TREE_BUILT_TXS]?: unknown })[TREE_BUILT_TXS];
  return typeof txs === 'number' ? txs * TREE_BUILD_COST_PER_TX : 0;
}

// blockchain.block.headers: count / 50 (1.4 `count`, 1.6 `headers` list), +1 with a checkpoint
// proof (`branch`), as ElectrumX's phandle_block_headers charges.
function headersCost(result: unknown): number {
  const count = field(result, 'count');
  const n = typeof count === 'number' ? count : listLength(field(result, 'headers'));
  return n / 50 + (field(result, 'branch') === undefined ? 0 : 1);
}

// blockchain.transaction.broadcast: ElectrumX charges len(hex) / 5000, i.e. raw bytes / 2500.
function broadcastCost(args: readonly unknown[]): number {
  const raw = args[0];
  return typeof raw === 'string' ? raw.length / 5000 : 0;
}

const SIZE_COSTS: Readonly<Record<string, SizeCost>> = {
  'blockchain.scripthash.get_history': (_args, result) => listLength(result) / 1000,
  'blockchain.scripthash.get_mempool': (_args, result) => listLength(result) / 50,
  'blockchain.scripthash.listunspent': (_args, result) => listLength(result) / 50,
  // ElectrumX charges 1 + n_utxos / 50 (session.py get_balance), n the confirmed UTXOs summed;
  // the handler hands the count over beside the wire fields (scripthash.ts BALANCE_UTXO_COUNT).
  'blockchain.scripthash.get_balance': (_args, result) => balanceUtxoCount(result) / 50,
  'blockchain.block.headers': (_args, result) => headersCost(result),
  // With cp_height the answer is an object carrying a checkpoint proof: one unit more.
  'blockchain.block.header': (_args, result) => (typeof result === 'string' ? 0 : 1),
  'blockchain.transaction.get_merkle': (_args, result) => merkleCost(result),
  'blockchain.transaction.id_from_pos': (_args, result) => merkleCost(result),
  'blockchain.transaction.broadcast': (args) => broadcastCost(args),
};

/**
 * The cost of one answered request: the method's base cost plus what its size adds (history
 * 0.2 + n/1000, UTXO lists and balances 1 + n/50, merkle 0.25 + n_tx/2500, broadcast by size).
 */
export function requestCost(
  method: string,
  baseCost: number,
  args: readonly unknown[],
  result: unknown
): number {
  const size = Object.hasOwn(SIZE_COSTS, method) ? SIZE_COSTS[method] : undefined;
  return baseCost + (size === undefined ? 0 : size(args, result));
}
