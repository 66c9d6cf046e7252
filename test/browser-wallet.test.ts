// End to end with a real browser: Debian's Chromium (driven by playwright-core) opens the Worker's
// wallet page over https, the page follows one script hash over wss, and a block mined in the
// simulated node must reach the page as a pushed notification. Expected values come from an
// independent reading of the chain file (test/support/reference-chain.ts), never from our code.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { startStack, type Stack } from '../tools/stack.ts';
import { readReferenceChain, type ReferenceChain } from './support/reference-chain.ts';

const CHROMIUM_PATH = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--ignore-certificate-errors',
  // Every name but 127.0.0.1 fails to resolve: the browser has no way to another host.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
];
// The demo's default chain: what `npm run demo` users see on the page.
const CHAIN_FILE = resolve('data/bitcoin_mainnet_0-255.json');
// Below the 50 BTC subsidy at height 256, and unlike any balance the chain file holds.
const PAID_SATS = 1_234_567_890n;
const PAGE_TIMEOUT_MS = 30_000;
// Each single page query (element lookup, attribute) inside a poll.
const QUERY_TIMEOUT_MS = 5_000;

interface Watched {
  scriptHash: string;
  script: Buffer;
}

interface PageState {
  connection: string | null;
  /** The page's error line; empty while all is well. */
  error: string | null;
  confirmedSats: string | null;
  unconfirmedSats: string | null;
  tipHeight: string | null;
  pushes: string | null;
  /** Oldest first, as the protocol lists history (the page shows newest first). */
  history: { txHash: string; height: number }[];
}

function loadBlocks(): string[] {
  return (JSON.parse(readFileSync(CHAIN_FILE, 'utf8')) as { blocks: string[] }).blocks;
}

// The unspent script hash with the longest history, so the page has several rows to order.
function pickWatched(reference: ReferenceChain): Watched {
  let best: Watched | null = null;
  let bestLength = 0;
  for (const [scriptHash, outputs] of [...reference.unspent].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const length = reference.history.get(scriptHash)?.length ?? 0;
    const script = outputs[0]?.script;
    if (script !== undefined && length > bestLength) {
      best = { scriptHash, script };
      bestLength = length;
    }
  }
  if (best === null || bestLength < 2) throw new Error('chain file has no script hash to watch');
  return best;
}

function expectedBalance(reference: ReferenceChain, scriptHash: string): string {
  const outputs = reference.unspent.get(scriptHash) ?? [];
  return outputs.reduce((sum, output) => sum + output.value, 0n).toString();
}

async function readPage(page: Page): Promise<PageState> {
  const text = (testId: string): Promise<string | null> => page.getByTestId(testId).textContent();
  const sats = (testId: string): Promise<string | null> =>
    page.getByTestId(testId).getAttribute('data-sats');
  const rows = page.getByTestId('history-item');
  const history: PageState['history'] = [];
  for (let i = 0, count = await rows.count(); i < count; i++) {
    const row = rows.nth(i);
    const txHash = (await row.getAttribute('data-tx-hash')) ?? '';
    history.push({ txHash, height: Number(await row.getAttribute('data-height')) });
  }
  return {
    connection: await text('connection'),
    error: await text('error'),
    confirmedSats: await sats('balance-confirmed'),
    unconfirmedSats: await sats('balance-unconfirmed'),
    tipHeight: await text('tip-height'),
    pushes: await text('notification-count'),
    history: history.reverse(),
  };
}

