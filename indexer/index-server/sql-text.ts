// Lexical scan of SQLite SQL text: statement boundaries, leading keywords and parameters.

/** One token of SQL text; `start`/`end` are UTF-16 offsets into the scanned string. */
export interface SqlToken {
  kind: 'word' | 'quoted' | 'string' | 'param' | 'semicolon' | 'other';
  start: number;
  end: number;
}

const SPACE = new Set([0x09, 0x0a, 0x0c, 0x0d, 0x20]);

function isIdentStart(code: number): boolean {
  const isLetter = (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
  return isLetter || code === 0x5f || code >= 0x80;
}

// SQLite identifiers continue with letters, digits, '_', '$' and any non-ASCII character
// (sqlite src/tokenize.c, IdChar).
function isIdentChar(code: number): boolean {
  return isIdentStart(code) || (code >= 0x30 && code <= 0x39) || code === 0x24;
}

function skipIdent(sql: string, from: number): number {
  let i = from;
  while (i < sql.length && isIdentChar(sql.charCodeAt(i))) i++;
  return i;
}

// A quoted run ends at the closing quote; a doubled quote inside is an escaped quote. Unterminated
// text runs to the end, and SQLite reports the error when it prepares the statement.
function skipQuoted(sql: string, from: number, close: string): number {
  let i = from + 1;
  for (;;) {
    const at = sql.indexOf(close, i);
    if (at < 0) return sql.length;
    if (close !== ']' && sql[at + 1] === close) {
      i = at + 2;
      continue;
    }
    return at + 1;
  }
}

function skipComment(sql: string, from: number): number {
  if (sql.startsWith('--', from)) {
    const at = sql.indexOf('\n', from);
    return at < 0 ? sql.length : at + 1;
  }
  const at = sql.indexOf('*/', from + 2);
  return at < 0 ? sql.length : at + 2;
}

// `?NNN`, `:name`, `@name`, `$name`; TCL-style `$a::b(x)` names keep their `::` parts and suffix
// (sqlite src/tokenize.c, TK_VARIABLE).
function skipParam(sql: string, from: number): number {
  const sigil = sql[from];
  if (sigil === '?') {
    let i = from + 1;
    while (i < sql.length && sql.charCodeAt(i) >= 0x30 && sql.charCodeAt(i) <= 0x39) i++;
    return i;
  }
  let i = skipIdent(sql, from + 1);
  if (sigil !== '$') return i;
  while (sql.startsWith('::', i)) i = skipIdent(sql, i + 2);
  if (sql[i] === '(') {
    const close = sql.indexOf(')', i);
    i = close < 0 ? sql.length : close + 1;
  }
  return i;
}

function tokenEnd(sql: string, i: number, code: number): [SqlToken['kind'], number] {
  if (code === 0x27) return ['string', skipQuoted(sql, i, "'")];
  if (code === 0x22) return ['quoted', skipQuoted(sql, i, '"')];
  if (code === 0x60) return ['quoted', skipQuoted(sql, i, '`')];
  if (code === 0x5b) return ['quoted', skipQuoted(sql, i, ']')];
  if (code === 0x3b) return ['semicolon', i + 1];
  if (code === 0x3f) return ['param', skipParam(sql, i)];
  const isSigil = code === 0x3a || code === 0x40 || code === 0x24;
  if (isSigil && isIdentChar(sql.charCodeAt(i + 1))) return ['param', skipParam(sql, i)];
  if (isIdentStart(code)) return ['word', skipIdent(sql, i)];
  return ['other', i + 1];
}

/** Splits SQL text into tokens, dropping blanks and comments. Runs in one pass over the text. */
export function scanSql(sql: string): SqlToken[] {
  const tokens: SqlToken[] = [];
  let i = 0;
  while (i < sql.length) {
    const code = sql.charCodeAt(i);
    if (SPACE.has(code)) {
      i++;
    } else if (sql.startsWith('--', i) || sql.startsWith('/*', i)) {
      i = skipComment(sql, i);
    } else {
      const [kind, end] = tokenEnd(sql, i, code);
      tokens.push({ kind, start: i, end });
      i = end;
    }
  }
  return tokens;
}

/**
 * The statements of a `sequence` request, split at top-level semicolons; empty statements are
 * dropped. A CREATE TRIGGER body would be split at its inner semicolons, which only matters for
 * writes, and those are refused anyway.
 */
export function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let first: SqlToken | undefined;
  let last: SqlToken | undefined;
  const flush = (): void => {
    if (first !== undefined && last !== undefined) {
      statements.push(sql.slice(first.start, last.end));
    }
    first = undefined;
    last = undefined;
  };
  for (const token of scanSql(sql)) {
    if (token.kind === 'semicolon') {
      flush();
    } else {
      first ??= token;
      last = token;
    }
  }
  flush();
  return statements;
}

/** The upper-cased text of the leading run of bare words, at most `count` of them. */
export function leadingWords(sql: string, tokens: SqlToken[], count: number): string[] {
  const words: string[] = [];
  for (const token of tokens) {
    if (token.kind !== 'word' || words.length >= count) break;
    words.push(sql.slice(token.start, token.end).toUpperCase());
  }
  return words;
}

/**
 * Parameter names by SQLite index (index 1 is element 0), as sqlite3_bind_parameter_name reports
 * them: `?` is nameless (null), `?NNN` takes index NNN, a named parameter takes the next free index
 * at its first use and keeps it (sqlite src/expr.c, sqlite3ExprAssignVarNumber). Indexes no
 * parameter refers to are null.
 */
export function listParameters(sql: string): (string | null)[] {
  const names: (string | null)[] = [];
  const indexByName = new Map<string, number>();
  for (const token of scanSql(sql)) {
    if (token.kind !== 'param') continue;
    const text = sql.slice(token.start, token.end);
    if (text === '?') {
      names.push(null);
    } else if (text.startsWith('?')) {
      const index = Number(text.slice(1));
      while (names.length < index) names.push(null);
      if (index >= 1) names[index - 1] = text;
    } else if (!indexByName.has(text)) {
      names.push(text);
      indexByName.set(text, names.length);
    }
  }
  return names;
}
