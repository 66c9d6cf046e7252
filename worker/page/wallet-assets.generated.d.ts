// Types of wallet-assets.generated.js, which tools/build-page.ts writes (git-ignored) before
// wrangler bundles the Worker: wrangler.toml's [build] command runs it on every dev and deploy.

/** The page (worker/page/wallet-html.ts). */
export declare const WALLET_HTML: string;
/** The bundled browser script (worker/page/wallet-client.ts and the Electrum client library). */
export declare const WALLET_SCRIPT: string;
/** Content-Security-Policy for the page: its own script, its own origin, its hashed style. */
export declare const WALLET_CSP: string;
