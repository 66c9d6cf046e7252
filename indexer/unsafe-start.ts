// Refuses to start an indexer with unsafe settings: weak credentials, public admin ports, root.
import { isIP } from 'node:net';
import { isTruthySetting } from './logger.ts';
import { isWellKnownCredential } from './well-known-credentials.ts';

type Env = Record<string, string | undefined>;

/** One reason not to start: `message` is `problem; fix`, and names the setting. */
export interface Refusal {
  setting: string;
  problem: string;
  fix: string;
  message: string;
}

/** Passwords and tokens shorter than this are refused (DESIGN §7). */
export const MIN_SECRET_CHARS = 16;
// A 16-character value built from 2 or 3 symbols ("abababab...") is no stronger than a short one.
const MIN_DISTINCT_CHARS = 8;

/**
 * Why `value` is not acceptable as the secret named `setting`, or undefined when it is. The value
 * itself never appears in the text (it may be logged).
 */
export function secretProblem(
  setting: string,
  value: string,
  userName?: string
): string | undefined {
  if (value === '') return `${setting} is empty`;
  if (isWellKnownCredential(value)) return `${setting} is a well-known default`;
  if (userName !== undefined && value.toLowerCase() === userName.toLowerCase()) {
    return `${setting} equals the user name`;
  }
  if (value.length < MIN_SECRET_CHARS) {
    return `${setting} has ${value.length} characters, fewer than ${MIN_SECRET_CHARS}`;
  }
  if (new Set(value).size < MIN_DISTINCT_CHARS) {
    return `${setting} repeats fewer than ${MIN_DISTINCT_CHARS} distinct characters`;
  }
  return undefined;
}

const secretFix = (setting: string): string =>
  `set ${setting} to a random value, e.g. \`openssl rand -hex 24\``;

function refusal(setting: string, problem: string, fix: string): Refusal {
  return { setting, problem, fix, message: `${problem}; ${fix}` };
}

/** Why `value` is not acceptable as the user name in `setting`, or undefined. */
export function userNameProblem(setting: string, value: string): string | undefined {
  if (value === '') return `${setting} is empty`;
  if (isWellKnownCredential(value)) return `${setting} is a well-known default user name`;
  return undefined;
}

/**
 * True for addresses only this machine can reach: 127.0.0.0/8, ::1 (also bracketed or
 * IPv4-mapped) and `localhost`. 0.0.0.0 and :: mean every interface, so they are public.
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.trim().replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (bare === 'localhost') return true;
  const unmapped = bare.startsWith('::ffff:') ? bare.slice('::ffff:'.length) : bare;
  if (isIP(unmapped) === 4) return unmapped.startsWith('127.');
  return isIP(bare) === 6 && /^(0{0,4}:){7}0{0,3}1$|^::1$/.test(bare);
}

function setting(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** The interfaces that must stay on loopback unless ALLOW_PUBLIC_RPC=1. */
export const LOOPBACK_SETTINGS: readonly string[] = [
  'RPC_HOST',
  'PROMETHEUS_HOST',
  'INDEX_SERVER_HOST',
];

function hostRefusals(env: Env): Refusal[] {
  if (isTruthySetting(env['ALLOW_PUBLIC_RPC'])) return [];
  const refusals: Refusal[] = [];
  for (const name of LOOPBACK_SETTINGS) {
    const host = setting(env, name);
    if (host === undefined || isLoopbackHost(host)) continue;
    refusals.push(
      refusal(
        name,
        `${name} is ${host.slice(0, 60)}, not a loopback address`,
        'bind it to 127.0.0.1 and reach it through SSH or a tunnel, or set ALLOW_PUBLIC_RPC=1 ' +
          'if a firewall guards it'
      )
    );
  }
  return refusals;
}

