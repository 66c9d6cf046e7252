// Which coin and net a chain file is: the ones whose genesis block is its block 0.
import { basename } from 'node:path';
import { HEADER_BYTES, parseHeader } from '../core/block.ts';
import { hashToHex, hexToBytes } from '../core/bytes.ts';
import { getCoin, NET_NAMES, type Coin } from '../core/coins.ts';
import { loadChainFile } from './chain-file.ts';

// Bitcoin first: Bitcoin Cash shares its genesis blocks (a file named for Bitcoin Cash, as the
// bundled bitcoincash_regtest_0-103.json, puts Bitcoin Cash first).
const DETECTION_ORDER = ['Bitcoin', 'BitcoinCash', 'Radiant'] as const;

/** The coins and nets whose genesis block is block 0 of `chainPath`. */
function coinsOfChain(chainPath: string): Coin[] {
  const first = loadChainFile(chainPath)[0] ?? '';
  const header = hexToBytes(first.slice(0, 2 * HEADER_BYTES));
  if (header.length < HEADER_BYTES) return [];
  const named = /bitcoin-?cash|bch/i.test(basename(chainPath)) ? ['BitcoinCash'] : [];
  const names = [...named, ...DETECTION_ORDER.filter((name) => !named.includes(name))];
  const coins = names.flatMap((name) => NET_NAMES.map((net) => getCoin(name, net)));
  return coins.filter((coin) => hashToHex(parseHeader(header, coin).hash) === coin.genesisHash);
}

// --coin/--net as given, or found from the chain file; refuses a pair the file does not start with.
export function chooseCoin(chainPath: string, name?: string, net?: string): { coin: string; net: string } {
  const found = coinsOfChain(chainPath);
  const match = found.find((c) => (name ?? c.name) === c.name && (net ?? c.net) === c.net);
  if (match !== undefined) {
    const others = found.filter((c) => c !== match && c.net === match.net).map((c) => c.name);
    if (name === undefined && others.length > 0) {
      const alternatives = others.join('|');
      console.log(`serving it as ${match.name} ${match.net} (--coin ${alternatives} also fits)`);
    }
    return { coin: match.name, net: match.net };
  }
  const starts = found.map((c) => `${c.name} ${c.net}`).join(' or ');
  const what = starts === '' ? 'no known genesis block' : `the genesis block of ${starts}`;
  const asked = `${name ?? 'any coin'} ${net ?? 'on any net'}`;
  throw new Error(`${chainPath} starts with ${what}, not ${asked}: check --coin and --net`);
}
