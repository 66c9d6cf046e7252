// Mining for the simulated node: the next block on the tip, paying the subsidy plus mempool fees.
import type { Coin } from '../core/coins.ts';
import { compareBytes, hexToBytes } from '../core/bytes.ts';
import { buildBlock, buildCoinbase, REGTEST_BITS } from './block-builder.ts';
import type { SimChain } from './sim-node-chain.ts';
import type { SimMempool } from './sim-node-mempool.ts';

/** What sim-node mine() builds; every field has a default. */
export interface MineOptions {
  /** Coinbase output script; DEFAULT_PAYOUT_SCRIPT when omitted. */
  payToScript?: Uint8Array;
  /** Coinbase value in sats / photons; the subsidy plus the included fees when omitted. */
  value?: bigint;
  /** Put the mempool's txs into the first block (default true). */
  includeMempool?: boolean;
  /** Number of blocks (default 1, at most MAX_MINE_COUNT). */
  count?: number;
}

/** Upper bound on blocks per mine call, so a typo cannot spin for minutes. */
export const MAX_MINE_COUNT = 10_000;

/**
 * P2PKH to the key Radiant's genesis coinbase pays (hash160 4f9ab47a...b033, DESIGN §3), so mined
 * coins land on a script hash the docs already list.
 */
export const DEFAULT_PAYOUT_SCRIPT = hexToBytes(
  '76a9144f9ab47a237441c0dc61dcd39fd92709f281b03388ac'
);

const COIN_SATS = 100_000_000n;

/**
 * Block subsidy at `height` (GetBlockSubsidy of each node): 50 coins (50,000 for Radiant), halved
 * every 210,000 blocks, every 150 on regtest.
 */
export function blockSubsidySats(coin: Coin, height: number): bigint {
  const halvingInterval = coin.net === 'regtest' ? 150 : 210_000;
  const halvings = Math.floor(height / halvingInterval);
  if (halvings >= 64) return 0n;
  const initial = (coin.radiant ? 50_000n : 50n) * COIN_SATS;
  return initial >> BigInt(halvings);
}

/**
 * Builds the block that would extend the tip: coinbase (tagged with `tag` so it is unique even
 * on a competing branch) and, when asked, every mempool tx: in arrival order (parents first) on
 * Bitcoin, in canonical txid order (CTOR: byte order of the internal txid, so a child may come
 * before its parent) on Bitcoin Cash and Radiant.
 * Its time is one second past the tip's, or `nowSec` when that is later. Returns block hex.
 */
export function buildNextBlock(
  chain: SimChain,
  mempool: SimMempool,
  options: MineOptions,
  nowSec: number,
  tag: number
): string {
  const tip = chain.tip();
  const height = tip.height + 1;
  const entries = options.includeMempool === false ? [] : mempool.list();
  if (chain.coin.name !== 'Bitcoin') entries.sort((a, b) => compareBytes(a.tx.txid, b.tx.txid));
  const feesSats = entries.reduce((sum, entry) => sum + entry.feeSats, 0n);
  const value = options.value ?? blockSubsidySats(chain.coin, height) + feesSats;
  const tagBytes = Uint8Array.of(tag & 0xff, (tag >>> 8) & 0xff, (tag >>> 16) & 0xff, tag >>> 24);
  const payTo = options.payToScript ?? DEFAULT_PAYOUT_SCRIPT;
  const coinbase = buildCoinbase(height, payTo, value, tagBytes);
  return buildBlock({
    coin: chain.coin,
    prevHash: tip.hashHex,
    txs: [coinbase, ...entries.map((entry) => entry.tx.raw)],
    time: Math.max(tip.header.time + 1, nowSec),
    bits: REGTEST_BITS,
  });
}
