// Operator logging (pino): LOG_LEVEL, LOG_FORMAT, ANON_LOGS, and secret redaction on every line.
import { createHmac, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import pino from 'pino';
import { WELL_KNOWN_CREDENTIALS } from './well-known-credentials.ts';

/** A level as pino names it; LOG_LEVEL also accepts ElectrumX's `warning`. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type LogFields = Record<string, unknown>;

/** The values LOG_LEVEL accepts (ElectrumX / Python logging names, any case). */
export const LOG_LEVEL_SETTINGS: readonly string[] = ['debug', 'info', 'warning', 'error'];

/** What a redacted secret is replaced with. */
export const REDACTED = '***';

const DEFAULT_LEVEL: LogLevel = 'info';
// Shorter "secrets" would blank out ordinary words in every line; unsafe-start.ts refuses any
// password or token under 16 characters anyway.
const MIN_REDACTED_SECRET_CHARS = 4;

// Key names whose values are secret wherever they appear: JSON fields, `key=value`, `key: value`.
const SECRET_WORDS = [
  'pass(?:word|wd|phrase)',
  'pwd',
  'secret',
  'token',
  'api[_-]?key',
  'authorization',
  'cookie',
  'credentials?',
  'private[_-]?key',
];
const SECRET_KEY = `[A-Za-z0-9_.-]*?(?:${SECRET_WORDS.join('|')})[A-Za-z0-9_.-]*`;
const JSON_SECRET_FIELD = new RegExp(`"(${SECRET_KEY})"(\\s*:\\s*)"(?:[^"\\\\]|\\\\.)*"`, 'gi');
// The value: quoted (also with JSON-escaped quotes, as inside a serialized field), or up to a
// separator, escapes included; never one already redacted or a Bearer/Basic scheme.
const QUOTED_VALUES = `\\\\"(?:[^"\\\\]|\\\\[^"])*\\\\"|"[^"]*"|'[^']*'`;
const BARE_VALUE = `(?:[^\\s,;&'"\\\\]|\\\\[^"])+`;
const TEXT_VALUE = `(?!\\*\\*\\*)(?!(?:Bearer|Basic)\\s)(${QUOTED_VALUES}|${BARE_VALUE})`;
const TEXT_SECRET_FIELD = new RegExp(`\\b(${SECRET_KEY})(\\s*[=:]\\s*)${TEXT_VALUE}`, 'gi');
// scheme://user:password@ -> scheme://user:***@ ; the password stops at @, whitespace or a quote.
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s/?#@:'"]*):[^\s@'"]+@/gi;
const QUERY_KEY = /([?&]key=)[^\s&#'"]+/gi;
const BEARER = /\b(Bearer\s+)[A-Za-z0-9._~+/-]{8,}=*/g;
const BASIC = /\b(Basic\s+)[A-Za-z0-9+/]{8,}={0,2}/g;

const OCTET = '(?:25[0-5]|2[0-4]\\d|1?\\d?\\d)';
const IPV4 = new RegExp(`(?<![\\d.])${OCTET}(?:\\.${OCTET}){3}(?!\\d|\\.\\d)`, 'g');
// Only forms that cannot be a clock time: eight groups, or a `::` compression.
const GROUP = '[0-9A-Fa-f]{1,4}';
const GROUPS = `(?:${GROUP}(?::${GROUP}){0,6})?`;
const IPV6 = new RegExp(
  `(?<![0-9A-Fa-f:])(?:(?:${GROUP}:){7}${GROUP}|${GROUPS}::${GROUPS})(?![0-9A-Fa-f:])`,
  'g'
);

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// A secret may reach a line as is, JSON-escaped (inside a serialized field) or URL-encoded
// (inside DAEMON_URL), so every form is replaced.
function secretForms(secret: string): string[] {
  return [secret, JSON.stringify(secret).slice(1, -1), encodeURIComponent(secret)];
}

const secretPatternCache = new Map<string, RegExp | null>();

function secretPattern(secrets: readonly string[]): RegExp | null {
  const cacheKey = secrets.join('\u0000');
  const cached = secretPatternCache.get(cacheKey);
  if (cached !== undefined) return cached;
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret.length < MIN_REDACTED_SECRET_CHARS) continue;
    for (const form of secretForms(secret)) forms.add(form);
  }
  // Longest first, so a secret that contains another is replaced whole.
  const sorted = [...forms].sort((a, b) => b.length - a.length).map(escapeRegExp);
  const pattern = sorted.length === 0 ? null : new RegExp(sorted.join('|'), 'g');
  if (secretPatternCache.size > 32) secretPatternCache.clear();
  secretPatternCache.set(cacheKey, pattern);
  return pattern;
}

