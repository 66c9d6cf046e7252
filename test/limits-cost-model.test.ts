// The cost model of worker/limits: budget vars, per-request and per-reply costs, decay and the
// throttle. Expected numbers are worked out here from issue 5 and DESIGN §6, not from the code.
import { describe, expect, it } from 'vitest';
import { PARSE_ERROR, RpcError } from '../core/protocol/errors.ts';
import { encodeBatch, encodeError, encodeResult } from '../core/protocol/framing.ts';
import { readBudget, readLimitSettings } from '../worker/limits/budget.ts';
import {
  bandwidthCost,
  chargedAsError,
  decayed,
  decayPerSecond,
  errorRepliesCost,
  throttleAt,
} from '../worker/limits/cost-model.ts';
import { emptyLedger, GroupLedger } from '../worker/limits/group-ledger.ts';
import { requestCost } from '../worker/limits/method-cost.ts';

describe('readBudget and readLimitSettings', () => {
  it('defaults to DESIGN §6', () => {
    const budget = readBudget({});
    expect(budget).toMatchObject({
      softLimit: 1000,
      hardLimit: 10_000,
      bandwidthUnitBytes: 5000,
      decaySeconds: 10_000,
      initialConcurrent: 10,
      requestSleepMs: 2500,
      requestTimeoutMs: 30_000,
      sessionTimeoutMs: 600_000,
    });
    const settings = readLimitSettings({});
    expect(settings).toMatchObject({
      maxSessions: 1000,
      maxSendBytes: 8_100_000,
      maxRecvBytes: 1_000_000,
      ipv4PrefixBits: 24,
      ipv6PrefixBits: 48,
      exemptPrivate: true,
      anonLogs: false,
    });
  });

  it('takes strings and numbers, as wrangler passes vars', () => {
    const vars = { COST_SOFT_LIMIT: '50', COST_HARD_LIMIT: 400, REQUEST_TIMEOUT: '1.5' };
    const budget = readBudget(vars);
    expect([budget.softLimit, budget.hardLimit, budget.requestTimeoutMs]).toEqual([50, 400, 1500]);
    expect(readLimitSettings({ EXEMPT_PRIVATE: 'off', ANON_LOGS: true }).exemptPrivate).toBe(false);
  });

  it('names a bad var and its value', () => {
    expect(() => readBudget({ COST_HARD_LIMIT: 'lots' })).toThrow(/COST_HARD_LIMIT.*"lots"/);
    expect(() => readBudget({ COST_SOFT_LIMIT: '500', COST_HARD_LIMIT: '500' })).toThrow(/below/);
    expect(() => readBudget({ INITIAL_CONCURRENT: '2.5' })).toThrow(/INITIAL_CONCURRENT.*integer/);
    const wideGroup = () => readLimitSettings({ SESSION_GROUP_BY_SUBNET_IPV4: '33' });
    expect(wideGroup).toThrow(/IPV4.*0\.\.32/);
    expect(() => readLimitSettings({ EXEMPT_PRIVATE: 'maybe' })).toThrow(/EXEMPT_PRIVATE/);
  });
});

describe('decay and throttle', () => {
  const budget = readBudget({});

  it('decays hard / (10000 + 5 x subscriptions) per second', () => {
    expect(decayPerSecond(budget, 0)).toBeCloseTo(10_000 / 10_000, 12);
    expect(decayPerSecond(budget, 400)).toBeCloseTo(10_000 / (10_000 + 5 * 400), 12);
    expect(decayPerSecond(budget, 50_000)).toBeCloseTo(10_000 / (10_000 + 5 * 50_000), 12);
    const fastVars = { COST_DECAY_SECONDS: '10', COST_HARD_LIMIT: '400', COST_SOFT_LIMIT: '100' };
    const fast = readBudget(fastVars);
    expect(decayPerSecond(fast, 0)).toBeCloseTo(40, 12);
    expect(decayed(100, 1500, 40)).toBeCloseTo(40, 12);
    expect(decayed(10, 60_000, 40)).toBe(0);
  });

  it('sleeps REQUEST_SLEEP x the way from soft to hard, with fewer requests at once', () => {
    const free = { fraction: 0, concurrency: 10, sleepMs: 0, cutOff: false };
    expect(throttleAt(999, budget)).toEqual(free);
    // Half way: 5,500 of 1,000..10,000.
    const half = throttleAt(5500, budget);
    expect(half.sleepMs).toBeCloseTo(1250, 9);
    expect(half.concurrency).toBe(5);
    // Just past the soft limit the concurrency rounds up and stays at 10.
    expect(throttleAt(1001, budget).concurrency).toBe(10);
    expect(throttleAt(9999, budget).concurrency).toBe(1);
    expect(throttleAt(10_000, budget).cutOff).toBe(true);
    expect(throttleAt(12_000, budget)).toMatchObject({ fraction: 1, sleepMs: 2500, cutOff: true });
  });

  it('charges bandwidth per BANDWIDTH_UNIT_COST bytes', () => {
    expect(bandwidthCost(1_000_000, budget)).toBe(200);
  });
});

