// Answers that can no longer change (deep headers, proofs, raw txs) kept in the Cache API.
import type { Coin } from '../core/coins.ts';
import { encodeJson, RawJson } from '../core/protocol/json.ts';
import type { AnswerCache } from './methods/context.ts';

// A synthetic origin: the key only has to be a URL unique per chain, method and parameters.
const KEY_ORIGIN = 'https://answers.electrum-edge.invalid';
// A year: the answers are immutable once deeper than REORG_LIMIT (DESIGN §2).
const CACHE_CONTROL = 'public, max-age=31536000, immutable';

/**
 * The Cache API (caches.default) behind AnswerCache. Keys carry coin, network and genesis hash,
 * so two chains never share entries. A failing cache is treated as empty: the index answers.
 */
export class EdgeAnswerCache implements AnswerCache {
  readonly #cache: Cache;
  readonly #prefix: string;
  readonly #onError: (event: string, error: unknown) => void;

  constructor(cache: Cache, coin: Coin, onError: (event: string, error: unknown) => void) {
    this.#cache = cache;
    this.#prefix = `${KEY_ORIGIN}/${coin.name}/${coin.net}/${coin.genesisHash}`;
    this.#onError = onError;
  }

  #url(key: string): string {
    return `${this.#prefix}/${encodeURIComponent(key)}`;
  }

  async get(key: string): Promise<RawJson | undefined> {
    try {
      const response = await this.#cache.match(this.#url(key));
      return response === undefined ? undefined : new RawJson(await response.text());
    } catch (error) {
      this.#onError('edge_cache_read_failed', error);
      return undefined;
    }
  }

  async put(key: string, value: unknown): Promise<void> {
    const headers = { 'Content-Type': 'application/json', 'Cache-Control': CACHE_CONTROL };
    try {
      await this.#cache.put(this.#url(key), new Response(encodeJson(value), { headers }));
    } catch (error) {
      this.#onError('edge_cache_write_failed', error);
    }
  }
}

/** The default cache of the runtime, or null where there is none (Node tests). */
export function defaultCache(): Cache | null {
  const storage = (globalThis as { caches?: { default?: Cache } }).caches;
  return storage?.default ?? null;
}
