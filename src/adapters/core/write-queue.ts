/**
 * Writes waiting for the transport, in call order. A write whose signal aborts before it is
 * handed over leaves the queue and is never sent; the rest go out whole and in order.
 */
import { abortReason } from '../signals.js';

/** A waiting write: how to settle its promise, and the signal that may withdraw it. */
export interface QueuedWrite {
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  readonly signal: AbortSignal | undefined;
  /** Set by the queue while the write waits. */
  onAbort: (() => void) | undefined;
}

/** A waiting write of {@link WriteQueue.add}: the item to send, and its promise's settlement. */
export interface PendingWrite<T> extends QueuedWrite {
  readonly item: T;
}

/**
 * The queue holds the caller's own entries (a transport adds the fields it needs to
 * {@link QueuedWrite}), so queueing a write costs no object beyond the entry and its promise.
 */
export class WriteQueue<E extends QueuedWrite> {
  private entries: E[] = [];
  private readonly onEmpty: (() => void) | undefined;

  /** `onEmpty` runs when an aborted write leaves the queue empty (to stop a drain poll). */
  constructor(onEmpty?: () => void) {
    this.onEmpty = onEmpty;
  }

  get length(): number {
    return this.entries.length;
  }

  /** Queue `entry` until {@link shift} hands it over, its signal aborts (it is rejected), or {@link fail}. */
  push(entry: E): void {
    const { signal } = entry;
    if (signal) {
      entry.onAbort = () => {
        const index = this.entries.indexOf(entry);
        if (index >= 0) this.entries.splice(index, 1);
        entry.reject(abortReason(signal));
        if (this.entries.length === 0) this.onEmpty?.();
      };
      signal.addEventListener('abort', entry.onAbort, { once: true });
    }
    this.entries.push(entry);
  }

  /** The oldest write, out of the queue and no longer abortable; the caller settles it. */
  shift(): E | undefined {
    const entry = this.entries.shift();
    if (entry?.onAbort) entry.signal!.removeEventListener('abort', entry.onAbort);
    return entry;
  }

  /** Reject every waiting write with `error` (the connection is closing or closed). */
  fail(error: unknown): void {
    const entries = this.entries;
    this.entries = [];
    for (const entry of entries) {
      if (entry.onAbort) entry.signal!.removeEventListener('abort', entry.onAbort);
      entry.reject(error);
    }
  }
}

/** Queue `item` on `queue`; the promise settles when it is handed over, aborted, or failed. */
export function queueWrite<T>(queue: WriteQueue<PendingWrite<T>>, item: T, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  return new Promise<void>((resolve, reject) => queue.push({ item, resolve, reject, signal, onAbort: undefined }));
}
