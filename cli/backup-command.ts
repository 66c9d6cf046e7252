// `electrum-edge backup [file]` and `electrum-edge restore <file> --db <path>`.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  backupSettings,
  createBackup,
  dbPathFromEnv,
  restoreBackup,
} from '../indexer/backup.ts';
import { isProcessAlive, lockPathOf, readLockPid } from '../indexer/db.ts';
import { UsageError, parseArgs } from './args.ts';
import type { CliIo } from './io.ts';

// index-20260102T030405Z.db: sorts by time, no characters a shell or a filesystem minds.
function defaultBackupName(now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  return `index-${stamp}.db`;
}

function printJson(io: CliIo, value: unknown): void {
  io.stdout(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Runs `backup`: copies the live index (DB_DIRECTORY / DB_URL, or --db) to the file given, or to
 * BACKUP_DIRECTORY/index-<time>.db, then prunes by BACKUP_KEEP and BACKUP_RETENTION_DAYS.
 */
export async function runBackupCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, ['db'], []);
  if (args.positionals.length > 1) throw new UsageError('backup takes at most one file name');
  const settings = backupSettings(io.env);
  const dbPath = args.options.get('db') ?? dbPathFromEnv(io.env);
  if (dbPath === undefined) throw new UsageError('backup needs --db PATH, DB_DIRECTORY or DB_URL');
  let file = args.positionals[0];
  if (file === undefined) {
    if (settings.directory === undefined) {
      throw new UsageError('backup needs a file name, or BACKUP_DIRECTORY to put one in');
    }
    file = join(settings.directory, defaultBackupName(io.now()));
  }
  try {
    const result = await createBackup({
      dbPath,
      file,
      retentionDays: settings.retentionDays,
      keep: settings.keep,
      now: () => io.now(),
    });
    printJson(io, { path: result.file, ...result.manifest, pruned: result.pruned });
    return 0;
  } catch (error) {
    return reportFailure(io, 'backup', error);
  }
}

/**
 * Runs `restore <file>`: verified restore into the index of --db, DB_DIRECTORY or DB_URL (as
 * `backup` reads it); refuses while the index is in use.
 */
export async function runRestoreCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, ['db'], []);
  const [file, ...extra] = args.positionals;
  const dbPath = args.options.get('db') ?? dbPathFromEnv(io.env);
  if (file === undefined || extra.length > 0 || dbPath === undefined) {
    const usage = 'restore <file> [--db <path of the index>] (or DB_DIRECTORY)';
    throw new UsageError(`restore needs: ${usage}`);
  }
  if (!existsSync(file)) {
    io.stderr(`restore failed: the backup ${file} does not exist\n`);
    return 1;
  }
  // The indexer's lock (indexer/db.ts) names who holds the index; restoreBackup checks SQLite too.
  const holder = readLockPid(lockPathOf(resolve(dbPath)));
  if (holder !== undefined && isProcessAlive(holder)) {
    const inUse = `the index at ${dbPath} is in use by the indexer (pid ${holder})`;
    io.stderr(`restore failed: ${inUse}: stop it first (SIGTERM, or rpc stop)\n`);
    return 1;
  }
  try {
    const restored = await restoreBackup({ file, dbPath });
    // The keys of the backup's manifest, so the two outputs compare as they are.
    const { sha256, tipHeight, tipHash } = restored;
    printJson(io, { path: restored.dbPath, sha256, tip_height: tipHeight, tip_hash: tipHash });
    return 0;
  } catch (error) {
    return reportFailure(io, 'restore', error);
  }
}

// BackupError, SQLite and file system messages name paths and codes, never a secret we hold.
function reportFailure(io: CliIo, what: string, error: unknown): number {
  const detail = error instanceof Error ? error.message : String(error);
  io.stderr(`${what} failed: ${detail}\n`);
  return 1;
}
