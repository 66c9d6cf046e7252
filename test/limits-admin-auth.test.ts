// The admin API's bearer check (worker/admin-auth.ts): off without a strong token, exact match
// only, and nothing about the token in what it returns.
import { describe, expect, it } from 'vitest';
import { checkAdminAuth, MIN_ADMIN_TOKEN_CHARS } from '../worker/admin-auth.ts';

const TOKEN = 'k'.repeat(MIN_ADMIN_TOKEN_CHARS) + '-admin-secret';

describe('checkAdminAuth', () => {
  it('is disabled while ADMIN_TOKEN is unset, empty or short', async () => {
    for (const configured of [undefined, '', '   ', 'short-token']) {
      expect(await checkAdminAuth(configured, `Bearer ${configured ?? ''}`)).toBe('disabled');
    }
  });

  it('accepts exactly the configured bearer token', async () => {
    expect(await checkAdminAuth(TOKEN, `Bearer ${TOKEN}`)).toBe('ok');
    expect(await checkAdminAuth(TOKEN, `bearer ${TOKEN}`)).toBe('ok');
  });

  it('refuses other tokens, prefixes, missing headers and other schemes', async () => {
    const refused = [
      undefined,
      '',
      `Bearer ${TOKEN.slice(0, -1)}`,
      `Bearer ${TOKEN}x`,
      `Basic ${TOKEN}`,
      TOKEN,
      'Bearer ',
      `Bearer ${TOKEN} extra`,
    ];
    for (const header of refused) {
      expect(await checkAdminAuth(TOKEN, header), String(header)).toBe('unauthorized');
    }
  });
});
