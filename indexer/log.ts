// Structured logging for the indexer: one JSON object per line on stdout; the only console user.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export type LogFields = Record<string, unknown>;

let minRank = LOG_LEVELS.indexOf('info');

function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

/**
 * Sets the lowest level written. An unknown name is reported once and the default (info) applies,
 * so a typo in LOG_LEVEL does not stop an indexer that is otherwise configured right (STYLE.md).
 */
export function setLogLevel(name: string | undefined): void {
  const wanted = (name ?? '').trim().toLowerCase();
  if (wanted === '') return;
  if (isLogLevel(wanted)) {
    minRank = LOG_LEVELS.indexOf(wanted);
    return;
  }
  minRank = LOG_LEVELS.indexOf('info');
  write('warn', 'bad_log_level', { value: wanted.slice(0, 40), valid: LOG_LEVELS.join(', ') });
}

/** True when lines of `level` are written; callers check it before building costly debug fields. */
export function logEnabled(level: LogLevel): boolean {
  return LOG_LEVELS.indexOf(level) >= minRank;
}

// JSON cannot hold bigint or Error; a log line must never throw because of a field.
function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return value.message;
  if (value instanceof Uint8Array) return `<${value.length} bytes>`;
  return value;
}

function write(level: LogLevel, event: string, fields: LogFields): void {
  const entry = { time: new Date().toISOString(), level, event, ...fields };
  const line = JSON.stringify(entry, replacer);
  // eslint-disable-next-line no-console -- this module is the one place that writes logs.
  console.log(line);
}

function at(level: LogLevel): (event: string, fields?: LogFields) => void {
  return (event, fields = {}) => {
    if (logEnabled(level)) write(level, event, fields);
  };
}

/** The indexer's logger: `log.info('caught_up', { height })` prints one JSON line. */
export const log = {
  debug: at('debug'),
  info: at('info'),
  warn: at('warn'),
  error: at('error'),
};
