// Bindings and vars of the notification path, and the RPC surfaces of the Hub and Session
// objects as their callers see them (declared here so neither object imports the other).
import type { Env } from './env.ts';
import type { IndexSettings } from './notify-index.ts';
import type {
  HubPosition,
  Notice,
  Registration,
  SessionWake,
  WakeResult,
} from './notify-wire.ts';

/** Which hub shard a call is for, so a hub can filter the change feed it reads itself. */
export interface ShardRef {
  index: number;
  count: number;
}

/** The Hub Durable Object's RPC methods (worker/hub.ts). */
export interface HubRpc extends Rpc.DurableObjectBranded {
  /** Applies one session's registration changes; answers the hub's feed position. */
  register(change: Registration): Promise<HubPosition>;
  /** Fans notices out to the subscribed sessions; answers the new feed position. */
  deliver(shard: ShardRef, notices: Notice[]): Promise<HubPosition>;
  position(): Promise<HubPosition>;
}

/** The Session Durable Object's wake method (worker/session.ts). */
export interface SessionRpc extends Rpc.DurableObjectBranded {
  notify(wake: SessionWake): Promise<WakeResult>;
}

/**
 * What the notification path adds to the Worker's env (wrangler.toml); kept beside the code that
 * uses it, as worker/limits/limits-env.ts is, and joined with Env where both are needed.
 */
export interface NotifyEnv {
  /** Hub Durable Objects, one per shard, named by notify-wire hubName(). */
  HUB: DurableObjectNamespace<HubRpc>;
  /** Number of hub shards, 1..256 (default 16); the same for every part of one deployment. */
  HUB_SHARDS?: string;
  /** Bearer secret of POST /internal/notify (at least 16 characters); unset = endpoint off. */
  NOTIFY_SECRET?: string;
}

/** The env of the Worker entry and of Session objects. */
export type SessionEnv = Env & NotifyEnv;

/** The env of Hub objects. */
export interface HubEnv extends IndexSettings {
  SESSION: DurableObjectNamespace<SessionRpc>;
  LOG_LEVEL?: string;
}
