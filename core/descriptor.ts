// Bitcoin Core's inferred output descriptor ("desc" of a verbose scriptPubKey), with its checksum.
import { bytesToHex } from './bytes.ts';
import type { OutputClass } from './script-type.ts';

// BIP380: descriptor characters by group, and the checksum alphabet (bech32's).
const INPUT_CHARSET =
  '0123456789()[],\'/*abcdefgh@:$%{}IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~' +
  'ijklmnopqrstuvwxyzABCDEFGH`#"\\ ';
const CHECKSUM_CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const GENERATORS = [0xf5dee51989n, 0xa9fdca3312n, 0x1bab10e32dn, 0x3706b1677an, 0x644d626ffdn];

function polymod(symbols: number[]): bigint {
  let check = 1n;
  for (const value of symbols) {
    const top = check >> 35n;
    check = ((check & 0x7ffffffffn) << 5n) ^ BigInt(value);
    GENERATORS.forEach((generator, i) => {
      if ((top >> BigInt(i)) & 1n) check ^= generator;
    });
  }
  return check;
}

/**
 * `descriptor#checksum` (BIP380): each character contributes its position within a group of 32
 * and, three characters at a time, the groups themselves; 8 checksum characters follow '#'.
 * @throws RangeError on a character outside the descriptor alphabet.
 */
export function addDescriptorChecksum(descriptor: string): string {
  const symbols: number[] = [];
  let groups: number[] = [];
  for (const char of descriptor) {
    const position = INPUT_CHARSET.indexOf(char);
    if (position < 0) throw new RangeError(`character ${JSON.stringify(char)} in a descriptor`);
    symbols.push(position & 31);
    groups.push(position >> 5);
    if (groups.length === 3) {
      symbols.push((groups[0] ?? 0) * 9 + (groups[1] ?? 0) * 3 + (groups[2] ?? 0));
      groups = [];
    }
  }
  if (groups.length === 1) symbols.push(groups[0] ?? 0);
  if (groups.length === 2) symbols.push((groups[0] ?? 0) * 3 + (groups[1] ?? 0));
  const checksum = polymod([...symbols, 0, 0, 0, 0, 0, 0, 0, 0]) ^ 1n;
  const chars = Array.from({ length: 8 }, (_, i) => {
    return CHECKSUM_CHARSET[Number((checksum >> BigInt(5 * (7 - i))) & 31n)];
  });
  return `${descriptor}#${chars.join('')}`;
}

// secp256k1 field prime; an x-only key is valid when x < p and x^3 + 7 is a square mod p.
const FIELD_PRIME = 2n ** 256n - 2n ** 32n - 977n;

function powMod(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = base % modulus;
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
  }
  return result;
}

/** XOnlyPubKey::IsFullyValid: the 32 bytes are the x coordinate of a secp256k1 point. */
export function isValidXOnlyKey(key: Uint8Array): boolean {
  if (key.length !== 32) return false;
  const x = BigInt(`0x${bytesToHex(key)}`);
  if (x >= FIELD_PRIME) return false;
  const rhs = (x * x * x + 7n) % FIELD_PRIME;
  return rhs === 0n || powMod(rhs, (FIELD_PRIME - 1n) / 2n, FIELD_PRIME) === 1n;
}

// CPubKey::IsValidNonHybrid: compressed (02/03) or uncompressed (04), never hybrid (06/07).
function isNonHybrid(key: Uint8Array): boolean {
  return key[0] === 0x02 || key[0] === 0x03 || key[0] === 0x04;
}

/**
 * The descriptor Bitcoin Core infers for an output with no wallet data (InferDescriptor): pk() and
 * multi() for bare keys, rawtr() for a taproot output key on the curve, addr() for any other
 * output with an address, raw() for the rest; checksum appended.
 */
export function inferDescriptor(
  script: Uint8Array,
  output: OutputClass,
  address: string | null
): string {
  const keys = output.pubkeys;
  let body: string;
  if (output.type === 'pubkey' && keys.every(isNonHybrid)) {
    body = `pk(${bytesToHex(keys[0] ?? new Uint8Array())})`;
  } else if (output.type === 'multisig' && keys.every(isNonHybrid)) {
    body = `multi(${[String(output.required), ...keys.map(bytesToHex)].join(',')})`;
  } else if (output.type === 'witness_v1_taproot' && isValidXOnlyKey(script.subarray(2))) {
    body = `rawtr(${bytesToHex(script.subarray(2))})`;
  } else if (address !== null) {
    body = `addr(${address})`;
  } else {
    body = `raw(${bytesToHex(script)})`;
  }
  return addDescriptorChecksum(body);
}
