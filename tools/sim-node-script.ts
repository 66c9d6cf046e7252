// Script descriptions for the simulated node's verbose JSON: asm text, output type, addresses.
import { ripemd160 } from '@noble/hashes/legacy.js';
import type { Coin } from '../core/coins.ts';
import { bytesToHex } from '../core/bytes.ts';
import { sha256 } from '../core/hashes.ts';
import { scriptOps, type ScriptOp } from '../core/script.ts';
import {
  encodeAddress,
  encodeWitnessAddress,
  type Destination,
  type WitnessProgram,
} from './sim-node-address.ts';

// Names of 0x61..0xb9, shared by every coin (radiant-node src/script/script.cpp GetOpName).
const COMMON_NAMES = (
  'NOP VER IF NOTIF VERIF VERNOTIF ELSE ENDIF VERIFY RETURN TOALTSTACK FROMALTSTACK 2DROP 2DUP ' +
  '3DUP 2OVER 2ROT 2SWAP IFDUP DEPTH DROP DUP NIP OVER PICK ROLL ROT SWAP TUCK CAT SPLIT NUM2BIN ' +
  'BIN2NUM SIZE INVERT AND OR XOR EQUAL EQUALVERIFY RESERVED1 RESERVED2 1ADD 1SUB 2MUL 2DIV ' +
  'NEGATE ABS NOT 0NOTEQUAL ADD SUB MUL DIV MOD LSHIFT RSHIFT BOOLAND BOOLOR NUMEQUAL ' +
  'NUMEQUALVERIFY NUMNOTEQUAL LESSTHAN GREATERTHAN LESSTHANOREQUAL GREATERTHANOREQUAL MIN MAX ' +
  'WITHIN RIPEMD160 SHA1 SHA256 HASH160 HASH256 CODESEPARATOR CHECKSIG CHECKSIGVERIFY ' +
  'CHECKMULTISIG CHECKMULTISIGVERIFY NOP1 CHECKLOCKTIMEVERIFY CHECKSEQUENCEVERIFY NOP4 NOP5 NOP6 ' +
  'NOP7 NOP8 NOP9 NOP10'
).split(' ');

// Names of 0xba..0xed in radiant-node src/script/script.h (introspection, state and ref opcodes).
const RADIANT_NAMES = (
  'CHECKDATASIG CHECKDATASIGVERIFY REVERSEBYTES STATESEPARATOR STATESEPARATORINDEX_UTXO ' +
  'STATESEPARATORINDEX_OUTPUT INPUTINDEX ACTIVEBYTECODE TXVERSION TXINPUTCOUNT TXOUTPUTCOUNT ' +
  'TXLOCKTIME UTXOVALUE UTXOBYTECODE OUTPOINTTXHASH OUTPOINTINDEX INPUTBYTECODE ' +
  'INPUTSEQUENCENUMBER OUTPUTVALUE OUTPUTBYTECODE SHA512_256 HASH512_256 PUSHINPUTREF ' +
  'REQUIREINPUTREF DISALLOWPUSHINPUTREF DISALLOWPUSHINPUTREFSIBLING REFHASHDATASUMMARY_UTXO ' +
  'REFHASHVALUESUM_UTXOS REFHASHDATASUMMARY_OUTPUT REFHASHVALUESUM_OUTPUTS PUSHINPUTREFSINGLETON ' +
  'REFTYPE_UTXO REFTYPE_OUTPUT REFVALUESUM_UTXOS REFVALUESUM_OUTPUTS REFOUTPUTCOUNT_UTXOS ' +
  'REFOUTPUTCOUNT_OUTPUTS REFOUTPUTCOUNTZEROVALUED_UTXOS REFOUTPUTCOUNTZEROVALUED_OUTPUTS ' +
  'REFDATASUMMARY_UTXO REFDATASUMMARY_OUTPUT CODESCRIPTHASHVALUESUM_UTXOS ' +
  'CODESCRIPTHASHVALUESUM_OUTPUTS CODESCRIPTHASHOUTPUTCOUNT_UTXOS ' +
  'CODESCRIPTHASHOUTPUTCOUNT_OUTPUTS CODESCRIPTHASHZEROVALUEDOUTPUTCOUNT_UTXOS ' +
  'CODESCRIPTHASHZEROVALUEDOUTPUTCOUNT_OUTPUTS CODESCRIPTBYTECODE_UTXO CODESCRIPTBYTECODE_OUTPUT ' +
  'STATESCRIPTBYTECODE_UTXO STATESCRIPTBYTECODE_OUTPUT PUSH_TX_STATE'
).split(' ');

