/**
 * How messages reach user code: the message hook (in order, or up to N at once), async
 * iterators with a bounded buffer, and the read gate behind `pause()`, `resume()` and
 * `exclusive()`. Holding the gate stops the engine's reads; unread messages then wait in the
 * adapter, whose bounded queue pauses the socket, so TCP flow control pushes back on the server.
 */
import type { Message } from '../adapters/types.js';
import { InvalidOptionError } from './errors.js';
import { deferred, type Deferred } from './timers.js';

export interface DeliveryOptions {
  /**
   * How many message-hook calls may run at once. 1 (default): strictly in order, the next
   * message waits until the hook's promise settles. N > 1: up to N run concurrently (they start
   * in order but may finish in any order); reading waits while N are running.
   */
  readonly concurrency?: number;
  /** Messages an async iterator buffers before the engine stops reading for it. Default 1024. */
  readonly iteratorBuffer?: number;
}

export interface ResolvedDeliveryOptions {
  readonly concurrency: number;
  readonly iteratorBuffer: number;
}

export function resolveDeliveryOptions(options: DeliveryOptions | undefined): ResolvedDeliveryOptions {
  const concurrency = options?.concurrency ?? 1;
  const iteratorBuffer = options?.iteratorBuffer ?? 1024;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new InvalidOptionError('delivery.concurrency', `expected an integer >= 1, got ${String(concurrency)}`);
  }
  if (!Number.isInteger(iteratorBuffer) || iteratorBuffer < 1) {
    throw new InvalidOptionError('delivery.iteratorBuffer', `expected an integer >= 1, got ${String(iteratorBuffer)}`);
  }
  return { concurrency, iteratorBuffer };
}

function settled(): undefined {
  return undefined;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function';
}

/**
 * Runs the message hook with the configured concurrency. `dispatch` returns `undefined` when the
 * caller may read on at once (the hot path: a synchronous hook costs no extra promise), or a
 * promise to wait for first.
 */
export class Dispatcher {
  readonly #concurrency: number;
  readonly #onError: (error: unknown) => void;
  #running = 0;
  #slot: Deferred<void> | undefined;
  #idle: Deferred<void> | undefined;
  // Settle callbacks capture nothing per message: made once here rather than twice for every
  // message whose hook returns a promise (and only for the mode in use, to keep idle engines small).
  readonly #doneOk: (() => void) | undefined;
  readonly #doneFailed: ((error: unknown) => void) | undefined;

