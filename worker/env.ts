// The Worker's bindings and variables (wrangler.toml [vars], secrets, Durable Object bindings).

/** What wrangler passes to the Worker and to its Durable Objects as `env`. */
export interface Env {
  /** One Session Durable Object per WebSocket connection. */
  SESSION: DurableObjectNamespace;
  /** Chain of the index: Radiant, BitcoinCash or Bitcoin (core/coins.ts). */
  COIN: string;
  /** mainnet, testnet or regtest. */
  NET: string;
  /** Where the index is served over Hrana HTTP (sqld, Turso, or the indexer's index server). */
  LIBSQL_URL: string;
  /** Secret (wrangler secret put / .dev.vars); absent when the server needs none. */
  LIBSQL_AUTH_TOKEN?: string;
  /** server.banner text; a line naming the server when absent. */
  BANNER?: string;
  /** server.donation_address; empty when absent. */
  DONATION_ADDRESS?: string;
  /** debug, info, warn or error (default info). */
  LOG_LEVEL?: string;
  /**
   * Blocks below the tip a reorg may still replace (default 200); answers about deeper blocks
   * are cached at the edge (worker/edge-cache.ts).
   */
  REORG_LIMIT?: string | number;
  /** The indexer's broadcast relay (indexer/relay.ts), e.g. https://relay.example/broadcast. */
  RELAY_URL?: string;
  /** Secret bearer token of the relay (wrangler secret put RELAY_SECRET). */
  RELAY_SECRET?: string;
}
