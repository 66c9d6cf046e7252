// A group's ledger and a session's meter (worker/limits), on a fake clock: shared budgets,
// retained cost, batched settles, the throttle, -101 and -102. Numbers are worked out here.
import { describe, expect, it } from 'vitest';
import { EXCESSIVE_RESOURCE_USAGE, RpcError, SERVER_BUSY } from '../core/protocol/errors.ts';
import { readBudget } from '../worker/limits/budget.ts';
import { ConcurrencyGate } from '../worker/limits/concurrency-gate.ts';
import { throttleAt } from '../worker/limits/cost-model.ts';
import { emptyLedger, GroupLedger, type GroupSnapshot } from '../worker/limits/group-ledger.ts';
import {
  SessionMeter,
  SETTLE_INTERVAL_MS,
  type GroupPort,
  type MeterClock,
} from '../worker/limits/session-meter.ts';

// A hard limit of 1,000 that drains fully in 100 s (10 units/s without subscriptions).
const budget = readBudget({
  COST_SOFT_LIMIT: '200',
  COST_HARD_LIMIT: '1000',
  COST_DECAY_SECONDS: '100',
  REQUEST_SLEEP: '1000',
  REQUEST_TIMEOUT: '5',
  INITIAL_CONCURRENT: '4',
  MAX_SESSIONS_PER_IP: '3',
});

class FakeClock implements MeterClock {
  now = 1_000_000;
  #timers: { at: number; callback: () => void; live: boolean }[] = [];

  nowMs(): number {
    return this.now;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimer(resolve, ms));
  }

  setTimer(callback: () => void, ms: number): () => void {
    const timer = { at: this.now + ms, callback, live: true };
    this.#timers.push(timer);
    return () => {
      timer.live = false;
    };
  }

  /** Moves time forward, firing due timers in order and letting promises settle between them. */
  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    for (let guard = 0; guard < 10_000; guard++) {
      await flush();
      const due = this.#timers.filter((t) => t.live && t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      due.live = false;
      this.now = Math.max(this.now, due.at);
      due.callback();
    }
    this.now = end;
    await flush();
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

// A Limiter stand-in: a real ledger on the fake clock, counting the settles it receives, and
// request slots as the Limiter keeps them (a gate as wide as the throttle's concurrency).
class FakeGroup {
  readonly ledger = new GroupLedger(emptyLedger(0));
  readonly slots = new ConcurrencyGate(budget.initialConcurrent);
  readonly #held = new Map<string, () => void>();
  settles = 0;
  slotsAsked = 0;
  readonly closedCharges: number[] = [];
  failNext = false;
  constructor(readonly clock: FakeClock) {}

  port(sessionId: string): GroupPort {
    return {
      settle: async (charge, subscriptions): Promise<GroupSnapshot> => {
        this.settles += 1;
        if (this.failNext) {
          this.failNext = false;
          throw new Error('limiter unreachable');
        }
        const now = this.clock.now;
        return this.ledger.settle(sessionId, charge, subscriptions, budget, now).snapshot;
      },
      beginRequest: async () => {
        this.slotsAsked += 1;
        const figures = (): GroupSnapshot => this.ledger.snapshot(budget, this.clock.now);
        const throttle = throttleAt(figures().cost, budget);
        if (throttle.cutOff) return { token: null, snapshot: figures() };
        this.slots.setTarget(throttle.concurrency);
        const release = await this.slots.acquire();
        const token = String(this.slotsAsked);
        this.#held.set(token, release);
        return { token, snapshot: figures() };
      },
      endRequest: async (token) => {
        this.#held.get(token)?.();
        this.#held.delete(token);
      },
      chargeClosed: async (charge) => {
        this.closedCharges.push(charge);
        this.ledger.charge(charge, budget, this.clock.now);
      },
    };
  }
}

function meterFor(group: FakeGroup, sessionId: string, cutOffs: number[] = []): SessionMeter {
  const verdict = group.ledger.open(sessionId, budget, group.clock.now);
  if (!verdict.admitted) throw new Error('not admitted');
  return new SessionMeter({
    budget,
    port: group.port(sessionId),
    clock: group.clock,
    events: { onCutOff: (cost) => cutOffs.push(cost), onSettleFailed: () => {} },
    state: { snapshot: verdict.snapshot, snapshotAtMs: group.clock.now, unsettled: 0 },
    subscriptions: () => 0,
  });
}