describe('wallet page in a real browser (Chromium, https/wss)', () => {
  const logs: string[] = [];
  const blocks = loadBlocks();
  const reference = readReferenceChain(blocks, 'sha256d');
  const watched = pickWatched(reference);
  const tipHeight = reference.headers.length - 1;
  // Whatever the browser tried to fetch or open outside the stack's 127.0.0.1 port.
  const foreignRequests: string[] = [];
  const socketUrls: string[] = [];
  const pageErrors: string[] = [];
  let stack: Stack;
  let userDataDir = '';
  let context: BrowserContext;
  let page: Page;
  let pageHeaders: Record<string, string> = {};
  let pageStatus = 0;
  const scriptResponses: { status: number; type: string | undefined }[] = [];
  // The node's, indexer's, Worker's and notifier's last lines explain a page that never updates.
  const showLogs = (): void => console.error(logs.slice(-80).join('\n'));

  beforeAll(async () => {
    if (!existsSync(CHROMIUM_PATH)) {
      throw new Error(
        `${CHROMIUM_PATH} not found: this test needs Debian's chromium package (apt-get install ` +
          'chromium; .ci/run installs it)'
      );
    }
    stack = await startStack({
      chainFile: CHAIN_FILE,
      coin: 'Bitcoin',
      net: 'mainnet',
      https: true,
      notify: 'stack',
      onLog: (line) => logs.push(line),
    }).catch((error: unknown) => {
      showLogs();
      throw error;
    });
    userDataDir = mkdtempSync(join(tmpdir(), 'electrum-edge-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      args: CHROMIUM_ARGS,
      headless: true,
    });
    await context.route('**/*', async (route) => {
      const url = new URL(route.request().url());
      if (url.protocol === 'data:' || url.host === `127.0.0.1:${stack.workerPort}`) {
        await route.continue();
      } else {
        foreignRequests.push(url.href);
        await route.abort('blockedbyclient');
      }
    });
    context.setDefaultTimeout(QUERY_TIMEOUT_MS);
    page = context.pages()[0] ?? (await context.newPage());
    page.on('websocket', (socket) => socketUrls.push(socket.url()));
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
    page.on('response', (response) => {
      if (new URL(response.url()).pathname !== '/wallet/app.js') return;
      scriptResponses.push({ status: response.status(), type: response.headers()['content-type'] });
    });
    const response = await page.goto(`${stack.httpUrl}/wallet?scripthash=${watched.scriptHash}`);
    pageStatus = response?.status() ?? 0;
    pageHeaders = response?.headers() ?? {};
  }, 240_000);

  afterAll(async () => {
    await context?.close();
    await stack?.stop();
    if (userDataDir !== '') rmSync(userDataDir, { recursive: true, force: true });
  });

  it('serves the page over https with a strict CSP, and its bundled script', async () => {
    expect(page.url().startsWith(`https://127.0.0.1:${stack.workerPort}/wallet?`)).toBe(true);
    expect(pageStatus).toBe(200);
    expect(pageHeaders['content-type']).toMatch(/^text\/html/);
    expect(pageHeaders['content-security-policy']).toMatch(/default-src 'none'/);
    expect(pageHeaders['content-security-policy']).toMatch(/connect-src 'self'/);
    await expect.poll(() => scriptResponses, { timeout: PAGE_TIMEOUT_MS }).toHaveLength(1);
    expect(scriptResponses[0]?.status).toBe(200);
    expect(scriptResponses[0]?.type).toMatch(/^text\/javascript/);
  });

  it('shows the balance and history of the script hash over wss', async () => {
    onTestFailed(showLogs);
    const history = reference.history.get(watched.scriptHash) ?? [];
    await expect
      .poll(() => readPage(page), { timeout: PAGE_TIMEOUT_MS, interval: 250 })
      .toEqual({
        connection: 'connected',
        error: '',
        confirmedSats: expectedBalance(reference, watched.scriptHash),
        unconfirmedSats: '0',
        tipHeight: String(tipHeight),
        pushes: '0',
        history,
      });
    expect(await page.getByTestId('scripthash').textContent()).toBe(watched.scriptHash);
    expect(socketUrls).toEqual([`wss://127.0.0.1:${stack.workerPort}/`]);
  });

  it('updates from a pushed notification when a block pays the script hash', async () => {
    onTestFailed(showLogs);
    const [minedHash] = stack.simNode.mine({ payToScript: watched.script, value: PAID_SATS });
    const newTip = stack.simNode.tipHeight();
    expect(newTip).toBe(tipHeight + 1);
    const after = readReferenceChain([...blocks, stack.simNode.blockHex(newTip)], 'sha256d');
    expect(after.blockHashes[newTip]).toBe(minedHash);
    const coinbase = after.blockTxids[newTip]?.[0];
    const history = after.history.get(watched.scriptHash) ?? [];
    expect(history.at(-1)).toEqual({ txHash: coinbase, height: newTip });
    const balance = expectedBalance(after, watched.scriptHash);
    const before = BigInt(expectedBalance(reference, watched.scriptHash));
    expect(BigInt(balance)).toBe(before + PAID_SATS);

    await expect
      .poll(() => readPage(page), { timeout: PAGE_TIMEOUT_MS, interval: 250 })
      .toEqual({
        connection: 'connected',
        error: '',
        confirmedSats: balance,
        unconfirmedSats: '0',
        tipHeight: String(newTip),
        pushes: '1',
        history,
      });
    // One socket the whole time: the update was pushed, not fetched by reloading.
    expect(socketUrls).toHaveLength(1);
  });

  it('names a missing or malformed script hash instead of connecting', async () => {
    const other = await context.newPage();
    try {
      const sockets: string[] = [];
      other.on('websocket', (socket) => sockets.push(socket.url()));
      await other.goto(`${stack.httpUrl}/wallet?scripthash=not-a-hash`);
      await expect
        .poll(() => other.getByTestId('error').textContent(), { timeout: PAGE_TIMEOUT_MS })
        .toBe('"not-a-hash" is not a script hash (64 hex digits)');
      await other.goto(`${stack.httpUrl}/wallet`);
      await expect
        .poll(() => other.getByTestId('error').textContent(), { timeout: PAGE_TIMEOUT_MS })
        .toBe('add ?address=<address> or ?scripthash=<64 hex digits> to the URL');
      expect(await other.getByTestId('connection').textContent()).toBe('loading');
      expect(sockets).toEqual([]);
    } finally {
      await other.close();
    }
  });

  it('takes an address instead of a script hash, and names one it cannot read', async () => {
    // The protocol docs' example (test/fixtures/vectors/derived-spec-examples.json):
    // the genesis block's address and its script hash.
    const address = '1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa';
    const scriptHash = '8b01df4e368ea28f8dc0423bcf7a4923e3a12d307c875e47a0cfbf90b5c39161';
    const other = await context.newPage();
    try {
      await other.goto(`${stack.httpUrl}/wallet?address=${address}`);
      expect(other.url()).toBe(`${stack.httpUrl}/wallet?scripthash=${scriptHash}`);
      await expect
        .poll(() => other.getByTestId('scripthash').textContent(), { timeout: PAGE_TIMEOUT_MS })
        .toBe(scriptHash);
      const refused = await other.goto(`${stack.httpUrl}/wallet?address=${address.slice(0, -1)}b`);
      expect(refused?.status()).toBe(400);
      expect(await refused?.text()).toBe(
        '"1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb" is not a valid address: bad base58check ' +
          '(for Bitcoin mainnet)\n'
      );
    } finally {
      await other.close();
    }
  });

  it('stayed on 127.0.0.1 and raised no page errors', () => {
    expect(foreignRequests).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
