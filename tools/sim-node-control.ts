// Control methods of the simulated node (sim_*), for tests, the demo and the CLI client.
import { hexToBytes } from '../core/bytes.ts';
import { NodeRpcError, RPC_INVALID_PARAMETER } from './sim-node-errors.ts';
import { FAULT_MODES, type FaultMode } from './sim-node-http.ts';
import { coinsToSats, type JsonValue } from './sim-node-json.ts';
import { MAX_MINE_COUNT, type MineOptions } from './sim-node-miner.ts';
import { fromUsage, intParam, isAbsent, stringParam, type MethodSpec } from './sim-node-rpc.ts';

/** The node operations the control methods drive (SimNode implements them). */
export interface SimControl {
  tipHeight(): number;
  /** Display hash of the active block at `height`. */
  blockHash(height: number): string;
  addBlocks(hexBlocks: string[]): void;
  reorg(forkHeight: number, hexBlocks: string[]): void;
  reorgMine(forkHeight: number, count: number, options?: MineOptions): string[];
  mine(options?: MineOptions): string[];
  pay(script: Uint8Array, value?: bigint): string;
  removeMempoolTx(txidHex: string): void;
  setFault(mode: FaultMode): void;
  setFeeRate(satsPerKb: bigint | null, mode?: 'CONSERVATIVE' | 'ECONOMICAL'): void;
}

function invalid(message: string): NodeRpcError {
  return new NodeRpcError(RPC_INVALID_PARAMETER, message);
}

/** Block hex strings given either as the params themselves or as one array param. */
function hexList(params: unknown[]): string[] {
  const list = params.length === 1 && Array.isArray(params[0]) ? (params[0] as unknown[]) : params;
  return list.map((entry, i) => {
    if (typeof entry !== 'string') throw invalid(`block ${i} must be a hex string`);
    return entry;
  });
}

function hashesFrom(control: SimControl, firstHeight: number): string[] {
  const hashes: string[] = [];
  for (let height = firstHeight; height <= control.tipHeight(); height++) {
    hashes.push(control.blockHash(height));
  }
  return hashes;
}

function simAddBlocks(params: unknown[], control: SimControl): JsonValue {
  const firstHeight = control.tipHeight() + 1;
  control.addBlocks(hexList(params));
  return hashesFrom(control, firstHeight);
}

function simReorg(params: unknown[], control: SimControl): JsonValue {
  const forkHeight = intParam(params, 0);
  if (typeof params[1] === 'number') {
    const count = intParam(params, 1);
    if (count < 0 || count > MAX_MINE_COUNT) {
      throw invalid(`count ${count} outside 0..${MAX_MINE_COUNT}`);
    }
    return control.reorgMine(forkHeight, count);
  }
  const blocks = isAbsent(params, 1) ? [] : hexList([params[1]]);
  control.reorg(forkHeight, blocks);
  return hashesFrom(control, forkHeight + 1);
}

/** An output script given as hex (sim_mine's scriptHex, sim_pay's script). */
function scriptValue(hex: unknown, name: string): Uint8Array {
  if (typeof hex !== 'string' || !/^(?:[0-9a-fA-F]{2})+$/.test(hex) || hex.length > 20_000) {
    throw invalid(`${name} must be non-empty even-length hex`);
  }
  return hexToBytes(hex);
}

/** An amount in sats given as a number or digits (sim_mine's and sim_pay's value). */
function satsValue(value: unknown): bigint {
  if (typeof value !== 'string' && typeof value !== 'number') throw invalid('value must be sats');
  if (!/^\d+$/.test(String(value))) {
    throw invalid(`value ${String(value).slice(0, 20)} is not whole sats`);
  }
  return BigInt(value);
}

/** sim_mine [{scriptHex?, value?, count?, includeMempool?}]: value in sats, number or digits. */
function mineOptions(raw: unknown): MineOptions {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw invalid('sim_mine takes one options object');
  }
  const { scriptHex, value, count, includeMempool } = raw as Record<string, unknown>;
  const options: MineOptions = {};
  if (scriptHex !== undefined) options.payToScript = scriptValue(scriptHex, 'scriptHex');
  if (value !== undefined) options.value = satsValue(value);
  if (count !== undefined) {
    if (typeof count !== 'number' || !Number.isInteger(count)) {
      throw invalid('count must be an integer');
    }
    options.count = count;
  }
  if (includeMempool !== undefined) {
    if (typeof includeMempool !== 'boolean') throw invalid('includeMempool must be a boolean');
    options.includeMempool = includeMempool;
  }
  return options;
}

function simFault(params: unknown[], control: SimControl): JsonValue {
  const mode = stringParam(params, 0);
  if (!(FAULT_MODES as readonly string[]).includes(mode)) {
    throw invalid(`unknown fault mode "${mode.slice(0, 20)}"; valid: ${FAULT_MODES.join(', ')}`);
  }
  control.setFault(mode as FaultMode);
  return mode;
}

// The estimate modes sim_setfeerate can set apart (estimatesmartfee's estimate_mode).
function modeParam(params: unknown[]): 'CONSERVATIVE' | 'ECONOMICAL' | undefined {
  if (isAbsent(params, 1)) return undefined;
  const mode = stringParam(params, 1).toUpperCase();
  if (mode === 'CONSERVATIVE' || mode === 'ECONOMICAL') return mode;
  throw invalid(`unknown estimate mode "${mode.slice(0, 20)}"; valid: CONSERVATIVE, ECONOMICAL`);
}

/**
 * sim_setfeerate [coinsPerKb | null] ["mode"]: what estimatefee / estimatesmartfee answer (with
 * a mode: estimatesmartfee in that mode only); null = none.
 */
function simSetFeeRate(params: unknown[], control: SimControl): JsonValue {
  const mode = modeParam(params);
  if (isAbsent(params, 0)) {
    control.setFeeRate(null, mode);
    return null;
  }
  const rate = params[0];
  if (typeof rate !== 'number' || !(rate >= 0)) {
    throw invalid('fee rate must be coins per kB, >= 0');
  }
  control.setFeeRate(coinsToSats(rate), mode);
  return null;
}

type ControlMethod = MethodSpec<SimControl>;

function simMine(params: unknown[], control: SimControl): JsonValue {
  return control.mine(mineOptions(params[0]));
}

/** sim_pay "scripthex" ( value ): value in sats, number or digits (default 0.01 coin). */
function simPay(params: unknown[], control: SimControl): JsonValue {
  const script = scriptValue(stringParam(params, 0), 'script');
  if (isAbsent(params, 1)) return control.pay(script);
  const value = satsValue(params[1]);
  if (value === 0n) throw invalid('value must be at least 1 sat');
  return control.pay(script, value);
}

function simRemoveMempoolTx(params: unknown[], control: SimControl): JsonValue {
  control.removeMempoolTx(stringParam(params, 0));
  return null;
}

/** The control methods, by name. */
export const CONTROL_METHODS: ReadonlyMap<string, ControlMethod> = new Map([
  fromUsage('sim_addblocks "blockhex" ...', simAddBlocks),
  fromUsage('sim_reorg forkheight ( blocks_or_count )', simReorg),
  fromUsage('sim_mine ( options )', simMine),
  fromUsage('sim_fault "mode"', simFault),
  fromUsage('sim_setfeerate ( feerate "mode" )', simSetFeeRate),
  fromUsage('sim_removemempooltx "txid"', simRemoveMempoolTx),
  fromUsage('sim_pay "scripthex" ( value )', simPay),
]);
