// The Worker's method handlers in Node over a fake index: the cases a real chain file lacks.
// Radiant refs in listunspent, the history limit, refusals, an empty index, our own failures,
// fee answers per estimate mode and mempool floor, get_balance's cost, merkle trees kept.
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { getCoin, type Coin } from '../core/coins.ts';
import {
  handleMessage,
  wholeFrame,
  type DispatchOptions,
} from '../core/protocol/dispatch.ts';
import { MAX_SEND_BYTES } from '../core/protocol/framing.ts';
import { METHODS } from '../core/protocol/methods.ts';
import { HANDLERS } from '../worker/handlers.ts';
import type { IndexReader } from '../worker/index-reader.ts';
import type { MethodContext, SessionControl } from '../worker/methods/context.ts';
import { requestCost } from '../worker/limits/method-cost.ts';
import { HISTORY_LIMIT, scripthashGetBalance } from '../worker/methods/scripthash.ts';
import { transactionGet, transactionIdFromPos } from '../worker/methods/transaction.ts';

// DESIGN §3 worked example (P2PKH of Radiant's genesis coinbase key), display hex.
const SCRIPT_HASH = '9932d8a64601168b894a4a2a4fbc72b3e71698a3c09e8010a6f297f7b9bc03fd';
const TXID = '6d91004fa3802c66f1f7631f312952dea648c1f95cd4511646491d0f2c2ef600';

function internal(displayHex: string): Uint8Array {
  return new Uint8Array(Buffer.from(displayHex, 'hex').reverse());
}

/** An index whose every method fails unless the test provides it. */
function fakeIndex(overrides: Partial<IndexReader>): IndexReader {
  const missing = (name: string) => () => Promise.reject(new Error(`fake index: ${name} not set`));
  return {
    tip: missing('tip'),
    header: missing('header'),
    headers: missing('headers'),
    txidAt: missing('txidAt'),
    rawTx: missing('rawTx'),
    balance: missing('balance'),
    history: missing('history'),
    historyCount: missing('historyCount'),
    mempoolHistory: missing('mempoolHistory'),
    unspent: missing('unspent'),
    unspentCount: missing('unspentCount'),
    status: missing('status'),
    relayFee: missing('relayFee'),
    feeEstimate: missing('feeEstimate'),
    mempoolFees: missing('mempoolFees'),
    headerRange: missing('headerRange'),
    blockTxidsWithTip: missing('blockTxidsWithTip'),
    txRecord: missing('txRecord'),
    headerTreeNodes: missing('headerTreeNodes'),
    refHistory: missing('refHistory'),
    feeRateBuckets: missing('feeRateBuckets'),
    ...overrides,
  };
}

function memorySession(negotiated?: string): SessionControl & { subscribed: Map<string, string> } {
  let version = negotiated ?? '1.4';
  let sent = negotiated !== undefined;
  const subscribed = new Map<string, string>();
  return {
    subscribed,
    protocolVersion: () => version,
    versionSent: () => sent,
    setVersion: (_name, negotiated) => {
      sent = true;
      version = negotiated;
    },
    subscribeHeaders: () => {},
    subscribeScriptHash: (hashx, sentAs) => {
      subscribed.set(Buffer.from(hashx).toString('hex'), sentAs);
    },
    unsubscribeScriptHash: (hashx) => subscribed.delete(Buffer.from(hashx).toString('hex')),
  };
}

function methodContext(index: IndexReader, coin: Coin, session: SessionControl): MethodContext {
  const server = { serverVersion: 'test 1.0', banner: 'b', donationAddress: '' };
  return { index, coin, server, session };
}

/** The reply text to one request, in a session that negotiated `version` (default: none, 1.4). */
async function exchange(
  index: IndexReader,
  method: string,
  params: unknown,
  options: { coin?: Coin; version?: string; logged?: unknown[] } = {}
): Promise<string> {
  const session = memorySession(options.version);
  const coin = options.coin ?? getCoin('Radiant', 'mainnet');
  const dispatch: DispatchOptions<MethodContext> = {
    methods: METHODS,
    handlers: HANDLERS,
    context: methodContext(index, coin, session),
    protocolVersion: () => session.protocolVersion(),
    onInternalError: (error) => options.logged?.push(error),
  };
  const outcome = await handleMessage(JSON.stringify({ id: 1, method, params }), dispatch);
  return outcome.reply ?? 'null';
}

