/**
 * Writes waiting for the transport, in call order. A write whose signal aborts before it is
 * handed over leaves the queue and is never sent; the rest go out whole and in order.
 */
import { abortReason } from '../signals.js';

/** One waiting write: what to send, and how to settle its promise. */
export interface PendingWrite<T> {
  readonly item: T;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

interface Entry<T> extends PendingWrite<T> {
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

export class WriteQueue<T> {
  private entries: Array<Entry<T>> = [];
  private readonly onEmpty: (() => void) | undefined;

  /** `onEmpty` runs when an aborted write leaves the queue empty (to stop a drain poll). */
  constructor(onEmpty?: () => void) {
    this.onEmpty = onEmpty;
  }

  get length(): number {
    return this.entries.length;
  }

  /** Queue `item`; the promise settles when {@link shift} hands it over, or on abort or {@link fail}. */
  add(item: T, signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise<void>((resolve, reject) => {
      const entry: Entry<T> = { item, resolve, reject, signal, onAbort: undefined };
      if (signal) {
        entry.onAbort = () => {
          const index = this.entries.indexOf(entry);
          if (index >= 0) this.entries.splice(index, 1);
          reject(abortReason(signal));
          if (this.entries.length === 0) this.onEmpty?.();
        };
        signal.addEventListener('abort', entry.onAbort, { once: true });
      }
      this.entries.push(entry);
    });
  }

  /** The oldest write, out of the queue and no longer abortable; the caller settles it. */
  shift(): PendingWrite<T> | undefined {
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
