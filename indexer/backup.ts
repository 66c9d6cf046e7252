// Online backup of the index (VACUUM INTO), checksum and manifest, pruning, and verified restore.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import {
  chmod,
  copyFile,
  mkdir,
  open,
  readFile,
  readdir,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { hashToHex } from '../core/bytes.ts';

/** The `format` field of every manifest we write; pruning touches nothing without it. */
export const BACKUP_FORMAT = 'electrum-edge-backup/1';

/** `<file>.json`: what a backup holds, written after the backup and its checksum are complete. */
export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  /** The backup's file name, in the manifest's directory. */
  file: string;
  /** ISO 8601, UTC. */
  created_at: string;
  /** SHA-256 of the backup file, hex. */
  sha256: string;
  size_bytes: number;
  coin: string;
  net: string;
  tip_height: number;
  /** Display hex (reversed), null for an empty index. */
  tip_hash: string | null;
}

/** A backup or restore that cannot go ahead; the message says why and what to do. */
export class BackupError extends Error {
  override name = 'BackupError';
}

/** Backup settings from the environment. */
export interface BackupSettings {
  /** BACKUP_DIRECTORY: where `electrum-edge backup` writes when given no file. */
  directory: string | undefined;
  /** BACKUP_RETENTION_DAYS (default 7; 0 keeps backups of any age). */
  retentionDays: number;
  /** BACKUP_KEEP (default 7; 0 keeps any number). */
  keep: number;
}

function nonNegativeInteger(
  env: Record<string, string | undefined>,
  name: string,
  fallback: number
): number {
  const raw = env[name]?.trim() ?? '';
  if (raw === '') return fallback;
  if (!/^\d{1,6}$/.test(raw)) {
    throw new BackupError(`${name} must be a whole number, got "${raw.slice(0, 20)}"`);
  }
  return Number(raw);
}

/** Reads BACKUP_DIRECTORY, BACKUP_RETENTION_DAYS and BACKUP_KEEP. */
export function backupSettings(env: Record<string, string | undefined>): BackupSettings {
  const directory = env['BACKUP_DIRECTORY']?.trim();
  return {
    directory: directory === undefined || directory === '' ? undefined : resolve(directory),
    retentionDays: nonNegativeInteger(env, 'BACKUP_RETENTION_DAYS', 7),
    keep: nonNegativeInteger(env, 'BACKUP_KEEP', 7),
  };
}

/**
 * The index file named by DB_DIRECTORY (`index.db` inside) or a `file:` DB_URL, the same rules
 * as indexer/config.ts; undefined when neither is set.
 */
export function dbPathFromEnv(env: Record<string, string | undefined>): string | undefined {
  const directory = env['DB_DIRECTORY']?.trim();
  if (directory !== undefined && directory !== '') return join(resolve(directory), 'index.db');
  const url = env['DB_URL']?.trim();
  if (url === undefined || url === '') return undefined;
  if (!url.startsWith('file:')) {
    throw new BackupError('DB_URL must be a file: URL to back up or restore');
  }
  const path = url.startsWith('file://') ? fileURLToPath(url) : url.slice('file:'.length);
  return isAbsolute(path) ? path : resolve(path);
}

/** SHA-256 of a file, hex, read as a stream (indexes are gigabytes). */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

interface ChainStateRow {
  coin: string;
  net: string;
  height: number;
  tip_hash: Uint8Array | null;
}

/** What chain_state says about a database file, after SQLite's quick_check passed. */
interface IndexTip {
  coin: string;
  net: string;
  height: number;
  tipHash: string | null;
}

function readCheckedTip(path: string): IndexTip {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const check = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') {
      throw new BackupError(`${path} fails SQLite's quick_check: ${String(check).slice(0, 200)}`);
    }
    const row = db
      .prepare('SELECT coin, net, height, tip_hash FROM chain_state WHERE id = 0')
      .get() as ChainStateRow | undefined;
    if (row === undefined) {
      throw new BackupError(`${path} has no chain_state row: not an electrum-edge index`);
    }
    const tipHash = row.tip_hash === null ? null : hashToHex(new Uint8Array(row.tip_hash));
    return { coin: row.coin, net: row.net, height: row.height, tipHash };
  } finally {
    db.close();
  }
}

