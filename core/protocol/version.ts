// Electrum protocol versions: parsing, ordering and the server.version negotiation rule.
import { BAD_REQUEST, describeValue, RpcError } from './errors.ts';

/** Our software name and version, as server.version and server.features report it. */
export const SERVER_SOFTWARE = 'electrum-edge 0.1.0';

/** Oldest protocol version served; sessions that never send server.version speak this one. */
export const PROTOCOL_MIN = '1.4';
/**
 * Newest protocol version served. 1.5 was skipped by the protocol docs (no changes are defined for
 * it), so a session that settles on 1.5 behaves as 1.4.2 does.
 */
export const PROTOCOL_MAX = '1.6';

/**
 * First version in which server.version must be the session's first message and
 * blockchain.block.headers answers with a `headers` list (protocol-changes.rst, version 1.6).
 */
export const PROTOCOL_1_6 = '1.6';

/**
 * Parses "1.4.2" into [1, 4, 2]. Anything else (not a string, empty parts, signs, letters) gives
 * [0], which sorts below every real version, as ElectrumX's protocol_tuple does.
 */
export function parseVersion(text: unknown): number[] {
  if (typeof text !== 'string' || !/^\d{1,6}(\.\d{1,6})*$/.test(text)) return [0];
  return text.split('.').map(Number);
}

/** Orders versions like tuples: element by element, and a prefix before its extensions. */
export function compareVersions(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const diff = (a[i] ?? 0) - (b[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return a.length - b.length;
}

/** Formats a version with at least one dot: [1] is "1.0". */
export function formatVersion(version: readonly number[]): string {
  return version.length < 2 ? `${version[0] ?? 0}.0` : version.join('.');
}

/**
 * The version a session speaks after `server.version(name, request)`: the highest version both
 * sides accept. `request` is a version string, a [min, max] pair, or absent (the server minimum).
 * @throws RpcError(BAD_REQUEST, disconnect) when there is no common version.
 */
export function negotiateVersion(
  request: unknown,
  serverMin: string = PROTOCOL_MIN,
  serverMax: string = PROTOCOL_MAX
): string {
  const min = parseVersion(serverMin);
  const max = parseVersion(serverMax);
  let clientMin = min;
  let clientMax = min;
  if (request !== undefined && request !== null) {
    const pair = Array.isArray(request) && request.length === 2;
    clientMin = parseVersion(pair ? request[0] : request);
    clientMax = parseVersion(pair ? request[1] : request);
  }
  const result = compareVersions(clientMax, max) < 0 ? clientMax : max;
  const floor = compareVersions(clientMin, min) > 0 ? clientMin : min;
  if (compareVersions(result, floor) < 0 || compareVersions(result, [0]) === 0) {
    const message = `unsupported protocol version: ${describeValue(request)}`;
    throw new RpcError(BAD_REQUEST, message, { disconnect: true });
  }
  return formatVersion(result);
}

/** True when `version` is `since` or later. */
export function versionAtLeast(version: string, since: string): boolean {
  return compareVersions(parseVersion(version), parseVersion(since)) >= 0;
}

/** True when `version` lies in [since, until); either bound may be absent. */
export function versionInRange(version: string, since?: string, until?: string): boolean {
  const parsed = parseVersion(version);
  if (since !== undefined && compareVersions(parsed, parseVersion(since)) < 0) return false;
  if (until !== undefined && compareVersions(parsed, parseVersion(until)) >= 0) return false;
  return true;
}