describe('request and reply costs', () => {
  const history = (n: number) => {
    return Array.from({ length: n }, (_, height) => ({ tx_hash: 'aa', height }));
  };

  it('history 0.2 + n/1000, UTXO lists 1 + n/50, merkle 0.25 + n_tx/2500', () => {
    const get = 'blockchain.scripthash.get_history';
    expect(requestCost(get, 0.2, ['x'], history(9000))).toBeCloseTo(0.2 + 9, 12);
    const list = 'blockchain.scripthash.listunspent';
    expect(requestCost(list, 1, ['x'], history(100))).toBeCloseTo(3, 12);
    // A branch of 10 hashes: a block of up to 1,024 txs.
    const merkle = { block_height: 5, merkle: new Array(10).fill('00'), pos: 3 };
    expect(requestCost('blockchain.transaction.get_merkle', 0.25, [], merkle)).toBeCloseTo(
      0.25 + 1024 / 2500,
      12
    );
    expect(requestCost('blockchain.transaction.id_from_pos', 0.25, [], 'txid')).toBe(0.25);
    expect(requestCost('server.ping', 0.1, [], null)).toBe(0.1);
  });

  it('broadcast by size and headers by count', () => {
    const rawHex = 'ab'.repeat(2500);
    const broadcast = 'blockchain.transaction.broadcast';
    expect(requestCost(broadcast, 0.25, [rawHex], 'txid')).toBeCloseTo(1.25, 12);
    const headers = { hex: '', count: 100, max: 2016 };
    const method = 'blockchain.block.headers';
    expect(requestCost(method, 1, [0, 100], headers)).toBeCloseTo(3, 12);
    const proven = { ...headers, branch: [] };
    expect(requestCost(method, 1, [0, 100, 200], proven)).toBeCloseTo(4, 12);
  });

  it('counts the error replies of a frame: 100 each, 1,100 for unparsable JSON', () => {
    const failure = encodeError(7, new RpcError(1, 'bad "error":{"code": inside a message'));
    const parse = encodeError(null, new RpcError(PARSE_ERROR, 'invalid JSON'));
    const ok = encodeResult(8, { note: '"error":{"code":1}' });
    expect(errorRepliesCost(ok)).toBe(0);
    expect(errorRepliesCost(failure)).toBe(100);
    expect(errorRepliesCost(parse)).toBe(1100);
    expect(errorRepliesCost(encodeBatch([failure, ok, failure, parse]))).toBe(3 * 100 + 1000);
  });

  it('does not charge the -101 answers of the cut-off itself', () => {
    const cut = encodeError(3, new RpcError(-101, 'excessive resource usage'));
    const failure = encodeError(4, new RpcError(1, 'bad'));
    expect(errorRepliesCost(cut)).toBe(0);
    expect(errorRepliesCost(encodeBatch([cut, failure, cut]))).toBe(100);
  });

  it('does not charge -102, a request that timed out in the server\'s queue', () => {
    const busy = encodeError(5, new RpcError(-102, 'server busy - request timed out'));
    const internal = encodeError(6, new RpcError(-32603, 'internal server error'));
    const failure = encodeError(7, new RpcError(1, 'bad'));
    expect(errorRepliesCost(encodeBatch([busy, internal, failure]))).toBe(200);
    expect(chargedAsError(new RpcError(1, 'bad'))).toBe(true);
    expect(chargedAsError(new RpcError(-102, 'busy'))).toBe(false);
    expect(chargedAsError(new RpcError(-32603, 'internal'))).toBe(true);
    expect(chargedAsError(new Error('index unreachable'))).toBe(true);
  });
});

describe('the group ledger\'s cap', () => {
  it('holds a group\'s cost at twice its hard limit, so a lockout ends within a bound', () => {
    const budget = readBudget({
      COST_SOFT_LIMIT: '200',
      COST_HARD_LIMIT: '1000',
      COST_DECAY_SECONDS: '100',
    });
    const ledger = new GroupLedger(emptyLedger(0));
    ledger.open('a', budget, 0);
    ledger.settle('a', 1500, 0, budget, 0);
    expect(ledger.snapshot(budget, 0).cost).toBe(1500);
    // 100 sessions' worth of errors at once: the cost stops at 2 x 1,000.
    ledger.settle('a', 100 * 1100, 0, budget, 0);
    ledger.charge(5000, budget, 0);
    expect(ledger.snapshot(budget, 0).cost).toBe(2000);
    expect(ledger.close('a', 9999, budget, 0).snapshot.cost).toBe(2000);
    // 10 units a second (1,000 / 100 s): back under the hard limit after 100 s.
    expect(ledger.snapshot(budget, 100_000).cost).toBeCloseTo(1000, 6);
  });
});