/**
 * Hides secrets in any text bound for a log, an error message or a reply: the configured secret
 * values (as is, JSON-escaped or URL-encoded), the password of any URL
 * (`http://user:pass@` -> `http://user:***@`), bearer and basic credentials, and the value of any
 * field or `key=value` pair whose name says password, secret, token, API key, cookie or
 * authorization. Secrets under 4 characters are not searched for (they would mask ordinary words).
 */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  const pattern = secretPattern(secrets);
  if (pattern !== null) out = out.replace(pattern, REDACTED);
  return out
    .replace(URL_PASSWORD, `$1:${REDACTED}@`)
    .replace(BEARER, `$1${REDACTED}`)
    .replace(BASIC, `$1${REDACTED}`)
    .replace(JSON_SECRET_FIELD, `"$1"$2"${REDACTED}"`)
    .replace(TEXT_SECRET_FIELD, `$1$2${REDACTED}`)
    .replace(QUERY_KEY, `$1${REDACTED}`);
}

// A value that is itself a well-known default ("password") hides nothing when redacted, and
// redacting it garbles every line that uses the word, the start refusal's advice included.
function isPublic(value: string): boolean {
  return WELL_KNOWN_CREDENTIALS.has(value.toLowerCase());
}

/**
 * The secret values configured in `env`, for `redact`: every variable whose name says PASSWORD,
 * TOKEN, SECRET or API_KEY, and the password inside DAEMON_URL.
 */
export function secretsFromEnv(env: Record<string, string | undefined>): string[] {
  const secrets: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || value === '') continue;
    if (/PASSWORD|TOKEN|SECRET|API_KEY/i.test(name) && !isPublic(value)) secrets.push(value);
  }
  const daemonUrl = env['DAEMON_URL'];
  if (daemonUrl !== undefined) {
    try {
      const password = decodeURIComponent(new URL(daemonUrl).password);
      if (password !== '' && !isPublic(password)) secrets.push(password);
    } catch {
      // Not a URL: the config check reports it; the URL rule in redact still hides a password.
    }
  }
  return secrets;
}

function isLocalAddress(address: string): boolean {
  return /^127\./.test(address) || address === '0.0.0.0' || address === '::1' || address === '::';
}

/**
 * Replaces client IP addresses in `text` with `[ip:<8 hex>]`, a keyed hash that lets an operator
 * follow one client through a log without recording where it is (ANON_LOGS; DESIGN §7).
 * Loopback and unspecified addresses stay readable: they are our own listeners.
 */
export function maskIps(text: string, key: Uint8Array): string {
  const mask = (address: string): string => {
    if (isIP(address) === 0 || isLocalAddress(address)) return address;
    const tag = createHmac('sha256', key).update(address).digest('hex').slice(0, 8);
    return `[ip:${tag}]`;
  };
  return text.replace(IPV4, mask).replace(IPV6, mask);
}

/** A LOG_LEVEL value read: the level to use and, for an unknown value, what to report. */
export interface ParsedLogLevel {
  level: LogLevel;
  problem?: string;
}

