/**
 * A pool of engines that shards subscriptions under an exchange's limits: at most
 * `maxPerConnection` streams a connection, new connections no faster than `connectRate`,
 * subscribe messages no faster than `sendRate` on each connection. When a connection fails, its
 * subscriptions move to the others (within their caps) until it is back, then move home. One
 * `on('message')` or `for await` for all of them, each message with its stream's key.
 *
 * ```ts
 * const pool = createSubscriptionPool<{ stream: string }>({ engine: () => ({ url, adapter: createWsAdapter }), maxPerConnection: 1024,
 *   keyOf: (m) => m.stream, subscribeMessage: (keys) => JSON.stringify({ method: 'SUBSCRIBE', params: keys, id: 1 }) });
 * pool.subscribe(['btcusdt@trade', 'ethusdt@trade']);
 * for await (const { key, data } of pool) console.log(key, data);
 * ```
 */
import { createEngine, type Engine, type EngineOptions } from '../../engine/engine.js';
import { EngineStoppedError, InvalidOptionError } from '../../engine/errors.js';
import { reportingEmitter } from '../../engine/events.js';
import { PoolFullError, SubscriptionClosedError } from './errors.js';
import { chooseSlot, planMoves, type PlacementLimits } from './placement.js';
import { TokenBucket, validateRate, type RateOptions } from './rate-limit.js';
import {
  createSubscriptions,
  type Gap,
  type StreamMessage,
  type SubscriptionInfo,
  type Subscriptions,
  type SubscriptionSpec,
  type SubscriptionsOptions,
} from './registry.js';

export interface SubscriptionPoolOptions<Data = unknown> extends Omit<SubscriptionsOptions<Data>, 'requester' | 'sendRate'> {
  /** The options of the engine for connection `index` (0, 1, ...). Required. */
  readonly engine: (index: number) => EngineOptions;
  /** Subscriptions per connection at most (Binance: 1024). Required. */
  readonly maxPerConnection: number;
  /** Connections at most. Default 16. */
  readonly maxConnections?: number;
  /**
   * Connections opened up front, even before they are needed: room for the subscriptions of a
   * connection that fails. Default 1.
   */
  readonly minConnections?: number;
  /**
   * Connection attempts (first ones and reconnects) at most this fast (Binance: 300 per 5
   * minutes). A wait counts against the engine's `reconnect.openTimeout`. Default: none.
   */
  readonly connectRate?: RateOptions;
  /** Subscribe and unsubscribe messages per connection at most this fast (Binance: 10 per second). Default: none. */
  readonly sendRate?: RateOptions;
  /** Messages an iterator buffers before the pool pauses reading. Default 10000. */
  readonly iteratorBuffer?: number;
  /** Makes each engine. Default `createEngine`. */
  readonly createEngine?: (options: EngineOptions) => Engine;
}

/** A message of the pool: its stream's key, the parsed data, the message, the connection's index. */
export interface PoolMessage<Data = unknown> extends StreamMessage<Data> {
  readonly connection: number;
}

export interface PoolConnectionInfo {
  readonly index: number;
  readonly state: 'starting' | 'up' | 'down' | 'stopped';
  /** Subscriptions it holds now. */
  readonly hosted: number;
  /** Of those, subscriptions whose home is another connection. */
  readonly guests: number;
}

export interface SubscriptionPoolEvents<Data = unknown> {
  message: [message: PoolMessage<Data>];
  /** A connection failed; `moved` of its subscriptions went to others, `stayed` wait for it. */
  failover: [info: { readonly connection: number; readonly moved: number; readonly stayed: number }];
  /** A connection is back; `returned` subscriptions moved home. */
  restored: [info: { readonly connection: number; readonly returned: number }];
  gap: [gap: Gap & { readonly connection: number }];
  stale: [info: { readonly key: string; readonly silentMs: number; readonly connection: number }];
  failed: [key: string, error: unknown];
  error: [error: unknown];
}

export interface SubscriptionPool<Data = unknown> extends AsyncIterable<PoolMessage<Data>> {
  /** Open `minConnections` (the first `subscribe` does it too). */
  start(): void;
  /** Subscribe to one key or many; resolves once all are active. Past capacity it rejects with `PoolFullError` and places none of them. */
  subscribe(keys: string | readonly string[], spec?: SubscriptionSpec): Promise<void>;
  unsubscribe(keys: string | readonly string[]): Promise<void>;
  /** Every subscription, with the connection hosting it. */
  list(): Array<SubscriptionInfo & { readonly connection: number; readonly home: number }>;
  connections(): PoolConnectionInfo[];
  on<E extends keyof SubscriptionPoolEvents<Data>>(event: E, listener: (...args: SubscriptionPoolEvents<Data>[E]) => void): () => void;
  off<E extends keyof SubscriptionPoolEvents<Data>>(event: E, listener: (...args: SubscriptionPoolEvents<Data>[E]) => void): void;
  /** The engine of connection `index` (to watch or restart it). */
  engine(index: number): Engine | undefined;
  /** Stop every engine; iterators end. */
  stop(): Promise<void>;
}

