// Tests of /wallet?address=: addresses of the protocol docs' and Electrum's examples lead to the
// script hashes those sources give (test/fixtures/vectors/SOURCES.md).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { addressTarget } from '../worker/page/wallet-address.ts';

interface AddressVector {
  address: string;
  scripthash: string;
  source: string;
}

const VECTORS_URL = new URL('./fixtures/vectors/derived-spec-examples.json', import.meta.url);
const VECTORS = (
  JSON.parse(readFileSync(VECTORS_URL, 'utf8')) as { scripthash: Partial<AddressVector>[] }
).scripthash.filter((v): v is AddressVector => v.address !== undefined);

function pageOf(scriptHash: string): string {
  return `/wallet?scripthash=${scriptHash}`;
}

type WorkerEnv = Parameters<typeof addressTarget>[1];

function env(coin: string, net: string): WorkerEnv {
  return { COIN: coin, NET: net } as WorkerEnv;
}

describe('/wallet?address=', () => {
  it('leads each example address to the script hash its source gives', () => {
    expect(VECTORS.length).toBeGreaterThanOrEqual(10);
    for (const vector of VECTORS) {
      const net = vector.address.startsWith('bcrt1') ? 'regtest' : 'mainnet';
      const target = addressTarget(vector.address, env('Bitcoin', net));
      expect(target, vector.source).toEqual({ location: pageOf(vector.scripthash) });
    }
  });

  it('reads base58 addresses the same way on Radiant (same P2PKH and P2SH versions)', () => {
    for (const vector of VECTORS.filter((v) => /^[13]/.test(v.address))) {
      const target = addressTarget(vector.address, env('Radiant', 'mainnet'));
      expect(target, vector.source).toEqual({ location: pageOf(vector.scripthash) });
    }
  });

  it('names the text and the chain when it is not an address of this chain', () => {
    const segwit = VECTORS.find((v) => v.address.startsWith('bc1'));
    expect(addressTarget(segwit?.address ?? '', env('Radiant', 'mainnet'))).toEqual({
      error: expect.stringMatching(/^"bc1q\w+" is not a valid address: .+ \(for Radiant mainnet\)/),
    });
    // The genesis address with its last character changed.
    const mistyped = '1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb';
    expect(addressTarget(mistyped, env('Bitcoin', 'mainnet'))).toEqual({
      error: `"${mistyped}" is not a valid address: bad base58check (for Bitcoin mainnet)`,
    });
    expect(addressTarget('x', env('Dogecoin', 'mainnet'))).toEqual({
      error: expect.stringMatching(/^server misconfigured: COIN\/NET: /),
    });
  });
});