/** Reads LOG_LEVEL: debug, info, warning (or warn), error, any case; unset means info. */
export function parseLogLevel(value: string | undefined): ParsedLogLevel {
  const wanted = (value ?? '').trim().toLowerCase();
  if (wanted === '') return { level: DEFAULT_LEVEL };
  if (wanted === 'warning' || wanted === 'warn') return { level: 'warn' };
  if (wanted === 'debug' || wanted === 'info' || wanted === 'error') return { level: wanted };
  return {
    level: DEFAULT_LEVEL,
    problem:
      `LOG_LEVEL "${wanted.slice(0, 40)}" is not one of ${LOG_LEVEL_SETTINGS.join(', ')}; ` +
      `using ${DEFAULT_LEVEL}`,
  };
}

/** Where finished lines go: anything with a synchronous `write`. */
export interface LogSink {
  write(line: string): unknown;
}

/** How to build a logger; `loggerOptionsFromEnv` fills it from the operator's settings. */
export interface LoggerOptions {
  /** Shown as `name` in JSON and `%(name)s` in a pattern. */
  name?: string;
  /** A LOG_LEVEL value; an unknown one is reported once and `info` applies. */
  level?: string;
  /** `json` (default) or a Python logging pattern such as `%(levelname)s:%(name)s: %(message)s`. */
  format?: string;
  /** Mask client IP addresses (ANON_LOGS). */
  anonLogs?: boolean;
  /** Values to redact from every line, e.g. `secretsFromEnv(process.env)`. */
  secrets?: readonly string[];
  /** Default: stdout, written synchronously so nothing is lost when the process exits. */
  destination?: LogSink;
}

/** True for 1, true, yes, on (any case): how every on/off setting is read. */
export function isTruthySetting(value: string | undefined): boolean {
  return /^(1|true|yes|on)$/i.test((value ?? '').trim());
}

/** Logger options from LOG_LEVEL, LOG_FORMAT, ANON_LOGS and the secrets found in `env`. */
export function loggerOptionsFromEnv(
  env: Record<string, string | undefined>,
  name = 'electrum-edge'
): LoggerOptions {
  return {
    name,
    level: env['LOG_LEVEL'],
    format: env['LOG_FORMAT'],
    anonLogs: isTruthySetting(env['ANON_LOGS']),
    secrets: secretsFromEnv(env),
  };
}

/** The logger the indexer and the CLI use: `log.info('caught_up', { height })` is one line. */
export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  /** True when lines of `level` are written; check it before building costly debug fields. */
  isEnabled(level: LogLevel): boolean;
  /** A logger that adds `bindings` to every line (e.g. `{ session: 12 }`). */
  child(bindings: LogFields): Logger;
}

const PATTERN_ITEM = /%%|%(?:\((\w+)\))?(-?)(\d{0,3})(?:\.\d{1,3})?([sdfr])/g;
const STANDARD_FIELDS = new Set(['time', 'level', 'name', 'event']);
const PYTHON_LEVEL_NAMES: Readonly<Record<string, string>> = { warn: 'WARNING' };

