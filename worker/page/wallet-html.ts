// The wallet page's markup and style. tools/build-page.ts hashes the style for the page's
// Content-Security-Policy; worker/page/wallet-view.ts fills the data-testid elements.

/** Where the Worker serves the page, and its script (worker/page/wallet-page.ts). */
export const WALLET_PAGE_PATH = '/wallet';
export const WALLET_SCRIPT_PATH = '/wallet/app.js';

/** The inline style; its SHA-256 goes into the CSP, so any edit needs a rebuild. */
export const WALLET_STYLE = `
body { font: 15px/1.5 system-ui, sans-serif; margin: 0; color: #1d232b; background: #f6f7f9; }
main { max-width: 60rem; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 1.4rem; margin: 0 0 1rem; }
h2 { font-size: 1.1rem; margin: 1.5rem 0 0.5rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.3rem 1rem; margin: 0; }
dt { color: #5b6572; }
dd { margin: 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: 0.35rem 0.6rem; border-bottom: 1px solid #e2e5e9; }
.hash, [data-testid="scripthash"], [data-testid="status-hash"] {
  font-family: ui-monospace, monospace; overflow-wrap: anywhere;
}
[data-testid="error"] { color: #a4161a; background: #fde8e8; padding: 0.5rem 0.75rem; }
`;

/** The page; every value starts empty and is written by the script. */
export function walletHtml(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>electrum-edge wallet</title>
<link rel="icon" href="data:,">
<style>${WALLET_STYLE}</style>
<script type="module" src="${WALLET_SCRIPT_PATH}"></script>
</head>
<body>
<main>
<h1>Watch-only wallet</h1>
<p data-testid="error" role="alert" hidden></p>
<dl>
<dt>Connection</dt>
<dd><span data-testid="connection">loading</span> <span data-testid="server"></span></dd>
<dt>Script hash</dt><dd data-testid="scripthash"></dd>
<dt>Chain tip</dt><dd data-testid="tip-height"></dd>
<dt>Confirmed</dt><dd data-testid="balance-confirmed"></dd>
<dt>Unconfirmed</dt><dd data-testid="balance-unconfirmed"></dd>
<dt>Status</dt><dd data-testid="status-hash"></dd>
<dt>Updates pushed</dt><dd data-testid="notification-count">0</dd>
</dl>
<h2>History (<span data-testid="history-count">0</span>)</h2>
<table>
<thead><tr><th>Height</th><th>Transaction</th></tr></thead>
<tbody data-testid="history"></tbody>
</table>
</main>
</body>
</html>
`;
}
