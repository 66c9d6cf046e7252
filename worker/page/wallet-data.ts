// What the wallet page reads: the script hash from its address and the server's balance and
// history answers, checked before they reach the view.

/** A confirmed and unconfirmed balance in sats (photons on Radiant). */
export interface PageBalance {
  confirmedSats: bigint;
  unconfirmedSats: bigint;
}

/** One history entry: height 0 or -1 for mempool txs (DESIGN §5). */
export interface PageHistoryItem {
  txHash: string;
  height: number;
}

const SCRIPT_HASH_PATTERN = /^[0-9a-f]{64}$/;
const SATS_PER_COIN = 100_000_000n;
const SHOWN_CHARS = 80;

function shorten(text: string): string {
  return text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS)}...` : text;
}

/**
 * The `scripthash` query parameter: 64 hex digits as wallets send them (byte-reversed SHA-256 of
 * the output script). Upper-case digits are accepted and lowered.
 * @throws Error naming the parameter when it is missing or malformed.
 */
export function readScriptHash(search: string): string {
  const given = new URLSearchParams(search).get('scripthash');
  if (given === null || given === '') {
    throw new Error('add ?address=<address> or ?scripthash=<64 hex digits> to the URL');
  }
  const scriptHash = given.trim().toLowerCase();
  if (!SCRIPT_HASH_PATTERN.test(scriptHash)) {
    throw new Error(`"${shorten(given)}" is not a script hash (64 hex digits)`);
  }
  return scriptHash;
}

// With useBigInt the client reads every integer as a bigint (lossless-json's
// parseNumberAndBigInt); without it, as a number.
function readSats(value: unknown, what: string): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  throw new Error(`server sent ${what} ${shorten(String(value))}, expected an integer`);
}

function readHeight(value: unknown): number {
  const height = typeof value === 'bigint' ? Number(value) : value;
  if (typeof height === 'number' && Number.isSafeInteger(height) && height >= -1) return height;
  throw new Error(`server sent height ${shorten(String(value))}, expected an integer >= -1`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** blockchain.scripthash.get_balance's answer. @throws Error on another shape. */
export function parseBalance(result: unknown): PageBalance {
  if (!isRecord(result)) throw new Error('server sent a balance that is not an object');
  return {
    confirmedSats: readSats(result.confirmed, 'confirmed balance'),
    unconfirmedSats: readSats(result.unconfirmed, 'unconfirmed balance'),
  };
}

/** blockchain.scripthash.get_history's answer. @throws Error on another shape. */
export function parseHistory(result: unknown): PageHistoryItem[] {
  if (!Array.isArray(result)) throw new Error('server sent a history that is not a list');
  return result.map((item: unknown) => {
    if (!isRecord(item) || typeof item.tx_hash !== 'string') {
      throw new Error('server sent a history entry without tx_hash');
    }
    return { txHash: item.tx_hash, height: readHeight(item.height) };
  });
}

/** Sats as coins with eight decimals, e.g. 5000000001n -> "50.00000001"; keeps the sign. */
export function formatCoins(sats: bigint): string {
  const sign = sats < 0n ? '-' : '';
  const magnitude = sats < 0n ? -sats : sats;
  const fraction = (magnitude % SATS_PER_COIN).toString().padStart(8, '0');
  return `${sign}${magnitude / SATS_PER_COIN}.${fraction}`;
}
