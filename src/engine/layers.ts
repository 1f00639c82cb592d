/**
 * What a protocol layer adds to an engine: open hooks after `onOpen`, and filters that see each
 * inbound message first. Separate functions, so that an app without a protocol layer does not
 * ship them.
 */
import { InvalidArgumentError } from '../adapters/errors.js';
import type { EngineContext } from './context.js';
import { contextOf, type Engine, type MessageFilter, type OpenHook } from './engine.js';

/** Add `item` to the list `key` of the engine's context, checked to be a function named in errors as `name`. */
function add<K extends 'openHooks' | 'filters'>(engine: Engine, key: K, name: string, item: EngineContext[K][number]): () => void {
  const ctx = contextOf(engine);
  if (typeof item !== 'function') throw new InvalidArgumentError(`${name} expects a function, got ${typeof item}`);
  ctx[key] = [...ctx[key], item] as EngineContext[K];
  return () => {
    const list = ctx[key];
    const index = list.indexOf(item as never);
    if (index >= 0) ctx[key] = [...list.slice(0, index), ...list.slice(index + 1)] as EngineContext[K];
  };
}

/**
 * Add an open hook for a protocol layer. Hooks run after the options' `onOpen`, in
 * registration order, with its rules: bounded by `reconnect.openTimeout`, a throw fails the
 * attempt, sends inside go out before the outbox is flushed. Returns a function that removes it.
 */
export function addOpenHook(engine: Engine, hook: OpenHook): () => void {
  return add(engine, 'openHooks', 'addOpenHook', hook);
}

/**
 * Add an inbound message filter for a protocol layer. Filters see every message, in order,
 * before it is delivered (hooks, events, iterators), in registration order; one that returns
 * `true` consumes the message: it is not delivered and later filters do not see it. A throw
 * is reported as an `error` and the message goes on. Returns a function that removes it.
 */
export function intercept(engine: Engine, filter: MessageFilter): () => void {
  return add(engine, 'filters', 'intercept', filter);
}
