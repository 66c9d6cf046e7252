// Browser entry of the wallet page (bundled by tools/build-page.ts): connects to the Worker that
// served the page, subscribes to one script hash and redraws balance and history whenever the
// server pushes a new status. It never polls: updates come from blockchain.scripthash.subscribe.
import {
  ElectrumClient,
  type ElectrumClientEvents,
  type RPCNotification,
} from '@electrum-cash/network';
import { ElectrumWebSocket } from '@electrum-cash/web-socket';
import { pageDocument, pageLocation, type PageLocation } from './browser-globals.ts';
import { parseBalance, parseHistory, readScriptHash } from './wallet-data.ts';
import { WalletView } from './wallet-view.ts';

const CLIENT_NAME = 'electrum-edge wallet page';
// The oldest version Radiant wallets speak (DESIGN §5); the page needs nothing newer.
const PROTOCOL_VERSION = '1.4';
const SCRIPTHASH_SUBSCRIBE = 'blockchain.scripthash.subscribe';
const HEADERS_SUBSCRIBE = 'blockchain.headers.subscribe';
// The library pings 1 s after the last message by default: a request a second per open tab, and
// a Session object that never hibernates. Every 30 s still shows a live socket to proxies on the
// way and stays far inside SESSION_TIMEOUT (600 s, DESIGN §6).
const KEEP_ALIVE_MS = 30_000;

interface Endpoint {
  host: string;
  port: number;
  encrypted: boolean;
  label: string;
}

// The Worker takes WebSockets on `/` of the origin that served the page; wss when it is https.
// `hostname` keeps the brackets of an IPv6 literal, which the socket's URL needs.
function endpointOf(location: PageLocation): Endpoint {
  const encrypted = location.protocol === 'https:';
  const defaultPort = encrypted ? 443 : 80;
  const port = location.port === '' ? defaultPort : Number(location.port);
  const label = `${encrypted ? 'wss' : 'ws'}://${location.hostname}:${port}/`;
  return { host: location.hostname, port, encrypted, label };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** One script hash followed over one client connection. */
class WalletFollower {
  readonly #view: WalletView;
  readonly #client: ElectrumClient<ElectrumClientEvents>;
  readonly #scriptHash: string;
  // Set once the subscribe answer is in: later statuses are pushes (or re-subscriptions).
  #subscribed = false;
  // Only the newest refresh may draw, so a slow answer never overwrites a newer one.
  #generation = 0;

  constructor(view: WalletView, client: ElectrumClient<ElectrumClientEvents>, scriptHash: string) {
    this.#view = view;
    this.#client = client;
    this.#scriptHash = scriptHash;
  }

  watchConnection(label: string): void {
    for (const state of ['connecting', 'connected', 'reconnecting', 'disconnected'] as const) {
      this.#client.on(state, () => this.#view.showConnection(state, label));
    }
    this.#client.on('error', (error) => this.#view.showError(messageOf(error)));
    this.#client.on('notification', (message) => this.#onNotification(message));
  }

  async start(): Promise<void> {
    await this.#client.connect();
    await this.#client.subscribe(HEADERS_SUBSCRIBE);
    await this.#client.subscribe(SCRIPTHASH_SUBSCRIBE, this.#scriptHash);
    this.#subscribed = true;
  }

  #onNotification(message: RPCNotification): void {
    const params = message.params ?? [];
    if (message.method === HEADERS_SUBSCRIBE) {
      const header = params[0];
      if (typeof header === 'object' && header !== null && 'height' in header) {
        this.#view.showTip(Number(header.height));
      }
      return;
    }
    if (message.method !== SCRIPTHASH_SUBSCRIBE || params[0] !== this.#scriptHash) return;
    const status = params[1];
    this.#view.showStatus(typeof status === 'string' ? status : null, this.#subscribed);
    void this.#refresh();
  }

  async #refresh(): Promise<void> {
    this.#generation += 1;
    const generation = this.#generation;
    try {
      const [balance, history] = await Promise.all([
        this.#request('blockchain.scripthash.get_balance'),
        this.#request('blockchain.scripthash.get_history'),
      ]);
      if (generation !== this.#generation) return;
      this.#view.showBalance(parseBalance(balance));
      this.#view.showHistory(parseHistory(history));
      this.#view.showError(null);
    } catch (error) {
      if (generation === this.#generation) this.#view.showError(messageOf(error));
    }
  }

  async #request(method: string): Promise<unknown> {
    const result = await this.#client.request(method, this.#scriptHash);
    if (result instanceof Error) throw result;
    return result;
  }
}

async function main(view: WalletView): Promise<void> {
  const location = pageLocation();
  const scriptHash = readScriptHash(location.search);
  view.showScriptHash(scriptHash);
  const endpoint = endpointOf(location);
  const socket = new ElectrumWebSocket(endpoint.host, endpoint.port, endpoint.encrypted);
  // Radiant balances pass 2^53 photons: integers arrive as bigint, never rounded.
  const client = new ElectrumClient<ElectrumClientEvents>(CLIENT_NAME, PROTOCOL_VERSION, socket, {
    useBigInt: true,
    sendKeepAliveIntervalInMilliSeconds: KEEP_ALIVE_MS,
  });
  const follower = new WalletFollower(view, client, scriptHash);
  follower.watchConnection(endpoint.label);
  await follower.start();
}

const view = new WalletView(pageDocument());
main(view).catch((error: unknown) => view.showError(messageOf(error)));