/** GetOpName of each opcode above OP_PUSHDATA4 for one coin. */
function opNameTable(coin: Coin): string[] {
  const names = new Array<string>(256).fill('OP_UNKNOWN');
  names[0x4f] = '-1';
  names[0x50] = 'OP_RESERVED';
  for (let n = 1; n <= 16; n++) names[0x50 + n] = String(n);
  COMMON_NAMES.forEach((name, i) => (names[0x61 + i] = `OP_${name}`));
  if (coin.name === 'Bitcoin') {
    // Bitcoin Core never re-enabled these: the original names stayed (script/script.cpp).
    [names[0x7f], names[0x80], names[0x81]] = ['OP_SUBSTR', 'OP_LEFT', 'OP_RIGHT'];
    names[0xba] = 'OP_CHECKSIGADD';
    return names;
  }
  RADIANT_NAMES.forEach((name, i) => (names[0xba + i] = `OP_${name}`));
  if (!coin.radiant) {
    // Bitcoin Cash shares 0xba-0xbc and the introspection opcodes 0xc0-0xcd with Radiant.
    // TODO(someday): CashTokens opcode names (0xce-0xd3) print as OP_UNKNOWN.
    for (let op = 0xbd; op < 0x100; op++) if (op < 0xc0 || op > 0xcd) names[op] = 'OP_UNKNOWN';
  }
  return names;
}

const NAME_TABLES = new Map<string, string[]>();

function opNames(coin: Coin): string[] {
  const key = coin.radiant ? 'radiant' : coin.name;
  let table = NAME_TABLES.get(key);
  if (table === undefined) {
    table = opNameTable(coin);
    NAME_TABLES.set(key, table);
  }
  return table;
}

/** CScriptNum decoding of a push of up to 4 bytes (little-endian, sign in the top bit). */
function scriptNum(bytes: Uint8Array): number {
  let value = 0;
  for (let i = bytes.length - 1; i >= 0; i--) value = value * 256 + (bytes[i] ?? 0);
  const last = bytes[bytes.length - 1] ?? 0;
  if ((last & 0x80) === 0) return value;
  return -(value - 0x80 * 256 ** (bytes.length - 1));
}

function isPush(op: ScriptOp): boolean {
  return op.opcode <= 0x4e;
}

/**
 * The node's ScriptToAsmStr: pushes of up to 4 bytes as numbers, longer pushes as hex, other
 * opcodes by name (a Radiant ref opcode prints its name only), "[error]" where a push is cut off.
 * With `decodeSighash` (scriptSigs) a signature-shaped push gets its sighash type appended.
 */
export function scriptToAsm(script: Uint8Array, coin: Coin, decodeSighash = false): string {
  const names = opNames(coin);
  const words: string[] = [];
  let endOfLastOp = 0;
  const unspendable = script[0] === 0x6a;
  for (const op of scriptOps(script, coin.radiant)) {
    endOfLastOp = op.operandEnd;
    if (!isPush(op)) {
      words.push(names[op.opcode] ?? 'OP_UNKNOWN');
      continue;
    }
    const data = script.subarray(op.operandStart, op.operandEnd);
    if (data.length <= 4) words.push(String(scriptNum(data)));
    else if (decodeSighash && !unspendable) words.push(signatureAsm(data, coin));
    else words.push(bytesToHex(data));
  }
  if (endOfLastOp < script.length) words.push('[error]');
  return words.join(' ');
}

