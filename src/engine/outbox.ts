/**
 * What `send()` does while there is no open connection. By default nothing is queued: the call
 * rejects at once with `NotConnectedError`, because a message that goes out late can be worse
 * than one that never goes (a stale order). Opt in to queueing with `outbox: createOutbox(...)`,
 * bounded in messages and bytes, with a time-to-live: queued messages are written in order once
 * the next connection's open hooks have finished; a message that outlives its time-to-live is
 * rejected to its caller and never sent. A separate function, so that an app that never queues
 * does not ship the queue.
 */
import { abortReason, onAbort } from '../adapters/signals.js';
import type { MessageType, WriteData } from '../adapters/types.js';
import { MessageExpiredError, OutboxOverflowError } from './errors.js';
import { knownOptions, numberOption, POSITIVE } from './options.js';
import { byteLength } from './metrics.js';
import { isConnectionGone } from './reader.js';
import { MAX_DELAY } from './timers.js';

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
  readonly signal: AbortSignal | undefined;
  /** Stops listening to `signal` (while the entry waits in the queue). */
  off: (() => void) | undefined;
}

/** The queue of an engine's sends made while disconnected; made by {@link createOutbox}. */
export interface Outbox {
  /** Messages queued. */
  readonly length: number;
  /** Queued payload bytes. */
  readonly bytes: number;
  /** Queue a message; the promise settles when it is written, expires, or is dropped. */
  enqueue(type: MessageType, data: WriteData, options?: { ttl?: number; signal?: AbortSignal }): Promise<void>;
  /** Reject and drop everything (the engine stopped). */
  rejectAll(error: unknown): void;
  /**
   * Write the queue in order through `write` while `flushing()` holds; sends made meanwhile join
   * its end, so order is kept. An entry the connection could not take (it went away) keeps its
   * place for the next connection. `drained` runs in the same turn as the last message leaves
   * the queue, so that no send can slip into it between the end of the flush and the switch to
   * direct writes.
   */
  flush(write: (type: MessageType, data: WriteData) => Promise<void>, flushing: () => boolean, drained: () => void): Promise<void>;
}

/**
 * A queue for sends made while disconnected: `createEngine({ ..., outbox: createOutbox() })`.
 * Options are validated here, naming the option (`outbox.maxMessages`...). A closure: its
 * state is local variables, which a minifier shortens.
 */
export function createOutbox(options?: OutboxOptions): Outbox {
  const { maxMessages, maxBytes, ttl: defaultTtl } = resolveOutboxOptions(options);
  let entries: InternalEntry[] = [];
  let bytes = 0;
  /** When the next message expires, and the timer that sweeps then. */
  let expiryAt = Infinity;
  let timer: ReturnType<typeof globalThis.setTimeout> | undefined;

  const detach = (entry: InternalEntry): void => entry.off?.();

  const disarm = (): void => {
    globalThis.clearTimeout(timer);
    expiryAt = Infinity;
  };

  const armExpiry = (at: number): void => {
    if (!Number.isFinite(at) || at >= expiryAt) return;
    expiryAt = at;
    globalThis.clearTimeout(timer);
    timer = globalThis.setTimeout(
      () => {
        expiryAt = Infinity;
        sweep(Date.now());
      },
      Math.min(Math.max(0, at - Date.now()), MAX_DELAY),
    );
  };

  /** Reject every expired message and re-arm the timer for the next expiry. */
  const sweep = (now: number): void => {
    let next = Infinity;
    const kept: InternalEntry[] = [];
    for (const entry of entries) {
      if (entry.expiresAt <= now) {
        bytes -= entry.bytes;
        detach(entry);
        entry.reject(new MessageExpiredError(now - entry.enqueuedAt));
      } else {
        next = Math.min(next, entry.expiresAt);
        kept.push(entry);
      }
    }
    entries = kept;
    disarm();
    if (next !== Infinity) armExpiry(next);
  };

  /** Listen to the entry's signal while it waits in the queue. */
  const attach = (entry: InternalEntry): void => {
    const { signal } = entry;
    if (signal) {
      entry.off = onAbort(signal, () => {
        const index = entries.indexOf(entry);
        if (index < 0) return;
        entries.splice(index, 1);
        bytes -= entry.bytes;
        if (entries.length === 0) disarm();
        entry.reject(abortReason(signal));
      });
    }
  };

  /** The oldest message that has not expired (expired ones are rejected on the way), removed from the queue. */
  const shift = (): InternalEntry | undefined => {
    const now = Date.now();
    if (now >= expiryAt) sweep(now);
    const entry = entries.shift();
    if (!entry) return undefined;
    detach(entry);
    bytes -= entry.bytes;
    if (entries.length === 0) disarm();
    return entry;
  };

  return {
    get length() {
      return entries.length;
    },
    get bytes() {
      return bytes;
    },
    enqueue(type, data, sendOptions = {}) {
      const { signal } = sendOptions;
      if (signal?.aborted) return Promise.reject(abortReason(signal));
      const size = byteLength(data);
      if (entries.length + 1 > maxMessages || bytes + size > maxBytes) {
        return Promise.reject(
          new OutboxOverflowError(
            `The outbox is full (${entries.length} messages, ${bytes} bytes; bounds ${maxMessages} messages, ${maxBytes} bytes)`,
            entries.length,
            bytes,
          ),
        );
      }
      const now = Date.now();
      return new Promise<void>((resolve, reject) => {
        const entry: InternalEntry = {
          type,
          data,
          bytes: size,
          enqueuedAt: now,
          expiresAt: now + (sendOptions.ttl ?? defaultTtl),
          resolve,
          reject,
          signal,
          off: undefined,
        };
        attach(entry);
        entries.push(entry);
        bytes += size;
        armExpiry(entry.expiresAt);
      });
    },
    rejectAll(error) {
      const all = entries;
      entries = [];
      bytes = 0;
      disarm();
      for (const entry of all) {
        detach(entry);
        entry.reject(error);
      }
    },
    async flush(write, flushing, drained) {
      while (flushing()) {
        const entry = shift();
        if (!entry) break;
        try {
          await write(entry.type, entry.data);
          entry.resolve();
        } catch (error) {
          if (isConnectionGone(error)) {
            // Not handed to the socket: it keeps its place (first) for the next connection.
            if (entry.signal?.aborted) entry.reject(abortReason(entry.signal));
            else {
              attach(entry);
              entries.unshift(entry);
              bytes += entry.bytes;
              armExpiry(entry.expiresAt);
            }
            break;
          }
          entry.reject(error);
        }
      }
      drained();
    },
  };
}
