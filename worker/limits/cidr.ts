// CIDR blocks: parsing the operators' lists (RATE_LIMIT_EXEMPT, DENY_CIDRS, the admin API),
// matching client addresses, and the loopback and private ranges EXEMPT_PRIVATE covers.
import { formatIp, maskBytes, parseIp, type IpAddress } from './ip-address.ts';

/** A network: the masked address, its prefix length and its canonical text. */
export interface CidrBlock {
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
  readonly prefixBits: number;
  readonly text: string;
}

const PREFIX = /^(0|[1-9][0-9]{0,2})$/;

/**
 * Parses "address/bits" or a bare address (a single host). Host bits are cleared, so
 * "203.0.113.7/24" names 203.0.113.0/24. @throws RangeError naming the bad text.
 */
export function parseCidr(text: string): CidrBlock {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const addressText = slash < 0 ? trimmed : trimmed.slice(0, slash);
  const address = parseIp(addressText);
  if (address === null) {
    throw new RangeError(`"${trimmed.slice(0, 60)}" is not an IP address or CIDR`);
  }
  const maxBits = address.bytes.length * 8;
  let prefixBits = maxBits;
  if (slash >= 0) {
    const bitsText = trimmed.slice(slash + 1);
    if (!PREFIX.test(bitsText) || Number(bitsText) > maxBits) {
      throw new RangeError(`"${trimmed.slice(0, 60)}" has a prefix length outside 0..${maxBits}`);
    }
    // An IPv4-mapped IPv6 block (::ffff:a.b.c.d/120) keeps its meaning on the folded address.
    const mappedShift = address.family === 4 && addressText.includes(':') ? 96 : 0;
    prefixBits = Math.max(0, Number(bitsText) - mappedShift);
  }
  const bytes = maskBytes(address.bytes, prefixBits);
  return {
    family: address.family,
    bytes,
    prefixBits,
    text: `${formatIp({ family: address.family, bytes })}/${prefixBits}`,
  };
}

/**
 * Parses a list separated by commas or white space; empty or absent gives []. @throws
 * RangeError naming the variable and the bad entry.
 */
export function parseCidrList(text: string | undefined, name: string): CidrBlock[] {
  if (text === undefined) return [];
  const entries = text.split(/[\s,]+/).filter((entry) => entry !== '');
  return entries.map((entry) => {
    try {
      return parseCidr(entry);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new RangeError(`${name}: ${reason}`);
    }
  });
}

/** True when `address` lies inside `block`. */
export function cidrContains(block: CidrBlock, address: IpAddress): boolean {
  if (block.family !== address.family) return false;
  const masked = maskBytes(address.bytes, block.prefixBits);
  return masked.every((value, index) => value === block.bytes[index]);
}

/** The first block of `blocks` holding `address`, if any. */
export function findCidr(blocks: readonly CidrBlock[], address: IpAddress): CidrBlock | undefined {
  return blocks.find((block) => cidrContains(block, address));
}

// Loopback, RFC 1918 private, link-local, and IPv6 unique-local (RFC 4193) and link-local.
// Shared address space (100.64.0.0/10, carrier NAT) is left out on purpose: thousands of
// unrelated users can sit behind it, so it must not escape the budget.
const PRIVATE_BLOCKS: readonly CidrBlock[] = [
  '127.0.0.0/8',
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '169.254.0.0/16',
  '::1/128',
  'fc00::/7',
  'fe80::/10',
].map(parseCidr);

/** True for loopback and private addresses (the ones EXEMPT_PRIVATE exempts). */
export function isPrivateOrLoopback(address: IpAddress): boolean {
  return findCidr(PRIVATE_BLOCKS, address) !== undefined;
}
