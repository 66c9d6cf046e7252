// Who a client is to the limits: denied, exempt, or a member of an IP group with a budget.
// Pure rules; worker/limits/access.ts fetches and caches the runtime lists they read.
import type { LimitSettings } from './budget.ts';
import { findCidr, isPrivateOrLoopback, type CidrBlock } from './cidr.ts';
import { groupName, parseIp, type IpAddress } from './ip-address.ts';

/** The header Cloudflare sets to the client's address (wrangler dev sets or passes it on too). */
export const CLIENT_IP_HEADER = 'CF-Connecting-IP';
/** The group of clients whose address is missing or unreadable: they share one budget. */
export const UNKNOWN_GROUP = 'unknown';

/** How the limits treat one client. */
export type Access =
  | { kind: 'denied'; entry: string }
  | { kind: 'exempt'; reason: 'private' | 'allowlist' }
  | { kind: 'limited'; group: string };

/** The registry's lists (parsed) and its count of open sessions. */
export interface RuntimeLists {
  deny: CidrBlock[];
  allow: CidrBlock[];
  sessionsOpen: number;
}

/** The client's address from the request, or null when absent or unreadable. */
export function clientAddress(headers: Headers): IpAddress | null {
  const text = headers.get(CLIENT_IP_HEADER);
  return text === null ? null : parseIp(text);
}

/**
 * Decides a client's access. A denied network wins over every exemption, so an operator can
 * always shut out an allowlisted network's abuser by denying a narrower block.
 */
export function decideAccess(
  address: IpAddress | null,
  settings: LimitSettings,
  lists: RuntimeLists
): Access {
  if (address === null) return { kind: 'limited', group: UNKNOWN_GROUP };
  const denied = findCidr(settings.denyCidrs, address) ?? findCidr(lists.deny, address);
  if (denied !== undefined) return { kind: 'denied', entry: denied.text };
  if (settings.exemptPrivate && isPrivateOrLoopback(address)) {
    return { kind: 'exempt', reason: 'private' };
  }
  if (findCidr(settings.exemptCidrs, address) ?? findCidr(lists.allow, address)) {
    return { kind: 'exempt', reason: 'allowlist' };
  }
  return {
    kind: 'limited',
    group: groupName(address, settings.ipv4PrefixBits, settings.ipv6PrefixBits),
  };
}
