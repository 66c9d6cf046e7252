// The Electrum method table: names, parameters, protocol versions and base costs, as data.

/** What the dispatcher needs to know about one method before any handler runs. */
export interface MethodSpec {
  readonly name: string;
  /** Parameter names in order; calls with named parameters are mapped through them. */
  readonly params: readonly string[];
  /** How many leading parameters are required. */
  readonly required: number;
  /** Extra positional parameters are dropped instead of refused (server.version, per the spec). */
  readonly ignoresExtraParams?: boolean;
  /** First protocol version with the method. */
  readonly since?: string;
  /** First protocol version without it (exclusive bound). */
  readonly until?: string;
  /** Needs a session that outlives the call (subscriptions): refused over stateless HTTP. */
  readonly stateful?: boolean;
  /** Offered only on Radiant (ref opcodes), as Radiant's ElectrumX offers it. */
  readonly radiantOnly?: boolean;
  /**
   * Base cost in ElectrumX units (DESIGN §6). The Worker's limits add the size-dependent part
   * from the arguments and result (worker/limits/method-cost.ts), then bandwidth and errors.
   */
  readonly cost: number;
}

type Flags = Pick<
  MethodSpec,
  'ignoresExtraParams' | 'since' | 'until' | 'stateful' | 'radiantOnly'
>;

function row(
  name: string,
  params: readonly string[],
  required: number,
  cost: number,
  flags: Flags = {}
): MethodSpec {
  return { name, params, required, cost, ...flags };
}

// Parameter names follow the protocol docs (and ElectrumX's handlers) so named calls work.
const ROWS: readonly MethodSpec[] = [
  row('server.version', ['client_name', 'protocol_version'], 0, 0.5, { ignoresExtraParams: true }),
  row('server.features', [], 0, 0.2),
  row('server.banner', [], 0, 0.5),
  row('server.donation_address', [], 0, 0.1),
  row('server.ping', [], 0, 0.1),
  row('server.peers.subscribe', [], 0, 1),
  row('server.add_peer', ['features'], 1, 1),
  row('blockchain.headers.subscribe', [], 0, 0.25, { stateful: true }),
  row('blockchain.block.header', ['height', 'cp_height'], 1, 1),
  row('blockchain.block.headers', ['start_height', 'count', 'cp_height'], 2, 1),
  // `mode` came with 1.6; ElectrumX accepts it from older sessions too, and so do we.
  row('blockchain.estimatefee', ['number', 'mode'], 1, 0.1),
  row('blockchain.relayfee', [], 0, 1, { until: '1.6' }),
  row('blockchain.scripthash.get_balance', ['scripthash'], 1, 1),
  row('blockchain.scripthash.get_history', ['scripthash'], 1, 0.2),
  row('blockchain.scripthash.get_mempool', ['scripthash'], 1, 0.25),
  row('blockchain.scripthash.listunspent', ['scripthash'], 1, 1),
  row('blockchain.scripthash.subscribe', ['scripthash'], 1, 0.25, { stateful: true }),
  // ElectrumX offers unsubscribe from 1.4.2 only; we keep it for every 1.4 session because
  // wallets that never send server.version still call it.
  row('blockchain.scripthash.unsubscribe', ['scripthash'], 1, 0.1, { stateful: true }),
  row('blockchain.transaction.broadcast', ['raw_tx'], 1, 0.25),
  // TODO(someday): blockchain.transaction.broadcast_package (1.6) needs the node's
  // submitpackage, which radiant-node and Bitcoin Cash Node lack; not offered, so "unknown method".
  row('blockchain.transaction.get', ['tx_hash', 'verbose'], 1, 1),
  // Merkle proofs: 0.25 + n_tx / 2500 (issue 5); the n_tx part is added from the result.
  row('blockchain.transaction.get_merkle', ['tx_hash', 'height'], 2, 0.25),
  row('blockchain.transaction.id_from_pos', ['height', 'tx_pos', 'merkle'], 2, 0.25),
  row('blockchain.ref.get', ['ref'], 1, 0.3, { radiantOnly: true }),
  row('mempool.get_fee_histogram', [], 0, 1),
  // mempool.get_info replaces blockchain.relayfee from 1.6 (protocol-changes.rst).
  row('mempool.get_info', [], 0, 1, { since: '1.6' }),
];

/** Every method the server knows, by name. */
export const METHODS: ReadonlyMap<string, MethodSpec> = new Map(ROWS.map((row) => [row.name, row]));

const NON_RADIANT_METHODS: ReadonlyMap<string, MethodSpec> = new Map(
  ROWS.filter((row) => row.radiantOnly !== true).map((row) => [row.name, row])
);

/** The methods a server for this chain offers: Radiant-only ones are left out elsewhere. */
export function methodsForChain(radiant: boolean): ReadonlyMap<string, MethodSpec> {
  return radiant ? METHODS : NON_RADIANT_METHODS;
}
