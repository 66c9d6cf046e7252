// COIN and NET, the chain a Worker serves (read where no other setting is needed).
import { getCoin, type Coin } from '../core/coins.ts';

/** COIN and NET. @throws Error naming the two settings and the valid values. */
export function readCoin(env: { COIN: string; NET: string }): Coin {
  try {
    return getCoin(env.COIN, env.NET);
  } catch (error) {
    throw new Error(`COIN/NET: ${error instanceof Error ? error.message : String(error)}`);
  }
}