async function call(
  index: IndexReader,
  method: string,
  params: unknown,
  coin: Coin = getCoin('Radiant', 'mainnet')
): Promise<{ result?: unknown; error?: { code: number; message: string }; logged: unknown[] }> {
  const logged: unknown[] = [];
  const text = await exchange(index, method, params, { coin, logged });
  const reply = JSON.parse(text) as { result?: unknown; error?: never };
  return { result: reply.result, error: reply.error, logged };
}

/** One batch (ids 0..n-1) in a fresh session: the reply frame and its parsed replies. */
async function sendBatch(
  index: IndexReader,
  requests: { method: string; params: unknown[] }[]
): Promise<{ text: string; replies: { result?: unknown; error?: unknown }[] }> {
  const session = memorySession();
  const dispatch: DispatchOptions<MethodContext> = {
    methods: METHODS,
    handlers: HANDLERS,
    context: methodContext(index, getCoin('Radiant', 'mainnet'), session),
    protocolVersion: () => session.protocolVersion(),
    onInternalError: () => {},
  };
  const batch = requests.map((request, id) => ({ id, ...request }));
  const text = (await handleMessage(JSON.stringify(batch), dispatch)).reply ?? '[]';
  return { text, replies: JSON.parse(text) as { result?: unknown; error?: unknown }[] };
}

async function batchReplies(
  index: IndexReader,
  requests: { method: string; params: unknown[] }[]
): Promise<{ result?: unknown; error?: unknown }[]> {
  return (await sendBatch(index, requests)).replies;
}

describe('blockchain.transaction.broadcast without a relay', () => {
  it('says the server does not broadcast, as a daemon error, not an internal one', async () => {
    // A coinbase-shaped tx that parses: 1 input, 1 output, version 1 (built here by hand).
    const tx =
      '01000000' + '01' + '00'.repeat(32) + 'ffffffff' + '00' + 'ffffffff' +
      '01' + '0000000000000000' + '01' + '51' + '00000000';
    const { error, logged } = await call(fakeIndex({}), 'blockchain.transaction.broadcast', [tx]);
    expect(error).toEqual({ code: 2, message: 'this server does not broadcast transactions' });
    expect(logged).toEqual([]);
  });

  it('shows an empty raw tx visibly in its refusal', async () => {
    const { error } = await call(fakeIndex({}), 'blockchain.transaction.broadcast', ['']);
    expect(error).toEqual({ code: 1, message: '"" should be a hex string' });
  });
});

describe('listunspent refs (Radiant)', () => {
  // Two refs: a normal one on output 1 of TXID, a singleton on output 258 (u32 LE 02 01 00 00).
  const refNormal = Buffer.concat([internal(TXID), Buffer.from([1, 0, 0, 0])]);
  const refSingle = Buffer.concat([internal(TXID), Buffer.from([2, 1, 0, 0])]);
  const packed = new Uint8Array(
    Buffer.concat([refNormal, Buffer.from([0]), refSingle, Buffer.from([1])])
  );
  const index = fakeIndex({
    unspent: async () => [
      { txid: internal(TXID), vout: 0, height: 26591, value: 2n ** 60n, refs: packed },
      { txid: internal(TXID), vout: 1, height: 0, value: 5n, refs: null },
    ],
  });

  it('lists each ref as "<txid display hex>i<vout>" with its kind, [] without', async () => {
    const { result } = await call(index, 'blockchain.scripthash.listunspent', [SCRIPT_HASH]);
    expect(result).toEqual([
      {
        tx_hash: TXID,
        tx_pos: 0,
        height: 26591,
        value: Number(2n ** 60n),
        refs: [
          { ref: `${TXID}i1`, type: 'normal' },
          { ref: `${TXID}i258`, type: 'single' },
        ],
      },
      { tx_hash: TXID, tx_pos: 1, height: 0, value: 5, refs: [] },
    ]);
  });

  it('leaves refs out for chains without them', async () => {
    const { result } = await call(
      index,
      'blockchain.scripthash.listunspent',
      [SCRIPT_HASH],
      getCoin('BitcoinCash', 'mainnet')
    );
    expect((result as object[]).every((utxo) => !('refs' in utxo))).toBe(true);
  });

  it('treats a malformed refs column as our failure, not a client mistake', async () => {
    const broken = fakeIndex({
      unspent: async () => [
        { txid: internal(TXID), vout: 0, height: 1, value: 1n, refs: packed.subarray(0, 36) },
      ],
    });
    const { error, logged } = await call(broken, 'blockchain.scripthash.listunspent', [
      SCRIPT_HASH,
    ]);
    expect(error).toEqual({ code: -32603, message: 'internal server error' });
    expect(String(logged[0])).toContain('refs column of 36 bytes');
  });
});

