// POST /internal/notify: the indexer's change notices, checked and split over the hub shards.
// GET /internal/notify: where the Worker stands in the change feed, so a restarted notifier
// resends from there. Both need `Authorization: Bearer <NOTIFY_SECRET>`.
import { Hono, type Context, type Next } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { createLogger, describeError } from './log.ts';
import type { HubRpc, SessionEnv, ShardRef } from './notify-env.ts';
import {
  hubName,
  MAX_NOTICE_BODY_BYTES,
  NoticeError,
  parseHubShards,
  parseNoticeBody,
  shardOf,
  type HubPosition,
  type Notice,
} from './notify-wire.ts';

type NotifyContext = Context<{ Bindings: SessionEnv }>;

/** Shorter secrets are refused as if unset (DESIGN §7: no weak credentials). */
export const MIN_NOTIFY_SECRET_CHARS = 16;
const BEARER = 'Bearer ';
let reportedMissingSecret = false;

async function sha256(text: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
}

// Compares digests, not the texts: equal lengths for timingSafeEqual, and the time taken says
// nothing about how much of the secret a guess got right.
async function secretMatches(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([sha256(given), sha256(expected)]);
  return crypto.subtle.timingSafeEqual(a, b);
}

async function requireSecret(c: NotifyContext, next: Next): Promise<Response | void> {
  const expected = c.env.NOTIFY_SECRET ?? '';
  if (expected.length < MIN_NOTIFY_SECRET_CHARS) {
    if (!reportedMissingSecret) {
      reportedMissingSecret = true;
      const detail = `NOTIFY_SECRET must be set, at least ${MIN_NOTIFY_SECRET_CHARS} characters`;
      createLogger(c.env.LOG_LEVEL).error('notify_not_configured', { detail });
    }
    return c.json({ ok: false, error: 'notifications are not configured' }, 503);
  }
  const header = c.req.header('Authorization') ?? '';
  const given = header.startsWith(BEARER) ? header.slice(BEARER.length) : '';
  if (!(await secretMatches(given, expected))) {
    return c.json({ ok: false, error: 'unauthorized' }, 401, { 'WWW-Authenticate': 'Bearer' });
  }
  await next();
}

function shardRefs(c: NotifyContext): ShardRef[] {
  const { shards, problem } = parseHubShards(c.env.HUB_SHARDS);
  if (problem !== null) createLogger(c.env.LOG_LEVEL).warn('bad_hub_shards', { problem });
  return Array.from({ length: shards }, (_, index) => ({ index, count: shards }));
}

function hubOf(c: NotifyContext, shard: ShardRef): DurableObjectStub<HubRpc> {
  return c.env.HUB.get(c.env.HUB.idFromName(hubName(shard.index)));
}

/** Each shard's copy of the notices: every seq, with only the script hashes of that shard. */
export function splitByShard(notices: Notice[], shards: number): Notice[][] {
  const copies: Notice[][] = Array.from({ length: shards }, () => []);
  for (const notice of notices) {
    const hashes: string[][] = Array.from({ length: shards }, () => []);
    const statuses: (string | null)[][] = Array.from({ length: shards }, () => []);
    notice.hashxes.forEach((hex, i) => {
      const shard = shardOf(hex, shards);
      hashes[shard]?.push(hex);
      statuses[shard]?.push(notice.statuses?.[i] ?? null);
    });
    copies.forEach((copy, shard) => {
      const own = notice.statuses === null ? null : (statuses[shard] ?? []);
      copy.push({ ...notice, hashxes: hashes[shard] ?? [], statuses: own });
    });
  }
  return copies;
}

// The lowest position over the hubs: what every one of them has; null seq when none has any.
function lowest(positions: HubPosition[]): { seq: number | null; tip_hash: string | null } {
  let least: HubPosition | null = null;
  for (const position of positions) {
    if (least === null || position.seq < least.seq) least = position;
  }
  if (least === null || least.seq === 0) return { seq: null, tip_hash: null };
  return { seq: least.seq, tip_hash: least.tipHash };
}

async function deliver(c: NotifyContext): Promise<Response> {
  const receivedMs = Date.now();
  let notices: Notice[];
  try {
    notices = parseNoticeBody(await c.req.text());
  } catch (error) {
    if (error instanceof NoticeError) return c.json({ ok: false, error: error.message }, 400);
    throw error;
  }
  const shards = shardRefs(c);
  const copies = splitByShard(notices, shards.length);
  const results = await Promise.allSettled(
    shards.map((shard) => hubOf(c, shard).deliver(shard, copies[shard.index] ?? []))
  );
  const positions: HubPosition[] = [];
  for (const result of results) {
    if (result.status === 'fulfilled') {
      positions.push(result.value);
      continue;
    }
    // The notifier resends the whole batch; hubs that took it skip the seqs they already have.
    createLogger(c.env.LOG_LEVEL).error('notify_hub_failed', describeError(result.reason));
    return c.json({ ok: false, error: 'a hub did not take the notices; send them again' }, 503);
  }
  const log = createLogger(c.env.LOG_LEVEL);
  if (log.debugEnabled) {
    const commitMs = notices.at(-1)?.commitMs ?? null;
    const lagMs = commitMs === null ? null : receivedMs - commitMs;
    const fields = { seq: notices.at(-1)?.seq, notices: notices.length, lag_ms: lagMs };
    log.debug('notify_routed', { ...fields, ms: Date.now() - receivedMs });
  }
  return c.json({ ok: true, ...lowest(positions) });
}

async function position(c: NotifyContext): Promise<Response> {
  const positions = await Promise.all(shardRefs(c).map((shard) => hubOf(c, shard).position()));
  return c.json({ ok: true, ...lowest(positions) });
}

/** The routes under /internal (mounted by worker/index.ts). */
export const notifyRoutes = new Hono<{ Bindings: SessionEnv }>();

notifyRoutes.use('/notify', requireSecret);
notifyRoutes.post(
  '/notify',
  bodyLimit({
    maxSize: MAX_NOTICE_BODY_BYTES,
    onError: (c) => c.json({ ok: false, error: `body over ${MAX_NOTICE_BODY_BYTES} bytes` }, 413),
  }),
  deliver
);
notifyRoutes.get('/notify', position);
