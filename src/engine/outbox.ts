/**
 * What `send()` does while there is no open connection. By default nothing is queued: the call
 * rejects at once with `NotConnectedError`, because a message that goes out late can be worse
 * than one that never goes (a stale order). Opt in to queueing with `outbox: createOutbox(...)`,
 * bounded in messages and bytes, with a time-to-live: queued messages are written in order once
 * the next connection's open hooks have finished; a message that outlives its time-to-live is
 * rejected to its caller and never sent. A separate function, so that an app that never queues
 * does not ship the queue.
 */
import { abortReason } from '../adapters/signals.js';
import type { MessageType, WriteData } from '../adapters/types.js';
import { MessageExpiredError, OutboxOverflowError } from './errors.js';
import { knownOptions, numberOption, POSITIVE } from './options.js';
import { byteLength } from './metrics.js';
import { isConnectionGone } from './reader.js';
import { Timer } from './timers.js';

export interface OutboxOptions {
  /** At most this many queued messages; more are refused with `OutboxOverflowError`. Default 1000. */
  readonly maxMessages?: number;
  /** At most this many queued payload bytes. Default 1 MiB. */
  readonly maxBytes?: number;
  /** How long a message may wait, in ms (`Infinity`: no limit). Default 30000. */
  readonly ttl?: number;
}

export interface ResolvedOutboxOptions {
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly ttl: number;
}

function resolveOutboxOptions(options: OutboxOptions | undefined): ResolvedOutboxOptions {
  const o = options ?? {};
  return knownOptions(o, {
    maxMessages: numberOption('outbox.maxMessages', o.maxMessages, 1000, POSITIVE, Infinity),
    maxBytes: numberOption('outbox.maxBytes', o.maxBytes, 1024 * 1024, POSITIVE, Infinity),
    ttl: numberOption('outbox.ttl', o.ttl, 30_000, POSITIVE, Infinity),
  }, 'outbox.');
}

/** One queued message and its caller's promise. */
export interface OutboxEntry {
  readonly type: MessageType;
  readonly data: WriteData;
  readonly bytes: number;
  readonly enqueuedAt: number;
  readonly expiresAt: number;
  resolve(): void;
  reject(error: unknown): void;
}

interface InternalEntry extends OutboxEntry {
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/**
 * A queue for sends made while disconnected: `createEngine({ ..., outbox: createOutbox() })`.
 * Options are validated here, naming the option (`outbox.maxMessages`...).
 */
export function createOutbox(options?: OutboxOptions): Outbox {
  return new Outbox(resolveOutboxOptions(options));
}

export class Outbox {
  private readonly entries: InternalEntry[] = [];
  /** Queued payload bytes. */
  bytes = 0;
  private readonly expiry = new Timer();
  private expiryAt = Infinity;

  constructor(private readonly options: ResolvedOutboxOptions) {}

  get length(): number {
    return this.entries.length;
  }

  /** Queue a message; the promise settles when it is written, expires, or is dropped. */
  enqueue(type: MessageType, data: WriteData, options: { ttl?: number; signal?: AbortSignal } = {}): Promise<void> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const bytes = byteLength(data);
    if (this.entries.length + 1 > this.options.maxMessages || this.bytes + bytes > this.options.maxBytes) {
      return Promise.reject(
        new OutboxOverflowError(
          `The outbox is full (${this.entries.length} messages, ${this.bytes} bytes; bounds ${this.options.maxMessages} messages, ${this.options.maxBytes} bytes)`,
          this.entries.length,
          this.bytes,
        ),
      );
    }
    const now = Date.now();
    const ttl = options.ttl ?? this.options.ttl;
    return new Promise<void>((resolve, reject) => {
      const entry: InternalEntry = {
        type,
        data,
        bytes,
        enqueuedAt: now,
        expiresAt: now + ttl,
        resolve,
        reject,
        signal,
        onAbort: undefined,
      };
      if (signal) {
        entry.onAbort = () => {
          if (this.remove(entry)) reject(abortReason(signal));
        };
        signal.addEventListener('abort', entry.onAbort, { once: true });
      }
      this.entries.push(entry);
      this.bytes += bytes;
      this.armExpiry(entry.expiresAt);
    });
  }

