// GET /wallet and /wallet/app.js: the watch-only wallet page and its script, as built by
// tools/build-page.ts (the page then talks to this Worker over WebSocket like any wallet).
import { Hono } from 'hono';
import type { Env } from '../env.ts';
import { addressTarget } from './wallet-address.ts';
import { WALLET_CSP, WALLET_HTML, WALLET_SCRIPT } from './wallet-assets.generated.js';
import { WALLET_PAGE_PATH, WALLET_SCRIPT_PATH } from './wallet-html.ts';

// Both change with each deploy and are small: revalidate instead of guessing a lifetime.
const COMMON_HEADERS = {
  'Cache-Control': 'no-cache',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

/** Routes of the wallet page; mount at the root. */
export const walletPage = new Hono<{ Bindings: Env }>();

walletPage.get(WALLET_PAGE_PATH, (c) => {
  const address = c.req.query('address');
  if (address !== undefined && c.req.query('scripthash') === undefined) {
    const target = addressTarget(address, c.env);
    if ('location' in target) return c.redirect(target.location, 302);
    return c.text(`${target.error}\n`, 400, COMMON_HEADERS);
  }
  return c.body(WALLET_HTML, 200, {
    ...COMMON_HEADERS,
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Security-Policy': WALLET_CSP,
  });
});

walletPage.get(WALLET_SCRIPT_PATH, (c) =>
  c.body(WALLET_SCRIPT, 200, {
    ...COMMON_HEADERS,
    'Content-Type': 'text/javascript; charset=utf-8',
  })
);
