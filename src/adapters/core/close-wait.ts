/**
 * The wait at the end of a local close: for the closing handshake to finish (RFC 6455 section
 * 7.1.1, the server closes the TCP connection first), at most `timeout` ms, or until the
 * caller's signal aborts. The signal only cuts the wait short; the close happened either way.
 */
import { onAbort } from '../signals.js';

/** Resolves `true` when `closed` settled first, `false` when the timeout or the signal won. */
export function waitClosed(closed: Promise<void>, timeout: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise<boolean>((resolve) => {
    const finish = (done: boolean): void => {
      clearTimeout(timer);
      off?.();
      resolve(done);
    };
    // Looked up at call time, so test suites' fake timers control it.
    const timer = setTimeout(() => finish(false), timeout);
    const off = signal && onAbort(signal, () => finish(false));
    closed.then(
      () => finish(true),
      () => finish(true),
    );
  });
}
