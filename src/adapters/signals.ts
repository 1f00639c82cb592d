/**
 * AbortSignal and promise plumbing shared by the adapters and the engine.
 */

/** Does nothing: the handler of a rejection that is expected and of no interest. */
export function noop(): void {}

/** The options of a call made without any: one shared object, nothing allocated per call. */
/**
 * What an adapter's `write` returns when it handed the message to the transport at once: one
 * settled promise, shared, which the engine recognises to count the message without a reaction.
 */
export const WRITTEN: Promise<void> = /* @__PURE__ */ Promise.resolve();

export const NO_OPTIONS: Readonly<{ signal?: undefined }> = /* @__PURE__ */ Object.freeze({});

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

/** Call `listener` once when `signal` aborts; returns the function that stops listening. */
export function onAbort(signal: AbortSignal, listener: () => void): () => void {
  signal.addEventListener('abort', listener, { once: true });
  return () => signal.removeEventListener('abort', listener);
}

/** The reason an aborted signal carries (a DOMException `AbortError` when none was given). */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/**
 * Race `promise` against `signal`: rejects with the signal's reason as soon as it aborts.
 * `onAbort` runs when the abort wins, so the caller can undo what the operation started.
 * The listener is removed when the promise settles, so long-lived signals do not leak.
 */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined, undo?: () => void): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    undo?.();
    promise.catch(noop);
    return Promise.reject(abortReason(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const off = onAbort(signal, () => {
      undo?.();
      promise.catch(noop);
      reject(abortReason(signal));
    });
    promise.then(
      (value) => {
        off();
        resolve(value);
      },
      (error: unknown) => {
        off();
        reject(error);
      },
    );
  });
}
