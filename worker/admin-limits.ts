// Admin routes of the limits: the runtime deny and allow lists, and one IP group's budget.
//   GET    /admin/limits/lists                     both lists (vars, runtime), sessions open
//   POST   /admin/limits/lists/{deny|allow}        {"cidr": "203.0.113.0/24"} adds an entry
//   DELETE /admin/limits/lists/{deny|allow}?cidr=  removes a runtime entry
//   GET    /admin/limits/groups?ip=203.0.113.9     the figures of that address's group
import { Hono, type Context } from 'hono';
import type { EnvWithLimits } from './limits/limits-env.ts';
import { decideAccess } from './limits/access-rules.ts';
import { forgetAccessCache } from './limits/access.ts';
import { parseCidr, type CidrBlock } from './limits/cidr.ts';
import { parseIp } from './limits/ip-address.ts';
import { limitsConfig } from './limits/limits-config.ts';
import { REGISTRY_NAME, type AccessListName } from './limits/registry.ts';

type AdminContext = Context<{ Bindings: EnvWithLimits }>;

/** The routes, mounted at /admin/limits. */
export const adminLimitRoutes = new Hono<{ Bindings: EnvWithLimits }>();

function registry(env: EnvWithLimits) {
  return env.LIMITS_REGISTRY.get(env.LIMITS_REGISTRY.idFromName(REGISTRY_NAME));
}

function listName(text: string): AccessListName | null {
  return text === 'deny' || text === 'allow' ? text : null;
}

function configured(env: EnvWithLimits, name: AccessListName): readonly CidrBlock[] {
  const { settings } = limitsConfig(env);
  return name === 'deny' ? settings.denyCidrs : settings.exemptCidrs;
}

// The CIDR from ?cidr= or a JSON body {"cidr": ...}; a RangeError text when it is not one.
async function requestedCidr(c: AdminContext): Promise<CidrBlock | string> {
  let text = c.req.query('cidr');
  if (text === undefined && c.req.header('Content-Type')?.includes('application/json')) {
    const body: unknown = await c.req.json().catch(() => null);
    const isObject = typeof body === 'object' && body !== null;
    const cidr = isObject ? (body as Record<string, unknown>).cidr : undefined;
    text = typeof cidr === 'string' ? cidr : undefined;
  }
  if (text === undefined) return 'give the network as ?cidr= or a JSON body {"cidr": "..."}';
  try {
    return parseCidr(text);
  } catch (error) {
    return error instanceof Error ? error.message : 'not a CIDR';
  }
}

adminLimitRoutes.get('/lists', async (c) => {
  const snapshot = await registry(c.env).snapshot();
  const entries = (name: AccessListName, runtime: readonly string[]) => [
    ...configured(c.env, name).map((block) => ({ cidr: block.text, source: 'vars' })),
    ...runtime.map((cidr) => ({ cidr, source: 'runtime' })),
  ];
  return c.json({
    deny: entries('deny', snapshot.deny),
    allow: entries('allow', snapshot.allow),
    sessionsOpen: snapshot.sessionsOpen,
  });
});

adminLimitRoutes.post('/lists/:list', async (c) => {
  const name = listName(c.req.param('list'));
  if (name === null) return c.json({ error: 'the list is "deny" or "allow"' }, 404);
  const block = await requestedCidr(c);
  if (typeof block === 'string') return c.json({ error: block }, 400);
  const added = await registry(c.env).addEntry(name, block.text);
  forgetAccessCache();
  return c.json({ list: name, cidr: block.text, added }, added ? 201 : 200);
});

adminLimitRoutes.delete('/lists/:list', async (c) => {
  const name = listName(c.req.param('list'));
  if (name === null) return c.json({ error: 'the list is "deny" or "allow"' }, 404);
  const block = await requestedCidr(c);
  if (typeof block === 'string') return c.json({ error: block }, 400);
  const removed = await registry(c.env).removeEntry(name, block.text);
  forgetAccessCache();
  if (!removed && configured(c.env, name).some((entry) => entry.text === block.text)) {
    const variable = name === 'deny' ? 'DENY_CIDRS' : 'RATE_LIMIT_EXEMPT';
    return c.json({ error: `${block.text} comes from ${variable}; change the var instead` }, 409);
  }
  return c.json({ list: name, cidr: block.text, removed }, removed ? 200 : 404);
});

adminLimitRoutes.get('/groups', async (c) => {
  const address = parseIp(c.req.query('ip') ?? '');
  if (address === null) return c.json({ error: 'give a client address as ?ip=' }, 400);
  const { settings } = limitsConfig(c.env);
  const access = decideAccess(address, settings, { deny: [], allow: [], sessionsOpen: 0 });
  if (access.kind !== 'limited') return c.json({ access: access.kind });
  const limiter = c.env.LIMITER.get(c.env.LIMITER.idFromName(access.group));
  const view = await limiter.inspect();
  if (view === null) return c.json({ group: access.group, cost: 0, sessions: 0, subscriptions: 0 });
  return c.json(view);
});
