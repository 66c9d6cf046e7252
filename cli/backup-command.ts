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

/** Runs `restore <file> --db <path>`: verified restore; refuses while the index is in use. */
export async function runRestoreCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, ['db'], []);
  const [file, ...extra] = args.positionals;
  const dbPath = args.options.get('db');
  if (file === undefined || extra.length > 0 || dbPath === undefined) {
    throw new UsageError('restore needs exactly: restore <file> --db <path of the index>');
  }
  if (!existsSync(file)) {
    io.stderr(`restore failed: the backup ${file} does not exist\n`);
    return 1;
  }
  // The indexer's lock (indexer/db.ts) names who holds the index; restoreBackup checks SQLite too.
  const holder = readLockPid(lockPathOf(resolve(dbPath)));
  if (holder !== undefined && isProcessAlive(holder)) {
    io.stderr(`restore failed: the index at ${dbPath} is in use by the indexer (pid ${holder})\n`);
    return 1;
  }
  try {
    printJson(io, await restoreBackup({ file, dbPath }));
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
