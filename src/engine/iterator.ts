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
  const buffer: Message[] = [];
  let waiter: Deferred<IteratorResult<Message>> | undefined;
  /** Settles when the full buffer has room again (the engine waits for it). */
  let space: Deferred<void> | undefined;
  let ended = false;
  let failed = false;
  let error: unknown;
  const done = (): Promise<IteratorResult<Message>> => Promise.resolve({ value: undefined, done: true });

  const release = (): void => {
    const waiting = space;
    space = undefined;
    waiting?.resolve();
  };

  /** End the iteration: buffered messages are still yielded, then `done` (or the error). */
  const end = (failure?: unknown): void => {
    if (ended) return;
    ended = true;
    if (failure !== undefined) {
      failed = true;
      error = failure;
    }
    release();
    if (waiter && buffer.length === 0) {
      const next = waiter;
      waiter = undefined;
      if (failed) next.reject(error);
      else next.resolve({ value: undefined, done: true });
    }
  };

  /** Offer a message; returns a promise when the buffer is full (the engine waits for room). */
  const push = (message: Message): Promise<void> | undefined => {
    if (ended) return undefined;
    if (waiter) {
      const next = waiter;
      waiter = undefined;
      next.resolve({ value: message, done: false });
      return undefined;
    }
    buffer.push(message);
    if (buffer.length < limit) return undefined;
    space ??= deferred<void>();
    return space.promise;
  };

  const offStopped = engine.on('stopped', ({ error: failure }) => {
    ctx.sinks = ctx.sinks.filter((sink) => sink !== push);
    offStopped();
    end(failure);
  });
  if (engine.state === EngineState.Stopped) end();
  else ctx.sinks = [...ctx.sinks, push];

  const iterator: AsyncIterableIterator<Message> = {
    next() {
      const message = buffer.shift();
      if (message !== undefined) {
        if (buffer.length < limit) release();
        return Promise.resolve({ value: message, done: false });
      }
      if (ended) {
        if (!failed) return done();
        failed = false;
        return Promise.reject(error);
      }
      waiter = deferred<IteratorResult<Message>>();
      return waiter.promise;
    },
    return() {
      buffer.length = 0;
      failed = false;
      end();
      ctx.sinks = ctx.sinks.filter((sink) => sink !== push);
      offStopped();
      return done();
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
