// Address encodings as each node prints them: base58check, bech32/bech32m (segwit) and cashaddr.
import { ripemd160 } from '@noble/hashes/legacy.js';
import { concatBytes } from './bytes.ts';
import type { Coin, NetName } from './coins.ts';
import { sha256, sha256d } from './hashes.ts';

/** Where an output pays, as far as an address can say it. */
export type Destination =
  | { kind: 'p2pkh'; hash: Uint8Array }
  | { kind: 'p2sh'; hash: Uint8Array }
  | { kind: 'witness'; version: number; program: Uint8Array };

/** HASH160 = RIPEMD-160 of SHA-256: key and script hashes inside P2PKH and P2SH outputs. */
export function hash160(data: Uint8Array): Uint8Array {
  return ripemd160(sha256(data));
}

const BASE58_ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/** Base58 of `payload` followed by the first 4 bytes of its SHA-256d (Bitcoin base58check). */
export function base58Check(payload: Uint8Array): string {
  const bytes = concatBytes(payload, sha256d(payload).subarray(0, 4));
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  let text = '';
  while (value > 0n) {
    text = (BASE58_ALPHABET[Number(value % 58n)] ?? '') + text;
    value /= 58n;
  }
  // Each leading zero byte is written as the alphabet's first character.
  for (const byte of bytes) {
    if (byte !== 0) break;
    text = `1${text}`;
  }
  return text;
}

const BECH32_CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const BECH32_GENERATORS = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
// BIP173 checksum constant 1; BIP350 changed it for witness version 1 and above.
const BECH32_CONST = 1;
const BECH32M_CONST = 0x2bc830a3;

function bech32Polymod(values: number[]): number {
  let check = 1;
  for (const value of values) {
    const top = check >>> 25;
    check = (((check & 0x1ffffff) << 5) ^ value) >>> 0;
    BECH32_GENERATORS.forEach((generator, i) => {
      if ((top >>> i) & 1) check = (check ^ generator) >>> 0;
    });
  }
  return check;
}

/** Regroups bits (8 to 5 here), padding the last group with zero bits. */
function toFiveBitGroups(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let accumulator = 0;
  let bits = 0;
  for (const byte of bytes) {
    accumulator = ((accumulator << 8) | byte) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push((accumulator >> bits) & 31);
    }
  }
  if (bits > 0) out.push((accumulator << (5 - bits)) & 31);
  return out;
}

/** A segwit address (BIP173 for version 0, BIP350 bech32m for versions 1..16). */
export function segwitAddress(hrp: string, version: number, program: Uint8Array): string {
  if (!Number.isInteger(version) || version < 0 || version > 16) {
    throw new RangeError(`witness version 0..16 expected, got ${version}`);
  }
  const data = [version, ...toFiveBitGroups(program)];
  const expandedHrp = [...hrp].map((c) => c.charCodeAt(0) >> 5);
  expandedHrp.push(0, ...[...hrp].map((c) => c.charCodeAt(0) & 31));
  const constant = version === 0 ? BECH32_CONST : BECH32M_CONST;
  const polymod = bech32Polymod([...expandedHrp, ...data, 0, 0, 0, 0, 0, 0]) ^ constant;
  const checksum = Array.from({ length: 6 }, (_, i) => (polymod >>> (5 * (5 - i))) & 31);
  return `${hrp}1${[...data, ...checksum].map((v) => BECH32_CHARSET[v]).join('')}`;
}

const CASHADDR_GENERATORS = [
  0x98f2bc8e61n, 0x79b76d99e2n, 0xf33e5fb3c4n, 0xae2eabe2a8n, 0x1e4f43e470n,
];

function cashaddrPolymod(values: number[]): bigint {
  let check = 1n;
  for (const value of values) {
    const top = check >> 35n;
    check = ((check & 0x07ffffffffn) << 5n) ^ BigInt(value);
    CASHADDR_GENERATORS.forEach((generator, i) => {
      if ((top >> BigInt(i)) & 1n) check ^= generator;
    });
  }
  return check ^ 1n;
}

