// End to end: `electrum-edge doctor` on an unsafe deployment in a temp dir reports each problem;
// a safe deployment passes every check.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../cli/main.ts';
import type { CliIo } from '../cli/io.ts';
import type { DoctorCheck } from '../cli/doctor-check.ts';
import { createBackup } from '../indexer/backup.ts';

const HAVE_OPENSSL = spawnSync('openssl', ['version']).status === 0;
const SERVICE_UID = 1000;

// A self-signed EC certificate; `days` = -1 makes one that expired a day ago (x509 -req allows it).
function makeCertificate(dir: string, name: string, days: number): { cert: string; key: string } {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.pem`);
  const quiet = { stdio: 'ignore' as const };
  const curve = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
  const subject = ['-subj', '/CN=electrum-edge.test'];
  const request = ['-new', ...curve, '-nodes', '-keyout', key, '-out', csr, ...subject];
  execFileSync('openssl', ['req', ...request], quiet);
  const sign = ['-in', csr, '-signkey', key, '-days', String(days), '-out', cert];
  execFileSync('openssl', ['x509', '-req', ...sign], quiet);
  return { cert, key };
}

function envText(env: Record<string, string>): string {
  return Object.entries(env).map(([k, v]) => `${k}=${v}`).join('\n') + '\n';
}

interface DoctorRun {
  code: number;
  checks: DoctorCheck[];
  text: string;
  stderr: string;
}

async function runDoctor(envFile: string, uid: number): Promise<DoctorRun> {
  let out = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (t) => (out += t),
    stderr: (t) => (stderr += t),
    env: {},
    uid,
    now: () => new Date(),
  };
  const code = await main(['doctor', '--env', envFile, '--json'], io);
  const parsed = JSON.parse(out) as { ok: boolean; checks: DoctorCheck[] };
  expect(parsed.ok).toBe(code === 0);
  let text = '';
  await main(['doctor', '--env', envFile], { ...io, stdout: (t) => (text += t) });
  return { code, checks: parsed.checks, text, stderr };
}

const statusOf = (checks: DoctorCheck[], item: string): string[] =>
  checks.filter((c) => c.item === item).map((c) => c.status);

describe.skipIf(!HAVE_OPENSSL)('electrum-edge doctor', () => {
  const root = mkdtempSync(join(tmpdir(), 'ops-doctor-'));
  // Files here belong to whoever runs the tests; as root, hand them to a service uid instead.
  const runningUid = process.getuid?.() ?? SERVICE_UID;
  const serviceUid = runningUid === 0 ? SERVICE_UID : runningUid;
  const own = (path: string): void => {
    if (runningUid === 0) chownSync(path, SERVICE_UID, SERVICE_UID);
  };

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  describe('an unsafe deployment', () => {
    const dir = join(root, 'unsafe');
    let result: { code: number; checks: DoctorCheck[]; text: string };

    beforeAll(async () => {
      mkdirSync(join(dir, 'data'), { recursive: true, mode: 0o755 });
      chmodSync(join(dir, 'data'), 0o755);
      mkdirSync(join(dir, 'backups'));
      const tls = makeCertificate(dir, 'expired', -1);
      chmodSync(tls.key, 0o644);
      const envFile = join(dir, '.env');
      writeFileSync(
        envFile,
        envText({
          RPC_USER: 'admin',
          RPC_PASSWORD: 'password',
          RPC_HOST: '0.0.0.0',
          INDEX_SERVER_TOKEN: 'short',
          DAEMON_URL: 'http://127.0.0.1:7332',
          DB_DIRECTORY: join(dir, 'data'),
          SSL_CERTFILE: tls.cert,
          SSL_KEYFILE: tls.key,
          SERVICES: 'tcp://:50001,ssl://:50002',
          COST_SOFT_LIMIT: '20000',
          COST_HARD_LIMIT: '10000',
          BACKUP_DIRECTORY: join(dir, 'backups'),
          LOG_LEVEL: 'verbose',
        })
      );
      chmodSync(envFile, 0o644);
      result = await runDoctor(envFile, 0);
    });

    it('exits 1', () => {
      expect(result.code).toBe(1);
    });

    it.each([
      ['RPC_USER', 'fail'],
      ['RPC_PASSWORD', 'fail'],
      ['INDEX_SERVER_TOKEN', 'fail'],
      ['DAEMON_URL', 'fail'],
      ['RPC_HOST', 'fail'],
      ['user', 'fail'],
      ['env file', 'fail'],
      ['data directory', 'fail'],
      ['certificate', 'fail'],
      ['SSL_KEYFILE', 'fail'],
      ['plain TCP', 'warn'],
      ['COST_SOFT_LIMIT', 'fail'],
      ['backups', 'fail'],
      ['LOG_LEVEL', 'fail'],
      ['ANON_LOGS', 'warn'],
    ])('reports %s as %s, with a fix', (item, status) => {
      const found = result.checks.filter((c) => c.item === item);
      expect(found.map((c) => c.status)).toContain(status);
      expect(found.every((c) => c.status === 'pass' || (c.fix ?? '') !== '')).toBe(true);
    });

    it('names the problem precisely and never prints a secret', () => {
      const byItem = (item: string) => result.checks.find((c) => c.item === item)?.message ?? '';
      expect(byItem('env file')).toMatch(/mode 0644/);
      expect(byItem('data directory')).toMatch(/mode 0755/);
      expect(byItem('certificate')).toMatch(/^expired on /);
      expect(byItem('RPC_HOST')).toContain('0.0.0.0');
      expect(result.text).toMatch(/^FAIL {2}RPC_PASSWORD/m);
      expect(result.text).toMatch(/fix: chmod 600 .*\.env/);
      expect(result.text).not.toMatch(/=password\b/);
    });
  });

  describe('a safe deployment', () => {
    const dir = join(root, 'safe');
    let envFile: string;
    const safeEnv: Record<string, string> = {};

    beforeAll(async () => {
      mkdirSync(join(dir, 'data'), { recursive: true, mode: 0o700 });
      own(join(dir, 'data'));
      const db = new Database(join(dir, 'data', 'index.db'));
      db.exec(
        'CREATE TABLE chain_state (id INTEGER PRIMARY KEY, coin TEXT, net TEXT, height INTEGER, ' +
          "tip_hash BLOB); INSERT INTO chain_state VALUES (0, 'Radiant', 'mainnet', 0, NULL)"
      );
      db.close();
      chmodSync(join(dir, 'data', 'index.db'), 0o600);
      const dbPath = join(dir, 'data', 'index.db');
      await createBackup({ dbPath, file: join(dir, 'backups', 'today.db') });
      const tls = makeCertificate(dir, 'valid', 90);
      chmodSync(tls.key, 0o600);
      Object.assign(safeEnv, {
        RPC_USER: 'ops-7f3a',
        RPC_PASSWORD: '3f9c1e7a2b8d4c60a1e5f7b9',
        RPC_HOST: '127.0.0.1',
        PROMETHEUS_HOST: '127.0.0.1',
        INDEX_SERVER_TOKEN: 'c0ffee12d00d4b1ea7e5aa90',
        DAEMON_URL: 'http://radiant:9e8d7c6b5a4f3e2d1c0b@127.0.0.1:7332',
        DB_DIRECTORY: join(dir, 'data'),
        SSL_CERTFILE: tls.cert,
        SSL_KEYFILE: tls.key,
        SERVICES: 'ssl://:50002,wss://:50004',
        COST_SOFT_LIMIT: '1000',
        COST_HARD_LIMIT: '10000',
        BACKUP_DIRECTORY: join(dir, 'backups'),
        LOG_LEVEL: 'info',
        ANON_LOGS: '1',
      });
      envFile = join(dir, '.env');
      writeFileSync(envFile, envText(safeEnv), { mode: 0o600 });
    });

    it('passes every check and exits 0', async () => {
      const { code, checks } = await runDoctor(envFile, serviceUid);
      expect(checks.filter((c) => c.status !== 'pass')).toEqual([]);
      expect(code).toBe(0);
    });

    it('warns, without failing, on a certificate that expires within 14 days', async () => {
      const soon = makeCertificate(dir, 'soon', 5);
      chmodSync(soon.key, 0o600);
      const file = join(dir, 'soon.env');
      const env = { ...safeEnv, SSL_CERTFILE: soon.cert, SSL_KEYFILE: soon.key };
      writeFileSync(file, envText(env), { mode: 0o600 });
      const { code, checks } = await runDoctor(file, serviceUid);
      expect(statusOf(checks, 'certificate')).toEqual(['warn']);
      expect(checks.find((c) => c.item === 'certificate')?.message).toMatch(/expires in [45] day/);
      expect(code).toBe(0);
    });

    it('fails a key that does not belong to the certificate', async () => {
      const other = makeCertificate(dir, 'other', 90);
      chmodSync(other.key, 0o600);
      const file = join(dir, 'mismatch.env');
      writeFileSync(file, envText({ ...safeEnv, SSL_KEYFILE: other.key }), { mode: 0o600 });
      const { code, checks } = await runDoctor(file, serviceUid);
      expect(checks.find((c) => c.item === 'SSL_KEYFILE' && c.status === 'fail')?.message).toMatch(
        /does not belong/
      );
      expect(code).toBe(1);
    });

    it('refuses a line holding two assignments (a password would go into RPC_USER)', async () => {
      const file = join(dir, 'two-per-line.env');
      const { RPC_USER: user, RPC_PASSWORD: password, ...rest } = safeEnv;
      const text = `export RPC_USER=${user} RPC_PASSWORD=${password}\n${envText(rest)}`;
      writeFileSync(file, text, { mode: 0o600 });
      const { code, checks, text: report, stderr } = await runDoctor(file, serviceUid);
      expect(stderr).toContain('line 1 holds more than one KEY=VALUE');
      expect(checks.find((c) => c.item === 'env file lines')).toMatchObject({
        status: 'fail',
        message: 'line 1 holds more than one KEY=VALUE: one per line',
      });
      expect(statusOf(checks, 'RPC_USER')).toEqual(['fail']);
      expect(report + stderr).not.toContain(password);
      expect(code).toBe(1);
    });

    it('warns about a variable a typo away from a setting, as the indexer does', async () => {
      const file = join(dir, 'typo.env');
      writeFileSync(file, envText({ ...safeEnv, FLUSH_BLOCK: '5' }), { mode: 0o600 });
      const { code, checks } = await runDoctor(file, serviceUid);
      expect(checks.find((c) => c.item === 'unknown settings')).toMatchObject({
        status: 'warn',
        message: 'FLUSH_BLOCK (did you mean FLUSH_BLOCKS?)',
      });
      expect(code).toBe(0);
    });

    // A malformed setting is one of the failed checks (exit 1), reported with all the others;
    // exit 2 is for a doctor that could not run (usage, unreadable --env file).
    it('fails a malformed setting the indexer refuses, with exit 1', async () => {
      const file = join(dir, 'bad-port.env');
      writeFileSync(file, envText({ ...safeEnv, RPC_PORT: 'abc' }), { mode: 0o600 });
      const { code, checks } = await runDoctor(file, serviceUid);
      const settings = checks.find((c) => c.item === 'indexer settings');
      expect(settings?.status).toBe('fail');
      expect(settings?.message).toContain('RPC_PORT');
      expect(code).toBe(1);
    });

    const asRoot = it.skipIf(runningUid !== 0);
    asRoot('takes a root-owned index directory under ALLOW_ROOT=1', async () => {
      const rootDir = join(dir, 'root-data');
      mkdirSync(rootDir, { mode: 0o700 });
      const file = join(dir, 'root.env');
      const env = { ...safeEnv, DB_DIRECTORY: rootDir, ALLOW_ROOT: '1' };
      writeFileSync(file, envText(env), { mode: 0o600 });
      const { code, checks } = await runDoctor(file, 0);
      expect(statusOf(checks, 'user')).toEqual(['warn']);
      expect(statusOf(checks, 'data directory')).toEqual(['pass']);
      expect(code).toBe(0);
    });

    it('downgrades a public bind to a warning when ALLOW_PUBLIC_RPC=1', async () => {
      const file = join(dir, 'public.env');
      const env = { ...safeEnv, PROMETHEUS_HOST: '0.0.0.0', ALLOW_PUBLIC_RPC: '1' };
      writeFileSync(file, envText(env), { mode: 0o600 });
      const { code, checks } = await runDoctor(file, serviceUid);
      expect(statusOf(checks, 'PROMETHEUS_HOST')).toEqual(['warn']);
      expect(code).toBe(0);
    });

    it('fails when the newest backup is older than BACKUP_RETENTION_DAYS', async () => {
      const file = join(dir, 'stale.env');
      writeFileSync(file, envText(safeEnv), { mode: 0o600 });
      let out = '';
      const io: CliIo = {
        stdout: (t) => (out += t),
        stderr: () => undefined,
        env: {},
        uid: serviceUid,
        now: () => new Date(Date.now() + 10 * 86_400_000),
      };
      expect(await main(['doctor', '--env', file, '--json'], io)).toBe(1);
      const checks = (JSON.parse(out) as { checks: DoctorCheck[] }).checks;
      expect(checks.find((c) => c.item === 'backups')?.message).toMatch(/10 days old \(limit 7\)/);
    });
  });
});
