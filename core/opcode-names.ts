// Opcode names as each node's GetOpName prints them in asm (script/script.cpp of each node).
import type { CoinName } from './coins.ts';

// Names every supported node shares, 0x61 OP_NOP .. 0xb9 OP_NOP10 minus the three that differ.
const SHARED_FROM_0X61 = [
  'OP_NOP', 'OP_VER', 'OP_IF', 'OP_NOTIF', 'OP_VERIF', 'OP_VERNOTIF', 'OP_ELSE', 'OP_ENDIF',
  'OP_VERIFY', 'OP_RETURN', 'OP_TOALTSTACK', 'OP_FROMALTSTACK', 'OP_2DROP', 'OP_2DUP', 'OP_3DUP',
  'OP_2OVER', 'OP_2ROT', 'OP_2SWAP', 'OP_IFDUP', 'OP_DEPTH', 'OP_DROP', 'OP_DUP', 'OP_NIP',
  'OP_OVER', 'OP_PICK', 'OP_ROLL', 'OP_ROT', 'OP_SWAP', 'OP_TUCK', 'OP_CAT', '', '', '', 'OP_SIZE',
  'OP_INVERT', 'OP_AND', 'OP_OR', 'OP_XOR', 'OP_EQUAL', 'OP_EQUALVERIFY', 'OP_RESERVED1',
  'OP_RESERVED2', 'OP_1ADD', 'OP_1SUB', 'OP_2MUL', 'OP_2DIV', 'OP_NEGATE', 'OP_ABS', 'OP_NOT',
  'OP_0NOTEQUAL', 'OP_ADD', 'OP_SUB', 'OP_MUL', 'OP_DIV', 'OP_MOD', 'OP_LSHIFT', 'OP_RSHIFT',
  'OP_BOOLAND', 'OP_BOOLOR', 'OP_NUMEQUAL', 'OP_NUMEQUALVERIFY', 'OP_NUMNOTEQUAL', 'OP_LESSTHAN',
  'OP_GREATERTHAN', 'OP_LESSTHANOREQUAL', 'OP_GREATERTHANOREQUAL', 'OP_MIN', 'OP_MAX',
  'OP_WITHIN', 'OP_RIPEMD160', 'OP_SHA1', 'OP_SHA256', 'OP_HASH160', 'OP_HASH256',
  'OP_CODESEPARATOR', 'OP_CHECKSIG', 'OP_CHECKSIGVERIFY', 'OP_CHECKMULTISIG',
  'OP_CHECKMULTISIGVERIFY', 'OP_NOP1', 'OP_CHECKLOCKTIMEVERIFY', 'OP_CHECKSEQUENCEVERIFY',
  'OP_NOP4', 'OP_NOP5', 'OP_NOP6', 'OP_NOP7', 'OP_NOP8', 'OP_NOP9', 'OP_NOP10',
];

// Bitcoin Cash's May 2018 names for 0x7f..0x81 (radiant-node keeps them).
const BCH_SPLICE = ['OP_SPLIT', 'OP_NUM2BIN', 'OP_BIN2NUM'];

// 0xba..0xbc: data signatures and OP_REVERSEBYTES (Bitcoin Cash Node, radiant-node).
const BCH_FROM_0XBA = ['OP_CHECKDATASIG', 'OP_CHECKDATASIGVERIFY', 'OP_REVERSEBYTES'];

// 0xc0..0xcd: native introspection (Bitcoin Cash Node since 2022, radiant-node).
const INTROSPECTION_FROM_0XC0 = [
  'OP_INPUTINDEX', 'OP_ACTIVEBYTECODE', 'OP_TXVERSION', 'OP_TXINPUTCOUNT', 'OP_TXOUTPUTCOUNT',
  'OP_TXLOCKTIME', 'OP_UTXOVALUE', 'OP_UTXOBYTECODE', 'OP_OUTPOINTTXHASH', 'OP_OUTPOINTINDEX',
  'OP_INPUTBYTECODE', 'OP_INPUTSEQUENCENUMBER', 'OP_OUTPUTVALUE', 'OP_OUTPUTBYTECODE',
];

// 0xce..0xd3: CashTokens introspection (Bitcoin Cash Node since 2023).
const BCH_TOKENS_FROM_0XCE = [
  'OP_UTXOTOKENCATEGORY', 'OP_UTXOTOKENCOMMITMENT', 'OP_UTXOTOKENAMOUNT',
  'OP_OUTPUTTOKENCATEGORY', 'OP_OUTPUTTOKENCOMMITMENT', 'OP_OUTPUTTOKENAMOUNT',
];

