// POST /rpc's handlers, metered as a WebSocket session's are: the requests of one IP group in
// this isolate run through one gate (at most the throttle's concurrency at once, however many
// POSTs and batch items carry them), wait at most REQUEST_TIMEOUT for it, and each is charged the
// method table's cost (base plus size part, worker/limits/method-cost.ts).
import type { DispatchOptions, Handler } from '../../core/protocol/dispatch.ts';
import { ConcurrencyGate } from './concurrency-gate.ts';
import { requestCost } from './method-cost.ts';
import { requestTimedOut } from './session-meter.ts';

/** Groups whose gate an isolate keeps (idle gates of other groups are dropped past this). */
const MAX_GATES = 4096;
// One gate per group with POSTs in this isolate.
const gates = new Map<string, ConcurrencyGate>();

function gateOf(group: string, concurrency: number): ConcurrencyGate {
  let gate = gates.get(group);
  if (gate === undefined) {
    if (gates.size >= MAX_GATES) {
      for (const [other, idle] of gates) {
        if (idle.active === 0 && idle.waiting === 0) gates.delete(other);
      }
    }
    gate = new ConcurrencyGate(concurrency);
    gates.set(group, gate);
  }
  gate.setTarget(concurrency);
  return gate;
}
// The meter of each metered POST, found by its Request (the middleware makes it, the route uses
// it, and the middleware charges what it counted).
const meters = new WeakMap<Request, HttpRequestMeter>();

/** The metering of one POST /rpc of a group. */
export class HttpRequestMeter {
  readonly #gate: ConcurrencyGate;
  readonly #timeoutMs: number;
  /** The method costs of the requests answered so far. */
  methodsCost = 0;

  constructor(group: string, concurrency: number, timeoutMs: number) {
    this.#gate = gateOf(group, concurrency);
    this.#timeoutMs = timeoutMs;
  }

  /** Remembers this meter for `request` (see meterOf). */
  attach(request: Request): void {
    meters.set(request, this);
  }

  /** The dispatch options with every handler gated and charged. */
  options<C>(options: DispatchOptions<C>): DispatchOptions<C> {
    const handlers: Record<string, Handler<C>> = {};
    for (const [name, handler] of Object.entries(options.handlers)) {
      if (handler === undefined) continue;
      const baseCost = options.methods.get(name)?.cost ?? 1;
      handlers[name] = (context, args, room) => {
        return this.#run(name, baseCost, args, () => handler(context, args, room));
      };
    }
    return { ...options, handlers };
  }

  async #run(
    name: string,
    baseCost: number,
    args: readonly unknown[],
    work: () => unknown
  ): Promise<unknown> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(requestTimedOut()), this.#timeoutMs);
    let release: (() => void) | null = null;
    try {
      release = await this.#gate.acquire(abort.signal);
      let result: unknown;
      try {
        result = await work();
      } catch (error) {
        this.methodsCost += baseCost;
        throw error;
      }
      this.methodsCost += requestCost(name, baseCost, args, result);
      return result;
    } finally {
      clearTimeout(timer);
      release?.();
    }
  }
}

/** The meter the middleware attached to `request`; undefined for exempt callers. */
export function meterOf(request: Request): HttpRequestMeter | undefined {
  return meters.get(request);
}