function adminCredentialRefusals(env: Env): Refusal[] {
  const refusals: Refusal[] = [];
  const user = env['RPC_USER']?.trim() ?? '';
  const userIssue = userNameProblem('RPC_USER', user);
  if (userIssue !== undefined) {
    refusals.push(refusal('RPC_USER', userIssue, 'choose an admin user name of your own'));
  }
  const passwordIssue = secretProblem('RPC_PASSWORD', env['RPC_PASSWORD'] ?? '', user || undefined);
  if (passwordIssue !== undefined) {
    refusals.push(refusal('RPC_PASSWORD', passwordIssue, secretFix('RPC_PASSWORD')));
  }
  const tokenIssue = secretProblem('INDEX_SERVER_TOKEN', env['INDEX_SERVER_TOKEN']?.trim() ?? '');
  if (tokenIssue !== undefined) {
    refusals.push(refusal('INDEX_SERVER_TOKEN', tokenIssue, secretFix('INDEX_SERVER_TOKEN')));
  }
  return [...refusals, ...relayRefusals(env)];
}

// The broadcast relay is optional; once RELAY_PORT or RELAY_SECRET is set, its secret is held
// to the same rules. RELAY_HOST may be public on purpose: a deployed Worker reaches the relay
// over the internet (DESIGN §9), and the secret guards it.
function relayRefusals(env: Env): Refusal[] {
  if (setting(env, 'RELAY_PORT') === undefined && setting(env, 'RELAY_SECRET') === undefined) {
    return [];
  }
  const issue = secretProblem('RELAY_SECRET', env['RELAY_SECRET']?.trim() ?? '');
  return issue === undefined ? [] : [refusal('RELAY_SECRET', issue, secretFix('RELAY_SECRET'))];
}

/**
 * The node's credentials: a URL without them is refused, and its password is held to the same
 * rules as ours (a node RPC password can move the node wallet's coins). The node's user name is
 * not checked: packages and cookie auth (`__cookie__`) fix it, and it is not the secret.
 */
function daemonRefusals(env: Env): Refusal[] {
  const raw = setting(env, 'DAEMON_URL');
  const fix = 'use http://user:password@host:port with the rpcuser/rpcpassword of the node';
  if (raw === undefined) return [refusal('DAEMON_URL', 'DAEMON_URL is not set', fix)];
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return [refusal('DAEMON_URL', 'DAEMON_URL is not a URL', fix)];
  }
  // `user:pass@host:port` parses as a URL of scheme "user:"; its credentials are not missing.
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return [refusal('DAEMON_URL', 'DAEMON_URL must start with http:// or https://', fix)];
  }
  if (url.username === '' || url.password === '') {
    return [refusal('DAEMON_URL', 'DAEMON_URL has no credentials', fix)];
  }
  const user = decodeURIComponent(url.username);
  const issue = secretProblem('the password in DAEMON_URL', decodeURIComponent(url.password), user);
  const strongFix =
    'give the node a random rpcpassword of 16+ characters (or use rpcauth) and update DAEMON_URL';
  return issue === undefined ? [] : [refusal('DAEMON_URL', issue, strongFix)];
}

/** Options of `checkUnsafeStart`. */
export interface UnsafeStartOptions {
  /** The effective user id; `process.getuid()` where it exists. */
  uid?: number;
}

/**
 * Every reason the indexer must not start with `env` (DESIGN §7): missing, short or well-known
 * admin credentials (RPC_USER, RPC_PASSWORD), INDEX_SERVER_TOKEN, RELAY_SECRET (when the relay
 * is on) or node password; a DAEMON_URL
 * without credentials; RPC_HOST, PROMETHEUS_HOST or INDEX_SERVER_HOST off loopback unless
 * ALLOW_PUBLIC_RPC=1; uid 0 unless ALLOW_ROOT=1. Empty when the start is safe.
 */
export function checkUnsafeStart(env: Env, options: UnsafeStartOptions = {}): Refusal[] {
  const refusals = [...adminCredentialRefusals(env), ...daemonRefusals(env), ...hostRefusals(env)];
  const uid = options.uid ?? process.getuid?.();
  if (uid === 0 && !isTruthySetting(env['ALLOW_ROOT'])) {
    refusals.push(
      refusal(
        'ALLOW_ROOT',
        'running as root (uid 0)',
        'run as an unprivileged user, or set ALLOW_ROOT=1 to insist'
      )
    );
  }
  return refusals;
}

/** One line per refusal, for the error the indexer exits with. */
export function formatRefusals(refusals: readonly Refusal[]): string {
  const lines = refusals.map((refusal) => `  - ${refusal.message}`);
  return [`refusing to start: ${refusals.length} unsafe setting(s)`, ...lines].join('\n');
}
