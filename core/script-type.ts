// Output script classification as each node's Solver does it: type names and destinations.
import { hash160, type Destination } from './address.ts';
import { equalBytes } from './bytes.ts';
import type { Coin } from './coins.ts';
import { OP_RETURN, scriptOps } from './script.ts';

const OP_0 = 0x00;
const OP_1 = 0x51;
const OP_16 = 0x60;
const OP_DUP = 0x76;
const OP_EQUAL = 0x87;
const OP_EQUALVERIFY = 0x88;
const OP_HASH160 = 0xa9;
const OP_HASH256 = 0xaa;
const OP_CHECKSIG = 0xac;
const OP_CHECKMULTISIG = 0xae;

/** What a node's Solver makes of an output script. */
export interface OutputClass {
  /** GetTxnOutputType: "pubkeyhash", "witness_v0_keyhash", "nulldata", "nonstandard", ... */
  type: string;
  /** The destinations the node lists as addresses (none for data and unknown scripts). */
  destinations: Destination[];
  /** Signatures required (multisig m; 1 otherwise); reqSigs on Bitcoin Cash and Radiant. */
  required: number;
  /** Keys of pubkey and multisig outputs, as pushed. */
  pubkeys: Uint8Array[];
}

// CPubKey::ValidSize: 33 bytes starting 02/03, or 65 starting 04 (06/07 hybrid).
function isPubkeySize(data: Uint8Array): boolean {
  const first = data[0];
  if (data.length === 33) return first === 0x02 || first === 0x03;
  return data.length === 65 && (first === 0x04 || first === 0x06 || first === 0x07);
}

/** True when every opcode from `from` on is a push (OP_16 or below) and the walk completes. */
export function isPushOnly(script: Uint8Array, from: number, radiant: boolean): boolean {
  let end = from;
  for (const op of scriptOps(script.subarray(from), radiant)) {
    if (op.opcode > OP_16) return false;
    end = from + op.operandEnd;
  }
  return end === script.length;
}

function matchPayToPubkey(script: Uint8Array): Uint8Array | null {
  const size = script[0] ?? 0;
  if (script.length !== size + 2 || script[script.length - 1] !== OP_CHECKSIG) return null;
  const key = script.subarray(1, 1 + size);
  return isPubkeySize(key) ? key : null;
}

function isPayToPubkeyHash(script: Uint8Array): boolean {
  return (
    script.length === 25 &&
    script[0] === OP_DUP &&
    script[1] === OP_HASH160 &&
    script[2] === 20 &&
    script[23] === OP_EQUALVERIFY &&
    script[24] === OP_CHECKSIG
  );
}

/** The hash of a P2SH output (20 bytes; 32 for Bitcoin Cash's P2SH32), or null. */
function matchPayToScriptHash(script: Uint8Array, coin: Coin): Uint8Array | null {
  const p2sh20 = script.length === 23 && script[0] === OP_HASH160 && script[1] === 20;
  if (p2sh20 && script[22] === OP_EQUAL) return script.subarray(2, 22);
  const p2sh32 = coin.name === 'BitcoinCash' && script.length === 35 && script[0] === OP_HASH256;
  if (p2sh32 && script[1] === 32 && script[34] === OP_EQUAL) return script.subarray(2, 34);
  return null;
}

interface Multisig {
  required: number;
  pubkeys: Uint8Array[];
}

