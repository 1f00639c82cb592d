/**
 * Timers for the engine. Every timer goes through `globalThis.setTimeout`, looked up at call time,
 * so the engine runs in browsers and fake clocks (vitest's) drive it. No `AbortSignal.timeout()`:
 * fake clocks do not reach it.
 */

/** Resolve after `ms`, or early when `skip` settles; reject with the signal's reason when it aborts. */
export function sleep(ms: number, signal?: AbortSignal, skip?: Promise<void>): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  // No timer for no delay: a timer of 0 ms fires after 1 ms at the earliest in Node, which
  // was most of a reconnect with `minDelay: 0` (a dial on loopback takes less).
  if (ms <= 0) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      globalThis.clearTimeout(handle);
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = (): void => {
      finish();
      reject(signal!.reason);
    };
    const handle = globalThis.setTimeout(() => {
      finish();
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
    skip?.then(
      () => {
        if (done) return;
        finish();
        resolve();
      },
      () => {},
    );
  });
}

/** A timer that can be (re)armed and cancelled; keeps at most one pending callback. */
export class Timer {
  #handle: ReturnType<typeof globalThis.setTimeout> | undefined;

  /** Run `callback` after `ms`, replacing any pending one. */
  arm(ms: number, callback: () => void): void {
    this.cancel();
    this.#handle = globalThis.setTimeout(() => {
      this.#handle = undefined;
      callback();
    }, ms);
  }

  cancel(): void {
    if (this.#handle !== undefined) {
      globalThis.clearTimeout(this.#handle);
      this.#handle = undefined;
    }
  }

  get pending(): boolean {
    return this.#handle !== undefined;
  }
}

/** A promise with its resolve and reject exposed. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
