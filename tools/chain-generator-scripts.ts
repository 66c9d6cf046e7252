// Wallet-like scripts for the chain generator: output templates, filler scriptSigs, genesis blocks.
import { join } from 'node:path';
import { concatBytes, hashToHex, hexToBytes, u32LE } from '../core/bytes.ts';
import type { Coin } from '../core/coins.ts';
import { sha256d } from '../core/hashes.ts';
import { serializeTx } from './block-builder.ts';
import { loadChainFile } from './chain-file.ts';
import type { SeededRandom } from './chain-generator-random.ts';

/** How an output locks its coins; tokens are Radiant only, P2WPKH Bitcoin only. */
export type OutputKind = 'p2pkh' | 'p2sh' | 'p2wpkh' | 'nft' | 'ft';

const OP_DUP_HASH160_PUSH20 = Uint8Array.of(0x76, 0xa9, 0x14);
const OP_EQUALVERIFY_CHECKSIG = Uint8Array.of(0x88, 0xac);
const OP_PUSHINPUTREFSINGLETON = 0xd8;
const OP_PUSHINPUTREF = 0xd0;
const OP_DROP = 0x75;
const OP_STATESEPARATOR = 0xbd;
// The fungible-token covenant tail of the FT-style script in DESIGN §3 (after the ref push).
const FT_TAIL = hexToBytes('dec0e9aa76e378e4a269e69d');

/** P2PKH: OP_DUP OP_HASH160 <20> OP_EQUALVERIFY OP_CHECKSIG. */
export function p2pkhScript(hash160: Uint8Array): Uint8Array {
  return concatBytes(OP_DUP_HASH160_PUSH20, hash160, OP_EQUALVERIFY_CHECKSIG);
}

/** P2SH: OP_HASH160 <20> OP_EQUAL. */
export function p2shScript(hash160: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(0xa9, 0x14), hash160, Uint8Array.of(0x87));
}

/** BIP141 P2WPKH: OP_0 <20>. */
export function p2wpkhScript(hash160: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(0x00, 0x14), hash160);
}

/** Radiant NFT-style output (DESIGN §3): OP_PUSHINPUTREFSINGLETON <ref> OP_DROP, then P2PKH. */
export function nftScript(ref: Uint8Array, hash160: Uint8Array): Uint8Array {
  return concatBytes(
    Uint8Array.of(OP_PUSHINPUTREFSINGLETON),
    ref,
    Uint8Array.of(OP_DROP),
    p2pkhScript(hash160)
  );
}

/** Radiant FT-style output (DESIGN §3): P2PKH, OP_STATESEPARATOR, OP_PUSHINPUTREF <ref>, tail. */
export function ftScript(ref: Uint8Array, hash160: Uint8Array): Uint8Array {
  return concatBytes(
    p2pkhScript(hash160),
    Uint8Array.of(OP_STATESEPARATOR, OP_PUSHINPUTREF),
    ref,
    FT_TAIL
  );
}

/** An unspendable data output: OP_RETURN <push>, or OP_0 OP_RETURN <push> (DESIGN §3). */
export function opReturnScript(data: Uint8Array, withLeadingZero: boolean): Uint8Array {
  const head = withLeadingZero ? Uint8Array.of(0x00, 0x6a) : Uint8Array.of(0x6a);
  return concatBytes(head, Uint8Array.of(data.length), data);
}

/** The output script of `kind` for a key (`ref` only for tokens). */
export function outputScript(kind: OutputKind, hash160: Uint8Array, ref?: Uint8Array): Uint8Array {
  switch (kind) {
    case 'p2pkh':
      return p2pkhScript(hash160);
    case 'p2sh':
      return p2shScript(hash160);
    case 'p2wpkh':
      return p2wpkhScript(hash160);
    case 'nft':
    case 'ft':
      if (ref === undefined) throw new Error(`${kind} output needs a ref`);
      return kind === 'nft' ? nftScript(ref, hash160) : ftScript(ref, hash160);
  }
}

// Filler signatures: DER-shaped (0x30 len 0x02 0x20 r 0x02 0x20 s, then the sighash byte) with
// random r and s. Nothing in the indexer checks signatures, but scriptSig sizes stay realistic.
function fillerSignature(random: SeededRandom): Uint8Array {
  const sig = new Uint8Array(71);
  sig.set([0x30, 0x44, 0x02, 0x20], 0);
  random.fill(sig, 4, 36);
  sig.set([0x02, 0x20], 36);
  random.fill(sig, 38, 70);
  sig[70] = 0x41; // SIGHASH_ALL | SIGHASH_FORKID, as BCH and Radiant sign
  return sig;
}