// 0xbd..0xbf and 0xce..0xed: radiant-node src/script/script.h (state separators, SHA-512/256,
// push-refs and ref/code-script introspection).
const RADIANT_FROM_0XBD = [
  'OP_STATESEPARATOR', 'OP_STATESEPARATORINDEX_UTXO', 'OP_STATESEPARATORINDEX_OUTPUT',
];
const RADIANT_FROM_0XCE = [
  'OP_SHA512_256', 'OP_HASH512_256', 'OP_PUSHINPUTREF', 'OP_REQUIREINPUTREF',
  'OP_DISALLOWPUSHINPUTREF', 'OP_DISALLOWPUSHINPUTREFSIBLING', 'OP_REFHASHDATASUMMARY_UTXO',
  'OP_REFHASHVALUESUM_UTXOS', 'OP_REFHASHDATASUMMARY_OUTPUT', 'OP_REFHASHVALUESUM_OUTPUTS',
  'OP_PUSHINPUTREFSINGLETON', 'OP_REFTYPE_UTXO', 'OP_REFTYPE_OUTPUT', 'OP_REFVALUESUM_UTXOS',
  'OP_REFVALUESUM_OUTPUTS', 'OP_REFOUTPUTCOUNT_UTXOS', 'OP_REFOUTPUTCOUNT_OUTPUTS',
  'OP_REFOUTPUTCOUNTZEROVALUED_UTXOS', 'OP_REFOUTPUTCOUNTZEROVALUED_OUTPUTS',
  'OP_REFDATASUMMARY_UTXO', 'OP_REFDATASUMMARY_OUTPUT', 'OP_CODESCRIPTHASHVALUESUM_UTXOS',
  'OP_CODESCRIPTHASHVALUESUM_OUTPUTS', 'OP_CODESCRIPTHASHOUTPUTCOUNT_UTXOS',
  'OP_CODESCRIPTHASHOUTPUTCOUNT_OUTPUTS', 'OP_CODESCRIPTHASHZEROVALUEDOUTPUTCOUNT_UTXOS',
  'OP_CODESCRIPTHASHZEROVALUEDOUTPUTCOUNT_OUTPUTS', 'OP_CODESCRIPTBYTECODE_UTXO',
  'OP_CODESCRIPTBYTECODE_OUTPUT', 'OP_STATESCRIPTBYTECODE_UTXO', 'OP_STATESCRIPTBYTECODE_OUTPUT',
  'OP_PUSH_TX_STATE',
];

function place(table: string[], start: number, names: readonly string[]): void {
  names.forEach((name, i) => {
    if (name !== '') table[start + i] = name;
  });
}

function buildTable(coin: CoinName): readonly string[] {
  const table = new Array<string>(256).fill('OP_UNKNOWN');
  table[0x4c] = 'OP_PUSHDATA1';
  table[0x4d] = 'OP_PUSHDATA2';
  table[0x4e] = 'OP_PUSHDATA4';
  table[0x4f] = '-1';
  table[0x50] = 'OP_RESERVED';
  for (let n = 1; n <= 16; n++) table[0x50 + n] = String(n);
  place(table, 0x61, SHARED_FROM_0X61);
  if (coin === 'Bitcoin') {
    // Bitcoin Core: the disabled splice names, tapscript's OP_CHECKSIGADD, OP_INVALIDOPCODE.
    place(table, 0x7f, ['OP_SUBSTR', 'OP_LEFT', 'OP_RIGHT']);
    table[0xba] = 'OP_CHECKSIGADD';
    table[0xff] = 'OP_INVALIDOPCODE';
    return table;
  }
  place(table, 0x7f, BCH_SPLICE);
  place(table, 0xba, BCH_FROM_0XBA);
  place(table, 0xc0, INTROSPECTION_FROM_0XC0);
  if (coin === 'BitcoinCash') {
    place(table, 0xce, BCH_TOKENS_FROM_0XCE);
    return table;
  }
  place(table, 0xbd, RADIANT_FROM_0XBD);
  place(table, 0xce, RADIANT_FROM_0XCE);
  return table;
}

const TABLES: Record<CoinName, readonly string[]> = {
  Bitcoin: buildTable('Bitcoin'),
  BitcoinCash: buildTable('BitcoinCash'),
  Radiant: buildTable('Radiant'),
};

/** The name `coin`'s node prints for a non-push opcode ("OP_UNKNOWN" when it has none). */
export function opcodeName(opcode: number, coin: CoinName): string {
  return TABLES[coin][opcode] ?? 'OP_UNKNOWN';
}
