// Address strings for the simulated node's verbose JSON: Base58Check, CashAddr and Bech32(m).
import type { Coin } from '../core/coins.ts';
import { concatBytes } from '../core/bytes.ts';
import { sha256d } from '../core/hashes.ts';

/** What an output pays to: a key hash or a script hash, 20 bytes each. */
export interface Destination {
  kind: 'keyhash' | 'scripthash';
  hash160: Uint8Array;
}

/** A BIP141 witness program: version 0..16 and 2..40 program bytes. */
export interface WitnessProgram {
  version: number;
  program: Uint8Array;
}

const BASE58_ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
// Bech32 and CashAddr share this 32-character alphabet (BIP173).
const CASHADDR_CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
// BIP173 generators; BIP350 checksum constants of bech32 (witness v0) and bech32m (v1+).
const BECH32_GENERATORS = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
const BECH32_CONST = 1;
const BECH32M_CONST = 0x2bc830a3;
// CashAddr spec (bitcoincash.org/spec/cashaddr.html), the BCH polymod generators.
const CASHADDR_GENERATORS = [
  0x98f2bc8e61n,
  0x79b76d99e2n,
  0xf33e5fb3c4n,
  0xae2eabe2a8n,
  0x1e4f43e470n,
];

/** Base58Check of `payload` (version byte included): Base58 of payload + first 4 of its sha256d. */
export function base58Check(payload: Uint8Array): string {
  const bytes = concatBytes(payload, sha256d(payload).subarray(0, 4));
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  let out = '';
  while (value > 0n) {
    out = BASE58_ALPHABET[Number(value % 58n)] + out;
    value /= 58n;
  }
  for (const byte of bytes) {
    if (byte !== 0) break;
    out = `1${out}`;
  }
  return out;
}

function cashAddrPolymod(values: number[]): bigint {
  let checksum = 1n;
  for (const value of values) {
    const top = checksum >> 35n;
    checksum = ((checksum & 0x07ffffffffn) << 5n) ^ BigInt(value);
    CASHADDR_GENERATORS.forEach((generator, bit) => {
      if (((top >> BigInt(bit)) & 1n) === 1n) checksum ^= generator;
    });
  }
  return checksum ^ 1n;
}

function toFiveBitGroups(bytes: Uint8Array): number[] {
  const groups: number[] = [];
  let accumulator = 0;
  let bits = 0;
  for (const byte of bytes) {
    accumulator = (accumulator << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      groups.push((accumulator >> bits) & 31);
    }
    accumulator &= (1 << bits) - 1;
  }
  if (bits > 0) groups.push((accumulator << (5 - bits)) & 31);
  return groups;
}

/** CashAddr of a 160-bit hash: version byte = type << 3 (0 key hash, 1 script hash), size 0. */
export function cashAddr(prefix: string, destination: Destination): string {
  const version = destination.kind === 'keyhash' ? 0 : 8;
  const payload = toFiveBitGroups(concatBytes(Uint8Array.of(version), destination.hash160));
  const prefixGroups = [...prefix].map((char) => char.charCodeAt(0) & 31);
  const checksum = cashAddrPolymod([...prefixGroups, 0, ...payload, 0, 0, 0, 0, 0, 0, 0, 0]);
  const checksumGroups: number[] = [];
  for (let i = 7; i >= 0; i--) checksumGroups.push(Number((checksum >> BigInt(5 * i)) & 31n));
  const body = [...payload, ...checksumGroups].map((group) => CASHADDR_CHARSET[group]).join('');
  return `${prefix}:${body}`;
}

function bech32Polymod(values: number[]): number {
  let checksum = 1;
  for (const value of values) {
    const top = checksum >>> 25;
    checksum = (((checksum & 0x1ffffff) << 5) ^ value) >>> 0;
    BECH32_GENERATORS.forEach((generator, bit) => {
      if (((top >>> bit) & 1) === 1) checksum = (checksum ^ generator) >>> 0;
    });
  }
  return checksum;
}

/** BIP173 / BIP350 segwit address: bech32 for version 0, bech32m for later versions. */
export function segwitAddress(hrp: string, witness: WitnessProgram): string {
  const data = [witness.version, ...toFiveBitGroups(witness.program)];
  const expandedHrp = [...hrp].map((c) => c.charCodeAt(0) >> 5);
  expandedHrp.push(0, ...[...hrp].map((c) => c.charCodeAt(0) & 31));
  const constant = witness.version === 0 ? BECH32_CONST : BECH32M_CONST;
  const polymod = bech32Polymod([...expandedHrp, ...data, 0, 0, 0, 0, 0, 0]) ^ constant;
  const checksum: number[] = [];
  for (let i = 0; i < 6; i++) checksum.push((polymod >>> (5 * (5 - i))) & 31);
  return `${hrp}1${[...data, ...checksum].map((group) => CASHADDR_CHARSET[group]).join('')}`;
}

// Bitcoin Core chainparams.cpp bech32_hrp per network.
const SEGWIT_HRPS = { mainnet: 'bc', testnet: 'tb', regtest: 'bcrt' };

/** The segwit address Bitcoin Core prints for a witness program on the coin's network. */
export function encodeWitnessAddress(witness: WitnessProgram, coin: Coin): string {
  return segwitAddress(SEGWIT_HRPS[coin.net], witness);
}

// chainparams.cpp of each node: Base58 prefixes 0/5 on mainnet, 111/196 on testnet and regtest;
// Bitcoin Cash Node prints CashAddr with these prefixes by default.
const CASHADDR_PREFIXES = { mainnet: 'bitcoincash', testnet: 'bchtest', regtest: 'bchreg' };

/** The address the coin's node prints for `destination`. */
export function encodeAddress(destination: Destination, coin: Coin): string {
  if (coin.name === 'BitcoinCash') return cashAddr(CASHADDR_PREFIXES[coin.net], destination);
  const mainnet = coin.net === 'mainnet';
  const keyHashVersion = mainnet ? 0 : 111;
  const scriptHashVersion = mainnet ? 5 : 196;
  const version = destination.kind === 'keyhash' ? keyHashVersion : scriptHashVersion;
  return base58Check(concatBytes(Uint8Array.of(version), destination.hash160));
}
