// A counting gate whose width can change while requests wait: the per-session concurrency that
// shrinks as the group's cost rises (DESIGN §6). Pure code.

/** Releases a slot; calling it again does nothing. */
export type Release = () => void;

interface Waiter {
  grant: (release: Release) => void;
}

/** Lets at most `target` holders through at once; waiters go first come, first served. */
export class ConcurrencyGate {
  #target: number;
  #active = 0;
  readonly #waiters: Waiter[] = [];

  constructor(target: number) {
    this.#target = Math.max(0, Math.floor(target));
  }

  /** Holders right now. */
  get active(): number {
    return this.#active;
  }

  /** Requests waiting for a slot. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** Changes the width: a wider gate lets waiters in now, a narrower one lets holders finish. */
  setTarget(target: number): void {
    this.#target = Math.max(0, Math.floor(target));
    this.#drain();
  }

  /**
   * Waits for a slot. When `signal` aborts first, the wait ends with its reason and takes no slot.
   */
  acquire(signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted === true) return Promise.reject(signal.reason);
    if (this.#waiters.length === 0 && this.#active < this.#target) {
      return Promise.resolve(this.#take());
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: (release) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(release);
        },
      };
      const onAbort = (): void => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  #take(): Release {
    this.#active += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#active -= 1;
      this.#drain();
    };
  }

  #drain(): void {
    while (this.#active < this.#target) {
      const waiter = this.#waiters.shift();
      if (waiter === undefined) return;
      waiter.grant(this.#take());
    }
  }
}
