// POST /rpc's handlers, metered as a WebSocket session's are. Before each request (each batch
// item) the group's cost as this isolate knows it (its last figures from the Limiter, decayed, plus
// what this isolate's POSTs of the group have spent since) sets the throttle: -101 at the hard
// limit, else the sleep and the concurrency of DESIGN §6. The requests of one group in this
// isolate run through one gate however many POSTs carry them, wait at most REQUEST_TIMEOUT for it,
// and each is charged the method table's cost (base plus size part, worker/limits/method-cost.ts).
import type { DispatchOptions, Handler } from '../../core/protocol/dispatch.ts';
import type { RpcError } from '../../core/protocol/errors.ts';
import type { Budget } from './budget.ts';
import { ConcurrencyGate } from './concurrency-gate.ts';
import { chargedAsError, ERROR_REPLY_COST, throttleAt } from './cost-model.ts';
import { requestCost } from './method-cost.ts';
import { excessiveUsage, requestTimedOut, untilAborted } from './session-meter.ts';

/** What a meter needs to know of its group, and tells it. */
export interface GroupView {
  budget: Budget;
  /** The group's cost now as this isolate knows it, with what its POSTs spent meanwhile. */
  cost(): number;
  /** Notes units spent by a request, before they are charged to the Limiter. */
  spend(units: number): void;
}

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
  readonly #view: GroupView;
  /** The method costs of the requests answered so far, with the errors their handlers threw. */
  methodsCost = 0;
  /** Requests whose handler failed, charged ERROR_REPLY_COST each in methodsCost already. */
  errorsCharged = 0;
  /** The request body's size as read (set by the route; a chunked body has no Content-Length). */
  requestBytes = 0;

  constructor(group: string, view: GroupView) {
    this.#view = view;
    this.#gate = gateOf(group, this.#throttle().concurrency);
  }

  #spend(units: number): void {
    this.methodsCost += units;
    this.#view.spend(units);
  }

  #throttle() {
    return throttleAt(this.#view.cost(), this.#view.budget);
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
    // Errors no handler threw are charged as they happen, as a session charges them.
    const onDispatchError = (error: RpcError): RpcError => {
      if (this.#throttle().cutOff) return excessiveUsage();
      this.errorsCharged += 1;
      this.#spend(ERROR_REPLY_COST);
      return error;
    };
    return { ...options, handlers, onDispatchError };
  }

  async #run(
    name: string,
    baseCost: number,
    args: readonly unknown[],
    work: () => unknown
  ): Promise<unknown> {
    const { budget } = this.#view;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(requestTimedOut()), budget.requestTimeoutMs);
    let release: (() => void) | null = null;
    try {
      if (this.#throttle().cutOff) throw excessiveUsage();
      this.#gate.setTarget(this.#throttle().concurrency);
      release = await this.#gate.acquire(abort.signal);
      // The cost may have risen while this request waited: look again, then sleep as it says.
      const throttle = this.#throttle();
      if (throttle.cutOff) throw excessiveUsage();
      if (throttle.sleepMs > 0) {
        await untilAborted(new Promise((done) => setTimeout(done, throttle.sleepMs)), abort.signal);
      }
      // REQUEST_TIMEOUT covers the work too; a request that times out keeps its slot until its
      // work really ends, as on a session, so timeouts cannot raise the concurrency.
      const running = Promise.resolve().then(work);
      let result: unknown;
      try {
        result = await untilAborted(running, abort.signal);
      } catch (error) {
        if (abort.signal.aborted && error === abort.signal.reason && release !== null) {
          const held = release;
          release = null;
          running.then(held, held);
        }
        // Charged now, as a session charges it: a POST of failing requests reaches the hard
        // limit as it runs, not only once answered. A timed-out wait (-102) costs the request,
        // not an error reply.
        if (chargedAsError(error)) {
          this.errorsCharged += 1;
          this.#spend(baseCost + ERROR_REPLY_COST);
        } else {
          this.#spend(baseCost);
        }
        throw error;
      }
      this.#spend(requestCost(name, baseCost, args, result));
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
