// Bearer-token check of the admin API: constant-time, and the token never reaches a log or reply.
// Pure code (Web Crypto only), so it runs under Node tests as it does in the Worker.

/** Shorter tokens are refused as configuration: the admin API stays off (DESIGN §7). */
export const MIN_ADMIN_TOKEN_CHARS = 24;

const encoder = new TextEncoder();

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(text)));
}

// Both inputs are SHA-256 digests (equal length): the loop's time does not depend on where
// they differ, and hashing first hides the token's length too.
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  let difference = a.length ^ b.length;
  for (let index = 0; index < a.length; index++) difference |= (a[index] ?? 0) ^ (b[index] ?? 0);
  return difference === 0;
}

/** The outcome of checking a request's Authorization header. */
export type AdminAuth = 'ok' | 'disabled' | 'unauthorized';

/** True when the configured token is usable (set and long enough). */
export function adminTokenUsable(configured: string | undefined): configured is string {
  return typeof configured === 'string' && configured.trim().length >= MIN_ADMIN_TOKEN_CHARS;
}

/** Checks `Authorization: Bearer <token>` against ADMIN_TOKEN in constant time. */
export async function checkAdminAuth(
  configured: string | undefined,
  authorization: string | undefined
): Promise<AdminAuth> {
  if (!adminTokenUsable(configured)) return 'disabled';
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? '');
  // Compare even when the header is missing, so both paths take the same time.
  const presented = match?.[1] ?? '';
  const [expected, given] = await Promise.all([digest(configured.trim()), digest(presented)]);
  return sameBytes(expected, given) && match !== null ? 'ok' : 'unauthorized';
}
