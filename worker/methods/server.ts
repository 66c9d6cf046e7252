// server.* handlers: version negotiation, features, banner, donation address, ping and peers.
import type { Handler } from '../../core/protocol/dispatch.ts';
import { BAD_REQUEST, RpcError } from '../../core/protocol/errors.ts';
import {
  negotiateVersion,
  PROTOCOL_1_6,
  PROTOCOL_MAX,
  PROTOCOL_MIN,
  versionAtLeast,
} from '../../core/protocol/version.ts';
import type { MethodContext } from './context.ts';

// Longest client name kept for the logs (ElectrumX keeps 100 characters).
const CLIENT_NAME_MAX_CHARS = 100;

/**
 * The newest version a session may settle on once it has sent other requests: from 1.6
 * server.version must be the first message (protocol-basics.rst, 1.6), so such a session gets the
 * last 1.4 revision when its range reaches that low.
 */
export const LATE_VERSION_MAX = '1.4.2';

/**
 * server.version(client_name, protocol_version): [server software, negotiated version]. Only
 * the first call counts; no common version closes the session. A session that sent requests
 * before it settles on LATE_VERSION_MAX at most, and is closed when its range starts at 1.6.
 */
export const serverVersion: Handler<MethodContext> = ({ server, session, order }, params) => {
  const [clientName, wanted] = params;
  if (session.versionSent()) throw new RpcError(BAD_REQUEST, 'server.version already sent');
  // A failed negotiation closes the session (the RpcError says so), so nothing is recorded.
  const negotiated = negotiateVersion(wanted, PROTOCOL_MIN, PROTOCOL_MAX);
  const late = versionAtLeast(negotiated, PROTOCOL_1_6) && order?.requestsBeforeVersion() === true;
  const settled = late ? negotiateLate(wanted) : negotiated;
  const name = typeof clientName === 'string' ? clientName : '';
  session.setVersion(name.slice(0, CLIENT_NAME_MAX_CHARS), settled);
  return [server.serverVersion, settled];
};

// The version of a session that sent requests before server.version (LATE_VERSION_MAX).
function negotiateLate(wanted: unknown): string {
  try {
    return negotiateVersion(wanted, PROTOCOL_MIN, LATE_VERSION_MAX);
  } catch {
    const message =
      `protocol ${PROTOCOL_1_6} and later need server.version as the first message; ` +
      'this session sent other requests before it';
    throw new RpcError(BAD_REQUEST, message, { disconnect: true });
  }
}

/** server.features: what a peer or wallet needs to know to trust and reach this server. */
export const serverFeatures: Handler<MethodContext> = ({ coin, server }) => ({
  genesis_hash: coin.genesisHash,
  hosts: {},
  protocol_max: PROTOCOL_MAX,
  protocol_min: PROTOCOL_MIN,
  pruning: null,
  server_version: server.serverVersion,
  hash_function: 'sha256',
});

/** server.banner: the operator's BANNER, or a line naming the server and chain. */
export const serverBanner: Handler<MethodContext> = ({ server }) => server.banner;

/** server.donation_address: the operator's DONATION_ADDRESS, empty when unset. */
export const serverDonationAddress: Handler<MethodContext> = ({ server }) => {
  return server.donationAddress;
};

/** server.ping: a keep-alive; the 1.4 protocol answers null. */
export const serverPing: Handler<MethodContext> = () => null;

/** server.peers.subscribe: no peer discovery at the edge, so no peers. */
export const serverPeersSubscribe: Handler<MethodContext> = () => [];

/** server.add_peer: refused politely (false), since this server keeps no peer list. */
export const serverAddPeer: Handler<MethodContext> = () => false;
