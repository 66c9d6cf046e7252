// Unit tests of the standalone entry's environment settings (names from docs/ARCHITECTURE.md).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { optionsFromEnv } from './env-options.ts';

const TOKEN = 'a-token-of-16-chars-or-more';

describe('optionsFromEnv', () => {
  it('uses index.db inside DB_DIRECTORY and the documented defaults', () => {
    expect(optionsFromEnv({ DB_DIRECTORY: '/srv/idx', INDEX_SERVER_TOKEN: TOKEN })).toEqual({
      dbPath: join('/srv/idx', 'index.db'),
      host: '127.0.0.1',
      port: 8081,
      authToken: TOKEN,
      idleStreamMs: undefined,
      maxStreams: undefined,
      readerThreads: undefined,
    });
  });

  it('takes INDEX_DB_PATH and the optional limits', () => {
    const options = optionsFromEnv({
      INDEX_DB_PATH: '/x/chain.db',
      INDEX_SERVER_TOKEN: TOKEN,
      INDEX_SERVER_HOST: '::1',
      INDEX_SERVER_PORT: '9000',
      INDEX_SERVER_IDLE_STREAM_MS: '2500',
      INDEX_SERVER_MAX_STREAMS: '64',
      INDEX_SERVER_READERS: '3',
    });
    expect(options).toMatchObject({
      dbPath: '/x/chain.db',
      host: '::1',
      port: 9000,
      idleStreamMs: 2500,
      maxStreams: 64,
      readerThreads: 3,
    });
  });

  it('refuses a missing token or location and a malformed number, naming the setting', () => {
    expect(() => optionsFromEnv({ DB_DIRECTORY: '/d' })).toThrow(/INDEX_SERVER_TOKEN/);
    expect(() => optionsFromEnv({ INDEX_SERVER_TOKEN: TOKEN })).toThrow(/DB_DIRECTORY/);
    const env = { DB_DIRECTORY: '/d', INDEX_SERVER_TOKEN: TOKEN, INDEX_SERVER_PORT: '80a' };
    expect(() => optionsFromEnv(env)).toThrow(/INDEX_SERVER_PORT/);
  });
});