/** A request that takes 10 ms of the fake clock, and the most of them seen running at once. */
function slowRequests(clock: FakeClock): { slow: () => Promise<string>; most: () => number } {
  let running = 0;
  let most = 0;
  const slow = async (): Promise<string> => {
    running += 1;
    most = Math.max(most, running);
    await clock.sleep(10);
    running -= 1;
    return 'done';
  };
  return { slow, most: () => most };
}

describe('GroupLedger', () => {
  it('shares one cost among sessions, keeps it after they close, and decays it', () => {
    const ledger = new GroupLedger(emptyLedger(0));
    for (const id of ['a', 'b', 'c']) expect(ledger.open(id, budget, 0).admitted).toBe(true);
    const full = ledger.open('d', budget, 0);
    expect(full).toMatchObject({ admitted: false, reason: 'sessions' });
    ledger.settle('a', 300, 0, budget, 0);
    ledger.settle('b', 300, 0, budget, 0);
    expect(ledger.close('c', 200, budget, 0).snapshot).toMatchObject({ cost: 800, sessions: 2 });
    // 10 units/s: after 30 s, 800 - 300 = 500.
    expect(ledger.snapshot(budget, 30_000).cost).toBeCloseTo(500, 9);
    ledger.close('a', 0, budget, 30_000);
    ledger.close('b', 0, budget, 30_000);
    expect(ledger.snapshot(budget, 30_000)).toMatchObject({ sessions: 0 });
    expect(ledger.snapshot(budget, 30_000).cost).toBeCloseTo(500, 9);
    expect(ledger.isEmpty(budget, 80_000)).toBe(true);
  });

  it('decays slower with subscriptions: hard / (D x (1 + subs / 2000))', () => {
    const ledger = new GroupLedger(emptyLedger(0));
    ledger.open('a', budget, 0);
    ledger.settle('a', 900, 2000, budget, 0);
    // 2,000 subscriptions double the decay period: 5 units/s.
    expect(ledger.snapshot(budget, 10_000).cost).toBeCloseTo(850, 9);
  });

  it('refuses new sessions at the hard limit until the cost decays below it', () => {
    const ledger = new GroupLedger(emptyLedger(0));
    ledger.open('a', budget, 0);
    ledger.close('a', 1100, budget, 0);
    const refused = ledger.open('b', budget, 0);
    // 100 over the limit at 10 units/s: 10 s.
    expect(refused).toMatchObject({ admitted: false, reason: 'cost', retryAfterSec: 10 });
    expect(ledger.open('b', budget, 10_500).admitted).toBe(true);
  });

  it('reports the start and the end of throttling once each', () => {
    const ledger = new GroupLedger(emptyLedger(0));
    ledger.open('a', budget, 0);
    expect(ledger.settle('a', 150, 0, budget, 0).change).toBeNull();
    expect(ledger.settle('a', 100, 0, budget, 0).change).toBe('throttled');
    expect(ledger.settle('a', 100, 0, budget, 0).change).toBeNull();
    // 350 - 10/s x 20 s = 150: below the soft limit again.
    expect(ledger.settle('a', 0, 0, budget, 20_000).change).toBe('relieved');
  });

  it('forgets sessions whose lease ran out', () => {
    const ledger = new GroupLedger(emptyLedger(0));
    ledger.open('a', budget, 0);
    ledger.open('b', budget, 50_000);
    expect(ledger.expire(60_000, budget, 90_000)).toEqual(['a']);
    expect(ledger.snapshot(budget, 90_000).sessions).toBe(1);
  });
});

