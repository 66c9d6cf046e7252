// likelyTypos and editDistance against distances counted by hand.
import { describe, expect, it } from 'vitest';
import { editDistance, likelyTypos } from './typos.ts';

describe('editDistance', () => {
  it('counts insertions, deletions and substitutions', () => {
    expect(editDistance('', '')).toBe(0);
    expect(editDistance('NET', 'NET')).toBe(0);
    expect(editDistance('NET', 'NETT')).toBe(1); // one insertion
    expect(editDistance('FLUSH_BLOCK', 'FLUSH_BLOCKS')).toBe(1); // one deletion
    expect(editDistance('UTXO_CACHE_MG', 'UTXO_CACHE_MB')).toBe(1); // one substitution
    expect(editDistance('NTE', 'NET')).toBe(2); // a transposition is two edits
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('PWD', 'NET')).toBe(3);
  });
});

describe('likelyTypos', () => {
  const known = ['NET', 'COIN', 'FLUSH_BLOCKS', 'MAX_SUBS'];

  it('names unknown names one or two edits from a known one, with it', () => {
    expect(likelyTypos(['NETT', 'FLUSH_BLOKS', 'MAX_SUB', 'COIN'], known)).toEqual([
      { name: 'NETT', suggestion: 'NET' },
      { name: 'FLUSH_BLOKS', suggestion: 'FLUSH_BLOCKS' },
      { name: 'MAX_SUB', suggestion: 'MAX_SUBS' },
    ]);
  });

  it('allows one edit only under 8 characters, and leaves far names alone', () => {
    expect(likelyTypos(['NTE', 'COINZZ', 'PATH', 'HOME', 'FLUSH_BLOCKS_X'], known)).toEqual([
      { name: 'FLUSH_BLOCKS_X', suggestion: 'FLUSH_BLOCKS' },
    ]);
  });
});
