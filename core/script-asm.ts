// Script assembly text as the nodes print it in verbose transactions (ScriptToAsmStr).
import { bytesToHex } from './bytes.ts';
import type { Coin, CoinName } from './coins.ts';
import { opcodeName } from './opcode-names.ts';
import { OP_RETURN, scriptOps } from './script.ts';

const OP_PUSHDATA4 = 0x4e;
// Longest script the nodes run (MAX_SCRIPT_SIZE); a longer one counts as unspendable.
const MAX_SCRIPT_BYTES = 10_000;

/**
 * Pushes up to this many bytes print as a number (CScriptNum): 8 on Bitcoin Cash Node (64-bit
 * script integers), 4 on Bitcoin Core and radiant-node (its getrawtransaction passes
 * f64BitNums = false).
 */
function maxNumBytes(coin: CoinName): number {
  return coin === 'BitcoinCash' ? 8 : 4;
}

/** A CScriptNum (little-endian magnitude, sign in the top bit of the last byte), not minimal. */
export function decodeScriptNum(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i] ?? 0);
  const signBit = 1n << BigInt(8 * bytes.length - 1);
  return (value & signBit) !== 0n ? -(value & (signBit - 1n)) : value;
}

// BIP66 strict DER of a signature without its hashtype byte (IsValidDERSignatureEncoding).
function isStrictDer(sig: Uint8Array): boolean {
  const size = sig.length;
  if (size < 8 || size > 72 || sig[0] !== 0x30 || sig[1] !== size - 2) return false;
  const lenR = sig[3] ?? 0;
  if (5 + lenR >= size) return false;
  const lenS = sig[5 + lenR] ?? 0;
  if (lenR + lenS + 6 !== size || sig[2] !== 0x02 || lenR === 0) return false;
  const r0 = sig[4] ?? 0;
  if (r0 & 0x80 || (lenR > 1 && r0 === 0 && !((sig[5] ?? 0) & 0x80))) return false;
  if (sig[lenR + 4] !== 0x02 || lenS === 0) return false;
  const s0 = sig[lenR + 6] ?? 0;
  return !(s0 & 0x80 || (lenS > 1 && s0 === 0 && !((sig[lenR + 7] ?? 0) & 0x80)));
}

const SIGHASH_BASE = ['', 'ALL', 'NONE', 'SINGLE'];
const SIGHASH_ANYONECANPAY = 0x80;
const SIGHASH_FORKID = 0x40;
const SIGHASH_UTXOS = 0x20;

// The sighash names of the nodes' mapSigHashTypes (core_write.cpp), or null when not listed.
function sighashName(hashType: number, coin: CoinName): string | null {
  const base = SIGHASH_BASE[hashType & 0x1f];
  if (base === undefined || base === '') return null;
  const flags = hashType & 0xe0;
  const parts = [base];
  if (coin === 'Bitcoin') {
    if ((flags & ~SIGHASH_ANYONECANPAY) !== 0) return null;
  } else {
    const utxosBit = coin === 'BitcoinCash' ? SIGHASH_UTXOS : 0;
    const allowed = SIGHASH_FORKID | SIGHASH_ANYONECANPAY | utxosBit;
    if ((flags & ~allowed) !== 0) return null;
    // SIGHASH_UTXOS comes with FORKID and never with ANYONECANPAY (Bitcoin Cash Node's map).
    const utxos = (flags & SIGHASH_UTXOS) !== 0;
    if (utxos && (!(flags & SIGHASH_FORKID) || flags & SIGHASH_ANYONECANPAY)) return null;
    if (flags & SIGHASH_FORKID) parts.push('FORKID');
    if (flags & SIGHASH_UTXOS) parts.push('UTXOS');
  }
  if (flags & SIGHASH_ANYONECANPAY) parts.push('ANYONECANPAY');
  return parts.join('|');
}

// A push that passes the node's signature encoding check with STRICTENC: DER (or a 64-byte
// Schnorr signature outside Bitcoin) followed by a defined hashtype; shown as hex + "[TYPE]".
function decodeSignature(push: Uint8Array, coin: CoinName): string | null {
  const hashType = push[push.length - 1];
  if (hashType === undefined) return null;
  const body = push.subarray(0, push.length - 1);
  const schnorr = coin !== 'Bitcoin' && body.length === 64;
  if (!schnorr && !isStrictDer(body)) return null;
  const name = sighashName(hashType, coin);
  return name === null ? null : `${bytesToHex(body)}[${name}]`;
}

function isUnspendableScript(script: Uint8Array): boolean {
  return (script.length > 0 && script[0] === OP_RETURN) || script.length > MAX_SCRIPT_BYTES;
}

/**
 * The asm text of a script: small pushes as numbers, larger ones as hex, other opcodes by name,
 * "[error]" where a push runs past the end. `decodeSighash` (scriptSigs only) shows signature
 * hashtypes as "[ALL|FORKID]". On Radiant the 36-byte operand of a ref opcode is not printed,
 * as radiant-node's ScriptToAsmStr prints only the opcode's name.
 */
export function scriptAsm(script: Uint8Array, coin: Coin, decodeSighash = false): string {
  const words: string[] = [];
  const numBytes = maxNumBytes(coin.name);
  const trySighash = decodeSighash && !isUnspendableScript(script);
  let end = 0;
  for (const op of scriptOps(script, coin.radiant)) {
    end = op.operandEnd;
    if (op.opcode > OP_PUSHDATA4) {
      words.push(opcodeName(op.opcode, coin.name));
      continue;
    }
    const push = script.subarray(op.operandStart, op.operandEnd);
    if (push.length <= numBytes) words.push(decodeScriptNum(push).toString());
    else words.push((trySighash ? decodeSignature(push, coin.name) : null) ?? bytesToHex(push));
  }
  if (end < script.length) words.push('[error]');
  return words.join(' ');
}