  /** The oldest message that has not expired (expired ones are rejected on the way), removed from the queue. */
  shift(): OutboxEntry | undefined {
    const now = Date.now();
    if (now >= this.expiryAt) this.sweep(now);
    const entry = this.entries.shift();
    if (!entry) return undefined;
    this.detach(entry);
    this.bytes -= entry.bytes;
    if (this.entries.length === 0) this.disarm();
    return entry;
  }

  /** Put back a message that could not be written (the connection went): it goes out first next time. */
  unshift(entry: OutboxEntry): void {
    const internal = entry as InternalEntry;
    if (internal.signal?.aborted) {
      entry.reject(abortReason(internal.signal));
      return;
    }
    if (internal.signal && internal.onAbort) internal.signal.addEventListener('abort', internal.onAbort, { once: true });
    this.entries.unshift(internal);
    this.bytes += entry.bytes;
    this.armExpiry(entry.expiresAt);
  }

  /** Reject and drop everything (the engine stopped). */
  rejectAll(error: unknown): void {
    const entries = this.entries.splice(0);
    this.bytes = 0;
    this.disarm();
    for (const entry of entries) {
      this.detach(entry);
      entry.reject(error);
    }
  }

  /**
   * Write the queue in order through `write` while `flushing()` holds; sends made meanwhile join
   * its end, so order is kept. An entry the connection could not take (it went away) keeps its
   * place for the next connection. `drained` runs in the same turn as the last `shift()`, so that
   * no send can slip into the queue between the end of the flush and the switch to direct writes.
   */
  async flush(write: (type: MessageType, data: WriteData) => Promise<void>, flushing: () => boolean, drained: () => void): Promise<void> {
    while (flushing()) {
      const entry = this.shift();
      if (!entry) break;
      try {
        await write(entry.type, entry.data);
        entry.resolve();
      } catch (error) {
        if (isConnectionGone(error)) {
          // Not handed to the socket: it keeps its place for the next connection.
          this.unshift(entry);
          break;
        }
        entry.reject(error);
      }
    }
    drained();
  }

  private remove(entry: InternalEntry): boolean {
    const index = this.entries.indexOf(entry);
    if (index < 0) return false;
    this.entries.splice(index, 1);
    this.bytes -= entry.bytes;
    this.detach(entry);
    if (this.entries.length === 0) this.disarm();
    return true;
  }

  private detach(entry: InternalEntry): void {
    if (entry.signal && entry.onAbort) entry.signal.removeEventListener('abort', entry.onAbort);
  }

  /** Reject every expired message and re-arm the timer for the next expiry. */
  private sweep(now: number): void {
    let next = Infinity;
    for (let i = 0; i < this.entries.length; ) {
      const entry = this.entries[i]!;
      if (entry.expiresAt <= now) {
        this.entries.splice(i, 1);
        this.bytes -= entry.bytes;
        this.detach(entry);
        entry.reject(new MessageExpiredError(now - entry.enqueuedAt));
      } else {
        next = Math.min(next, entry.expiresAt);
        i++;
      }
    }
    this.disarm();
    if (next !== Infinity) this.armExpiry(next);
  }

  private armExpiry(at: number): void {
    if (!Number.isFinite(at) || at >= this.expiryAt) return;
    this.expiryAt = at;
    this.expiry.arm(Math.max(0, at - Date.now()), () => {
      this.expiryAt = Infinity;
      this.sweep(Date.now());
    });
  }

  private disarm(): void {
    this.expiry.cancel();
    this.expiryAt = Infinity;
  }
}