describe('SessionMeter', () => {
  it('settles in batches: by cost delta, and by time for small charges', async () => {
    const clock = new FakeClock();
    const group = new FakeGroup(clock);
    const meter = meterFor(group, 's1');
    // Below the soft limit a settle waits for 1/200 of the hard limit (5 units) or 1 s.
    meter.charge(1);
    meter.charge(1);
    await flush();
    expect(group.settles).toBe(0);
    expect(meter.estimate()).toBeCloseTo(2, 9);
    await clock.advance(SETTLE_INTERVAL_MS);
    expect(group.settles).toBe(1);
    meter.charge(6);
    await flush();
    expect(group.settles).toBe(2);
    // Both settles came at the same moment; half a second later 10 units/s took 5 off.
    expect(group.ledger.snapshot(budget, clock.now).cost).toBeCloseTo(8, 6);
    expect(group.ledger.snapshot(budget, clock.now + 500).cost).toBeCloseTo(3, 6);
  });

  it('sees the charges of other sessions of its group at its next settle', async () => {
    const clock = new FakeClock();
    const group = new FakeGroup(clock);
    const first = meterFor(group, 'a');
    const second = meterFor(group, 'b');
    first.charge(600);
    await flush();
    expect(second.estimate()).toBe(0);
    second.charge(10);
    await flush();
    expect(second.estimate()).toBeCloseTo(610, 6);
  });

  it('above the soft limit, looks at the group before each request', async () => {
    const clock = new FakeClock();
    const group = new FakeGroup(clock);
    const first = meterFor(group, 'a');
    const second = meterFor(group, 'b');
    second.charge(600);
    await flush();
    first.charge(500);
    await flush();
    // The second session last saw 600; the group now holds 1,100, past the hard limit.
    expect(second.estimate()).toBeCloseTo(600, 6);
    const settlesBefore = group.settles;
    await expect(second.runRequest(() => 'late')).rejects.toMatchObject({ code: -101 });
    expect(group.settles).toBe(settlesBefore + 1);
  });

  it('shares the concurrency among the group\'s open sessions, one each at least', async () => {
    const clock = new FakeClock();
    const group = new FakeGroup(clock);
    const first = meterFor(group, 'a');
    // Alone, the session may run INITIAL_CONCURRENT (4) requests at once.
    expect(first.concurrency()).toBe(4);
    const second = meterFor(group, 'b');
    const third = meterFor(group, 'c');
    // The second and third opened into a group of 2 and 3: 4 / 2 and 4 / 3 (at least 1).
    expect(second.concurrency()).toBe(2);
    expect(third.concurrency()).toBe(1);
    // The first learns of the others at its next settle.
    first.charge(10);
    await flush();
    expect(first.concurrency()).toBe(1);
    // A third session running four slow requests starts one, the rest wait for its slot.
    const { slow, most } = slowRequests(clock);
    const all = Promise.all([1, 2, 3, 4].map(() => third.runRequest(slow)));
    await clock.advance(100);
    await expect(all).resolves.toEqual(['done', 'done', 'done', 'done']);
    expect(most()).toBe(1);
  });

  it('runs each request of a crowded group in one of the group\'s slots', async () => {
    const clock = new FakeClock();
    const group = new FakeGroup(clock);
    // Three sessions of a group at 750 of 200..1000: the throttle lets ceil(0.31 x 4) = 2
    // requests run at once, fewer than the sessions, so the group is crowded.
    const meters = ['a', 'b', 'c'].map((id) => meterFor(group, id));
    group.ledger.charge(750, budget, clock.now);
    for (const meter of meters) meter.charge(0.001);
    await clock.advance(SETTLE_INTERVAL_MS);
    expect(meters.map((meter) => meter.crowded())).toEqual([true, true, true]);
    const { slow, most } = slowRequests(clock);
    // Each session fires three at once: one at a time each (2 / 3 rounds down to 1), and each
    // in one of the group's two slots, so at most two run in the whole group.
    const requests = meters.flatMap((meter) => [1, 2, 3].map(() => meter.runRequest(slow)));
    await clock.advance(5000);
    await expect(Promise.all(requests)).resolves.toEqual(Array(9).fill('done'));
    expect(group.slotsAsked).toBe(9);
    expect(most()).toBe(2);
    // Past the hard limit: -101 (the session looks at the group first, above soft).
    group.ledger.charge(1000, budget, clock.now);
    const [first] = meters;
    if (first === undefined) throw new Error('a meter expected');
    const refused = first.runRequest(slow);
    await clock.advance(1000);
    await expect(refused).rejects.toMatchObject({ code: -101 });
  });

  it('waits for the group\'s figures once its spending x its sessions passes soft', async () => {
    const clock = new FakeClock();
    const group = new FakeGroup(clock);
    const meters = ['a', 'b', 'c'].map((id) => meterFor(group, id));
    const third = meters[2];
    if (third === undefined) throw new Error('three meters expected');
    // 4 units unsettled (under the 5 that start a settle) times 3 sessions is under soft 200:
    // the request runs without a settle.
    third.charge(4);
    await flush();
    const before = group.settles;
    await expect(third.runRequest(() => 'quick')).resolves.toBe('quick');
    expect(group.settles).toBe(before);
    // The other two spent 450 each meanwhile, unseen by the third; its 4 + 70 unsettled times
    // 3 sessions is past soft, so the next request settles first and finds the group at 974.
    for (const other of meters.slice(0, 2)) other.charge(450);
    await flush();
    third.charge(70);
    const settlesBefore = group.settles;
    // Past soft, the request also sleeps (about 970 ms at 974 of 200..1000).
    const late = third.runRequest(() => 'after a settle');
    await flush();
    expect(group.settles).toBe(settlesBefore + 1);
    expect(third.estimate()).toBeGreaterThan(970);
    await clock.advance(1000);
    await expect(late).resolves.toBe('after a settle');
    // With the group's figures in hand, the next one crossing the hard limit is refused.
    third.charge(60);
    await flush();
    await expect(third.runRequest(() => 'never')).rejects.toMatchObject({ code: -101 });
  });

  it('throttles per the model and refuses at the hard limit with -101 (once logged)', async () => {
    const clock = new FakeClock();
    const group = new FakeGroup(clock);
    const cutOffs: number[] = [];
    const meter = meterFor(group, 'a', cutOffs);
    meter.charge(600);
    await flush();
    // 600 of 200..1000: half way, 500 ms sleep, concurrency ceil(0.5 x 4) = 2.
    expect(meter.throttle()).toMatchObject({ sleepMs: 500, concurrency: 2 });
    let done = false;
    const running = meter.runRequest(() => 'answer').then((value) => {
      done = true;
      return value;
    });
    await clock.advance(499);
    expect(done).toBe(false);
    await clock.advance(1);
    await expect(running).resolves.toBe('answer');
    meter.charge(500);
    await flush();
    const refused = meter.runRequest(() => 'never');
    const cutOff = { code: EXCESSIVE_RESOURCE_USAGE, disconnect: true };
    await expect(refused).rejects.toMatchObject(cutOff);
    await expect(meter.runRequest(() => 'never')).rejects.toBeInstanceOf(RpcError);
    expect(cutOffs).toHaveLength(1);
  });

  it('times a request out with -102 and keeps its slot until the work ends', async () => {
    const clock = new FakeClock();
    const group = new FakeGroup(clock);
    const meter = meterFor(group, 'a');
    let finish: () => void = () => {};
    const slow = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const running = meter.runRequest(() => slow);
    const outcome = running.catch((error: unknown) => error);
    await clock.advance(budget.requestTimeoutMs);
    await expect(outcome).resolves.toMatchObject({ code: SERVER_BUSY });
    finish();
    await flush();
  });

  it('charges requests still running at close as they end, and runs no new one', async () => {
    const clock = new FakeClock();
    const group = new FakeGroup(clock);
    const meter = meterFor(group, 'a');
    let finish = (): void => {};
    const held = new Promise<void>((resolve) => (finish = resolve));
    // A long request: its cost is known once it ends, after the client has gone.
    const running = meter.runRequest(async () => {
      await held;
      meter.charge(40);
      return 'late';
    });
    meter.charge(3);
    await flush();
    expect(await meter.close()).toBe(3);
    let ran = false;
    await expect(meter.runRequest(() => (ran = true))).rejects.toMatchObject({ code: -102 });
    expect(ran).toBe(false);
    finish();
    await expect(running).resolves.toBe('late');
    await flush();
    expect(group.closedCharges).toEqual([40]);
    expect(group.ledger.snapshot(budget, clock.now).cost).toBeCloseTo(40, 6);
  });

  it('keeps charges after a failed settle and retries later', async () => {
    const clock = new FakeClock();
    const group = new FakeGroup(clock);
    const meter = meterFor(group, 'a');
    group.failNext = true;
    meter.charge(50);
    await flush();
    expect(group.settles).toBe(1);
    expect(meter.estimate()).toBeCloseTo(50, 9);
    await clock.advance(SETTLE_INTERVAL_MS);
    expect(group.settles).toBe(2);
    expect(group.ledger.snapshot(budget, clock.now).cost).toBeCloseTo(50, 6);
    expect(await meter.close()).toBe(0);
  });
});

describe('ConcurrencyGate', () => {
  it('lets `target` holders in, queues the rest, and drops aborted waiters', async () => {
    const gate = new ConcurrencyGate(2);
    const first = await gate.acquire();
    await gate.acquire();
    const controller = new AbortController();
    const third = gate.acquire(controller.signal);
    const fourth = gate.acquire();
    expect(gate.waiting).toBe(2);
    controller.abort(new Error('timed out'));
    await expect(third).rejects.toThrow('timed out');
    first();
    first();
    const release = await fourth;
    expect(gate.active).toBe(2);
    gate.setTarget(1);
    release();
    expect(gate.active).toBe(1);
  });
});
