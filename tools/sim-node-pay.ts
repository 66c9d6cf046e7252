// sim_pay: a payment the simulated node makes from a coin already in its chain, so a demo or a
// test can put a transaction in the mempool without building one. The simulated node checks no
// signatures (sim-node-mempool.ts), so any unspent coinbase output can pay.
import { serializeTx, type TxOutputSpec } from './block-builder.ts';
import { displayHex, type SimChain } from './sim-node-chain.ts';
import { NodeRpcError, RPC_INVALID_PARAMETER } from './sim-node-errors.ts';
import type { SimMempool } from './sim-node-mempool.ts';

/** The fee of every payment: above the default relay fee for a tx of this size. */
export const PAY_FEE_SATS = 1_000n;
/** Confirmations a coinbase output needs before the node lets it be spent (the node's rule). */
const COINBASE_MATURITY = 100;
/** What a payment sends when no value is given: 0.01 coin. */
export const DEFAULT_PAY_SATS = 1_000_000n;
// Coinbases looked at, from the tip down, before giving up.
const MAX_BLOCKS_SEARCHED = 10_000;

/** What a payment pays, to which script, and where its change goes. */
export interface PayOptions {
  script: Uint8Array;
  value: bigint;
  changeScript: Uint8Array;
}

/**
 * A tx (raw bytes) paying `value` to `script` from the highest mature coinbase output (else the
 * highest younger one) that the chain and the mempool leave unspent and that covers value +
 * PAY_FEE_SATS; the rest goes back to `changeScript`. Version 2, no signature (none is checked
 * here).
 * @throws NodeRpcError when no coinbase output is large enough.
 */
export function buildPayment(
  chain: SimChain,
  mempool: SimMempool,
  options: PayOptions
): Uint8Array {
  const needed = options.value + PAY_FEE_SATS;
  for (const height of spendOrder(chain.height)) {
    const block = chain.blockAt(height);
    const coinbase = block === undefined ? undefined : chain.parsed(block).txs[0];
    if (coinbase === undefined) continue;
    const txidHex = displayHex(coinbase.txid);
    for (let vout = 0; vout < coinbase.outputs.length; vout++) {
      const output = chain.unspentOutput(txidHex, vout);
      if (output === undefined || output.value < needed || mempool.spends(txidHex, vout)) continue;
      const outputs: TxOutputSpec[] = [{ value: options.value, script: options.script }];
      const change = output.value - needed;
      if (change > 0n) outputs.push({ value: change, script: options.changeScript });
      const input = { prevTxid: coinbase.txid, prevVout: vout, script: new Uint8Array(0) };
      return serializeTx({
        version: 2,
        inputs: [{ ...input, sequence: 0xffffffff }],
        outputs,
        locktime: 0,
      });
    }
  }
  throw new NodeRpcError(RPC_INVALID_PARAMETER, `no unspent coinbase output covers ${needed} sats`);
}

/**
 * Heights whose coinbase a payment may spend, in the order it tries them: mature coins first,
 * highest first, as a wallet would spend them (a reorg of the top blocks leaves the payment
 * valid); then the younger ones.
 */
function* spendOrder(tip: number): Generator<number> {
  const lowest = Math.max(1, tip - MAX_BLOCKS_SEARCHED);
  const youngest = tip - COINBASE_MATURITY + 1;
  for (let height = Math.min(youngest, tip); height >= lowest; height--) yield height;
  for (let height = tip; height > youngest && height >= lowest; height--) yield height;
}
