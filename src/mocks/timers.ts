/**
 * Deferred work of the mock. Delays go through `globalThis.setTimeout`, looked up at call time
 * (never captured at import), so `vi.useFakeTimers()` installed after import still drives them.
 * A zero delay runs on a promise microtask: no timer, no `setImmediate`, no I/O, so a test
 * without delays needs no fake clock at all.
 */
import { InvalidOptionError } from '../adapters/errors.js';

/** Cancels a scheduled callback; harmless once it ran. */
export type Cancel = () => void;

/** Run `callback` after `ms` milliseconds (a microtask when `ms` is 0). */
export function schedule(ms: number, callback: () => void): Cancel {
  let cancelled = false;
  if (ms <= 0) {
    void Promise.resolve().then(() => {
      if (!cancelled) callback();
    });
    return () => {
      cancelled = true;
    };
  }
  const handle = globalThis.setTimeout(() => {
    if (!cancelled) callback();
  }, ms);
  return () => {
    cancelled = true;
    globalThis.clearTimeout(handle);
  };
}

/** A set of scheduled callbacks that can all be cancelled at once (when a connection ends). */
export class TimerGroup {
  readonly #pending = new Set<Cancel>();

  /** Like {@link schedule}, remembered until it runs or the group is cleared. */
  schedule(ms: number, callback: () => void): Cancel {
    const cancel = schedule(ms, () => {
      this.#pending.delete(cancel);
      callback();
    });
    this.#pending.add(cancel);
    return () => {
      this.#pending.delete(cancel);
      cancel();
    };
  }

  /** How many callbacks are still waiting. */
  get size(): number {
    return this.#pending.size;
  }

  clear(): void {
    for (const cancel of this.#pending) cancel();
    this.#pending.clear();
  }
}

/** Check a delay option: a finite number of milliseconds, 0 or more. */
export function checkDelay(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidOptionError(name, `expected a finite number of milliseconds >= 0, got ${String(value)}`);
  }
  return value;
}