const SIGHASH_BASE_NAMES = ['ALL', 'NONE', 'SINGLE'];

// Bitcoin Cash and Radiant sign with SIGHASH_FORKID (0x40) and accept 64-byte Schnorr signatures;
// Bitcoin Core decodes only DER signatures without it (core_write.cpp, mapSigHashTypes).
function signatureAsm(push: Uint8Array, coin: Coin): string {
  const hashType = push[push.length - 1] ?? 0;
  const forkIdCoin = coin.name !== 'Bitcoin';
  const base = hashType & ~(0x80 | (forkIdCoin ? 0x40 : 0));
  const validShape = isStrictDer(push) || (forkIdCoin && push.length === 65);
  const baseName = SIGHASH_BASE_NAMES[base - 1];
  if (!validShape || baseName === undefined) return bytesToHex(push);
  let name = baseName;
  if (forkIdCoin && (hashType & 0x40) !== 0) name += '|FORKID';
  if ((hashType & 0x80) !== 0) name += '|ANYONECANPAY';
  return `${bytesToHex(push.subarray(0, -1))}[${name}]`;
}

/** BIP66 strict DER, checked on the signature with its trailing sighash byte. */
function isStrictDer(sig: Uint8Array): boolean {
  const size = sig.length;
  if (size < 9 || size > 73 || sig[0] !== 0x30 || sig[1] !== size - 3) return false;
  const lenR = sig[3] ?? 0;
  if (5 + lenR >= size) return false;
  const lenS = sig[5 + lenR] ?? 0;
  if (lenR + lenS + 7 !== size) return false;
  const integerOk = (at: number, len: number): boolean => {
    const first = sig[at] ?? 0;
    if (sig[at - 2] !== 0x02 || len === 0 || (first & 0x80) !== 0) return false;
    return !(len > 1 && first === 0 && ((sig[at + 1] ?? 0) & 0x80) === 0);
  };
  return integerOk(4, lenR) && integerOk(lenR + 6, lenS);
}

/**
 * The scriptPubKey fields after asm and hex: radiant-node (and Bitcoin Cash Node) print
 * `reqSigs`, `type`, `addresses`; Bitcoin Core 27 prints `address` (when the output has one) and
 * `type`, and no address for bare keys or multisig.
 */
export type OutputDescription = { [key: string]: string | number | string[] };

/** What Solver finds in an output script. */
interface Solution {
  type: string;
  reqSigs?: number;
  destinations: Destination[];
  witness?: WitnessProgram;
}

function hash160(data: Uint8Array): Uint8Array {
  return ripemd160(sha256(data));
}

// CPubKey::ValidSize: 33 bytes starting 02/03 or 65 bytes starting 04/06/07.
function isPubKeySize(key: Uint8Array): boolean {
  if (key.length === 33) return key[0] === 0x02 || key[0] === 0x03;
  if (key.length === 65) return key[0] === 0x04 || key[0] === 0x06 || key[0] === 0x07;
  return false;
}

function keyHash(hash: Uint8Array): Destination {
  return { kind: 'keyhash', hash160: hash };
}

/** Solver of radiant-node script/standard.cpp, plus Bitcoin Core's witness program types. */
function solve(script: Uint8Array, coin: Coin): Solution {
  const n = script.length;
  if (n === 23 && script[0] === 0xa9 && script[1] === 0x14 && script[22] === 0x87) {
    const destination: Destination = { kind: 'scripthash', hash160: script.subarray(2, 22) };
    return { type: 'scripthash', reqSigs: 1, destinations: [destination] };
  }
  if (n >= 1 && script[0] === 0x6a && isPushOnly(script.subarray(1), coin)) {
    return { type: 'nulldata', destinations: [] };
  }
  if ((n === 35 || n === 67) && script[0] === n - 2 && script[n - 1] === 0xac) {
    const key = script.subarray(1, n - 1);
    if (isPubKeySize(key)) {
      return { type: 'pubkey', reqSigs: 1, destinations: [keyHash(hash160(key))] };
    }
  }
  const p2pkh = n === 25 && script[0] === 0x76 && script[1] === 0xa9 && script[2] === 0x14;
  if (p2pkh && script[23] === 0x88 && script[24] === 0xac) {
    return { type: 'pubkeyhash', reqSigs: 1, destinations: [keyHash(script.subarray(3, 23))] };
  }
  const multisig = matchMultisig(script, coin);
  if (multisig !== null) {
    const destinations = multisig.keys.map((key) => keyHash(hash160(key)));
    return { type: 'multisig', reqSigs: multisig.required, destinations };
  }
  const witness = coin.segwit ? witnessProgram(script) : null;
  if (witness !== null) return { type: witnessType(witness), destinations: [], witness };
  return { type: 'nonstandard', destinations: [] };
}