describe('merkle proofs from kept block trees', () => {
  // An independent tree: node:crypto's SHA-256d over Buffer.concat, odd nodes paired with
  // themselves (Bitcoin's BlockMerkleRoot), the branch read level by level.
  const sha256d = (data: Buffer): Buffer =>
    createHash('sha256').update(createHash('sha256').update(data).digest()).digest();
  function referenceBranch(leaves: Buffer[], index: number): { root: Buffer; branch: Buffer[] } {
    const branch: Buffer[] = [];
    let level = leaves;
    let position = index;
    while (level.length > 1) {
      branch.push(level[position ^ 1] ?? (level[position] as Buffer));
      const next: Buffer[] = [];
      for (let i = 0; i < level.length; i += 2) {
        const left = level[i] as Buffer;
        next.push(sha256d(Buffer.concat([left, level[i + 1] ?? left])));
      }
      level = next;
      position >>= 1;
    }
    return { root: level[0] as Buffer, branch };
  }
  const display = (bytes: Uint8Array): string => Buffer.from(bytes).reverse().toString('hex');

  // A block of `count` random txids and a header carrying their merkle root.
  function block(count: number): { txids: Buffer[]; header: Uint8Array } {
    const txids = Array.from({ length: count }, () => randomBytes(32));
    const header = new Uint8Array(80);
    header.set(referenceBranch(txids, 0).root, 36);
    return { txids, header };
  }

  function countingIndex(blocks: Map<number, { txids: Buffer[]; header: Uint8Array }>) {
    const reads = { txids: 0 };
    const index = fakeIndex({
      headerRange: async (height) => {
        const found = blocks.get(height);
        return { tipHeight: 1000, headers: found === undefined ? [] : [found.header] };
      },
      blockTxidsWithTip: async (height) => {
        reads.txids += 1;
        await new Promise((resolve) => setTimeout(resolve, 1));
        return { tipHeight: 1000, txids: blocks.get(height)?.txids ?? null };
      },
    });
    return { index, reads };
  }


  it('reads a block once for a batch of proofs from it; each answer as the reference', async () => {
    const big = block(3001);
    const { index, reads } = countingIndex(new Map([[700, big]]));
    const positions = [0, 1, 1500, 2999, 3000, ...Array.from({ length: 195 }, (_, n) => n * 15)];
    const replies = await batchReplies(index, [
      ...positions.map((pos) => ({
        method: 'blockchain.transaction.id_from_pos',
        params: [700, pos, true],
      })),
      {
        method: 'blockchain.transaction.get_merkle',
        params: [display(big.txids[2222] as Buffer), 700],
      },
    ]);
    expect(reads.txids).toBe(1);
    positions.forEach((pos, n) => {
      const { branch } = referenceBranch(big.txids, pos);
      expect(replies[n]?.result).toEqual({
        tx_hash: display(big.txids[pos] as Buffer),
        merkle: branch.map(display),
      });
    });
    const { branch } = referenceBranch(big.txids, 2222);
    expect(replies[positions.length]?.result).toEqual({
      block_height: 700,
      merkle: branch.map(display),
      pos: 2222,
    });
  });

  it('charges the proof that built the tree n_tx / 500 more than one cut from it', async () => {
    const { index } = countingIndex(new Map([[800, block(3001)]]));
    const context = methodContext(index, getCoin('Radiant', 'mainnet'), memorySession());
    const room = wholeFrame(MAX_SEND_BYTES);
    const method = 'blockchain.transaction.id_from_pos';
    const first = await transactionIdFromPos(context, [800, 7, true], room);
    const second = await transactionIdFromPos(context, [800, 8, true], room);
    // LIMITS.md: 0.25 + n_tx / 2500 with n_tx taken as 2^branch length (12 levels for 3,001),
    // plus 3,001 / 500 for the request that read the block and built its tree.
    const proof = 0.25 + 2 ** 12 / 2500;
    expect(requestCost(method, 0.25, [800, 7, true], first)).toBeCloseTo(proof + 3001 / 500, 9);
    expect(requestCost(method, 0.25, [800, 8, true], second)).toBeCloseTo(proof, 9);
    // The mark is for the cost table only: the wire form is the protocol's two fields.
    expect(JSON.parse(JSON.stringify(first))).toEqual({
      tx_hash: expect.any(String),
      merkle: expect.any(Array),
    });
  });

  it('reads the block again when its header changes (a reorg), not the old tree', async () => {
    const blocks = new Map([[5, block(7)]]);
    const { index, reads } = countingIndex(blocks);
    const ask = [{ method: 'blockchain.transaction.id_from_pos', params: [5, 6, true] }];
    const [first] = await batchReplies(index, ask);
    const replaced = block(9);
    blocks.set(5, replaced);
    const [second] = await batchReplies(index, ask);
    expect(reads.txids).toBe(2);
    expect(first?.result).not.toEqual(second?.result);
    expect(second?.result).toEqual({
      tx_hash: display(replaced.txids[6] as Buffer),
      merkle: referenceBranch(replaced.txids, 6).branch.map(display),
    });
  });

  it('keeps no tree whose txids miss the header root, and says so as our failure', async () => {
    const damaged = block(4);
    damaged.header = damaged.header.slice();
    damaged.header[40] = (damaged.header[40] ?? 0) ^ 1;
    const { index, reads } = countingIndex(new Map([[9, damaged]]));
    const ask = [{ method: 'blockchain.transaction.id_from_pos', params: [9, 0, true] }];
    for (let round = 0; round < 2; round++) {
      const [reply] = await batchReplies(index, ask);
      expect(reply?.error).toEqual({ code: -32603, message: 'internal server error' });
    }
    expect(reads.txids).toBe(2);
  });
});

