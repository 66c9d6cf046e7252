// /wallet?address=: the wallet page speaks only script hashes, as the protocol does; an address
// is turned into its script hash here, with this Worker's COIN and NET.
import { AddressError, decodeAddress, outputScript } from '../../core/address.ts';
import { hashToHex } from '../../core/bytes.ts';
import type { Coin } from '../../core/coins.ts';
import { scriptHash } from '../../core/script.ts';
import { readCoin } from '../coin-setting.ts';
import { WALLET_PAGE_PATH } from './wallet-html.ts';

/**
 * Where `?address=` leads: the same page for the address's script hash (the page itself speaks
 * only script hashes, as the protocol does), found with this Worker's COIN and NET; or the
 * reason the text is not an address of this chain.
 */
export function addressTarget(
  address: string,
  env: { COIN: string; NET: string }
): { location: string } | { error: string } {
  let coin: Coin;
  try {
    coin = readCoin(env);
  } catch (error) {
    return { error: `server misconfigured: ${error instanceof Error ? error.message : error}` };
  }
  try {
    const script = outputScript(decodeAddress(address.trim(), coin));
    const hex = hashToHex(scriptHash(script, coin));
    return { location: `${WALLET_PAGE_PATH}?scripthash=${hex}` };
  } catch (error) {
    if (!(error instanceof AddressError)) throw error;
    return { error: `${error.message} (for ${coin.name} ${coin.net})` };
  }
}