/**
 * The scriptPubKey fields after asm and hex, in the coin's node's shape.
 * TODO(someday): Bitcoin Core's `desc` (output descriptor with checksum) is not printed.
 */
export function describeOutput(script: Uint8Array, coin: Coin): OutputDescription {
  const solution = solve(script, coin);
  if (coin.name === 'Bitcoin') {
    let address: string | undefined;
    if (solution.witness !== undefined) address = encodeWitnessAddress(solution.witness, coin);
    else if (solution.type === 'pubkeyhash' || solution.type === 'scripthash') {
      address = encodeAddress(solution.destinations[0] ?? keyHash(new Uint8Array(20)), coin);
    }
    return address === undefined ? { type: solution.type } : { address, type: solution.type };
  }
  if (solution.reqSigs === undefined) return { type: solution.type };
  return {
    reqSigs: solution.reqSigs,
    type: solution.type,
    addresses: solution.destinations.map((destination) => encodeAddress(destination, coin)),
  };
}

function isPushOnly(script: Uint8Array, coin: Coin): boolean {
  let end = 0;
  for (const op of scriptOps(script, coin.radiant)) {
    if (op.opcode > 0x60) return false;
    end = op.operandEnd;
  }
  return end === script.length;
}

function matchMultisig(
  script: Uint8Array,
  coin: Coin
): { required: number; keys: Uint8Array[] } | null {
  if (script[script.length - 1] !== 0xae) return null;
  const ops = [...scriptOps(script, coin.radiant)];
  const smallInt = (op: ScriptOp | undefined): number =>
    op !== undefined && op.opcode >= 0x51 && op.opcode <= 0x60 ? op.opcode - 0x50 : 0;
  const required = smallInt(ops[0]);
  const keyOps = ops.slice(1, -2);
  const keys = keyOps.map((op) => script.subarray(op.operandStart, op.operandEnd));
  const directPushes = keyOps.every((op, i) => op.opcode === keys[i]?.length);
  const count = smallInt(ops[ops.length - 2]);
  if (required === 0 || count !== keys.length || count < required || !directPushes) return null;
  if (!keys.every(isPubKeySize) || (ops[ops.length - 1]?.operandEnd ?? 0) !== script.length) {
    return null;
  }
  return { required, keys };
}

// BIP141 witness program: a version opcode (OP_0, OP_1..OP_16) then one push of 2..40 bytes.
function witnessProgram(script: Uint8Array): WitnessProgram | null {
  const versionOp = script[0] ?? 0xff;
  if (script.length < 4 || script.length > 42 || script[1] !== script.length - 2) return null;
  if (versionOp !== 0 && (versionOp < 0x51 || versionOp > 0x60)) return null;
  const version = versionOp === 0 ? 0 : versionOp - 0x50;
  const program = script.subarray(2);
  // Core's Solver: a version 0 program of any other size is nonstandard.
  if (version === 0 && program.length !== 20 && program.length !== 32) return null;
  return { version, program };
}

function witnessType(witness: WitnessProgram): string {
  if (witness.version === 0) {
    return witness.program.length === 20 ? 'witness_v0_keyhash' : 'witness_v0_scripthash';
  }
  if (witness.version === 1 && witness.program.length === 32) return 'witness_v1_taproot';
  return 'witness_unknown';
}
