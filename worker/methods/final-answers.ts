// Which answers are final (about blocks deeper than REORG_LIMIT) and their trip through the cache.
import type { RawJson } from '../../core/protocol/json.ts';
import type { MethodContext } from './context.ts';

/**
 * True when every block the answer depends on is at least `reorgLimit` blocks below the tip, so
 * no reorg the node allows (and the index can unwind) changes it. Without a reorgLimit nothing
 * is final.
 */
export function isFinal(
  context: MethodContext,
  deepestNeededHeight: number,
  tipHeight: number
): boolean {
  const limit = context.reorgLimit;
  return limit !== undefined && deepestNeededHeight <= tipHeight - limit;
}

/** A stored final answer for `key`, if the context has a cache and it holds one. */
export async function cachedAnswer(
  context: MethodContext,
  key: string
): Promise<RawJson | undefined> {
  return context.cache === undefined ? undefined : context.cache.get(key);
}

/** Stores a final answer; the caller has checked isFinal. */
export async function rememberAnswer(
  context: MethodContext,
  key: string,
  value: unknown
): Promise<void> {
  await context.cache?.put(key, value);
}
