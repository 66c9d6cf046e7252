// Credentials everyone knows: refused at start (unsafe-start.ts), and never worth redacting.
/**
 * Credentials that appear in sample configs, setup guides and password lists. Compared without
 * case and without trailing digits or punctuation, so "Password123!" counts as "password".
 */
export const WELL_KNOWN_CREDENTIALS: ReadonlySet<string> = new Set([
  'electrumx_admin',
  'electrumx',
  'electrum',
  'electrum-edge',
  'electrum_edge',
  'your_secure_username',
  'your_secure_password',
  'your_password',
  'yourpassword',
  'user',
  'username',
  'password',
  'passw0rd',
  'pass',
  'changeme',
  'change_me',
  'change-me',
  'admin',
  'administrator',
  'root',
  'toor',
  'rpc',
  'rpcuser',
  'rpcpassword',
  'rpcpass',
  'secret',
  'token',
  'test',
  'default',
  'guest',
  'qwerty',
  'letmein',
  'radiant',
  'radiantd',
  'bitcoin',
  'bitcoind',
]);

function normalized(value: string): string {
  return value.toLowerCase().replace(/[\d\W_]+$/u, '');
}

/** True when `value` is a well-known default or a list entry with digits or symbols appended. */
export function isWellKnownCredential(value: string): boolean {
  const stem = normalized(value);
  if (WELL_KNOWN_CREDENTIALS.has(value.toLowerCase())) return true;
  return stem !== '' && WELL_KNOWN_CREDENTIALS.has(stem);
}