describe('limits and refusals', () => {
  it('refuses a history that reaches the limit with code 10001', async () => {
    const rows = Array.from({ length: HISTORY_LIMIT }, () => ({ txid: internal(TXID), height: 1 }));
    let askedLimit = 0;
    let rowsRead = 0;
    const index = fakeIndex({
      history: async (_hashx, limit) => {
        // As the index answers: the count up to the limit, no rows once it is reached.
        const confirmedCount = Math.min(rows.length, limit);
        const confirmed = confirmedCount >= limit ? [] : rows.slice(0, limit);
        rowsRead += confirmed.length;
        return { confirmedCount, confirmed, mempool: [] };
      },
      historyCount: async (_hashx, limit) => {
        askedLimit = limit;
        return Math.min(rows.length, limit);
      },
    });
    const { error } = await call(index, 'blockchain.scripthash.get_history', [SCRIPT_HASH]);
    expect(error).toEqual({ code: 10001, message: 'history too large' });
    // Counted up to (MAX_SEND - 100) / 99 entries, as ElectrumX sizes them; no row read.
    expect(askedLimit).toBe(Math.floor((8_100_000 - 100) / 99));
    expect(rowsRead).toBe(0);
  });

  it('reads no more of a batch of long histories than one reply frame can carry', async () => {
    // A 5,799-entry history asked for 70 times in one batch (ElectrumX would build every reply).
    const entries = 5_799;
    const txid = internal(TXID);
    const rows = Array.from({ length: entries }, (_, n) => ({ txid, height: n + 1 }));
    let rowsRead = 0;
    const index = fakeIndex({
      history: async (_hashx, limit) => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        const confirmedCount = Math.min(rows.length, limit);
        const confirmed = confirmedCount >= limit ? [] : rows.slice(0, limit);
        rowsRead += confirmed.length;
        return { confirmedCount, confirmed, mempool: [] };
      },
      historyCount: async (_hashx, limit) => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        return Math.min(rows.length, limit);
      },
    });
    const method = 'blockchain.scripthash.get_history';
    const batch = Array.from({ length: 70 }, () => ({ method, params: [SCRIPT_HASH] }));
    const { text, replies } = await sendBatch(index, batch);

    // Each whole answer is the history in the spec's shape, computed here from the rows.
    const wholeAnswer = rows.map((row) => ({ tx_hash: TXID, height: row.height }));
    const answered = replies.filter((reply) => reply.result !== undefined);
    for (const reply of answered) expect(reply.result).toEqual(wholeAnswer);
    const refusal = { code: -32600, message: 'response too large (over 8,100,000 bytes' };
    for (const reply of replies.filter((r) => r.result === undefined)) {
      expect(reply.error).toEqual(refusal);
    }
    const answerBytes = Buffer.byteLength(JSON.stringify({ jsonrpc: '2.0', result: wholeAnswer }));
    expect(answered.length).toBe(Math.floor(MAX_SEND_BYTES / answerBytes));
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MAX_SEND_BYTES);
    // Rows read: the answers that fit, and nothing more. Each history past 1,000 entries is
    // counted and its room claimed before its rows are read, so the items running beside the
    // ones that fit are refused unread (old code: 70 x 5,799 rows; then 10 running at once read
    // theirs whatever the room).
    expect(rowsRead).toBe(answered.length * entries);
  });

  it('refuses a listunspent longer than a reply holds, counting it before reading it', async () => {
    let askedLimit = 0;
    let rowsRead = 0;
    const index = fakeIndex({
      unspent: async (_hashx, limit) => {
        const utxo = { txid: internal(TXID), vout: 0, height: 1, value: 1n, refs: null };
        rowsRead += Math.min(limit, 200_000);
        return Array.from({ length: Math.min(limit, 200_000) }, () => utxo);
      },
      unspentCount: async (_hashx, limit) => {
        askedLimit = limit;
        return Math.min(limit, 200_000);
      },
    });
    const { error } = await call(index, 'blockchain.scripthash.listunspent', [SCRIPT_HASH]);
    expect(error).toEqual({ code: -32600, message: 'response too large (over 8,100,000 bytes' });
    // The smallest Radiant entry, counted by hand, comma included:
    // {"tx_hash":"<64>","tx_pos":0,"height":1,"value":1,"refs":[]},
    const smallest = `{"tx_hash":"${TXID}","tx_pos":0,"height":1,"value":1,"refs":[]},`.length;
    expect(smallest).toBe(121);
    expect(askedLimit).toBe(Math.floor(MAX_SEND_BYTES / smallest) + 1);
    // A first read of 1,001 rows, then the count: the rows past them are never read.
    expect(rowsRead).toBe(1001);
  });

  it('refuses a raw tx whose hex cannot fit a reply without encoding it', async () => {
    // Only the length of these bytes may be read: encoding them would fail as our own error.
    const raw = { length: MAX_SEND_BYTES / 2 + 1 } as unknown as Uint8Array;
    const block = null;
    const index = fakeIndex({ txRecord: async () => ({ raw, block, tipHeight: 10 }) });
    const { error } = await call(index, 'blockchain.transaction.get', [TXID]);
    expect(error).toEqual({ code: -32600, message: 'response too large (over 8,100,000 bytes' });
  });

  it('claims a verbose tx\'s room before building it, refusing one that cannot fit', async () => {
    // A tx with one input and 100,000 outputs of a one-byte script, serialized here by hand:
    // version, 1 input (prev txid, vout, empty script, sequence), 0xfe + u32 output count,
    // 100,000 x (8-byte value, script length 1, OP_TRUE), locktime.
    const outputs = 100_000;
    const parts = [Buffer.from([1, 0, 0, 0, 1]), Buffer.alloc(32, 7), Buffer.alloc(4)];
    parts.push(Buffer.from([0]));
    parts.push(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xfe]));
    const count = Buffer.alloc(4);
    count.writeUInt32LE(outputs);
    parts.push(count);
    const output = Buffer.from([0x10, 0x27, 0, 0, 0, 0, 0, 0, 1, 0x51]);
    for (let n = 0; n < outputs; n++) parts.push(output);
    parts.push(Buffer.alloc(4));
    const raw = new Uint8Array(Buffer.concat(parts));
    const index = fakeIndex({ txRecord: async () => ({ raw, block: null, tipHeight: 10 }) });
    const context = methodContext(index, getCoin('BitcoinCash', 'mainnet'), memorySession());
    const claims: number[] = [];
    const room = {
      maxSendBytes: MAX_SEND_BYTES,
      bytes: () => MAX_SEND_BYTES,
      claim: (bytes: number) => {
        claims.push(bytes);
        return bytes <= MAX_SEND_BYTES;
      },
    };
    const started = performance.now();
    await expect(transactionGet(context, [TXID, true], room)).rejects.toMatchObject({
      code: -32600,
    });
    // The hex first (2 per byte); then the hex, at least 100 bytes per input and 70 per output
    // of JSON (9.0 MB, past 8.1 MB): refused before the 100,000 output objects are built.
    expect(claims).toEqual([2 * raw.length, 2 * raw.length + 100 + outputs * 70]);
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('refuses a verbose flag that is not a boolean', async () => {
    const index = fakeIndex({ rawTx: async () => new Uint8Array([1]) });
    expect((await call(index, 'blockchain.transaction.get', [TXID, 'yes'])).error).toEqual({
      code: 1,
      message: '"verbose" must be a boolean',
    });
  });

  it('says so when the index is empty or the relay fee unknown', async () => {
    const index = fakeIndex({ tip: async () => null, relayFee: async () => null });
    expect((await call(index, 'blockchain.headers.subscribe', [])).error).toEqual({
      code: 1,
      message: 'the index holds no blocks yet',
    });
    expect((await call(index, 'blockchain.relayfee', [])).error).toEqual({
      code: 1,
      message: 'relay fee not known yet',
    });
  });

  it('hides index failures behind -32603 and reports them', async () => {
    const index = fakeIndex({
      status: async () => {
        throw new Error('SQLITE_ERROR: no such table: status (token s3cret)');
      },
    });
    const { error, logged } = await call(index, 'blockchain.scripthash.subscribe', [SCRIPT_HASH]);
    expect(error).toEqual({ code: -32603, message: 'internal server error' });
    expect(JSON.stringify(error)).not.toContain('s3cret');
    expect(String(logged[0])).toContain('no such table');
  });

  it('sends the status digest as plain hex and accepts named parameters', async () => {
    const digest = new Uint8Array(32).map((_, i) => i);
    const index = fakeIndex({ status: async () => digest });
    const named = { scripthash: SCRIPT_HASH };
    const { result } = await call(index, 'blockchain.scripthash.subscribe', named);
    expect(result).toBe(Buffer.from(digest).toString('hex'));
  });
});

