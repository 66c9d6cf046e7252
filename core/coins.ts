// Chain parameters per coin and network: genesis hash, header hash function, tx format flags.
import { sha256d, sha512_256d } from './hashes.ts';

/** Coins the server can index. */
export type CoinName = 'Radiant' | 'BitcoinCash' | 'Bitcoin';
/** Networks of each coin. */
export type NetName = 'mainnet' | 'testnet' | 'regtest';

/** What the parsers and the indexer need to know about one coin on one network. */
export interface Coin {
  name: CoinName;
  net: NetName;
  /** Hash of block 0, display hex. */
  genesisHash: string;
  /** Hash of an 80-byte header, internal order. */
  headerHash(header80: Uint8Array): Uint8Array;
  /** BIP144 witness serialization allowed (Bitcoin only). */
  segwit: boolean;
  /** Ref opcodes, version 3 txids and zero-ref script hashes (DESIGN §3). */
  radiant: boolean;
  /** The node's default JSON-RPC port on this network. */
  defaultRpcPort: number;
}

/** Valid coin names, in the order error messages list them. */
export const COIN_NAMES: readonly CoinName[] = ['Radiant', 'BitcoinCash', 'Bitcoin'];
/** Valid network names, in the order error messages list them. */
export const NET_NAMES: readonly NetName[] = ['mainnet', 'testnet', 'regtest'];

interface NetParams {
  genesisHash: string;
  defaultRpcPort: number;
}

// Bitcoin Core chainparams.cpp / chainparamsbase.cpp; Bitcoin Cash Node keeps the same genesis
// blocks and RPC ports (its testnet is testnet3).
const BITCOIN_NETS: Record<NetName, NetParams> = {
  mainnet: {
    genesisHash: '000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f',
    defaultRpcPort: 8332,
  },
  testnet: {
    genesisHash: '000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943',
    defaultRpcPort: 18332,
  },
  regtest: {
    genesisHash: '0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206',
    defaultRpcPort: 18443,
  },
};

// radiant-node src/chainparams.cpp (CMainParams, CTestNetParams, CRegTestParams: testnet and
// regtest share one genesis block) and src/chainparamsbase.cpp (RPC ports 7332, 17332, 17443).
const RADIANT_NETS: Record<NetName, NetParams> = {
  mainnet: {
    genesisHash: '0000000065d8ed5d8be28d6876b3ffb660ac2a6c0ca59e437e1f7a6f4e003fb4',
    defaultRpcPort: 7332,
  },
  testnet: {
    genesisHash: '000000002008a2f4a76b850a838ae084994c200dc2fd354f73102298fe063a91',
    defaultRpcPort: 17332,
  },
  regtest: {
    genesisHash: '000000002008a2f4a76b850a838ae084994c200dc2fd354f73102298fe063a91',
    defaultRpcPort: 17443,
  },
};

function isCoinName(name: string): name is CoinName {
  return (COIN_NAMES as readonly string[]).includes(name);
}

function isNetName(net: string): net is NetName {
  return (NET_NAMES as readonly string[]).includes(net);
}

/**
 * The parameters of `name` on `net` (names are case-sensitive, as in the COIN and NET settings).
 * @throws Error naming the valid coins or networks on unknown input.
 */
export function getCoin(name: string, net: string): Coin {
  if (!isCoinName(name)) {
    throw new Error(`unknown coin "${String(name).slice(0, 40)}"; valid: ${COIN_NAMES.join(', ')}`);
  }
  if (!isNetName(net)) {
    const valid = NET_NAMES.join(', ');
    throw new Error(`unknown network "${String(net).slice(0, 40)}"; valid: ${valid}`);
  }
  const radiant = name === 'Radiant';
  const params = (radiant ? RADIANT_NETS : BITCOIN_NETS)[net];
  return {
    name,
    net,
    genesisHash: params.genesisHash,
    headerHash: radiant ? sha512_256d : sha256d,
    segwit: name === 'Bitcoin',
    radiant,
    defaultRpcPort: params.defaultRpcPort,
  };
}