// cashaddr version byte: type << 3 | size code; size code 0 = 160 bits, 3 = 256 bits.
const CASHADDR_SIZE_CODES = new Map([
  [20, 0],
  [32, 3],
]);

/** A cashaddr (Bitcoin Cash spec "CashAddr"): prefix, ':', payload and checksum, lowercase. */
export function cashAddress(prefix: string, type: 'p2pkh' | 'p2sh', hash: Uint8Array): string {
  const sizeCode = CASHADDR_SIZE_CODES.get(hash.length);
  if (sizeCode === undefined) throw new RangeError(`cashaddr hash of ${hash.length} bytes`);
  const versionByte = ((type === 'p2pkh' ? 0 : 1) << 3) | sizeCode;
  const payload = toFiveBitGroups(concatBytes(Uint8Array.of(versionByte), hash));
  const prefixValues = [...prefix].map((c) => c.charCodeAt(0) & 31);
  const polymod = cashaddrPolymod([...prefixValues, 0, ...payload, 0, 0, 0, 0, 0, 0, 0, 0]);
  const checksum = Array.from({ length: 8 }, (_, i) => {
    return Number((polymod >> BigInt(5 * (7 - i))) & 31n);
  });
  return `${prefix}:${[...payload, ...checksum].map((v) => BECH32_CHARSET[v]).join('')}`;
}

interface NetAddressing {
  pubkeyVersion: number;
  scriptVersion: number;
  /** Bitcoin segwit human-readable part. */
  hrp: string;
  /** Bitcoin Cash cashaddr prefix. */
  cashPrefix: string;
}

// chainparams.cpp of Bitcoin Core, Bitcoin Cash Node and radiant-node: testnet and regtest share
// the base58 versions 111 / 196.
const NETS: Record<NetName, NetAddressing> = {
  mainnet: { pubkeyVersion: 0, scriptVersion: 5, hrp: 'bc', cashPrefix: 'bitcoincash' },
  testnet: { pubkeyVersion: 111, scriptVersion: 196, hrp: 'tb', cashPrefix: 'bchtest' },
  regtest: { pubkeyVersion: 111, scriptVersion: 196, hrp: 'bcrt', cashPrefix: 'bchreg' },
};

/**
 * The address the coin's node prints for `destination`: cashaddr on Bitcoin Cash (BCHN's
 * default), base58check on Radiant (radiant-node leaves cashaddr off by default, config.h) and on
 * Bitcoin, bech32/bech32m for Bitcoin witness programs. Null for a destination the coin has no
 * address for (a witness program outside Bitcoin).
 */
export function encodeAddress(destination: Destination, coin: Coin): string | null {
  const net = NETS[coin.net];
  if (destination.kind === 'witness') {
    return coin.segwit ? segwitAddress(net.hrp, destination.version, destination.program) : null;
  }
  if (coin.name === 'BitcoinCash') {
    return cashAddress(net.cashPrefix, destination.kind, destination.hash);
  }
  if (destination.hash.length !== 20) return null;
  const version = destination.kind === 'p2pkh' ? net.pubkeyVersion : net.scriptVersion;
  return base58Check(concatBytes(Uint8Array.of(version), destination.hash));
}

// ---------------------------------------------------------------------------------------------
// Decoding: the inverse of the encoders above, strict about checksums, case and padding.

/** Thrown for text that is not a valid address of the coin; the message names the text. */
export class AddressError extends Error {
  override name = 'AddressError';
  /** What is wrong, without the text (e.g. "bad checksum"). */
  readonly reason: string;

  constructor(text: string, reason: string) {
    super(`${JSON.stringify(text.slice(0, 100))} is not a valid address: ${reason}`);
    this.reason = reason;
  }
}

