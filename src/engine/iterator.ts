/**
 * Async iteration over delivered messages: `for await (const message of messages(engine))`. A
 * separate function, so that an app that only uses hooks or events does not ship it.
 */
import type { Message } from '../adapters/types.js';
import { contextOf, type Engine } from './engine.js';
import { FINITE, numberOption } from './options.js';
import { EngineState } from './state.js';
import { deferred, type Deferred } from './timers.js';

export interface MessagesOptions {
  /** Messages the iterator buffers before the engine stops reading for it. Default 1024. */
  readonly buffer?: number;
}

/**
 * An iterator over the messages the engine delivers from now on (after the message hook and the
 * `message` event, filters applied). It ends when the engine stops, throwing the failure if the
 * engine gave up. A slow iterator holds the engine's reads once `buffer` messages wait in it.
 */
export function messages(engine: Engine, options: MessagesOptions = {}): AsyncIterableIterator<Message> {
  const limit = numberOption('buffer', options.buffer, 1024, 1, FINITE, true);
  const ctx = contextOf(engine);
  const iterator = new MessageIterator(limit, () => {
    ctx.sinks.delete(push);
    offStopped();
  });
  const push = (message: Message): Promise<void> | undefined => iterator.push(message);
  const offStopped = engine.on('stopped', ({ error }) => {
    ctx.sinks.delete(push);
    offStopped();
    iterator.end(error);
  });
  if (engine.state === EngineState.Stopped) iterator.end();
  else ctx.sinks.add(push);
  return iterator;
}

/** An `AsyncIterator` over delivered messages, with a bounded buffer. */
class MessageIterator implements AsyncIterableIterator<Message> {
  private readonly buffer: Message[] = [];
  private waiter: Deferred<IteratorResult<Message>> | undefined;
  private space: Deferred<void> | undefined;
  private ended = false;
  private error: unknown = undefined;
  private failed = false;

  constructor(
    private readonly limit: number,
    private readonly onReturn: () => void,
  ) {}

  /** Offer a message; returns a promise when the buffer is full (the engine waits for room). */
  push(message: Message): Promise<void> | undefined {
    if (this.ended) return undefined;
    if (this.waiter) {
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter.resolve({ value: message, done: false });
      return undefined;
    }
    this.buffer.push(message);
    if (this.buffer.length < this.limit) return undefined;
    this.space ??= deferred<void>();
    return this.space.promise;
  }

  /** End the iteration: buffered messages are still yielded, then `done` (or the error). */
  end(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    if (error !== undefined) {
      this.failed = true;
      this.error = error;
    }
    this.release();
    if (this.waiter && this.buffer.length === 0) {
      const waiter = this.waiter;
      this.waiter = undefined;
      if (this.failed) waiter.reject(this.error);
      else waiter.resolve({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<Message>> {
    const message = this.buffer.shift();
    if (message !== undefined) {
      if (this.buffer.length < this.limit) this.release();
      return Promise.resolve({ value: message, done: false });
    }
    if (this.ended) {
      if (this.failed) {
        this.failed = false;
        return Promise.reject(this.error);
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    this.waiter = deferred<IteratorResult<Message>>();
    return this.waiter.promise;
  }

  return(): Promise<IteratorResult<Message>> {
    this.buffer.length = 0;
    this.failed = false;
    this.end();
    this.onReturn();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private release(): void {
    if (this.space) {
      const space = this.space;
      this.space = undefined;
      space.resolve();
    }
  }
}