interface Slot {
  readonly index: number;
  readonly engine: Engine;
  readonly registry: Subscriptions<unknown>;
  state: 'starting' | 'up' | 'down' | 'stopped';
  readonly hosted: Set<string>;
}

interface Placed {
  home: number;
  host: number;
  readonly spec: SubscriptionSpec;
  /** Settles the caller's promise: on the first confirmation anywhere, whichever connection hosts it. */
  ready: { resolve: () => void; reject: (error: unknown) => void } | undefined;
  readonly promise: Promise<void>;
}

function integer(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined && Number.isNaN(fallback)) throw new InvalidOptionError(name, `required: an integer >= ${min}`);
  const v = value ?? fallback;
  if (typeof v !== 'number' || Number.isNaN(v) || v < min || (Number.isFinite(v) && !Number.isInteger(v))) {
    throw new InvalidOptionError(name, `expected an integer >= ${min}, got ${String(v)}`);
  }
  return v;
}

export function createSubscriptionPool<Data = unknown>(options: SubscriptionPoolOptions<Data>): SubscriptionPool<Data> {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'expected an object');
  if (typeof options.engine !== 'function') throw new InvalidOptionError('engine', 'expected a function (index) => EngineOptions');
  const limits: PlacementLimits = {
    maxPerConnection: integer('maxPerConnection', options.maxPerConnection, NaN, 1),
    maxConnections: integer('maxConnections', options.maxConnections, 16, 1),
  };
  const minConnections = integer('minConnections', options.minConnections, 1, 0);
  if (minConnections > limits.maxConnections) throw new InvalidOptionError('minConnections', 'must not exceed maxConnections');
  const iteratorBuffer = integer('iteratorBuffer', options.iteratorBuffer, 10_000, 1);
  if (options.connectRate !== undefined) validateRate('connectRate', options.connectRate);
  if (options.sendRate !== undefined) validateRate('sendRate', options.sendRate);
  if (typeof options.keyOf !== 'function') throw new InvalidOptionError('keyOf', 'expected a function');
  const connectBucket = options.connectRate ? new TokenBucket(options.connectRate) : undefined;
  const makeEngine = options.createEngine ?? createEngine;
  const {
    engine: _engine,
    maxPerConnection: _max,
    maxConnections: _maxc,
    minConnections: _minc,
    connectRate: _cr,
    sendRate,
    iteratorBuffer: _ib,
    createEngine: _ce,
    ...registryOptions
  } = options;

  // Errors nobody asked for (hooks, listeners, failed sends): the `error` event, else the console.
  const { events, report } = reportingEmitter<SubscriptionPoolEvents<Data>>();
  const slots: Slot[] = [];
  const placed = new Map<string, Placed>();
  const iterators = new Set<PoolIterator<Data>>();
  let life = new AbortController();
  let stopped = false;
  let paused = false;


  function loads(): Array<{ usable: boolean; hosted: number }> {
    return slots.map((slot) => ({ usable: slot.state === 'up' || slot.state === 'starting', hosted: slot.hosted.size }));
  }

  function openSlot(): Slot {
    const index = slots.length;
    const user = options.engine(index);
    const url = user.url;
    const signal = life.signal;
    const engineOptions: EngineOptions = {
      ...user,
      // Every attempt, first or reconnect, takes a connect token first.
      url: connectBucket
        ? async () => {
            await connectBucket.take(1, signal);
            return typeof url === 'function' ? url() : url;
          }
        : url,
      reconnect: user.reconnect === false ? false : { retryOnStart: true, ...user.reconnect },
    };
    const engine = makeEngine(engineOptions);
    const registry = createSubscriptions<unknown>(engine, {
      ...(registryOptions as SubscriptionsOptions<unknown>),
      sendRate,
    });
    const slot: Slot = { index, engine, registry, state: 'starting', hosted: new Set() };
    slots.push(slot);
    registry.on('message', (m) => deliver({ key: m.key, data: m.data as Data, message: m.message, connection: index }));
    registry.on('gap', (gap) => events.emit('gap', { ...gap, connection: index }));
    registry.on('stale', (info) => events.emit('stale', { ...info, connection: index }));
    registry.on('subscribed', (key) => {
      const where = placed.get(key);
      where?.ready?.resolve();
      if (where) where.ready = undefined;
    });
    registry.on('failed', (key, error) => {
      const where = placed.get(key);
      where?.ready?.reject(error);
      if (where) where.ready = undefined;
      events.emit('failed', key, error);
    });
    registry.on('error', report);
    engine.on('open', () => onUp(slot));
    engine.on('close', () => onDown(slot));
    // A connection that cannot open at all has failed too (its engine keeps trying).
    engine.on('attempt-failed', () => onDown(slot));
    engine.on('stopped', () => {
      if (stopped) return;
      onDown(slot);
      slot.state = 'stopped';
    });
    engine.on('error', report);
    engine.start().catch(() => {}); // failures arrive as events; the engine retries by itself
    return slot;
  }

  /** A connection dropped, or its first attempt failed: its subscriptions go where there is room. */
  function onDown(slot: Slot): void {
    if (stopped || slot.state === 'down' || slot.state === 'stopped') return;
    slot.state = 'down';
    const keys = [...slot.hosted];
    const targets = planMoves(loads(), limits, slot.index, keys.length);
    let moved = 0;
    keys.forEach((key, i) => {
      const target = targets[i]!;
      if (target < 0) return;
      move(key, slot, slots[target]!, false);
      moved++;
    });
    events.emit('failover', { connection: slot.index, moved, stayed: keys.length - moved });
  }

  function onUp(slot: Slot): void {
    if (stopped) return;
    const wasDown = slot.state === 'down';
    slot.state = 'up';
    if (!wasDown) return;
    let returned = 0;
    for (const [key, where] of placed) {
      if (where.home !== slot.index || where.host === slot.index) continue;
      move(key, slots[where.host]!, slot, true);
      returned++;
    }
    events.emit('restored', { connection: slot.index, returned });
  }

  /** Move `key` from one connection's registry to another's, carrying its sequence state. */
  function move(key: string, from: Slot, to: Slot, unsubscribe: boolean): void {
    const where = placed.get(key);
    if (where === undefined) return;
    const carry = from.registry.detach(key, { unsubscribe });
    from.hosted.delete(key);
    if (carry === undefined) return;
    to.hosted.add(key);
    where.host = to.index;
    to.registry.adopt(key, carry).catch(() => {});
  }

  function deliver(message: PoolMessage<Data>): void {
    if (events.has('message')) events.emit('message', message);
    if (iterators.size === 0) return;
    let full = false;
    for (const iterator of iterators) if (iterator.push(message) >= iteratorBuffer) full = true;
    // A slow consumer: stop reading (the servers are pushed back on) until it catches up.
    if (full && !paused) {
      paused = true;
      for (const slot of slots) slot.engine.pause();
    }
  }

  function drained(): void {
    if (!paused) return;
    for (const iterator of iterators) if (iterator.length > iteratorBuffer / 2) return;
    paused = false;
    for (const slot of slots) slot.engine.resume();
  }

  function start(): void {
    if (stopped) {
      stopped = false;
      life = new AbortController();
    }
    while (slots.length < minConnections) openSlot();
  }

  /** Whether `count` more subscriptions find a place, placed one by one as `subscribeOne` does. */
  function room(count: number): boolean {
    const trial = loads();
    for (let k = 0; k < count; k++) {
      const index = chooseSlot(trial, limits);
      if (index < 0) return false;
      if (index === trial.length) trial.push({ usable: true, hosted: 1 });
      else trial[index]!.hosted++;
    }
    return true;
  }

  function subscribeOne(key: string, spec: SubscriptionSpec): Promise<void> {
    const existing = placed.get(key);
    if (existing !== undefined) return existing.promise;
    // Refused before a connection is chosen (or opened) for it: the registry would refuse it too.
    if (spec.subscribe === undefined && registryOptions.subscribeMessage === undefined) {
      return Promise.reject(new InvalidOptionError('subscribeMessage', `no subscribe message for ${key}: give subscribeMessage or spec.subscribe`));
    }
    const index = chooseSlot(loads(), limits);
    if (index < 0) return Promise.reject(new PoolFullError(limits.maxConnections * limits.maxPerConnection));
    const slot = index === slots.length ? openSlot() : slots[index]!;
    let ready!: { resolve: () => void; reject: (error: unknown) => void };
    const promise = new Promise<void>((resolve, reject) => {
      ready = { resolve, reject };
    });
    promise.catch(() => {});
    const where: Placed = { home: index, host: index, spec, ready, promise };
    placed.set(key, where);
    slot.hosted.add(key);
    // The registry's own promise ends when the subscription moves: the pool's follows it. A
    // refusal by the registry's checks (a bad key or spec: nothing was registered) is the caller's.
    slot.registry.subscribe(key, spec).catch((error: unknown) => {
      if (!(error instanceof InvalidOptionError) || placed.get(key) !== where || slot.registry.has(key)) return;
      placed.delete(key);
      slot.hosted.delete(key);
      where.ready?.reject(error);
      where.ready = undefined;
    });
    return promise;
  }

  const pool: SubscriptionPool<Data> = {
    start,
    subscribe(keys, spec = {}) {
      let all: Promise<void>;
      try {
        start();
        const list = typeof keys === 'string' ? [keys] : keys;
        // All or nothing: a call that does not fit places none of its keys (a caller told "full"
        // must not find half of them subscribed).
        const fresh = new Set(list.filter((key) => !placed.has(key)));
        if (!room(fresh.size)) throw new PoolFullError(limits.maxConnections * limits.maxPerConnection);
        all = Promise.all(list.map((key) => subscribeOne(key, spec))).then(() => undefined);
      } catch (error) {
        // Engine options refused while opening a connection, say: the promise tells, never a throw.
        all = Promise.reject(error);
      }
      all.catch(() => {});
      return all;
    },
    async unsubscribe(keys) {
      const list = typeof keys === 'string' ? [keys] : keys;
      const pending: Array<Promise<void>> = [];
      for (const key of list) {
        const where = placed.get(key);
        if (where === undefined) continue;
        placed.delete(key);
        where.ready?.reject(new SubscriptionClosedError(`Unsubscribed from ${key} before it was active`));
        const slot = slots[where.host]!;
        slot.hosted.delete(key);
        pending.push(slot.registry.unsubscribe(key));
      }
      await Promise.all(pending);
    },
    list() {
      const out: Array<SubscriptionInfo & { connection: number; home: number }> = [];
      for (const slot of slots) {
        for (const info of slot.registry.list()) {
          out.push({ ...info, connection: slot.index, home: placed.get(info.key)?.home ?? slot.index });
        }
      }
      return out;
    },
    connections() {
      return slots.map((slot) => {
        let guests = 0;
        for (const key of slot.hosted) if (placed.get(key)?.home !== slot.index) guests++;
        return { index: slot.index, state: slot.state, hosted: slot.hosted.size, guests };
      });
    },
    on(event, listener) {
      return events.on(event, listener);
    },
    off(event, listener) {
      events.off(event, listener);
    },
    engine(index) {
      return slots[index]?.engine;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      life.abort(new EngineStoppedError('The pool stopped'));
      connectBucket?.cancelAll(new EngineStoppedError('The pool stopped'));
      const all = slots.splice(0);
      for (const where of placed.values()) where.ready?.reject(new SubscriptionClosedError('The pool stopped'));
      placed.clear();
      for (const slot of all) slot.registry.close();
      await Promise.all(all.map((slot) => slot.engine.stop()));
      for (const slot of all) slot.state = 'stopped';
      for (const iterator of [...iterators]) iterator.end();
      iterators.clear();
      paused = false;
    },
    [Symbol.asyncIterator]() {
      const iterator = new PoolIterator<Data>(
        () => drained(),
        (it) => {
          iterators.delete(it);
          drained();
        },
      );
      if (stopped) iterator.end();
      else iterators.add(iterator);
      return iterator;
    },
  };
  return pool;
}

