// Client addresses: parsing IPv4 and IPv6 text, canonical formatting and prefix masking.
// Pure code (no Worker globals) so the Node tests run it as is.

/** An address as bytes: 4 for IPv4, 16 for IPv6. IPv4-mapped IPv6 is folded to IPv4. */
export interface IpAddress {
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
}

const IPV4_PART = /^(0|[1-9][0-9]{0,2})$/;
const IPV6_GROUP = /^[0-9a-fA-F]{1,4}$/;
// ::ffff:0:0/96 (RFC 4291 §2.5.5.2): an IPv4 client seen through a dual-stack socket.
const MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

function parseIpv4Bytes(text: string): Uint8Array | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const bytes = new Uint8Array(4);
  for (const [index, part] of parts.entries()) {
    if (!IPV4_PART.test(part)) return null;
    const value = Number(part);
    if (value > 255) return null;
    bytes[index] = value;
  }
  return bytes;
}

// Splits one side of "::" into 16-bit groups; a dotted IPv4 tail counts as two groups.
function ipv6Groups(text: string, allowIpv4Tail: boolean): number[] | null {
  if (text === '') return [];
  const parts = text.split(':');
  const groups: number[] = [];
  for (const [index, part] of parts.entries()) {
    if (allowIpv4Tail && index === parts.length - 1 && part.includes('.')) {
      const tail = parseIpv4Bytes(part);
      if (tail === null) return null;
      groups.push(((tail[0] ?? 0) << 8) | (tail[1] ?? 0), ((tail[2] ?? 0) << 8) | (tail[3] ?? 0));
    } else if (IPV6_GROUP.test(part)) {
      groups.push(parseInt(part, 16));
    } else {
      return null;
    }
  }
  return groups;
}

function parseIpv6Bytes(text: string): Uint8Array | null {
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = ipv6Groups(halves[0] ?? '', halves.length === 1);
  const tail = halves.length === 2 ? ipv6Groups(halves[1] ?? '', true) : [];
  if (head === null || tail === null) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  groups.forEach((group, index) => {
    bytes[index * 2] = group >> 8;
    bytes[index * 2 + 1] = group & 0xff;
  });
  return bytes;
}

function isMapped(bytes: Uint8Array): boolean {
  return MAPPED_PREFIX.every((value, index) => bytes[index] === value);
}

/** Parses an address as CF-Connecting-IP carries it; null for anything else (zones included). */
export function parseIp(text: string): IpAddress | null {
  const trimmed = text.trim();
  if (trimmed.includes(':')) {
    const bytes = parseIpv6Bytes(trimmed);
    if (bytes === null) return null;
    if (isMapped(bytes)) return { family: 4, bytes: bytes.slice(12) };
    return { family: 6, bytes };
  }
  const bytes = parseIpv4Bytes(trimmed);
  return bytes === null ? null : { family: 4, bytes };
}

// The longest run of two or more zero groups, first one on ties (RFC 5952 §4.2).
function longestZeroRun(groups: readonly number[]): { start: number; length: number } {
  let best = { start: -1, length: 0 };
  let start = -1;
  groups.forEach((group, index) => {
    if (group !== 0) {
      start = -1;
      return;
    }
    if (start < 0) start = index;
    const length = index - start + 1;
    if (length > best.length) best = { start, length };
  });
  return best.length >= 2 ? best : { start: -1, length: 0 };
}

/** Canonical text: dotted quad, or RFC 5952 IPv6 (lower case, longest zero run as "::"). */
export function formatIp(address: IpAddress): string {
  const { bytes } = address;
  if (address.family === 4) return Array.from(bytes).join('.');
  const group = (i: number) => ((bytes[i * 2] ?? 0) << 8) | (bytes[i * 2 + 1] ?? 0);
  const groups = Array.from({ length: 8 }, (_, i) => group(i));
  const run = longestZeroRun(groups);
  const hex = groups.map((group) => group.toString(16));
  if (run.start < 0) return hex.join(':');
  const head = hex.slice(0, run.start).join(':');
  const tail = hex.slice(run.start + run.length).join(':');
  return `${head}::${tail}`;
}

/** The first `prefixBits` bits of `bytes`, the rest zeroed. @throws RangeError past the length. */
export function maskBytes(bytes: Uint8Array, prefixBits: number): Uint8Array {
  if (!Number.isInteger(prefixBits) || prefixBits < 0 || prefixBits > bytes.length * 8) {
    const bits = bytes.length * 8;
    throw new RangeError(`prefix length ${prefixBits} does not fit a ${bits}-bit address`);
  }
  const masked = new Uint8Array(bytes.length);
  for (let index = 0; index < bytes.length; index++) {
    const keep = Math.min(8, Math.max(0, prefixBits - index * 8));
    masked[index] = (bytes[index] ?? 0) & ((0xff << (8 - keep)) & 0xff);
  }
  return masked;
}

/** The name of an address's group: its network in CIDR form, e.g. "203.0.113.0/24". */
export function groupName(
  address: IpAddress,
  ipv4PrefixBits: number,
  ipv6PrefixBits: number
): string {
  const bits = address.family === 4 ? ipv4PrefixBits : ipv6PrefixBits;
  const network = { family: address.family, bytes: maskBytes(address.bytes, bits) };
  return `${formatIp(network)}/${bits}`;
}
