/**
 * Timers for the engine. Every timer goes through `globalThis.setTimeout`, looked up at call time,
 * so the engine runs in browsers and fake clocks (vitest's) drive it. No `AbortSignal.timeout()`:
 * fake clocks do not reach it.
 */
import { onAbort } from '../adapters/signals.js';

/**
 * The longest delay a timer takes (2^31 - 1 ms, about 24.8 days): setTimeout fires a longer one
 * after 1 ms, so a huge ttl or interval would spin, re-arming every millisecond. Longer waits are
 * cut to this; whoever re-arms after it finds the time not yet come.
 */
export const MAX_DELAY = 2 ** 31 - 1;

/** Resolve after `ms`; reject with the signal's reason when it aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const handle = globalThis.setTimeout(() => {
      off();
      resolve();
    }, Math.min(ms, MAX_DELAY));
    const off = onAbort(signal, () => {
      globalThis.clearTimeout(handle);
      reject(signal.reason);
    });
  });
}

export { deferred, type Deferred } from '../adapters/signals.js';
