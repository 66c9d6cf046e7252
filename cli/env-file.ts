// Reads an env file (KEY=VALUE lines) the way docker compose's env_file and systemd read them.
import { readFileSync } from 'node:fs';

/**
 * Parses env-file text: `KEY=VALUE` per line, `#` comments and blank lines skipped, an optional
 * `export ` prefix, values optionally in single quotes (literal) or double quotes (with \n, \",
 * \\ escapes). Lines that are not assignments are returned as problems, never as values.
 */
export function parseEnvText(text: string): { env: Record<string, string>; problems: string[] } {
  const env: Record<string, string> = {};
  const problems: string[] = [];
  for (const [index, rawLine] of text.split(/\r?\n/).entries()) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (match?.[1] === undefined || match[2] === undefined) {
      // Only the line number: the line may hold a secret.
      problems.push(`line ${index + 1} is not KEY=VALUE`);
      continue;
    }
    // `A=1 B=2` is two assignments to a shell and one value with a space to systemd and compose:
    // refused rather than read either way.
    if (!/^['"]/.test(match[2]) && SECOND_ASSIGNMENT.test(match[2])) {
      problems.push(`line ${index + 1} holds more than one KEY=VALUE: one per line`);
      continue;
    }
    env[match[1]] = unquote(match[2]);
  }
  return { env, problems };
}

const SECOND_ASSIGNMENT = /\s(?:export\s+)?[A-Za-z_][A-Za-z0-9_]*=/;

function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith("'") && value.endsWith("'")) return value.slice(1, -1);
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    return value.slice(1, -1).replace(/\\([n"\\$])/g, (_all, c: string) => (c === 'n' ? '\n' : c));
  }
  // An unquoted value ends at an inline comment.
  return value.replace(/\s+#.*$/, '');
}

/** Reads and parses an env file. */
export function readEnvFile(path: string): { env: Record<string, string>; problems: string[] } {
  return parseEnvText(readFileSync(path, 'utf8'));
}
