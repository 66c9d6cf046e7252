// Unit tests of the SQL scanner; expectations follow sqlite.org/lang_expr.html#varparam.
import { describe, expect, it } from 'vitest';
import { leadingWords, listParameters, scanSql, splitStatements } from './sql-text.ts';

describe('scanSql', () => {
  it('skips blanks and both comment styles and keeps quoted text whole', () => {
    const sql = "/* a; */ SELECT 'it''s;', \"col;\" -- tail;\n FROM [t;] ;";
    const kinds = scanSql(sql).map((t) => [t.kind, sql.slice(t.start, t.end)]);
    expect(kinds).toEqual([
      ['word', 'SELECT'],
      ['string', "'it''s;'"],
      ['other', ','],
      ['quoted', '"col;"'],
      ['word', 'FROM'],
      ['quoted', '[t;]'],
      ['semicolon', ';'],
    ]);
  });

  it('reads parameters in all four forms, TCL-style names included', () => {
    const sql = 'SELECT ?, ?12, :a1, @b_2, $c::d(x), x';
    const params = scanSql(sql).filter((t) => t.kind === 'param');
    const texts = params.map((t) => sql.slice(t.start, t.end));
    expect(texts).toEqual(['?', '?12', ':a1', '@b_2', '$c::d(x)']);
  });

  it('runs an unterminated string or comment to the end without throwing', () => {
    expect(scanSql("SELECT 'open").map((t) => t.kind)).toEqual(['word', 'string']);
    expect(scanSql('SELECT 1 /* open').map((t) => t.kind)).toEqual(['word', 'other']);
  });
});

describe('splitStatements', () => {
  it('splits at top-level semicolons only and drops empty statements', () => {
    const sql = "BEGIN; ; SELECT ';' AS s; -- only a comment\n;SELECT [a;b] FROM t";
    expect(splitStatements(sql)).toEqual(['BEGIN', "SELECT ';' AS s", 'SELECT [a;b] FROM t']);
  });

  it('returns nothing for blank or comment-only text', () => {
    expect(splitStatements('  -- x\n /* y */ ;; ')).toEqual([]);
  });
});

describe('leadingWords', () => {
  it('upper-cases the first bare words, after comments', () => {
    const sql = '/* c */ explain query plan SELECT 1';
    expect(leadingWords(sql, scanSql(sql), 3)).toEqual(['EXPLAIN', 'QUERY', 'PLAN']);
  });
});

describe('listParameters', () => {
  // sqlite3_bind_parameter_name: "?" is nameless; "?NNN" sits at index NNN; a named parameter
  // takes the next index at its first appearance and keeps it.
  it('numbers parameters as SQLite does', () => {
    expect(listParameters('SELECT ?, :a, ?, :a, @b')).toEqual([null, ':a', null, '@b']);
    expect(listParameters('SELECT ?3, ?')).toEqual([null, null, '?3', null]);
    expect(listParameters("SELECT ':a', \"?\" FROM t -- ?")).toEqual([]);
  });
});
