// The electrum-edge command: picks the subcommand (rpc, doctor, backup, restore) and its exit code.
import { UsageError } from './args.ts';
import { runBackupCommand, runRestoreCommand } from './backup-command.ts';
import { runDoctorCommand } from './doctor.ts';
import type { CliIo } from './io.ts';
import { runRpcCommand } from './rpc-command.ts';

/** Printed for `help`, no arguments, or a usage error. */
export const USAGE = `usage: electrum-edge <command> [options]

commands:
  rpc <command> [args...] [--host H] [--port P] [--timeout S]
      call the indexer's admin RPC (RPC_HOST, RPC_PORT, RPC_USER, RPC_PASSWORD from the
      environment); e.g. rpc getinfo, rpc sessions, rpc disconnect 12, rpc stop
  doctor [--env FILE] [--json]
      check a deployment: credentials, file modes, loopback binds, TLS, limits, backups, logs;
      exits 1 when any check fails
  backup [FILE] [--db PATH]
      take a consistent copy of the live index (default BACKUP_DIRECTORY/index-<time>.db) with
      FILE.sha256 and FILE.json; prunes by BACKUP_KEEP and BACKUP_RETENTION_DAYS
  restore FILE [--db PATH]
      verify FILE against FILE.sha256 and restore it to PATH (default: the index of DB_DIRECTORY
      or DB_URL, as for backup); refuses while the index is in use
`;

type Command = (argv: readonly string[], io: CliIo) => Promise<number>;

const COMMANDS: Readonly<Record<string, Command>> = {
  rpc: runRpcCommand,
  doctor: runDoctorCommand,
  backup: runBackupCommand,
  restore: runRestoreCommand,
};

/**
 * Runs the command line `argv` (without node and the script); resolves to the exit code:
 * 0 success, 1 the command failed (an error reply, a failed check, a refused restore),
 * 2 a usage error or an unreachable server.
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    io.stdout(USAGE);
    return name === undefined ? 2 : 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    io.stderr(`unknown command "${name.slice(0, 40)}"\n\n${USAGE}`);
    return 2;
  }
  try {
    return await command(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`${error.message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }
}
