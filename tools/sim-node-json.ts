// JSON output of the simulated node: amounts written with 8 decimals, exactly, as bitcoind does.

const COIN_DECIMALS = 8;

/**
 * An amount in satoshis / photons that serializes as a JSON number in coins with 8 decimals
 * (the node's ValueFromAmount), without passing through a double, so values above 2^53 stay exact.
 */
export class JsonAmount {
  readonly sats: bigint;

  constructor(sats: bigint) {
    this.sats = sats;
  }

  /** The amount in coins as decimal text with 8 fraction digits, e.g. "0.01000000". */
  decimal(): string {
    const negative = this.sats < 0n;
    const digits = (negative ? -this.sats : this.sats).toString().padStart(COIN_DECIMALS + 1, '0');
    const whole = digits.slice(0, -COIN_DECIMALS);
    const fraction = digits.slice(-COIN_DECIMALS);
    return `${negative ? '-' : ''}${whole}.${fraction}`;
  }
}

/** A value the node can put in a reply. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonAmount
  | JsonValue[]
  | { [key: string]: JsonValue | undefined };

/**
 * Serializes like JSON.stringify (no spaces; keys with an undefined value are left out) except that
 * JsonAmount values are written as bare decimal numbers.
 */
export function stringifyJson(value: JsonValue): string {
  if (value instanceof JsonAmount) return value.decimal();
  if (Array.isArray(value)) return `[${value.map(stringifyJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const members: string[] = [];
    for (const [key, member] of Object.entries(value)) {
      if (member !== undefined) members.push(`${JSON.stringify(key)}:${stringifyJson(member)}`);
    }
    return `{${members.join(',')}}`;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) return 'null';
  return JSON.stringify(value);
}

/** A fee rate or amount given in coins (a double, as the node's fee settings are) as sats. */
export function coinsToSats(coins: number): bigint {
  return BigInt(Math.round(coins * 10 ** COIN_DECIMALS));
}