function textValue(value: unknown): string {
  if (typeof value === 'string') return /[\s="]/.test(value) ? JSON.stringify(value) : value;
  if (typeof value === 'object' && value !== null && 'message' in value) {
    return JSON.stringify(String((value as { message: unknown }).message));
  }
  return JSON.stringify(value) ?? String(value);
}

// Python's asctime shape, in UTC: 2026-01-02 03:04:05,678.
function asctime(iso: unknown): string {
  const date = typeof iso === 'string' ? new Date(iso) : new Date();
  return date.toISOString().replace('T', ' ').replace('.', ',').replace('Z', '');
}

function patternField(key: string, fields: LogFields): string {
  switch (key) {
    case 'asctime':
      return asctime(fields['time']);
    case 'levelname': {
      const level = String(fields['level'] ?? '');
      return PYTHON_LEVEL_NAMES[level] ?? level.toUpperCase();
    }
    case 'message': {
      const extras = Object.entries(fields).filter(([name]) => !STANDARD_FIELDS.has(name));
      const pairs = extras.map(([name, value]) => `${name}=${textValue(value)}`);
      return [String(fields['event'] ?? ''), ...pairs].join(' ');
    }
    case 'process':
      return String(process.pid);
    default: {
      const value = fields[key];
      if (value === undefined) return '-';
      return typeof value === 'string' ? value : textValue(value);
    }
  }
}

/**
 * Renders one log record with a Python logging pattern (LOG_FORMAT), as ElectrumX operators
 * write them: `%(asctime)s`, `%(levelname)s`, `%(name)s`, `%(message)s` (the event, then the
 * other fields as key=value), `%(process)d`, or any field by name; `-8` style padding; `%%`.
 */
export function renderPattern(pattern: string, fields: LogFields): string {
  return pattern.replace(
    PATTERN_ITEM,
    (item: string, key: string | undefined, left: string, width: string) => {
      if (item === '%%') return '%';
      const text = key === undefined ? '' : patternField(key, fields);
      const size = width === '' ? 0 : Number(width);
      return left === '-' ? text.padEnd(size) : text.padStart(size);
    }
  );
}

const reportedProblems = new Set<string>();

function reportOnce(logger: Logger, event: string, problem: string): void {
  if (reportedProblems.has(problem)) return;
  reportedProblems.add(problem);
  logger.warn(event, { problem });
}

// Fields JSON cannot hold well: bigint as digits, bytes as their length (never their content).
function plainFields(fields: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(fields)) {
    let replaced: unknown = value;
    if (typeof value === 'bigint') replaced = value.toString();
    else if (value instanceof Uint8Array) replaced = `<${value.length} bytes>`;
    else continue;
    out ??= { ...fields };
    out[key] = replaced;
  }
  return out ?? fields;
}

function wrap(instance: pino.Logger): Logger {
  const at =
    (level: LogLevel) =>
    (event: string, fields: LogFields = {}): void => {
      if (instance.isLevelEnabled(level)) instance[level](fields, event);
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    isEnabled: (level) => instance.isLevelEnabled(level),
    child: (bindings) => wrap(instance.child(bindings)),
  };
}

// Redacts again after rendering: JSON escapes are gone in the text. A line that no longer parses
// (a secret replaced across JSON syntax) is written as the redacted JSON rather than lost.
function renderLine(pattern: string, jsonLine: string, secrets: readonly string[]): string {
  let fields: LogFields;
  try {
    fields = JSON.parse(jsonLine) as LogFields;
  } catch {
    return jsonLine;
  }
  return `${redact(renderPattern(pattern, fields), secrets)}\n`;
}

function makeSink(options: LoggerOptions, pattern: string | undefined): LogSink {
  const out: LogSink = options.destination ?? pino.destination({ dest: 1, sync: true });
  const secrets = options.secrets ?? [];
  const ipKey = options.anonLogs === true ? randomBytes(32) : undefined;
  return {
    write(line: string): void {
      let text = redact(line, secrets);
      if (ipKey !== undefined) text = maskIps(text, ipKey);
      if (pattern !== undefined) text = renderLine(pattern, text, secrets);
      out.write(text);
    },
  };
}

/**
 * Builds a pino logger writing one JSON object per line (`time`, `level`, `name`, fields,
 * `event`) or, with a pattern LOG_FORMAT, one rendered text line. Every line passes through
 * `redact` (error messages and stacks included) and, with `anonLogs`, through `maskIps`.
 * An unknown level or format is reported once per process and the default applies.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const parsedLevel = parseLogLevel(options.level);
  const format = (options.format ?? '').trim();
  const pattern = format.includes('%(') ? format : undefined;
  const instance = pino(
    {
      level: parsedLevel.level,
      base: undefined,
      messageKey: 'event',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }), log: plainFields },
      serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
    },
    makeSink(options, pattern)
  );
  const logger = wrap(instance.child({ name: options.name ?? 'electrum-edge' }));
  if (parsedLevel.problem !== undefined) reportOnce(logger, 'bad_log_level', parsedLevel.problem);
  if (format !== '' && format.toLowerCase() !== 'json' && pattern === undefined) {
    const problem =
      `LOG_FORMAT "${format.slice(0, 40)}" is neither json nor a %(name)s pattern; ` + 'using json';
    reportOnce(logger, 'bad_log_format', problem);
  }
  return logger;
}
