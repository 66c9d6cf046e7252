// Unit tests of statement execution on a real read-only connection: binding, budget, sequences.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReaderConnection } from './reader-connection.ts';
import { ResponseBudget } from './stmt-runner.ts';
import { runPipeline, type ReaderStream } from './stream-executor.ts';
import { createTempIndex, type TempIndex } from './test-index.ts';

let index: TempIndex;
let conn: ReaderConnection;

beforeAll(() => {
  index = createTempIndex();
  conn = new ReaderConnection(index.dbPath);
});

afterAll(() => {
  conn.close();
  index.remove();
});

interface Result {
  type: string;
  response?: { result?: { rows: unknown[][] } };
  error?: { code: string };
}

function run(requests: unknown[], budgetBytes = 1_000_000): Result[] {
  const stream: ReaderStream = { conn, sqls: new Map(), closed: false };
  const json = runPipeline(stream, requests, {
    version: 2,
    budget: new ResponseBudget(budgetBytes),
    reportInternal: () => undefined,
  });
  conn.reset();
  return JSON.parse(json) as Result[];
}

const int = (n: number) => ({ type: 'integer', value: String(n) });
const execute = (stmt: unknown) => ({ type: 'execute', stmt });

describe('binding', () => {
  it('binds positional values by SQLite index, ?NNN and named parameters included', () => {
    const [numbered, mixed] = run([
      execute({ sql: 'SELECT ?2, ?1', args: [int(10), int(20)] }),
      execute({ sql: 'SELECT ?, :b, ?', args: [int(1), int(2), int(3)] }),
    ]);
    expect(numbered?.response?.result?.rows).toEqual([[int(20), int(10)]]);
    expect(mixed?.response?.result?.rows).toEqual([[int(1), int(2), int(3)]]);
  });

  it('binds named arguments with or without prefix, a named one beating a positional one', () => {
    const named = (name: string, n: number) => ({ name, value: int(n) });
    const [plain, prefixed, both] = run([
      execute({ sql: 'SELECT :a, @b', named_args: [named('a', 1), named('@b', 2)] }),
      execute({ sql: 'SELECT $c', named_args: [named('$c', 3)] }),
      execute({ sql: 'SELECT :a', args: [int(1)], named_args: [named(':a', 9)] }),
    ]);
    expect(plain?.response?.result?.rows).toEqual([[int(1), int(2)]]);
    expect(prefixed?.response?.result?.rows).toEqual([[int(3)]]);
    expect(both?.response?.result?.rows).toEqual([[int(9)]]);
  });

  it('reports argument mismatches as ARGS_INVALID', () => {
    const results = run([
      execute({ sql: 'SELECT ?', args: [int(1), int(2)] }),
      execute({ sql: 'SELECT ?, ?', args: [int(1)] }),
      execute({ sql: 'SELECT :a', named_args: [{ name: ':z', value: int(1) }] }),
      execute({ sql: 'SELECT ?2', args: [int(1), int(2), int(3)] }),
    ]);
    expect(results.map((r) => r.error?.code)).toEqual(Array(4).fill('ARGS_INVALID'));
  });

  it('reports an empty or multi-statement SQL text', () => {
    const results = run([execute({ sql: ' -- nothing' }), execute({ sql: 'SELECT 1; SELECT 2' })]);
    expect(results.map((r) => r.error?.code)).toEqual(['SQL_NO_STATEMENT', 'SQL_MANY_STATEMENTS']);
  });
});

describe('response budget', () => {
  it('fails the statement that passes the limit and goes on with the next', () => {
    const big = "SELECT hex(zeroblob(2000)) FROM items";
    const [over, small] = run([execute({ sql: big }), execute({ sql: 'SELECT 1' })], 5_000);
    expect(over?.error?.code).toBe('RESPONSE_TOO_LARGE');
    expect(small?.type).toBe('ok');
  });
});

describe('stream state', () => {
  it('reset() rolls back what a stream left open', () => {
    const stream: ReaderStream = { conn, sqls: new Map(), closed: false };
    const budget = new ResponseBudget(1_000);
    const ctx = { version: 3 as const, budget, reportInternal: () => undefined };
    runPipeline(stream, [execute({ sql: 'BEGIN' }), execute({ sql: 'SELECT 1' })], ctx);
    expect(conn.isAutocommit).toBe(false);
    expect(conn.reset()).toBe(true);
    expect(conn.isAutocommit).toBe(true);
  });
});