/** The sidecar files of a backup. */
export function backupSidecars(file: string): { checksum: string; manifest: string } {
  return { checksum: `${file}.sha256`, manifest: `${file}.json` };
}

/** Options of `createBackup`. */
export interface CreateBackupOptions {
  /** The live index file. */
  dbPath: string;
  /** Where the backup goes; must not exist yet. */
  file: string;
  retentionDays?: number;
  keep?: number;
  now?: () => Date;
}

/** What `createBackup` did. */
export interface BackupResult {
  file: string;
  manifest: BackupManifest;
  /** Older backups removed from the same directory. */
  pruned: string[];
}

// VACUUM INTO reads inside one transaction, so the copy is one committed state even while the
// indexer keeps committing (in WAL mode it does not block the writer). The online backup API
// would restart on every commit by another process and might never finish.
function vacuumInto(dbPath: string, target: string): void {
  const db = new Database(dbPath, { fileMustExist: true, timeout: 10_000 });
  try {
    db.prepare('VACUUM INTO ?').run(target);
  } finally {
    db.close();
  }
}

// What a backup that was killed leaves: `<file>.partial-<pid>` and its `-journal`.
const PARTIAL_PATTERN = /\.partial-(\d+)(?:-journal)?$/;

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
}

// Removes the partial copies of backups whose process is gone (killed mid-copy).
async function removeDeadPartials(directory: string): Promise<void> {
  for (const name of await readdir(directory)) {
    const pid = Number(PARTIAL_PATTERN.exec(name)?.[1] ?? 0);
    if (pid > 0 && !isRunning(pid)) await rm(join(directory, name), { force: true });
  }
}

/**
 * Takes a consistent copy of the live index into `file` (0600), then writes `<file>.sha256`
 * (sha256sum format) and `<file>.json` (tip height and hash, checksum, created_at), and prunes
 * older backups in that directory beyond `keep` or older than `retentionDays`.
 * @throws BackupError when `file` exists or the copy fails SQLite's quick_check.
 */
export async function createBackup(options: CreateBackupOptions): Promise<BackupResult> {
  const file = resolve(options.file);
  const sidecars = backupSidecars(file);
  if ((await exists(file)) || (await exists(sidecars.manifest))) {
    throw new BackupError(`${file} already exists; choose a new name`);
  }
  if (!(await exists(options.dbPath))) throw new BackupError(`no index at ${options.dbPath}`);
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await removeDeadPartials(dirname(file));
  const partial = `${file}.partial-${process.pid}`;
  try {
    // Made empty and 0600 first (VACUUM INTO takes an empty file): the copy is never readable
    // by others, not even while it is written, and SQLite gives its journal the same mode.
    await writeFile(partial, '', { mode: 0o600, flag: 'wx' });
    vacuumInto(options.dbPath, partial);
    await chmod(partial, 0o600);
    const tip = readCheckedTip(partial);
    await fsyncFile(partial);
    await rename(partial, file);
    const manifest = await writeSidecars(file, tip, (options.now ?? (() => new Date()))());
    const pruned = await pruneBackups(dirname(file), {
      retentionDays: options.retentionDays ?? 7,
      keep: options.keep ?? 7,
      now: options.now,
      protect: basename(file),
    });
    return { file, manifest, pruned };
  } finally {
    await rm(partial, { force: true });
  }
}

