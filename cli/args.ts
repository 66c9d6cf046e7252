// A small argv reader for the electrum-edge command: positionals, `--name value` and `--flag`.

/** Parsed command-line arguments. */
export interface ParsedArgs {
  positionals: string[];
  options: Map<string, string>;
  flags: Set<string>;
}

/** A command line the command cannot use; main prints the message and the usage, exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * Splits `argv`: names in `valued` take the next argument (`--env FILE` or `--env=FILE`), other
 * `--names` are flags, `--` ends options. An unknown option is a UsageError, not a positional.
 */
export function parseArgs(
  argv: readonly string[],
  valued: readonly string[],
  flagNames: readonly string[]
): ParsedArgs {
  const parsed: ParsedArgs = { positionals: [], options: new Map(), flags: new Set() };
  let onlyPositionals = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (onlyPositionals || !arg.startsWith('--') || arg === '-') {
      parsed.positionals.push(arg);
      continue;
    }
    if (arg === '--') {
      onlyPositionals = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (valued.includes(name)) {
      const value = eq < 0 ? argv[++i] : arg.slice(eq + 1);
      if (value === undefined || value === '') throw new UsageError(`--${name} needs a value`);
      parsed.options.set(name, value);
    } else if (flagNames.includes(name) && eq < 0) {
      parsed.flags.add(name);
    } else {
      throw new UsageError(`unknown option --${name.slice(0, 40)}`);
    }
  }
  return parsed;
}
