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