describe('fees per estimate mode and mempool floor', () => {
  // A different figure per mode, so the wrong table would show: no mode 0.0002, CONSERVATIVE
  // 0.0004, ECONOMICAL none.
  const asked: [number, string | undefined][] = [];
  const rates = new Map<string | undefined, number | null>([
    [undefined, 0.0002],
    ['CONSERVATIVE', 0.0004],
    ['ECONOMICAL', null],
  ]);
  const index = fakeIndex({
    feeEstimate: async (targetBlocks, mode) => {
      asked.push([targetBlocks, mode]);
      return rates.get(mode) ?? null;
    },
  });

  it('asks the index for the mode given, upper-cased, and for none without one', async () => {
    asked.length = 0;
    expect((await call(index, 'blockchain.estimatefee', [6])).result).toBe(0.0002);
    expect((await call(index, 'blockchain.estimatefee', [6, null])).result).toBe(0.0002);
    expect((await call(index, 'blockchain.estimatefee', [3, 'conservative'])).result).toBe(0.0004);
    expect((await call(index, 'blockchain.estimatefee', [2, 'ECONOMICAL'])).result).toBe(-1);
    expect(asked).toEqual([
      [6, undefined],
      [6, undefined],
      [3, 'CONSERVATIVE'],
      [2, 'ECONOMICAL'],
    ]);
  });

  it('refuses any other mode with code 1, naming it', async () => {
    asked.length = 0;
    expect((await call(index, 'blockchain.estimatefee', [2, 'fast'])).error).toEqual({
      code: 1,
      message: 'unknown estimatefee mode: FAST',
    });
    expect((await call(index, 'blockchain.estimatefee', [2, 5])).error).toEqual({
      code: 1,
      message: 'unknown estimatefee mode: 5',
    });
    expect(asked).toEqual([]);
  });

  it('answers mempool.get_info from the node floors, in coin per kB with 8 decimals', async () => {
    const floors = fakeIndex({
      mempoolFees: async () => ({
        relayFee: 0.01,
        mempoolMinFee: 0.0125,
        incrementalFee: 0.000001,
      }),
    });
    expect(await exchange(floors, 'mempool.get_info', [], { version: '1.6' })).toBe(
      '{"jsonrpc":"2.0","result":{"mempoolminfee":0.01250000,"minrelaytxfee":0.01000000,' +
        '"incrementalrelayfee":0.00000100},"id":1}'
    );
  });

  it('answers the relay fee where the node reported no floor or increment', async () => {
    const relayOnly = fakeIndex({
      mempoolFees: async () => ({ relayFee: 0.00001, mempoolMinFee: null, incrementalFee: null }),
    });
    expect(await exchange(relayOnly, 'mempool.get_info', [], { version: '1.6' })).toBe(
      '{"jsonrpc":"2.0","result":{"mempoolminfee":0.00001000,"minrelaytxfee":0.00001000,' +
        '"incrementalrelayfee":0.00001000},"id":1}'
    );
    const unknown = fakeIndex({ mempoolFees: async () => null });
    expect(await exchange(unknown, 'mempool.get_info', [], { version: '1.6' })).toBe(
      '{"jsonrpc":"2.0","error":{"code":1,"message":"relay fee not known yet"},"id":1}'
    );
  });
});

describe('get_balance cost', () => {
  const index = fakeIndex({
    balance: async () => ({ confirmed: 2n ** 60n, unconfirmed: -5n, utxoCount: 120 }),
  });

  it('sends only confirmed and unconfirmed', async () => {
    const text = await exchange(index, 'blockchain.scripthash.get_balance', [SCRIPT_HASH]);
    expect(text).toBe(
      `{"jsonrpc":"2.0","result":{"confirmed":${2n ** 60n},"unconfirmed":-5},"id":1}`
    );
  });

  it('costs 1 + utxos / 50, as ElectrumX charges it', async () => {
    const context = methodContext(index, getCoin('Radiant', 'mainnet'), memorySession());
    const result = await scripthashGetBalance(context, [SCRIPT_HASH], wholeFrame(MAX_SEND_BYTES));
    const method = 'blockchain.scripthash.get_balance';
    // ElectrumX session.py get_balance: bump_cost(1.0 + len(utxos) / 50); 120 UTXOs -> 3.4.
    expect(requestCost(method, 1, [SCRIPT_HASH], result)).toBeCloseTo(3.4, 12);
    expect(Object.keys(result as object)).toEqual(['confirmed', 'unconfirmed']);
  });
});
