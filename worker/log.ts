// Structured logs: one JSON object per line with fixed keys; the only file that calls console.

/** Severity, lowest first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
const DEFAULT_LEVEL: LogLevel = 'info';
let reportedBadLevel = false;

/** Fields of one event besides its level and name. Values must be JSON-safe and secret-free. */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

/** A logger bound to a level and to fields every line carries (e.g. the session id). */
export interface Logger {
  debugEnabled: boolean;
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

function parseLevel(text: string | undefined): LogLevel {
  if (text === undefined || text === '') return DEFAULT_LEVEL;
  // `warning` as the indexer (and ElectrumX's LOG_LEVEL) spells it, so one value serves both.
  const wanted = text.toLowerCase() === 'warning' ? 'warn' : text.toLowerCase();
  const level = LEVELS.find((candidate) => candidate === wanted);
  if (level !== undefined) return level;
  if (!reportedBadLevel) {
    reportedBadLevel = true;
    const line = { level: 'warn', event: 'bad_log_level', value: text, valid: LEVELS.join(',') };
    console.log(JSON.stringify(line));
  }
  return DEFAULT_LEVEL;
}

function write(level: LogLevel, event: string, base: LogFields, fields: LogFields): void {
  // One console.log per event at every level: the `level` field carries the severity.
  console.log(JSON.stringify({ level, event, ...base, ...fields }));
}

/** A logger at LOG_LEVEL (an unknown value is reported once, then `info` applies). */
export function createLogger(levelText: string | undefined, base: LogFields = {}): Logger {
  const minimum = LEVELS.indexOf(parseLevel(levelText));
  const make = (bound: LogFields): Logger => {
    const at = (level: LogLevel) => (event: string, fields: LogFields = {}) => {
      if (LEVELS.indexOf(level) >= minimum) write(level, event, bound, fields);
    };
    return {
      debugEnabled: minimum === 0,
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      child: (fields) => make({ ...bound, ...fields }),
    };
  };
  return make(base);
}

/** Message and stack of a thrown value, for an error log line (never sent to a client). */
export function describeError(error: unknown): LogFields {
  if (error instanceof Error) {
    const stack = error.stack?.split('\n', 4).join(' | ');
    return { error: `${error.name}: ${error.message}`, stack };
  }
  return { error: String(error) };
}
