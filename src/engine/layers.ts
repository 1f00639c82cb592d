/**
 * What a protocol layer adds to an engine: open hooks after `onOpen`, and filters that see each
 * inbound message first. Separate functions, so that an app without a protocol layer does not
 * ship them.
 */
import { InvalidArgumentError } from '../adapters/errors.js';
import { contextOf, type Engine, type MessageFilter, type OpenHook } from './engine.js';

function checkFunction(name: string, value: unknown): void {
  if (typeof value !== 'function') throw new InvalidArgumentError(`${name} expects a function, got ${typeof value}`);
}

function without<T>(list: readonly T[], item: T): readonly T[] {
  const index = list.indexOf(item);
  return index < 0 ? list : [...list.slice(0, index), ...list.slice(index + 1)];
}

/**
 * Add an open hook for a protocol layer. Hooks run after the options' `onOpen`, in
 * registration order, with its rules: bounded by `reconnect.openTimeout`, a throw fails the
 * attempt, sends inside go out before the outbox is flushed. Returns a function that removes it.
 */
export function addOpenHook(engine: Engine, hook: OpenHook): () => void {
  const ctx = contextOf(engine);
  checkFunction('addOpenHook', hook);
  ctx.openHooks = [...ctx.openHooks, hook];
  return () => {
    ctx.openHooks = without(ctx.openHooks, hook);
  };
}

/**
 * Add an inbound message filter for a protocol layer. Filters see every message, in order,
 * before it is delivered (hooks, events, iterators), in registration order; one that returns
 * `true` consumes the message: it is not delivered and later filters do not see it. A throw
 * is reported as an `error` and the message goes on. Returns a function that removes it.
 */
export function intercept(engine: Engine, filter: MessageFilter): () => void {
  const ctx = contextOf(engine);
  checkFunction('intercept', filter);
  ctx.filters = [...ctx.filters, filter];
  return () => {
    ctx.filters = without(ctx.filters, filter);
  };
}