function fillerPubkey(random: SeededRandom): Uint8Array {
  const key = random.bytes(33);
  key[0] = 0x02 + (key[0] ?? 0) % 2;
  return key;
}

function push(data: Uint8Array): Uint8Array {
  if (data.length < 0x4c) return concatBytes(Uint8Array.of(data.length), data);
  return concatBytes(Uint8Array.of(0x4c, data.length), data);
}

/** What spending an output of `kind` puts in the input: scriptSig and, for P2WPKH, a witness. */
export function spendData(
  kind: OutputKind,
  random: SeededRandom
): { script: Uint8Array; witness?: Uint8Array[] } {
  if (kind === 'p2wpkh') {
    return { script: new Uint8Array(0), witness: [fillerSignature(random), fillerPubkey(random)] };
  }
  if (kind !== 'p2sh') {
    return { script: concatBytes(push(fillerSignature(random)), push(fillerPubkey(random))) };
  }
  // 2-of-3 multisig redeem script: OP_2 <key> <key> <key> OP_3 OP_CHECKMULTISIG.
  const keys = [fillerPubkey(random), fillerPubkey(random), fillerPubkey(random)];
  const redeem = concatBytes(Uint8Array.of(0x52), ...keys.map(push), Uint8Array.of(0x53, 0xae));
  const sigs = [push(fillerSignature(random)), push(fillerSignature(random))];
  return { script: concatBytes(Uint8Array.of(0x00), ...sigs, push(redeem)) };
}

const DATA_DIR = join(import.meta.dirname, '..', 'data');

// radiant-node src/chainparams.cpp, CreateGenesisBlockTestnet(1657071137, 67046444, 0x1d00ffff,
// 1, 50000 * COIN): a coinbase whose scriptSig pushes 486604799, 4 and the text below, paying one
// P2PKH output to the genesis key. core/coins.ts gives testnet and regtest this genesis hash.
function radiantTestnetGenesis(): Uint8Array {
  const text = new TextEncoder().encode('This is a Radiant testing block');
  const scriptSig = concatBytes(hexToBytes('04ffff001d0104'), push(text));
  const genesisKey = hexToBytes('4f9ab47a237441c0dc61dcd39fd92709f281b033');
  const sequence = 0xffffffff;
  const coinbase = serializeTx({
    version: 1,
    inputs: [{ prevTxid: new Uint8Array(32), prevVout: 0xffffffff, script: scriptSig, sequence }],
    outputs: [{ value: 50_000n * 100_000_000n, script: p2pkhScript(genesisKey) }],
    locktime: 0,
  });
  const header = concatBytes(
    u32LE(1),
    new Uint8Array(32),
    sha256d(coinbase),
    u32LE(1657071137),
    u32LE(0x1d00ffff),
    u32LE(67046444)
  );
  return concatBytes(header, Uint8Array.of(1), coinbase);
}

/**
 * The genesis block of the coin's network, raw: Bitcoin and Bitcoin Cash regtest and the
 * mainnets from the chain files in data/, Radiant testnet/regtest rebuilt from the node's
 * parameters. Checked against coin.genesisHash.
 * @throws Error for a network without a known genesis block (Bitcoin testnet).
 */
export function genesisBlock(coin: Coin): Uint8Array {
  let hex: string | undefined;
  let block: Uint8Array | undefined;
  if (coin.radiant && coin.net !== 'mainnet') block = radiantTestnetGenesis();
  else if (coin.radiant) {
    hex = loadChainFile(join(DATA_DIR, 'radiant_mainnet_0-1.json'))[0];
  } else if (coin.net === 'regtest') {
    // Bitcoin's and Bitcoin Cash's regtest genesis blocks are the same bytes.
    hex = loadChainFile(join(DATA_DIR, 'bitcoincash_regtest_0-103.json'))[0];
  } else if (coin.net === 'mainnet' && coin.name === 'Bitcoin') {
    hex = loadChainFile(join(DATA_DIR, 'bitcoin_mainnet_0-255.json'))[0];
  }
  if (hex !== undefined) block = hexToBytes(hex);
  if (block === undefined) {
    throw new Error(`no genesis block known for ${coin.name} ${coin.net}; use regtest`);
  }
  const hash = hashToHex(coin.headerHash(block.subarray(0, 80)));
  if (hash !== coin.genesisHash) {
    throw new Error(`genesis block of ${coin.name} ${coin.net} hashes to ${hash} (cannot happen)`);
  }
  return block;
}
