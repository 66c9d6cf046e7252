// The indexer's logger: `log.info(event, fields)` in every module, written through logger.ts
// (pino, LOG_LEVEL, LOG_FORMAT, ANON_LOGS, redaction of every configured secret).
import {
  createLogger,
  loggerOptionsFromEnv,
  parseLogLevel,
  type Logger,
  type LoggerOptions,
  type LogFields,
  type LogLevel,
} from './logger.ts';

export type { LogFields, LogLevel } from './logger.ts';

// Lines leave through console.log, as they always have here: tests that watch the console keep
// working, and on Linux stdout writes to files and pipes are synchronous, so none is lost at exit.
const consoleSink = {
  write(line: string): void {
    // eslint-disable-next-line no-console -- this module is the one place that writes logs.
    console.log(line.endsWith('\n') ? line.slice(0, -1) : line);
  },
};

// Built from the environment at load time, so even a refusal to start is redacted and shaped
// like every other line.
let options: LoggerOptions = {
  ...loggerOptionsFromEnv(process.env, 'indexer'),
  destination: consoleSink,
};
let current: Logger = createLogger(options);

/**
 * Rebuilds the logger with `overrides` on top of the settings read from the environment (tests
 * give a `destination`; the admin RPC's `log` command gives a `level`).
 */
export function configureLog(overrides: Partial<LoggerOptions>): void {
  options = { ...options, ...overrides };
  current = createLogger(options);
}

/**
 * Sets the lowest level written (debug, info, warning or warn, error; any case). An unknown name
 * is reported once with the valid list and `info` applies, so a typo in LOG_LEVEL does not stop
 * an indexer that is otherwise configured right (STYLE.md "Logs").
 */
export function setLogLevel(name: string | undefined): void {
  if ((name ?? '').trim() === '') return;
  configureLog({ level: name });
}

/** The level in force. */
export function logLevel(): LogLevel {
  return parseLogLevel(options.level).level;
}

/** True when lines of `level` are written; callers check it before building costly debug fields. */
export function logEnabled(level: LogLevel): boolean {
  return current.isEnabled(level);
}

// The old JSON logger wrote an Error field as its message; pino would print `{}` for it under
// any name but `err`. Stacks go in their own field where a caller wants them.
function plain(fields: LogFields): LogFields {
  let out: LogFields | undefined;
  for (const [key, value] of Object.entries(fields)) {
    if (!(value instanceof Error) || key === 'err') continue;
    out ??= { ...fields };
    out[key] = value.message;
  }
  return out ?? fields;
}

function facade(bindings: LogFields): Logger {
  const at =
    (level: LogLevel) =>
    (event: string, fields: LogFields = {}): void => {
      if (!current.isEnabled(level)) return;
      current[level](event, plain({ ...bindings, ...fields }));
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    isEnabled: (level) => current.isEnabled(level),
    child: (more) => facade({ ...bindings, ...more }),
  };
}

/**
 * The indexer's logger: `log.info('caught_up', { height })` prints one line. It always writes
 * through the logger in force, so a level changed at run time applies to every module.
 */
export const log: Logger = facade({});