async function writeSidecars(
  file: string,
  tip: IndexTip,
  createdAt: Date
): Promise<BackupManifest> {
  const sidecars = backupSidecars(file);
  const sha256 = await sha256File(file);
  const manifest: BackupManifest = {
    format: BACKUP_FORMAT,
    file: basename(file),
    created_at: createdAt.toISOString(),
    sha256,
    size_bytes: (await stat(file)).size,
    coin: tip.coin,
    net: tip.net,
    tip_height: tip.height,
    tip_hash: tip.tipHash,
  };
  await writeFile(sidecars.checksum, `${sha256}  ${basename(file)}\n`, { mode: 0o600 });
  // The manifest goes last: its presence marks a complete backup.
  await writeFile(sidecars.manifest, `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
  return manifest;
}

function isManifest(value: unknown, jsonName: string): value is BackupManifest {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Record<string, unknown>;
  return (
    m['format'] === BACKUP_FORMAT &&
    typeof m['file'] === 'string' &&
    `${m['file']}.json` === jsonName &&
    typeof m['created_at'] === 'string' &&
    !Number.isNaN(Date.parse(m['created_at']))
  );
}

/** Reads `<file>.json`; undefined when it is missing or not one of ours. */
export async function readManifest(file: string): Promise<BackupManifest | undefined> {
  const path = backupSidecars(file).manifest;
  try {
    const parsed: unknown = JSON.parse(await readFile(path, 'utf8'));
    return isManifest(parsed, basename(path)) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** A backup found in a directory. */
export interface ListedBackup {
  file: string;
  manifest: BackupManifest;
}

/** Every backup in `directory` with a manifest of ours, newest first. */
export async function listBackups(directory: string): Promise<ListedBackup[]> {
  const names = await readdir(directory).catch(() => [] as string[]);
  const found: ListedBackup[] = [];
  for (const name of names) {
    if (!name.endsWith('.json')) continue;
    const file = join(directory, name.slice(0, -'.json'.length));
    const manifest = await readManifest(file);
    if (manifest !== undefined) found.push({ file, manifest });
  }
  const timeMs = (backup: ListedBackup): number => Date.parse(backup.manifest.created_at);
  return found.sort((a, b) => timeMs(b) - timeMs(a));
}

/** Options of `pruneBackups`. */
export interface PruneOptions {
  retentionDays: number;
  keep: number;
  now?: () => Date;
  /** A file name never removed (the backup just taken). */
  protect?: string;
}

/**
 * Removes backups (file, .sha256, .json) in `directory` beyond the newest `keep` or older than
 * `retentionDays`; 0 turns either rule off. Files without a manifest of ours are never touched.
 */
export async function pruneBackups(directory: string, options: PruneOptions): Promise<string[]> {
  const nowMs = (options.now ?? (() => new Date()))().getTime();
  const maxAgeMs = options.retentionDays * 86_400_000;
  const removed: string[] = [];
  const backups = await listBackups(directory);
  for (const [rank, backup] of backups.entries()) {
    if (backup.manifest.file === options.protect) continue;
    const tooMany = options.keep > 0 && rank >= options.keep;
    const tooOld = maxAgeMs > 0 && nowMs - Date.parse(backup.manifest.created_at) > maxAgeMs;
    if (!tooMany && !tooOld) continue;
    const sidecars = backupSidecars(backup.file);
    // Manifest first: a half-removed backup must not look complete.
    await rm(sidecars.manifest, { force: true });
    await rm(backup.file, { force: true });
    await rm(sidecars.checksum, { force: true });
    removed.push(backup.file);
  }
  return removed;
}

/**
 * Checks `file` against `<file>.sha256` (and the manifest's checksum when present).
 * @throws BackupError when the checksum file is missing or malformed, or the digest differs.
 */
export async function verifyBackupChecksum(
  file: string
): Promise<{ sha256: string; manifest?: BackupManifest }> {
  const checksumPath = backupSidecars(file).checksum;
  const text = await readFile(checksumPath, 'utf8').catch(() => {
    throw new BackupError(`${checksumPath} is missing; cannot verify the backup`);
  });
  const expected = /^([0-9a-f]{64})\s/.exec(text)?.[1];
  if (expected === undefined) throw new BackupError(`${checksumPath} holds no SHA-256 digest`);
  const actual = await sha256File(file);
  if (actual !== expected) {
    throw new BackupError(
      `${file} does not match ${checksumPath} (got ${actual.slice(0, 16)}…): corrupt or altered`
    );
  }
  const manifest = await readManifest(file);
  if (manifest !== undefined && manifest.sha256 !== actual) {
    throw new BackupError(`${file} does not match the checksum in its manifest`);
  }
  return manifest === undefined ? { sha256: actual } : { sha256: actual, manifest };
}

/**
 * True when another connection has the index open or is writing it. The index runs in WAL mode
 * (indexer/db.ts), where leaving WAL needs the only connection to the file, so an idle indexer
 * or index server is seen too; BEGIN IMMEDIATE catches a writer in rollback-journal mode.
 * The probe leaves the file in WAL mode as it found it.
 */
export function isDatabaseInUse(dbPath: string): boolean {
  if (!existsSync(dbPath)) return false;
  const db = new Database(dbPath, { fileMustExist: true, timeout: 0 });
  try {
    db.exec('BEGIN IMMEDIATE; ROLLBACK');
    const mode = db.pragma('journal_mode', { simple: true });
    if (mode === 'wal') {
      db.pragma('journal_mode = DELETE');
      db.pragma('journal_mode = WAL');
    }
    return false;
  } catch (error) {
    if ((error as { code?: string }).code === 'SQLITE_BUSY') return true;
    throw error;
  } finally {
    db.close();
  }
}

/** What `restoreBackup` did. */
export interface RestoreResult {
  dbPath: string;
  sha256: string;
  tipHeight: number;
  tipHash: string | null;
}

/**
 * Restores `file` to `dbPath`: verifies the checksum, refuses while the index is in use, copies
 * beside the target, checks the copy (digest, quick_check, tip equal to the manifest), swaps it
 * in atomically with the old WAL files removed, and checks the restored file once more.
 * @throws BackupError naming the problem; the existing index is untouched unless the swap ran.
 */
export async function restoreBackup(options: {
  file: string;
  dbPath: string;
}): Promise<RestoreResult> {
  const file = resolve(options.file);
  const dbPath = resolve(options.dbPath);
  const { sha256, manifest } = await verifyBackupChecksum(file);
  const inUse = `the index at ${dbPath} is in use (is the indexer running?); stop it, then restore`;
  if (isDatabaseInUse(dbPath)) throw new BackupError(inUse);
  await mkdir(dirname(dbPath), { recursive: true, mode: 0o700 });
  const staged = `${dbPath}.restore-${process.pid}`;
  try {
    await copyFile(file, staged);
    await chmod(staged, 0o600);
    if ((await sha256File(staged)) !== sha256) {
      throw new BackupError(`copying ${file} changed its bytes`);
    }
    const tip = checkTip(staged, manifest);
    await fsyncFile(staged);
    if (isDatabaseInUse(dbPath)) throw new BackupError(inUse);
    // A leftover WAL of the old index would be replayed into the restored file: remove it first.
    for (const suffix of ['-wal', '-shm', '-journal']) {
      await rm(`${dbPath}${suffix}`, { force: true });
    }
    await rename(staged, dbPath);
    checkTip(dbPath, manifest);
    return { dbPath, sha256, tipHeight: tip.height, tipHash: tip.tipHash };
  } finally {
    await rm(staged, { force: true });
  }
}

function checkTip(path: string, manifest: BackupManifest | undefined): IndexTip {
  const tip = readCheckedTip(path);
  if (manifest === undefined) return tip;
  if (tip.height !== manifest.tip_height || tip.tipHash !== manifest.tip_hash) {
    const found = `height ${tip.height} (${tip.tipHash ?? 'no tip'})`;
    throw new BackupError(
      `${path} holds ${found} but its manifest says ${manifest.tip_height}: not that backup`
    );
  }
  return tip;
}
