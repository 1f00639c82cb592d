/**
 * AbortSignal plumbing shared by the adapters.
 */

/** The reason an aborted signal carries (a DOMException `AbortError` when none was given). */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/**
 * Race `promise` against `signal`: rejects with the signal's reason as soon as it aborts.
 * `onAbort` runs when the abort wins, so the caller can undo what the operation started.
 * The listener is removed when the promise settles, so long-lived signals do not leak.
 */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined, onAbort?: () => void): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    onAbort?.();
    promise.catch(() => {});
    return Promise.reject(abortReason(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const abort = (): void => {
      onAbort?.();
      promise.catch(() => {});
      reject(abortReason(signal));
    };
    signal.addEventListener('abort', abort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', abort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', abort);
        reject(error);
      },
    );
  });
}
