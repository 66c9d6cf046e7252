// Doctor checks of plain settings: rate limits (DESIGN §6), logging, and backup freshness.
import { backupSettings, listBackups } from '../indexer/backup.ts';
import { LOG_LEVEL_SETTINGS, isTruthySetting, parseLogLevel } from '../indexer/logger.ts';
import { type DoctorCheck, fail, pass, warn } from './doctor-check.ts';

type Env = Record<string, string | undefined>;

/** DESIGN §6 defaults, used when a limit is not set. */
const LIMIT_DEFAULTS: Readonly<Record<string, number>> = {
  COST_SOFT_LIMIT: 1000,
  COST_HARD_LIMIT: 10000,
  BANDWIDTH_UNIT_COST: 5000,
  INITIAL_CONCURRENT: 10,
  REQUEST_SLEEP: 2500,
  REQUEST_TIMEOUT: 30,
  SESSION_TIMEOUT: 600,
  MAX_SESSIONS: 1000,
  MAX_SEND: 8_100_000,
  MAX_RECV: 1_000_000,
};

// Limits where 0 would divide by zero, refuse every request or switch a guard off.
const NON_ZERO_LIMITS = [
  'BANDWIDTH_UNIT_COST',
  'INITIAL_CONCURRENT',
  'REQUEST_TIMEOUT',
  'SESSION_TIMEOUT',
  'MAX_SESSIONS',
  'MAX_SEND',
  'MAX_RECV',
];

const DAY_MS = 86_400_000;

function readLimits(env: Env): { limits: Map<string, number>; problems: DoctorCheck[] } {
  const limits = new Map<string, number>();
  const problems: DoctorCheck[] = [];
  for (const [name, fallback] of Object.entries(LIMIT_DEFAULTS)) {
    const raw = env[name]?.trim() ?? '';
    const value = raw === '' ? fallback : Number(raw);
    if (Number.isFinite(value) && value >= 0) {
      limits.set(name, value);
      continue;
    }
    const message = `${name} is "${raw.slice(0, 20)}", not a number >= 0`;
    problems.push(fail(name, message, `set ${name} (default ${fallback})`));
  }
  return { limits, problems };
}

/** Rate-limit settings: numbers, COST_HARD_LIMIT above COST_SOFT_LIMIT, nothing switched off. */
export function rateLimitChecks(env: Env): DoctorCheck[] {
  const { limits, problems } = readLimits(env);
  const get = (name: string): number => limits.get(name) ?? LIMIT_DEFAULTS[name] ?? 0;
  const checks = [...problems];
  const soft = get('COST_SOFT_LIMIT');
  const hard = get('COST_HARD_LIMIT');
  if (hard === 0) {
    const message = 'COST_HARD_LIMIT is 0: no session is ever cut off';
    checks.push(warn('COST_HARD_LIMIT', message, 'set COST_HARD_LIMIT (default 10000)'));
  } else if (soft >= hard) {
    const message = `COST_SOFT_LIMIT ${soft} is not below COST_HARD_LIMIT ${hard}`;
    const fix = 'keep COST_SOFT_LIMIT well below COST_HARD_LIMIT (defaults 1000 and 10000)';
    checks.push(fail('COST_SOFT_LIMIT', message, fix));
  }
  for (const name of NON_ZERO_LIMITS) {
    if (limits.get(name) !== 0) continue;
    checks.push(fail(name, `${name} is 0`, `set ${name} (default ${LIMIT_DEFAULTS[name]})`));
  }
  if (checks.length === 0) {
    const sessions = get('MAX_SESSIONS');
    checks.push(pass('rate limits', `soft ${soft}, hard ${hard}, at most ${sessions} sessions`));
  }
  return checks;
}

/** LOG_LEVEL valid and not debug in production; ANON_LOGS on. */
export function loggingChecks(env: Env): DoctorCheck[] {
  const parsed = parseLogLevel(env['LOG_LEVEL']);
  const checks: DoctorCheck[] = [];
  if (parsed.problem !== undefined) {
    const fix = `set LOG_LEVEL to one of ${LOG_LEVEL_SETTINGS.join(', ')}`;
    checks.push(fail('LOG_LEVEL', parsed.problem, fix));
  } else if (parsed.level === 'debug') {
    const message = 'LOG_LEVEL is debug: every request is logged';
    checks.push(warn('LOG_LEVEL', message, 'use info in production'));
  } else {
    checks.push(pass('LOG_LEVEL', `LOG_LEVEL is ${parsed.level}`));
  }
  if (isTruthySetting(env['ANON_LOGS'])) {
    checks.push(pass('ANON_LOGS', 'client IPs are masked in logs'));
  } else {
    checks.push(warn('ANON_LOGS', 'client IP addresses are logged in full', 'set ANON_LOGS=1'));
  }
  return checks;
}

/** A backup in BACKUP_DIRECTORY newer than BACKUP_RETENTION_DAYS (7 when that is 0). */
export async function backupChecks(env: Env, now: Date): Promise<DoctorCheck[]> {
  let settings;
  try {
    settings = backupSettings(env);
  } catch (error) {
    return [fail('backups', (error as Error).message, 'fix the backup settings')];
  }
  const schedule = 'run `electrum-edge backup` from cron or a systemd timer';
  if (settings.directory === undefined) {
    const message = 'BACKUP_DIRECTORY is not set: backups cannot be checked';
    return [warn('backups', message, `set BACKUP_DIRECTORY and ${schedule}`)];
  }
  const newest = (await listBackups(settings.directory))[0];
  if (newest === undefined) {
    return [fail('backups', `no backup in ${settings.directory}`, schedule)];
  }
  const ageDays = (now.getTime() - Date.parse(newest.manifest.created_at)) / DAY_MS;
  const limitDays = settings.retentionDays > 0 ? settings.retentionDays : 7;
  if (ageDays > limitDays) {
    const message = `newest backup is ${Math.floor(ageDays)} days old (limit ${limitDays})`;
    return [fail('backups', message, schedule)];
  }
  const { file, tip_height: height } = newest.manifest;
  return [pass('backups', `newest backup ${file}, at height ${height}`)];
}
