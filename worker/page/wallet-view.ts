// The wallet page's view: writes state into the elements of worker/page/wallet-html.ts, found by
// their data-testid, as text only (nothing the server sends is parsed as HTML).
import type { PageDocument, PageElement } from './browser-globals.ts';
import { formatCoins, type PageBalance, type PageHistoryItem } from './wallet-data.ts';

/** Connection states shown in the `connection` element. */
export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'disconnected';

/** The page's elements, one method per thing shown. */
export class WalletView {
  readonly #doc: PageDocument;
  #pushCount = 0;

  constructor(doc: PageDocument) {
    this.#doc = doc;
  }

  #field(testId: string): PageElement {
    const element = this.#doc.querySelector(`[data-testid="${testId}"]`);
    if (element === null) throw new Error(`wallet page has no element ${testId}`);
    return element;
  }

  showConnection(state: ConnectionState, server: string): void {
    this.#field('connection').textContent = state;
    this.#field('server').textContent = server;
  }

  showScriptHash(scriptHash: string): void {
    this.#field('scripthash').textContent = scriptHash;
    this.#doc.title = `${scriptHash.slice(0, 12)}... - electrum-edge wallet`;
  }

  showTip(height: number): void {
    this.#field('tip-height').textContent = String(height);
  }

  /** The status hash; `pushed` when it came as a notification, not as the subscribe answer. */
  showStatus(status: string | null, pushed: boolean): void {
    this.#field('status-hash').textContent = status ?? '(no transactions)';
    if (pushed) this.#pushCount += 1;
    this.#field('notification-count').textContent = String(this.#pushCount);
  }

  showBalance(balance: PageBalance): void {
    this.#amount('balance-confirmed', balance.confirmedSats);
    this.#amount('balance-unconfirmed', balance.unconfirmedSats);
  }

  #amount(testId: string, sats: bigint): void {
    const element = this.#field(testId);
    element.setAttribute('data-sats', sats.toString());
    element.textContent = `${formatCoins(sats)} (${sats} sats)`;
  }

  /** Newest first, as wallets list them; the server sends oldest first. */
  showHistory(items: PageHistoryItem[]): void {
    const rows = items.map((item) => this.#historyRow(item)).reverse();
    this.#field('history').replaceChildren(...rows);
    this.#field('history-count').textContent = String(items.length);
  }

  #historyRow(item: PageHistoryItem): PageElement {
    const row = this.#doc.createElement('tr');
    row.setAttribute('data-testid', 'history-item');
    row.setAttribute('data-tx-hash', item.txHash);
    row.setAttribute('data-height', String(item.height));
    const height = this.#doc.createElement('td');
    height.textContent = item.height > 0 ? String(item.height) : 'mempool';
    const txHash = this.#doc.createElement('td');
    txHash.setAttribute('class', 'hash');
    txHash.textContent = item.txHash;
    row.append(height, txHash);
    return row;
  }

  /** Shows `message` until the next successful update; null hides it. */
  showError(message: string | null): void {
    const element = this.#field('error');
    element.textContent = message ?? '';
    element.hidden = message === null;
  }
}