/** An iterator over the pool's messages: buffers what arrives before it is asked for. */
class PoolIterator<Data> implements AsyncIterableIterator<PoolMessage<Data>> {
  readonly #buffer: Array<PoolMessage<Data>> = [];
  #head = 0;
  #waiter: ((result: IteratorResult<PoolMessage<Data>>) => void) | undefined;
  #done = false;
  readonly #onTake: () => void;
  readonly #onReturn: (it: PoolIterator<Data>) => void;

  constructor(onTake: () => void, onReturn: (it: PoolIterator<Data>) => void) {
    this.#onTake = onTake;
    this.#onReturn = onReturn;
  }

  get length(): number {
    return this.#buffer.length - this.#head;
  }

  /** Returns how many messages now wait. */
  push(message: PoolMessage<Data>): number {
    if (this.#done) return 0;
    if (this.#waiter) {
      const wake = this.#waiter;
      this.#waiter = undefined;
      wake({ value: message, done: false });
      return 0;
    }
    this.#buffer.push(message);
    return this.length;
  }

  end(): void {
    this.#done = true;
    if (this.#waiter) {
      const wake = this.#waiter;
      this.#waiter = undefined;
      wake({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<PoolMessage<Data>>> {
    if (this.length > 0) {
      const value = this.#buffer[this.#head++]!;
      if (this.#head > 1024 && this.#head * 2 > this.#buffer.length) {
        this.#buffer.splice(0, this.#head);
        this.#head = 0;
      }
      this.#onTake();
      return Promise.resolve({ value, done: false });
    }
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }

  return(): Promise<IteratorResult<PoolMessage<Data>>> {
    this.#done = true;
    this.#buffer.length = 0;
    this.#head = 0;
    this.#onReturn(this);
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<PoolMessage<Data>> {
    return this;
  }
}
