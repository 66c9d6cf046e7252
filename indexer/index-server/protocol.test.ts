// Unit tests of request validation against the structures of HRANA_3_SPEC and HTTP_V2_SPEC.
import { describe, expect, it } from 'vitest';
import { parseBatch, parsePipelineBody, parseStreamRequest } from './protocol.ts';

describe('parseStreamRequest', () => {
  it('reads an execute with defaults for absent fields', () => {
    expect(parseStreamRequest({ type: 'execute', stmt: { sql: 'SELECT 1' } }, 2)).toEqual({
      type: 'execute',
      stmt: { source: { sql: 'SELECT 1' }, args: [], namedArgs: [], wantRows: true },
    });
  });

  it('ignores unknown fields, as the spec requires for forward compatibility', () => {
    const request = { type: 'close', future_field: 1 };
    expect(parseStreamRequest(request, 3)).toEqual({ type: 'close' });
  });

  it('needs exactly one of sql and sql_id', () => {
    expect(() => parseStreamRequest({ type: 'describe' }, 2)).toThrow(/exactly one/);
    const both = { type: 'sequence', sql: 'x', sql_id: 1 };
    expect(() => parseStreamRequest(both, 2)).toThrow(/exactly one/);
    expect(parseStreamRequest({ type: 'sequence', sql: null, sql_id: 4 }, 2)).toEqual({
      type: 'sequence',
      source: { sqlId: 4 },
    });
  });

  it('keeps Hrana 3 requests off the v2 endpoint', () => {
    expect(() => parseStreamRequest({ type: 'get_autocommit' }, 2)).toThrow(/Hrana 3/);
    expect(parseStreamRequest({ type: 'get_autocommit' }, 3)).toEqual({ type: 'get_autocommit' });
  });

  it('refuses unknown request types and non-int32 ids', () => {
    expect(() => parseStreamRequest({ type: 'open_cursor' }, 3)).toThrow(/unknown request type/);
    expect(() => parseStreamRequest({ type: 'close_sql', sql_id: 2 ** 31 }, 3)).toThrow(/32-bit/);
  });
});

describe('parseBatch', () => {
  it('only lets conditions look back at earlier steps', () => {
    const step = (condition: unknown) => ({ condition, stmt: { sql: 'SELECT 1' } });
    const forward = { steps: [step({ type: 'ok', step: 0 })] };
    expect(() => parseBatch(forward, 2, 'batch')).toThrow(/earlier step/);
    const steps = [step(null), step({ type: 'not', cond: { type: 'error', step: 0 } })];
    expect(parseBatch({ steps }, 2, 'batch')[1]?.condition).toEqual({
      type: 'not',
      cond: { type: 'error', step: 0 },
    });
  });

  it('refuses conditions nested deeper than the limit', () => {
    let cond: unknown = { type: 'ok', step: 0 };
    for (let i = 0; i < 100; i++) cond = { type: 'not', cond };
    const steps = [{ stmt: { sql: 'SELECT 1' } }, { condition: cond, stmt: { sql: 'SELECT 2' } }];
    expect(() => parseBatch({ steps }, 2, 'batch')).toThrow(/nested too deep/);
  });
});

describe('parsePipelineBody', () => {
  it('takes a missing baton as a new stream and insists on a requests array', () => {
    expect(parsePipelineBody({ requests: [] })).toEqual({ baton: null, requests: [] });
    expect(() => parsePipelineBody({ baton: null })).toThrow(/requests/);
    expect(() => parsePipelineBody({ baton: 1, requests: [] })).toThrow(/baton/);
    expect(() => parsePipelineBody([])).toThrow(/object/);
  });
});