/** Bytes of a base58check string whose 4-byte SHA-256d checksum matches, checksum removed. */
function decodeBase58Check(text: string): Uint8Array | null {
  let value = 0n;
  for (const char of text) {
    const digit = BASE58_ALPHABET.indexOf(char);
    if (digit < 0) return null;
    value = value * 58n + BigInt(digit);
  }
  const body: number[] = [];
  for (; value > 0n; value >>= 8n) body.unshift(Number(value & 0xffn));
  // Each leading '1' stands for one leading zero byte.
  let zeros = 0;
  while (text[zeros] === '1') zeros += 1;
  const bytes = Uint8Array.from([...new Array<number>(zeros).fill(0), ...body]);
  if (bytes.length < 5) return null;
  const payload = bytes.subarray(0, bytes.length - 4);
  const checksum = sha256d(payload).subarray(0, 4);
  return checksum.every((byte, i) => byte === bytes[payload.length + i]) ? payload : null;
}

/**
 * Regroups 5-bit values into bytes. Null when the padding is longer than 4 bits or not zero
 * (BIP173 and the CashAddr spec both require that).
 */
function fromFiveBitGroups(values: number[]): Uint8Array | null {
  const out: number[] = [];
  let accumulator = 0;
  let bits = 0;
  for (const value of values) {
    accumulator = ((accumulator << 5) | value) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((accumulator >> bits) & 0xff);
    }
  }
  if (bits >= 5 || (accumulator & ((1 << bits) - 1)) !== 0) return null;
  return Uint8Array.from(out);
}

/** The 5-bit values of bech32-charset text, or null for a character outside the charset. */
function charsetValues(text: string): number[] | null {
  const values: number[] = [];
  for (const char of text) {
    const value = BECH32_CHARSET.indexOf(char);
    if (value < 0) return null;
    values.push(value);
  }
  return values;
}

// BIP173: lower or upper case, never mixed; decoding works on the lower-case form.
function singleCase(text: string): string | null {
  const lower = text.toLowerCase();
  return text === lower || text === text.toUpperCase() ? lower : null;
}

// BIP173 / BIP350 segwit address for `hrp`; the checksum constant must fit the version.
function decodeSegwit(text: string, hrp: string): Destination | string {
  const lower = singleCase(text);
  if (lower === null) return 'mixed case';
  if (lower.length > 90) return 'longer than 90 characters';
  const split = lower.lastIndexOf('1');
  if (lower.slice(0, split) !== hrp) return `expected the prefix ${hrp}1`;
  const values = charsetValues(lower.slice(split + 1));
  if (values === null || values.length < 7) return 'bad bech32 data';
  const expandedHrp = [...hrp].map((c) => c.charCodeAt(0) >> 5);
  expandedHrp.push(0, ...[...hrp].map((c) => c.charCodeAt(0) & 31));
  const constant = bech32Polymod([...expandedHrp, ...values]);
  const [version = -1, ...data] = values.slice(0, -6);
  if (constant !== (version === 0 ? BECH32_CONST : BECH32M_CONST)) return 'bad checksum';
  const program = fromFiveBitGroups(data);
  if (version > 16 || program === null) return 'bad witness program';
  if (program.length < 2 || program.length > 40) return 'bad witness program length';
  if (version === 0 && program.length !== 20 && program.length !== 32) {
    return 'a version 0 program is 20 or 32 bytes';
  }
  return { kind: 'witness', version, program };
}