  constructor(concurrency: number, onError: (error: unknown) => void) {
    this.#concurrency = concurrency;
    this.#onError = onError;
    if (concurrency > 1) {
      this.#doneOk = () => this.#done();
      this.#doneFailed = (error) => {
        onError(error);
        this.#done();
      };
    }
  }

  get running(): number {
    return this.#running;
  }

  dispatch<A, B>(hook: (a: A, b: B) => unknown, a: A, b: B): Promise<void> | undefined {
    let result: unknown;
    try {
      result = hook(a, b);
    } catch (error) {
      this.#onError(error);
      return undefined;
    }
    if (!isPromiseLike(result)) return undefined;
    if (this.#concurrency === 1) {
      return Promise.resolve(result).then(settled, this.#onError);
    }
    this.#running++;
    Promise.resolve(result).then(this.#doneOk, this.#doneFailed);
    if (this.#running < this.#concurrency) return undefined;
    this.#slot ??= deferred<void>();
    return this.#slot.promise;
  }

  /** Resolves when no hook call is running. */
  idle(): Promise<void> {
    if (this.#running === 0) return Promise.resolve();
    this.#idle ??= deferred<void>();
    return this.#idle.promise;
  }

  #done(): void {
    this.#running--;
    if (this.#slot && this.#running < this.#concurrency) {
      const slot = this.#slot;
      this.#slot = undefined;
      slot.resolve();
    }
    if (this.#running === 0 && this.#idle) {
      const idle = this.#idle;
      this.#idle = undefined;
      idle.resolve();
    }
  }
}

/** An `AsyncIterator` over delivered messages, with a bounded buffer. */
export class MessageIterator implements AsyncIterableIterator<Message> {
  readonly #limit: number;
  readonly #onReturn: (iterator: MessageIterator) => void;
  readonly #buffer: Message[] = [];
  #waiter: Deferred<IteratorResult<Message>> | undefined;
  #space: Deferred<void> | undefined;
  #ended = false;
  #error: unknown = undefined;
  #failed = false;

  constructor(limit: number, onReturn: (iterator: MessageIterator) => void) {
    this.#limit = limit;
    this.#onReturn = onReturn;
  }

  /** Offer a message; returns a promise when the buffer is full (the engine waits for room). */
  push(message: Message): Promise<void> | undefined {
    if (this.#ended) return undefined;
    if (this.#waiter) {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      waiter.resolve({ value: message, done: false });
      return undefined;
    }
    this.#buffer.push(message);
    if (this.#buffer.length < this.#limit) return undefined;
    this.#space ??= deferred<void>();
    return this.#space.promise;
  }

  /** End the iteration: buffered messages are still yielded, then `done` (or the error). */
  end(error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    if (error !== undefined) {
      this.#failed = true;
      this.#error = error;
    }
    this.#release();
    if (this.#waiter && this.#buffer.length === 0) {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      if (this.#failed) waiter.reject(this.#error);
      else waiter.resolve({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<Message>> {
    const message = this.#buffer.shift();
    if (message !== undefined) {
      if (this.#buffer.length < this.#limit) this.#release();
      return Promise.resolve({ value: message, done: false });
    }
    if (this.#ended) {
      if (this.#failed) {
        this.#failed = false;
        return Promise.reject(this.#error);
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    this.#waiter = deferred<IteratorResult<Message>>();
    return this.#waiter.promise;
  }

  return(): Promise<IteratorResult<Message>> {
    this.#buffer.length = 0;
    this.#failed = false;
    this.end();
    this.#onReturn(this);
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #release(): void {
    if (this.#space) {
      const space = this.#space;
      this.#space = undefined;
      space.resolve();
    }
  }
}

/**
 * The read gate: open while the engine may read and deliver. `pause()` and `exclusive()` close
 * it. The reader checks it before each read and parks while it is closed. No signal is passed to
 * the adapter's `read` (an abort listener per read would cost a fifth of the throughput): a
 * read already in flight when the gate closes is not aborted but carried over. Its message is
 * held (pause) or handed first to the holder's reads (exclusive), so nothing is lost or reordered.
 * A read mutex, as a gate: while someone holds it, the engine reads nothing.
 */
export class ReadGate {
  #paused = false;
  #holds = 0;
  #open: Deferred<void> | undefined;
  // No reader yet: a holder need not wait for one to park.
  #parked = true;
  #reader = 0;
  #readerAlive = false;
  #parkedWaiters: Array<() => void> = [];
  #mutex: Promise<void> = Promise.resolve();
  /**
   * Set by the engine: called when a holder arrives while the reader is not parked; returns true
   * when the reader is only waiting on a read (which the holder then takes over), false when it
   * is delivering a message (the holder waits for it to finish).
   */
  preempt: (() => boolean) | undefined;

  get paused(): boolean {
    return this.#paused;
  }

  get closed(): boolean {
    return this.#paused || this.#holds > 0;
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#maybeOpen();
  }

  /** Called by the reader before each read: `undefined` to go on, or a promise to wait on. */
  pass(): Promise<void> | undefined {
    if (!this.closed) return undefined;
    this.#markParked();
    this.#open ??= deferred<void>();
    return this.#open.promise;
  }

  /** A new reader starts (a new connection); returns its id for {@link readerGone}. */
  readerStarted(): number {
    this.#parked = false;
    this.#readerAlive = true;
    return ++this.#reader;
  }

  /** Reader `id` stopped for good (its connection ended): holders need not wait for it. */
  readerGone(id: number): void {
    if (id !== this.#reader) return;
    this.#readerAlive = false;
    this.#markParked();
  }

  /**
   * Run `fn` while the reader is held. Holders are served one at a time, in call order. `fn`
   * starts once the reader has parked, or at once when the reader was only waiting on a read.
   */
  hold<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.#mutex.then(async () => {
      this.#holds++;
      try {
        if (!this.#parked && !this.preempt?.()) {
          await new Promise<void>((resolve) => this.#parkedWaiters.push(resolve));
        }
        return await fn();
      } finally {
        this.#holds--;
        this.#maybeOpen();
      }
    });
    this.#mutex = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  #markParked(): void {
    this.#parked = true;
    for (const wake of this.#parkedWaiters.splice(0)) wake();
  }

  #maybeOpen(): void {
    if (this.closed || !this.#open) return;
    const open = this.#open;
    this.#open = undefined;
    if (this.#readerAlive) this.#parked = false;
    open.resolve();
  }
}
