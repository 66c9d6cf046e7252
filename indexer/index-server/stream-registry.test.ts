// Unit tests of baton handling and idle expiry with a hand-driven clock (HTTP_V2_SPEC batons).
import { describe, expect, it } from 'vitest';
import { newRandomBaton, StreamRegistry } from './stream-registry.ts';

function registry(maxStreams = 10) {
  const clock = { nowMs: 1_000 };
  let serial = 0;
  const reg = new StreamRegistry({
    idleStreamMs: 100,
    maxStreams,
    nowMs: () => clock.nowMs,
    newBaton: () => `baton-${++serial}`,
  });
  return { reg, clock };
}

describe('StreamRegistry', () => {
  it('hands out a new baton per response and spends each baton on use', () => {
    const { reg } = registry();
    const entry = reg.open(0);
    if (entry === null) throw new Error('open failed');
    const first = reg.release(entry, false);
    expect(first).toBe('baton-1');
    const acquired = reg.acquire('baton-1');
    expect(acquired.ok).toBe(true);
    expect(reg.acquire('baton-1')).toEqual({ ok: false, code: 'BATON_INVALID', dropped: null });
    if (!acquired.ok) return;
    expect(reg.release(acquired.entry, false)).toBe('baton-2');
    const last = reg.acquire('baton-2');
    if (!last.ok) throw new Error('acquire failed');
    expect(reg.release(last.entry, true)).toBeNull();
    expect(reg.openCount).toBe(0);
  });

  it('expires an idle stream at the limit, not before, and then calls its baton expired', () => {
    const { reg, clock } = registry();
    const entry = reg.open(1);
    if (entry === null) throw new Error('open failed');
    const baton = reg.release(entry, false) ?? '';
    clock.nowMs += 99;
    expect(reg.expireIdle()).toEqual([]);
    clock.nowMs += 1;
    expect(reg.expireIdle().map((e) => e.key)).toEqual([entry.key]);
    expect(reg.acquire(baton)).toEqual({ ok: false, code: 'STREAM_EXPIRED', dropped: null });
    expect(reg.openCount).toBe(0);
  });

  it('expires a late baton on the spot, before any sweep, and returns the stream to drop', () => {
    const { reg, clock } = registry();
    const entry = reg.open(0);
    if (entry === null) throw new Error('open failed');
    const baton = reg.release(entry, false) ?? '';
    clock.nowMs += 500;
    const late = reg.acquire(baton);
    expect(late).toMatchObject({ ok: false, code: 'STREAM_EXPIRED' });
    expect(late.ok === false && late.dropped?.key).toBe(entry.key);
  });

  it('never expires a stream while a request runs on it', () => {
    const { reg, clock } = registry();
    reg.open(0);
    clock.nowMs += 10_000;
    expect(reg.expireIdle()).toEqual([]);
    expect(reg.openCount).toBe(1);
  });

  it('caps open streams and frees a place when one closes', () => {
    const { reg } = registry(2);
    const a = reg.open(0);
    expect(reg.open(0)).not.toBeNull();
    expect(reg.open(0)).toBeNull();
    if (a === null) throw new Error('open failed');
    reg.release(a, true);
    expect(reg.open(0)).not.toBeNull();
  });

  it('forgets the streams of a lost reader', () => {
    const { reg } = registry();
    const a = reg.open(0);
    const b = reg.open(1);
    if (a === null || b === null) throw new Error('open failed');
    const batonA = reg.release(a, false) ?? '';
    reg.release(b, false);
    reg.forgetReader(0);
    expect(reg.openCount).toBe(1);
    expect(reg.acquire(batonA)).toMatchObject({ ok: false, code: 'BATON_INVALID' });
  });
});

describe('newRandomBaton', () => {
  it('makes 192-bit URL-safe values that do not repeat', () => {
    const batons = new Set(Array.from({ length: 1000 }, () => newRandomBaton()));
    expect(batons.size).toBe(1000);
    for (const baton of batons) expect(Buffer.from(baton, 'base64url')).toHaveLength(24);
  });
});
