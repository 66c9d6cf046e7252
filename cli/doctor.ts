// `electrum-edge doctor`: checks a deployment and reports pass / warn / fail per item with a fix.
import { statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { dbPathFromEnv } from '../indexer/backup.ts';
import {
  ConfigError,
  daemonUrlSchemeProblem,
  loadConfig,
  misspelledSettings,
} from '../indexer/config.ts';
import { isTruthySetting } from '../indexer/logger.ts';
import {
  LOOPBACK_SETTINGS,
  checkUnsafeStart,
  isLoopbackHost,
  type Refusal,
} from '../indexer/unsafe-start.ts';
import { UsageError, parseArgs } from './args.ts';
import { type DoctorCheck, fail, octalMode, pass, warn } from './doctor-check.ts';
import { backupChecks, loggingChecks, rateLimitChecks } from './doctor-settings.ts';
import { tlsChecks } from './doctor-tls.ts';
import { readEnvFile } from './env-file.ts';
import type { CliIo } from './io.ts';

type Env = Record<string, string | undefined>;

/** What the doctor looks at. */
export interface DoctorContext {
  env: Env;
  /** The env file the settings came from, if any; its permissions are checked. */
  envFile?: string;
  /** The effective uid of the service; the running user's when omitted. */
  uid: number | undefined;
  now: Date;
}

const CREDENTIAL_SETTINGS = ['RPC_USER', 'RPC_PASSWORD', 'INDEX_SERVER_TOKEN', 'DAEMON_URL'];

// The unsafe-start rules, one line per setting, so the doctor and the indexer never disagree.
function startChecks(ctx: DoctorContext): DoctorCheck[] {
  const refusals = checkUnsafeStart(ctx.env, { uid: ctx.uid ?? -1 });
  const refusalOf = (setting: string) => refusals.find((r) => r.setting === setting);
  const checks: DoctorCheck[] = [];
  for (const setting of CREDENTIAL_SETTINGS) {
    const found = refusalOf(setting);
    const schemeProblem =
      setting === 'DAEMON_URL' ? daemonUrlSchemeProblem(ctx.env[setting]) : undefined;
    if (schemeProblem !== undefined) {
      checks.push(fail(setting, schemeProblem, 'add http:// (or https://) before user:password@'));
    } else if (found === undefined) checks.push(pass(setting, 'set and strong'));
    else checks.push(fail(setting, found.problem, found.fix));
  }
  for (const setting of LOOPBACK_SETTINGS) {
    const host = ctx.env[setting]?.trim() || '127.0.0.1';
    const found = refusalOf(setting);
    if (found !== undefined) {
      checks.push(fail(setting, found.problem, found.fix));
    } else if (!isLoopbackHost(host)) {
      const fix = 'firewall the port, or bind 127.0.0.1';
      checks.push(warn(setting, `${host} is public (ALLOW_PUBLIC_RPC=1)`, fix));
    } else {
      checks.push(pass(setting, `on loopback (${host})`));
    }
  }
  checks.push(userCheck(ctx, refusalOf('ALLOW_ROOT')));
  return checks;
}

function userCheck(ctx: DoctorContext, root: Refusal | undefined): DoctorCheck {
  const fix = 'run as a dedicated unprivileged user, e.g. uid 1000';
  if (root !== undefined) return fail('user', root.problem, fix);
  if (ctx.uid === 0) return warn('user', 'runs as root (ALLOW_ROOT=1)', fix);
  return pass('user', `not root (uid ${ctx.uid ?? 'unknown'})`);
}

function statOf(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function envFileChecks(ctx: DoctorContext): DoctorCheck[] {
  if (ctx.envFile === undefined) {
    const message = 'no --env FILE given: its permissions were not checked';
    return [warn('env file', message, 'run doctor --env /path/to/.env')];
  }
  const stats = statOf(ctx.envFile);
  if (stats === undefined) {
    return [fail('env file', `${ctx.envFile} cannot be read`, 'check the path')];
  }
  if ((stats.mode & 0o077) !== 0) {
    const message = `${ctx.envFile} is mode ${octalMode(stats.mode)}: others can read its secrets`;
    return [fail('env file', message, `chmod 600 ${ctx.envFile}`)];
  }
  return [pass('env file', `${ctx.envFile} is mode ${octalMode(stats.mode)}`)];
}

// The index directory: 0700 and owned by the service user (or at least not root when the
// doctor itself runs as root and cannot tell which user the service is).
function dataDirectoryChecks(ctx: DoctorContext): DoctorCheck[] {
  let dbPath: string | undefined;
  try {
    dbPath = dbPathFromEnv(ctx.env);
  } catch (error) {
    return [fail('data directory', (error as Error).message, 'set DB_DIRECTORY')];
  }
  if (dbPath === undefined) {
    return [fail('data directory', 'neither DB_DIRECTORY nor DB_URL is set', 'set DB_DIRECTORY')];
  }
  const directory = dirname(dbPath);
  const stats = statOf(directory);
  if (stats === undefined || !stats.isDirectory()) {
    return [fail('data directory', `${directory} does not exist`, `mkdir -m 700 ${directory}`)];
  }
  const checks: DoctorCheck[] = [];
  if ((stats.mode & 0o077) !== 0) {
    const message = `${directory} is mode ${octalMode(stats.mode)}`;
    checks.push(fail('data directory', message, `chmod 700 ${directory}`));
  }
  // Root with ALLOW_ROOT=1 is the service user (the `user` check warns about it once).
  const rootService = ctx.uid === 0 && isTruthySetting(ctx.env['ALLOW_ROOT']);
  const wrongOwner =
    ctx.uid === 0
      ? stats.uid === 0 && !rootService
      : ctx.uid !== undefined && stats.uid !== ctx.uid;
  if (wrongOwner) {
    const message = `${directory} is owned by uid ${stats.uid}, not the service user`;
    checks.push(fail('data directory', message, `chown -R <service user> ${directory}`));
  }
  const file = statOf(dbPath);
  if (file !== undefined && (file.mode & 0o077) !== 0) {
    const message = `${dbPath} is mode ${octalMode(file.mode)}`;
    checks.push(warn('index file', message, `chmod 600 ${dbPath}`));
  }
  if (checks.length === 0) {
    const message = `${directory} is mode ${octalMode(stats.mode)}, owner uid ${stats.uid}`;
    checks.push(pass('data directory', message));
  }
  return checks;
}

// The indexer's own parser (indexer/config.ts), so doctor never passes settings it refuses.
function indexerConfigCheck(ctx: DoctorContext): DoctorCheck {
  try {
    loadConfig(ctx.env);
    return pass('indexer settings', 'the indexer accepts them');
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return fail('indexer settings', error.message, 'fix that setting: the indexer will not start');
  }
}

// The indexer's own typo check (its `unknown_setting` warnings at start): a misspelled setting
// is ignored, so the setting it was meant to be keeps its default without a word. A warning,
// as in the indexer, which starts anyway.
function unknownSettingsCheck(ctx: DoctorContext): DoctorCheck {
  const typos = misspelledSettings(ctx.env);
  if (typos.length === 0) return pass('unknown settings', 'none a typo away from a setting');
  const named = typos.map(({ name, suggestion }) => `${name} (did you mean ${suggestion}?)`);
  const fix = 'rename it: the indexer ignores it and uses the default of the setting it resembles';
  return warn('unknown settings', named.join(', '), fix);
}

/** Runs every check; the order is the order of the report. */
export async function runDoctor(ctx: DoctorContext): Promise<DoctorCheck[]> {
  return [
    ...startChecks(ctx),
    indexerConfigCheck(ctx),
    unknownSettingsCheck(ctx),
    ...envFileChecks(ctx),
    ...dataDirectoryChecks(ctx),
    ...tlsChecks(ctx.env, ctx.now),
    ...rateLimitChecks(ctx.env),
    ...(await backupChecks(ctx.env, ctx.now)),
    ...loggingChecks(ctx.env),
  ];
}

const LABELS: Readonly<Record<DoctorCheck['status'], string>> = {
  pass: 'PASS',
  warn: 'WARN',
  fail: 'FAIL',
};

/** The human report: one line per check, the fix indented under warnings and failures. */
export function formatDoctorReport(checks: readonly DoctorCheck[]): string {
  const width = Math.max(...checks.map((c) => c.item.length), 4);
  const lines: string[] = [];
  for (const check of checks) {
    lines.push(`${LABELS[check.status]}  ${check.item.padEnd(width)}  ${check.message}`);
    if (check.fix === undefined || check.status === 'pass') continue;
    lines.push(`${' '.repeat(width + 8)}fix: ${check.fix}`);
  }
  const count = (status: DoctorCheck['status']) => checks.filter((c) => c.status === status).length;
  lines.push('', `${count('pass')} passed, ${count('warn')} warnings, ${count('fail')} failed`);
  return `${lines.join('\n')}\n`;
}

// A missing or unreadable env file is the operator's mistake: one line, exit 2, no stack.
function readEnvFileOrReport(
  envFile: string,
  io: CliIo
): { env: Record<string, string>; problems: string[] } | undefined {
  try {
    return readEnvFile(envFile);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? 'error'})`;
    io.stderr(`electrum-edge doctor: the env file ${envFile} ${reason}\n`);
    return undefined;
  }
}

/** Runs `doctor [--env FILE] [--json]`; exit 1 when any check fails, 2 when FILE is unreadable. */
export async function runDoctorCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, ['env'], ['json']);
  if (args.positionals.length > 0) {
    throw new UsageError('doctor takes no arguments besides --env and --json');
  }
  const envFile = args.options.get('env');
  let env: Env = io.env;
  let parsed: ReturnType<typeof readEnvFileOrReport>;
  if (envFile !== undefined) {
    parsed = readEnvFileOrReport(envFile, io);
    if (parsed === undefined) return 2;
    for (const problem of parsed.problems) io.stderr(`${envFile}: ${problem}\n`);
    env = parsed.env;
  }
  const checks = await runDoctor({ env, envFile, uid: io.uid, now: io.now() });
  if (envFile !== undefined && parsed !== undefined && parsed.problems.length > 0) {
    const fix = 'one KEY=VALUE per line, as in the README';
    checks.unshift(fail('env file lines', parsed.problems.join('; '), fix));
  }
  const failed = checks.some((check) => check.status === 'fail');
  if (args.flags.has('json')) io.stdout(`${JSON.stringify({ ok: !failed, checks }, null, 2)}\n`);
  else io.stdout(formatDoctorReport(checks));
  return failed ? 1 : 0;
}