// OP_m <pubkey>... OP_n OP_CHECKMULTISIG with minimal pushes and 1 <= m <= n (MatchMultisig).
function matchMultisig(script: Uint8Array, radiant: boolean): Multisig | null {
  if (script[script.length - 1] !== OP_CHECKMULTISIG) return null;
  const ops = [...scriptOps(script, radiant)];
  const first = ops[0];
  const count = ops[ops.length - 2];
  const last = ops[ops.length - 1];
  if (first === undefined || count === undefined || last?.offset !== script.length - 1) return null;
  const isSmall = (opcode: number): boolean => opcode >= OP_1 && opcode <= OP_16;
  if (!isSmall(first.opcode) || !isSmall(count.opcode)) return null;
  const pubkeys = ops.slice(1, -2).map((op) => script.subarray(op.operandStart, op.operandEnd));
  const minimal = ops.slice(1, -2).every((op, i) => op.opcode === pubkeys[i]?.length);
  if (!minimal || !pubkeys.every(isPubkeySize)) return null;
  const required = first.opcode - OP_1 + 1;
  const keys = count.opcode - OP_1 + 1;
  return pubkeys.length === keys && keys >= required ? { required, pubkeys } : null;
}

// BIP141 witness program: a version opcode, then one direct push of 2..40 bytes, nothing else.
function matchWitness(script: Uint8Array): { version: number; program: Uint8Array } | null {
  const versionOp = script[0] ?? -1;
  if (script.length < 4 || script.length > 42) return null;
  if (versionOp !== OP_0 && (versionOp < OP_1 || versionOp > OP_16)) return null;
  if ((script[1] ?? 0) + 2 !== script.length) return null;
  return { version: versionOp === OP_0 ? 0 : versionOp - OP_1 + 1, program: script.subarray(2) };
}

const PAY_TO_ANCHOR = Uint8Array.of(0x4e, 0x73);

function witnessClass(version: number, program: Uint8Array): OutputClass | null {
  const destinations: Destination[] = [{ kind: 'witness', version, program }];
  const type = (name: string): OutputClass => {
    return { type: name, destinations, required: 1, pubkeys: [] };
  };
  if (version === 0 && program.length === 20) return type('witness_v0_keyhash');
  if (version === 0 && program.length === 32) return type('witness_v0_scripthash');
  if (version === 1 && program.length === 32) return type('witness_v1_taproot');
  if (version === 1 && equalBytes(program, PAY_TO_ANCHOR)) return type('anchor');
  return version === 0 ? null : type('witness_unknown');
}

/**
 * Classifies an output script in the Solver order of the coin's node: P2SH, witness programs
 * (Bitcoin), data carriers, pay-to-pubkey, pay-to-pubkey-hash, bare multisig, else nonstandard.
 * Destinations follow what the node prints: Bitcoin Core (27+) gives none for pubkey and
 * multisig outputs; Bitcoin Cash Node and radiant-node give the P2PKH of each key.
 */
export function classifyOutput(script: Uint8Array, coin: Coin): OutputClass {
  const core = coin.name === 'Bitcoin';
  const single = (type: string, destinations: Destination[], pubkeys: Uint8Array[] = []) => {
    return { type, destinations, required: 1, pubkeys };
  };
  const scriptHash = matchPayToScriptHash(script, coin);
  if (scriptHash !== null) return single('scripthash', [{ kind: 'p2sh', hash: scriptHash }]);
  const witness = core ? matchWitness(script) : null;
  const witnessType = witness === null ? null : witnessClass(witness.version, witness.program);
  if (witnessType !== null) return witnessType;
  if (script[0] === OP_RETURN && isPushOnly(script, 1, coin.radiant)) return single('nulldata', []);
  const pubkey = matchPayToPubkey(script);
  if (pubkey !== null) {
    const keyHash: Destination[] = core ? [] : [{ kind: 'p2pkh', hash: hash160(pubkey) }];
    return single('pubkey', keyHash, [pubkey]);
  }
  if (isPayToPubkeyHash(script)) {
    return single('pubkeyhash', [{ kind: 'p2pkh', hash: script.subarray(3, 23) }]);
  }
  const multisig = matchMultisig(script, coin.radiant);
  if (multisig === null) return single('nonstandard', []);
  const destinations: Destination[] = core
    ? []
    : multisig.pubkeys.map((key) => ({ kind: 'p2pkh', hash: hash160(key) }));
  return { type: 'multisig', destinations, required: multisig.required, pubkeys: multisig.pubkeys };
}
