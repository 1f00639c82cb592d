/**
 * The inbound side of an adapter: messages that arrived but were not read yet, and readers
 * waiting for a message. Bounded: past a high-water mark it asks the transport to pause (the
 * socket stops being read, TCP flow control pushes back on the server), and it asks to resume
 * once readers drained it to half of the mark. A slow reader never grows memory without bound.
 */
import { abortReason } from './signals.js';
import type { Message } from './types.js';

export interface ReadQueueOptions {
  /** Pause the transport when this many messages wait unread. Default 4096 (as every adapter's `readQueue.messages`). */
  readonly highWaterMessages?: number;
  /** Pause the transport when this many payload bytes wait unread. Default 8 MiB (as `readQueue.bytes`). */
  readonly highWaterBytes?: number;
  /** Called when the queue crosses a high-water mark. */
  readonly pause?: () => void;
  /** Called when a paused queue is drained below half of both marks. */
  readonly resume?: () => void;
}

/** Takes a message as it arrives, or `undefined` once when the queue fails. */
export type MessageListener = (message: Message | undefined) => void;

interface Waiter {
  resolve: (message: Message) => void;
  reject: (error: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/**
 * UTF-16 units for text, bytes for binary: both are `length`, which V8 inlines where it calls
 * the typed array's `byteLength` getter.
 */
function sizeOf(message: Message): number {
  return message.data.length;
}

export class ReadQueue {
  private readonly highWaterMessages: number;
  private readonly highWaterBytes: number;
  private readonly pause: (() => void) | undefined;
  private readonly resume: (() => void) | undefined;
  /**
   * Unread messages from `head` on. Replaced by a new array whenever readers empty it: a burst
   * then fills an array as young as its messages, so storing them needs no old-to-young write
   * barrier work and the scavenger has no remembered slots to visit (reusing one long-lived
   * array cost about 250 instructions per message under callgrind).
   */
  private messages: Message[] = [];
  private head = 0;
  private byteCount = 0;
  private readonly waiters: Waiter[] = [];
  private error: unknown = undefined;
  private isFailed = false;
  private isPaused = false;
  /** Takes each message as it arrives, while set (see {@link listen}). */
  private listener: MessageListener | undefined = undefined;

  constructor(options: ReadQueueOptions = {}) {
    this.highWaterMessages = options.highWaterMessages ?? 4096;
    this.highWaterBytes = options.highWaterBytes ?? 8 * 1024 * 1024;
    this.pause = options.pause;
    this.resume = options.resume;
  }

  /** Messages waiting to be read. */
  get length(): number {
    return this.messages.length - this.head;
  }

  /** Payload bytes (UTF-16 units for text) waiting to be read. */
  get bytes(): number {
    return this.byteCount;
  }

  /** Whether the queue has asked the transport to pause. */
  get paused(): boolean {
    return this.isPaused;
  }

  /** Whether the queue has been ended with {@link fail}. */
  get failed(): boolean {
    return this.isFailed;
  }

  /** Hand a message to the listener or the oldest waiting reader, or queue it. Ignored once failed. */
  push(message: Message): void {
    if (this.isFailed) return;
    const listener = this.listener;
    // A read made while listening gets the next message first.
    if (listener !== undefined && this.waiters.length === 0) {
      listener(message);
      return;
    }
    // Most pushes find no reader waiting (a burst): no call to `shift` on an empty array then.
    if (this.waiters.length !== 0) {
      const waiter = this.waiters.shift()!;
      this.settle(waiter);
      waiter.resolve(message);
      return;
    }
    const queued = this.messages.push(message) - this.head;
    const bytes = (this.byteCount += sizeOf(message));
    if (!this.isPaused && (queued >= this.highWaterMessages || bytes >= this.highWaterBytes)) {
      this.isPaused = true;
      this.pause?.();
    }
  }

  /**
   * End the queue: waiting readers and every later read reject with `error`. Messages already
   * queued are still delivered first, unless `drop` is set (a local close drops them).
   */
  fail(error: unknown, drop = false): void {
    if (this.isFailed) {
      if (drop) this.clear();
      return;
    }
    this.isFailed = true;
    this.error = error;
    if (drop) this.clear();
    const listener = this.listener;
    if (listener !== undefined) {
      this.listener = undefined;
      listener(undefined);
    }
    for (const waiter of this.waiters.splice(0)) {
      this.settle(waiter);
      waiter.reject(error);
    }
  }

  /** The next message; rejects with the failure once the queue is drained and failed. */
  read(signal?: AbortSignal): Promise<Message> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (this.length > 0) return Promise.resolve(this.shift());
    if (this.isFailed) return Promise.reject(this.error);
    return new Promise<Message>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, signal, onAbort: undefined };
      if (signal) {
        waiter.onAbort = () => {
          const index = this.waiters.indexOf(waiter);
          if (index >= 0) this.waiters.splice(index, 1);
          reject(abortReason(signal));
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.waiters.push(waiter);
    });
  }

  /**
   * Hand every message to `listener` as it arrives, synchronously, instead of queueing it, until
   * `listen(undefined)`; on {@link fail} the listener gets `undefined` once and is dropped. Refused
   * (`false`, nothing changes) while messages are queued, a reader waits, or the queue has failed:
   * those come first.
   */
  listen(listener: MessageListener | undefined): boolean {
    if (listener !== undefined && (this.isFailed || this.messages.length !== this.head || this.waiters.length !== 0)) return false;
    this.listener = listener;
    return true;
  }

  /** The next queued message, or `undefined` when none is queued (never waits, never throws). */
  tryRead(): Message | undefined {
    return this.messages.length > this.head ? this.shift() : undefined;
  }

  private shift(): Message {
    const messages = this.messages;
    const head = this.head;
    const message = messages[head]!;
    if (head + 1 === messages.length) {
      this.messages = [];
      this.head = 0;
    } else {
      messages[head] = undefined as unknown as Message;
      this.head = head + 1;
      // A reader that never empties the queue: drop the read part now and then.
      if (head >= 1024 && head * 2 > messages.length) {
        messages.splice(0, head + 1);
        this.head = 0;
      }
    }
    this.byteCount -= sizeOf(message);
    if (
      this.isPaused &&
      this.length <= this.highWaterMessages / 2 &&
      this.byteCount <= this.highWaterBytes / 2
    ) {
      this.isPaused = false;
      if (!this.isFailed) this.resume?.();
    }
    return message;
  }

  private clear(): void {
    this.messages = [];
    this.head = 0;
    this.byteCount = 0;
  }

  private settle(waiter: Waiter): void {
    if (waiter.signal && waiter.onAbort) waiter.signal.removeEventListener('abort', waiter.onAbort);
  }
}
