/**
 * `for await (const signal of client)`: a queue of server signals per iterator. A slow consumer
 * is bounded: past `limit` buffered signals the iterator reports itself full and the client holds
 * the engine's reads (backpressure on the server) until it drains.
 */
import type { WebWireEncoding } from './messages.js';

/** A server signal. */
export interface WebWireSignal {
  readonly name: string;
  /** A string for UTF-8 and UTF-16 signals, bytes for binary ones. */
  readonly payload: string | Uint8Array;
  readonly encoding: WebWireEncoding;
}

export class SignalIterator implements AsyncIterableIterator<WebWireSignal> {
  readonly #buffer: WebWireSignal[] = [];
  readonly #waiting: Array<{ resolve(r: IteratorResult<WebWireSignal>): void; reject(e: unknown): void }> = [];
  readonly #limit: number;
  readonly #onChange: (it: SignalIterator, closed: boolean) => void;
  #done = false;
  #error: unknown;

  constructor(limit: number, onChange: (it: SignalIterator, closed: boolean) => void) {
    this.#limit = limit;
    this.#onChange = onChange;
  }

  get full(): boolean {
    return this.#buffer.length >= this.#limit;
  }

  push(signal: WebWireSignal): void {
    if (this.#done) return;
    const waiter = this.#waiting.shift();
    if (waiter) waiter.resolve({ value: signal, done: false });
    else this.#buffer.push(signal);
  }

  /** No more signals: after the buffer drains, `next()` ends (or throws `error`). */
  end(error?: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#error = error;
    for (const waiter of this.#waiting.splice(0)) {
      if (error === undefined) waiter.resolve({ value: undefined, done: true });
      else waiter.reject(error);
    }
  }

  next(): Promise<IteratorResult<WebWireSignal>> {
    const value = this.#buffer.shift();
    if (value !== undefined) {
      this.#onChange(this, false);
      return Promise.resolve({ value, done: false });
    }
    if (this.#done) {
      const error = this.#error;
      this.#error = undefined;
      return error === undefined ? Promise.resolve({ value: undefined, done: true }) : Promise.reject(error);
    }
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  return(): Promise<IteratorResult<WebWireSignal>> {
    this.#buffer.length = 0;
    this.end();
    this.#onChange(this, true);
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<WebWireSignal> {
    return this;
  }
}