// CashAddr: the prefix may be left out (the net's is assumed); version byte = type << 3 | size.
function decodeCashAddress(text: string, prefix: string): Destination | string {
  const lower = singleCase(text);
  if (lower === null) return 'mixed case';
  const colon = lower.indexOf(':');
  if (colon >= 0 && lower.slice(0, colon) !== prefix) return `expected the prefix ${prefix}:`;
  const values = charsetValues(lower.slice(colon + 1));
  if (values === null || values.length <= 8) return 'bad cashaddr data';
  const prefixValues = [...prefix].map((c) => c.charCodeAt(0) & 31);
  if (cashaddrPolymod([...prefixValues, 0, ...values]) !== 0n) return 'bad checksum';
  const payload = fromFiveBitGroups(values.slice(0, -8));
  const versionByte = payload?.[0];
  if (payload === null || versionByte === undefined) return 'bad cashaddr payload';
  const hash = payload.subarray(1);
  const sizeCode = CASHADDR_SIZE_CODES.get(hash.length);
  // Types 0 and 1 are P2PKH and P2SH; CashTokens (CHIP-2022-02) added 2 and 3, the same
  // outputs marked as token-aware. Bit 7 is reserved, so any other type is refused.
  const type = versionByte >> 3;
  if (sizeCode !== (versionByte & 7) || type > 3) return 'unknown cashaddr version byte';
  const kind = type % 2 === 0 ? 'p2pkh' : 'p2sh';
  if (kind === 'p2pkh' && hash.length !== 20) return 'a P2PKH hash is 20 bytes';
  return { kind, hash };
}

function decodeBase58Address(text: string, net: NetAddressing): Destination | string {
  const payload = decodeBase58Check(text);
  if (payload === null) return 'bad base58check';
  const [version, ...hash] = payload;
  if (hash.length !== 20) return 'not a 20-byte hash';
  if (version === net.pubkeyVersion) return { kind: 'p2pkh', hash: Uint8Array.from(hash) };
  if (version === net.scriptVersion) return { kind: 'p2sh', hash: Uint8Array.from(hash) };
  return `version byte ${String(version)} is not this network's`;
}

/**
 * Reads an address as the coin's node accepts it: base58check (every coin, versions of
 * chainparams.cpp), bech32/bech32m on Bitcoin, cashaddr with or without its prefix on Bitcoin
 * Cash. Inverse of encodeAddress.
 * @throws AddressError naming the text and what is wrong with it.
 */
export function decodeAddress(text: string, coin: Coin): Destination {
  const net = NETS[coin.net];
  let found: Destination | string;
  if (coin.segwit && text.toLowerCase().startsWith(`${net.hrp}1`)) {
    found = decodeSegwit(text, net.hrp);
  } else if (coin.name === 'BitcoinCash' && (text.includes(':') || /^[qpzr]/i.test(text))) {
    found = decodeCashAddress(text, net.cashPrefix);
  } else {
    found = decodeBase58Address(text, net);
  }
  if (typeof found === 'string') throw new AddressError(text, found);
  return found;
}

// Script opcodes of the standard output templates (Bitcoin script.h).
const OP_0 = 0x00;
const OP_1_MINUS_1 = 0x50;
const OP_DUP = 0x76;
const OP_HASH160 = 0xa9;
const OP_HASH256 = 0xaa;
const OP_EQUAL = 0x87;
const OP_EQUALVERIFY = 0x88;
const OP_CHECKSIG = 0xac;

/**
 * The output script paying `destination`: P2PKH, P2SH (OP_HASH256 for Bitcoin Cash's 32-byte
 * P2SH), or a witness program (OP_0 / OP_1..OP_16, then the program pushed).
 */
export function outputScript(destination: Destination): Uint8Array {
  if (destination.kind === 'witness') {
    const { version, program } = destination;
    const versionOp = version === 0 ? OP_0 : OP_1_MINUS_1 + version;
    return concatBytes(Uint8Array.of(versionOp, program.length), program);
  }
  const { hash } = destination;
  if (destination.kind === 'p2pkh') {
    const head = Uint8Array.of(OP_DUP, OP_HASH160, hash.length);
    return concatBytes(head, hash, Uint8Array.of(OP_EQUALVERIFY, OP_CHECKSIG));
  }
  const hashOp = hash.length === 32 ? OP_HASH256 : OP_HASH160;
  return concatBytes(Uint8Array.of(hashOp, hash.length), hash, Uint8Array.of(OP_EQUAL));
}
