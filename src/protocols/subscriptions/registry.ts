/**
 * A registry of subscriptions on one engine, replayed on every connection it opens, so that a
 * feed consumer resumes by itself after a drop. Per stream, opt-in: a staleness timer (a stream
 * can go silent while pings still flow: it is resubscribed) and a sequence policy (gaps are
 * reported and resynchronised, duplicates replayed after a resubscribe are dropped).
 *
 * Subscribes made in the same tick go out together, `maxBatch` keys per frame, through the
 * `sendRate` token bucket; the replay on a new connection runs as an open hook, before any
 * message is delivered and before the outbox flush.
 */
import { MessageType, type Message, type WriteData } from '../../adapters/types.js';
import type { Engine, HookContext } from '../../engine/engine.js';
import { InvalidOptionError, NotConnectedError } from '../../engine/errors.js';
import { reportingEmitter } from '../../engine/events.js';
import { addOpenHook, intercept } from '../../engine/layers.js';
import { EngineState } from '../../engine/state.js';
import type { Requester } from '../rpc/requester.js';
import { SubscriptionClosedError } from './errors.js';
import { TokenBucket, validateRate, type RateOptions } from './rate-limit.js';
import { SequenceTracker, type SequenceMode } from './sequence.js';

/** A gap in a stream's sequence numbers. */
export interface Gap {
  readonly key: string;
  readonly expected: number;
  readonly got: number;
}

/** What a resync hook may do with the stream. */
export interface SubscriptionControl {
  readonly key: string;
  /** Send the unsubscribe (if any) and the subscribe again. */
  resubscribe(): Promise<void>;
  /** Forget the last sequence number (the next message is accepted as the first). */
  resetSequence(last?: number): void;
}

/** Per-subscription choices; every field is optional. */
export interface SubscriptionSpec {
  /**
   * The subscribe message for this key alone (a frame, or with `requester` a request). Default:
   * `subscribeMessage([key])`, batched with other keys.
   */
  readonly subscribe?: unknown;
  /** The unsubscribe message for this key alone. Default: `unsubscribeMessage([key])`, batched. */
  readonly unsubscribe?: unknown;
  /**
   * Await the server's confirmation through the registry's `requester` (the messages are then
   * requests, the reply confirms). Default: true when the registry has a requester. `false`
   * writes this subscription's messages as plain frames.
   */
  readonly confirm?: boolean;
  /** Resubscribe when no message came for this long (ms) while connected; `false` off. Default: the registry's. */
  readonly staleAfter?: number | false;
  /** Sequence policy; needs `seqOf`. Default: the registry's. */
  readonly sequence?: SequenceMode | false;
  /** Runs on a gap (after the `gap` event): e.g. fetch a snapshot and replay buffered deltas. */
  readonly resync?: (gap: Gap, control: SubscriptionControl) => void | Promise<void>;
}

export interface SubscriptionsOptions<Data = unknown> {
  /**
   * Turns a message into what `keyOf` and `seqOf` read (parsed once). `undefined`: not a stream
   * message. Default: `JSON.parse` of text messages; binary ones are not stream messages.
   */
  readonly parse?: (message: Message) => Data | undefined;
  /** The stream a message belongs to, or `undefined` (not a stream message: left alone). Required. */
  readonly keyOf: (data: Data, message: Message) => string | undefined;
  /** The message's sequence number, for the sequence policy. */
  readonly seqOf?: (data: Data, message: Message) => number | undefined;
  /**
   * The message subscribing to `keys` (a frame: string for text, bytes for binary; or with
   * `requester`, a request). Needed unless every subscription brings its own `subscribe`.
   */
  readonly subscribeMessage?: (keys: readonly string[]) => unknown;
  /** The message unsubscribing `keys`. Without it, unsubscribing only forgets the key. */
  readonly unsubscribeMessage?: (keys: readonly string[]) => unknown;
  /** Keys per subscribe or unsubscribe message. Default 100. */
  readonly maxBatch?: number;
  /**
   * Send subscribe and unsubscribe messages as requests through this requester and treat the
   * reply as the confirmation (a subscription is `active` once confirmed; an error reply makes
   * it `failed`). Without it, messages are written as frames and active once written.
   */
  readonly requester?: Pick<Requester<unknown, unknown>, 'request'>;
  /** Token bucket for subscribe and unsubscribe messages (the server's per-connection limit). Default: none. */
  readonly sendRate?: RateOptions | TokenBucket;
  /** Default `staleAfter` for every subscription (ms). Default: off. */
  readonly staleAfter?: number | false;
  /** Default sequence policy for every subscription. Default: off. */
  readonly sequence?: SequenceMode | false;
}

export type SubscriptionState = 'pending' | 'subscribing' | 'active' | 'failed';

/** A stream message with its key, as listeners and iterators see it. */
export interface StreamMessage<Data = unknown> {
  readonly key: string;
  readonly data: Data;
  readonly message: Message;
}

export interface SubscriptionInfo {
  readonly key: string;
  readonly state: SubscriptionState;
  readonly messages: number;
  readonly duplicates: number;
  readonly gaps: number;
  readonly stale: number;
  readonly lastSeq: number | undefined;
  /** `Date.now()` of the last message, or undefined. */
  readonly lastMessageAt: number | undefined;
}

export interface SubscriptionsEvents<Data = unknown> {
  /** A message of a subscribed stream (duplicates excluded). */
  message: [message: StreamMessage<Data>];
  /** A subscription is active (written, or confirmed through the requester). */
  subscribed: [key: string];
  /** A subscribe failed (its request was refused, or could not be written). */
  failed: [key: string, error: unknown];
  /** A stream was silent for `staleAfter` ms while connected; it is being resubscribed. */
  stale: [info: { readonly key: string; readonly silentMs: number }];
  /** A sequence gap. */
  gap: [gap: Gap];
  /** A duplicate was dropped. */
  duplicate: [info: { readonly key: string; readonly seq: number }];
  /**
   * The subscriptions (`keys`) were sent again on a new connection, in `messages` messages from
   * the open hook; `deferred` of them waited for the send rate and follow once open.
   */
  replayed: [info: { readonly connectionId: string; readonly keys: number; readonly messages: number; readonly deferred: number }];
  /** A listener, hook or send failed. */
  error: [error: unknown];
}

/** The engine a registry runs on (its filter and open hook are added with `intercept` and `addOpenHook`). */
export type SubscriptionsEngine = Engine;

/** The state a subscription carries when it moves to another registry (a pool's other connection). */
export interface SubscriptionCarry {
  readonly spec: SubscriptionSpec;
  readonly lastSeq: number | undefined;
}

export interface Subscriptions<Data = unknown> {
  /**
   * Subscribe to `key` (sent now when connected, else on the next connection). Resolves once
   * active; rejects when it failed or was unsubscribed first. Subscribing to a key already
   * registered returns its existing promise.
   */
  subscribe(key: string, spec?: SubscriptionSpec): Promise<void>;
  /** Forget `key` and send its unsubscribe when connected. */
  unsubscribe(key: string): Promise<void>;
  /** Whether `key` is registered. */
  has(key: string): boolean;
  /** Every subscription with its state and counters. */
  list(): SubscriptionInfo[];
  /** How many subscriptions are registered. */
  readonly size: number;
  on<E extends keyof SubscriptionsEvents<Data>>(event: E, listener: (...args: SubscriptionsEvents<Data>[E]) => void): () => void;
  off<E extends keyof SubscriptionsEvents<Data>>(event: E, listener: (...args: SubscriptionsEvents<Data>[E]) => void): void;
  /**
   * Take `key` out, keeping what another registry needs to carry on (used by the pool to move
   * subscriptions); its unsubscribe is sent only with `unsubscribe: true` (the connection is up).
   */
  detach(key: string, options?: { readonly unsubscribe?: boolean }): SubscriptionCarry | undefined;
  /** Register a subscription detached from another registry. */
  adopt(key: string, carry: SubscriptionCarry): Promise<void>;
  /** Detach from the engine; pending subscribes reject with `SubscriptionClosedError`. */
  close(): void;
}

/** A subscription on its way out (unsubscribing). */
interface Leaving {
  readonly key: string;
  readonly spec: SubscriptionSpec;
}

/** One subscribe or unsubscribe message and the subscriptions it carries. */
interface Outgoing<T> {
  readonly payload: unknown;
  readonly confirm: boolean;
  readonly subs: T[];
}

interface Sub {
  readonly key: string;
  readonly spec: SubscriptionSpec;
  state: SubscriptionState;
  readonly staleAfter: number | undefined;
  readonly seq: SequenceTracker | undefined;
  messages: number;
  stale: number;
  lastMessageAt: number | undefined;
  /** When the stale timer counts from (the last message, or the last subscribe). */
  quietSince: number;
  timer: ReturnType<typeof globalThis.setTimeout> | undefined;
  removed: boolean;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  readonly ready: Promise<void>;
  settled: boolean;
}

const defaultParse = (message: Message): unknown => {
  if (typeof message.data !== 'string') return undefined;
  try {
    return JSON.parse(message.data);
  } catch {
    return undefined;
  }
};

function checkMs(name: string, value: number | false | undefined): void {
  if (value === undefined || value === false) return;
  // At most what a timer can take: setTimeout fires a longer one after 1 ms.
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > 2 ** 31 - 1) {
    throw new InvalidOptionError(name, `expected a number of ms > 0 and <= 2147483647, or false, got ${String(value)}`);
  }
}

function checkMode(name: string, value: SequenceMode | false | undefined): void {
  if (value === undefined || value === false || value === 'contiguous' || value === 'monotonic') return;
  throw new InvalidOptionError(name, `expected 'contiguous', 'monotonic' or false, got ${String(value)}`);
}

/** A subscription registry on `engine`; create it before or after `engine.start()`. */
export function createSubscriptions<Data = unknown>(
  engine: SubscriptionsEngine,
  options: SubscriptionsOptions<Data>,
): Subscriptions<Data> {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'expected an object');
  if (typeof options.keyOf !== 'function') throw new InvalidOptionError('keyOf', 'expected a function');
  for (const name of ['parse', 'seqOf', 'subscribeMessage', 'unsubscribeMessage'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') {
      throw new InvalidOptionError(name, `expected a function, got ${typeof options[name]}`);
    }
  }
  const maxBatch = options.maxBatch ?? 100;
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new InvalidOptionError('maxBatch', `expected an integer >= 1, got ${String(maxBatch)}`);
  checkMs('staleAfter', options.staleAfter);
  checkMode('sequence', options.sequence);
  if (options.sequence && !options.seqOf) throw new InvalidOptionError('seqOf', 'a sequence policy needs seqOf');
  if (options.requester !== undefined && typeof options.requester.request !== 'function') {
    throw new InvalidOptionError('requester', 'expected a requester (createRequester or a JSON-RPC client.requester)');
  }
  let bucket: TokenBucket | undefined;
  if (options.sendRate instanceof TokenBucket) bucket = options.sendRate;
  else if (options.sendRate !== undefined) {
    validateRate('sendRate', options.sendRate);
    bucket = new TokenBucket(options.sendRate);
  }
  const parse = (options.parse ?? defaultParse) as (message: Message) => Data | undefined;
  const keyOf = options.keyOf;
  const seqOf = options.seqOf;
  const requester = options.requester;

  // Errors nobody asked for (hooks, listeners, failed sends): the `error` event, else the console.
  const { events, report } = reportingEmitter<SubscriptionsEvents<Data>>();
  const subs = new Map<string, Sub>();
  /** Subscribes and unsubscribes waiting for this tick's flush. */
  let toSubscribe: Sub[] = [];
  let toUnsubscribe: Array<{ key: string; spec: SubscriptionSpec }> = [];
  let scheduled: Promise<void> | undefined;
  let closed = false;
  /** Aborted on close: stops throttled sends. */
  const life = new AbortController();


  function isOpen(): boolean {
    return engine.state === EngineState.Open && engine.connectionId !== undefined;
  }

  function toFrame(payload: unknown): WriteData {
    if (typeof payload === 'string' || payload instanceof Uint8Array || payload instanceof ArrayBuffer) return payload;
    throw new InvalidOptionError('subscribeMessage', 'messages sent without confirmation must be strings or bytes');
  }

  /**
   * Send one subscribe or unsubscribe message, after a token. Resolves once it is written (a
   * request: once handed to the requester, which writes it at once), with `done`: settled when
   * it is confirmed (a request's reply) or, for a plain frame, at once.
   */
  async function deliver(
    payload: unknown,
    confirm: boolean,
    ctx: HookContext | undefined,
    tokenTaken = false,
  ): Promise<{ done: Promise<unknown> }> {
    if (bucket !== undefined && !tokenTaken) await bucket.take(1, life.signal);
    if (ctx !== undefined && ctx.signal.aborted) throw new NotConnectedError('The connection ended');
    if (confirm && requester !== undefined) return { done: requester.request(payload, ctx !== undefined ? { context: ctx } : undefined) };
    const frame = toFrame(payload);
    const type = typeof frame === 'string' ? MessageType.Text : MessageType.Binary;
    await (ctx !== undefined ? ctx.send(type, frame) : engine.send(type, frame));
    return { done: Promise.resolve() };
  }

  function settle(sub: Sub, error?: unknown): void {
    if (sub.settled) return;
    sub.settled = true;
    if (error === undefined) sub.resolve();
    else sub.reject(error);
  }

  function activate(sub: Sub): void {
    if (sub.removed || sub.state === 'active') return;
    sub.state = 'active';
    sub.quietSince = Date.now();
    armStale(sub);
    settle(sub);
    events.emit('subscribed', sub.key);
  }

  function failed(sub: Sub, error: unknown): void {
    if (sub.removed) return;
    // Lost with the connection: it is replayed on the next one, not failed.
    if (!isOpen() || isConnectionLoss(error)) {
      sub.state = 'pending';
      return;
    }
    sub.state = 'failed';
    events.emit('failed', sub.key, error);
    settle(sub, error);
  }

  /** Build the messages for `batch` (custom ones alone, the rest `maxBatch` keys a message). */
  /**
   * Build the messages for `batch`: a subscription with its own message alone, the rest
   * `maxBatch` keys a message, confirmed ones apart from plain ones.
   */
  function messagesFor(batch: readonly Sub[], unsubscribing: false): Array<Outgoing<Sub>>;
  function messagesFor(batch: ReadonlyArray<Leaving>, unsubscribing: true): Array<Outgoing<Leaving>>;
  function messagesFor<T extends Leaving>(batch: readonly T[], unsubscribing: boolean): Array<Outgoing<T>> {
    const out: Array<Outgoing<T>> = [];
    const groups: [T[], T[]] = [[], []];
    const make = unsubscribing ? options.unsubscribeMessage : options.subscribeMessage;
    const flushGroup = (confirm: boolean): void => {
      const group = groups[confirm ? 1 : 0];
      if (group.length === 0) return;
      out.push({ payload: make!(group.map((s) => s.key)), confirm, subs: group });
      groups[confirm ? 1 : 0] = [];
    };
    for (const item of batch) {
      const confirm = confirms(item.spec);
      const own = unsubscribing ? item.spec.unsubscribe : item.spec.subscribe;
      if (own !== undefined) out.push({ payload: own, confirm, subs: [item] });
      else if (make !== undefined) {
        const group = groups[confirm ? 1 : 0];
        group.push(item);
        if (group.length === maxBatch) flushGroup(confirm);
      }
    }
    flushGroup(false);
    flushGroup(true);
    return out;
  }

  function confirms(spec: SubscriptionSpec): boolean {
    return requester !== undefined && spec.confirm !== false;
  }

  /** Subscribe `batch` on the current connection (or `ctx`'s); returns once every message left. */
  async function sendSubscribes(batch: readonly Sub[], ctx: HookContext | undefined): Promise<number> {
    let messages: Array<Outgoing<Sub>>;
    try {
      messages = messagesFor(batch, false);
    } catch (error) {
      for (const sub of batch) failed(sub, error);
      return 0;
    }
    for (const sub of batch) sub.state = 'subscribing';
    // Each message waits for its token and its write; confirmations are not awaited here (inside
    // the open hook the replies cannot be read before the hook returns). Inside the open hook,
    // only what the bucket allows at once goes out: waiting there would count against
    // `openTimeout`; the rest stays pending and follows through the throttled path once open.
    let sent = 0;
    for (const { payload, confirm, subs: group } of messages) {
      if (ctx !== undefined && bucket !== undefined) {
        if (!bucket.tryTake()) {
          for (const { subs: rest } of messages.slice(sent)) for (const sub of rest) if (sub.state === 'subscribing') sub.state = 'pending';
          break;
        }
      }
      sent++;
      try {
        const { done } = await deliver(payload, confirm, ctx, ctx !== undefined);
        done.then(
          () => group.forEach(activate),
          (error: unknown) => group.forEach((sub) => failed(sub, error)),
        );
      } catch (error) {
        group.forEach((sub) => failed(sub, error));
      }
    }
    return sent;
  }

  async function sendUnsubscribes(batch: ReadonlyArray<{ key: string; spec: SubscriptionSpec }>): Promise<void> {
    if (!isOpen()) return;
    const messages = messagesFor(batch, true);
    for (const { payload, confirm } of messages) {
      const onError = (error: unknown): void => {
        if (!isConnectionLoss(error) && !closed) report(error);
      };
      try {
        const { done } = await deliver(payload, confirm, undefined);
        done.catch(onError);
      } catch (error) {
        onError(error);
      }
    }
  }

  /** Flush at the end of this tick (so that a loop of subscribes shares messages); resolves once sent. */
  function scheduleFlush(): Promise<void> {
    if (scheduled !== undefined) return scheduled;
    scheduled = new Promise<void>((resolve) => {
      globalThis.queueMicrotask(() => {
        scheduled = undefined;
        resolve(flush());
      });
    });
    return scheduled;
  }

  // One flush chain at a time, so that the token bucket sees messages in order.
  let flushing: Promise<void> = Promise.resolve();

  function flush(): Promise<void> {
    const unsubscribes = toUnsubscribe;
    const subscribes = toSubscribe.filter((sub) => !sub.removed && sub.state === 'pending');
    toUnsubscribe = [];
    toSubscribe = [];
    if (!isOpen()) return flushing; // the replay on the next connection sends them
    return (flushing = flushing.then(async () => {
      // Unsubscribes first: a server counting streams per connection frees room before new ones.
      if (unsubscribes.length > 0) await sendUnsubscribes(unsubscribes);
      const live = subscribes.filter((sub) => !sub.removed && sub.state === 'pending');
      if (live.length > 0 && isOpen()) await sendSubscribes(live, undefined);
    }).catch(report));
  }

  // --- staleness -----------------------------------------------------------------------------

  function armStale(sub: Sub): void {
    if (sub.staleAfter === undefined || sub.removed) return;
    if (sub.timer !== undefined) globalThis.clearTimeout(sub.timer);
    // Armed once per period, not per message: on expiry it checks the last message's time and
    // re-arms for the remainder when the stream spoke meanwhile.
    const due = sub.quietSince + sub.staleAfter - Date.now();
    sub.timer = globalThis.setTimeout(() => onStaleTimer(sub), Math.max(0, due));
  }

  function onStaleTimer(sub: Sub): void {
    sub.timer = undefined;
    if (sub.removed || sub.state !== 'active' || !isOpen()) return;
    const silentMs = Date.now() - sub.quietSince;
    if (silentMs < sub.staleAfter!) {
      armStale(sub);
      return;
    }
    sub.stale++;
    events.emit('stale', { key: sub.key, silentMs });
    void resubscribe(sub);
  }

  async function resubscribe(sub: Sub): Promise<void> {
    if (sub.removed || !isOpen()) return;
    sub.state = 'subscribing';
    if (sub.spec.unsubscribe !== undefined || options.unsubscribeMessage !== undefined) {
      await sendUnsubscribes([{ key: sub.key, spec: sub.spec }]);
    }
    if (sub.removed) return;
    sub.state = 'pending';
    await sendSubscribes([sub], undefined);
    // Not yet active again (lost with the connection): the replay takes over.
  }

  function stopTimers(): void {
    for (const sub of subs.values()) {
      if (sub.timer !== undefined) globalThis.clearTimeout(sub.timer);
      sub.timer = undefined;
    }
  }

  // --- inbound -------------------------------------------------------------------------------

  const removeFilter = intercept(engine, (message) => {
    if (subs.size === 0) return false;
    let data: Data | undefined;
    let key: string | undefined;
    try {
      data = parse(message);
      if (data === undefined) return false;
      key = keyOf(data, message);
    } catch (error) {
      report(error);
      return false;
    }
    if (key === undefined) return false;
    const sub = subs.get(key);
    if (sub === undefined) return false;
    if (sub.seq !== undefined) {
      const seq = seqOf!(data, message);
      if (seq !== undefined) {
        const verdict = sub.seq.check(seq);
        if (verdict.kind === 'duplicate') {
          if (events.has('duplicate')) events.emit('duplicate', { key, seq });
          return true; // replayed by the server after a resubscribe: never applied twice
        }
        if (verdict.kind === 'gap') {
          const gap: Gap = { key, expected: verdict.expected, got: verdict.got };
          events.emit('gap', gap);
          runResync(sub, gap);
        }
      }
    }
    sub.messages++;
    const now = Date.now();
    sub.lastMessageAt = now;
    sub.quietSince = now;
    if (events.has('message')) events.emit('message', { key, data, message });
    return false;
  });

  function control(sub: Sub): SubscriptionControl {
    return {
      key: sub.key,
      resubscribe: () => resubscribe(sub),
      resetSequence: (last) => sub.seq?.reset(last),
    };
  }

  function runResync(sub: Sub, gap: Gap): void {
    const hook = sub.spec.resync;
    if (hook === undefined) return;
    try {
      const result = hook(gap, control(sub));
      if (result && typeof (result as Promise<void>).then === 'function') (result as Promise<void>).catch(report);
    } catch (error) {
      report(error);
    }
  }

  // --- connections ---------------------------------------------------------------------------

  // Replay: every subscription goes out again on each new connection, before any message is
  // delivered; what the send bucket does not allow at once follows right after the open.
  const removeHook = addOpenHook(engine, async (ctx) => {
    if (subs.size === 0) return;
    const all = [...subs.values()].filter((sub) => !sub.removed && sub.state !== 'failed');
    for (const sub of all) sub.state = 'pending';
    const messages = await sendSubscribes(all, ctx);
    let deferred = 0;
    for (const sub of all) if (sub.state === 'pending') deferred++;
    events.emit('replayed', { connectionId: ctx.connectionId, keys: all.length, messages, deferred });
  });

  const removeClose = engine.on('close', () => {
    stopTimers();
    for (const sub of subs.values()) if (sub.state !== 'failed') sub.state = 'pending';
  });

  // Subscribes made while the open hooks ran (or before this registry saw the connection).
  const removeOpen = engine.on('open', () => {
    for (const sub of subs.values()) {
      if (sub.state === 'pending' && !toSubscribe.includes(sub)) toSubscribe.push(sub);
    }
    if (toSubscribe.length > 0) void scheduleFlush();
  });

  // --- the public surface --------------------------------------------------------------------

  function register(key: string, spec: SubscriptionSpec, lastSeq: number | undefined): Promise<void> {
    if (closed) return Promise.reject(new SubscriptionClosedError());
    if (typeof key !== 'string' || key.length === 0) return Promise.reject(new InvalidOptionError('key', 'expected a non-empty string'));
    const existing = subs.get(key);
    if (existing !== undefined) return existing.ready;
    // A bad spec rejects the promise like every other refusal, never throws from subscribe().
    try {
      checkMs('staleAfter', spec.staleAfter);
      checkMode('sequence', spec.sequence);
    } catch (error) {
      return Promise.reject(error);
    }
    if (spec.confirm === true && requester === undefined) {
      return Promise.reject(new InvalidOptionError('confirm', `${key}: confirmation needs the registry's requester`));
    }
    const staleAfter = spec.staleAfter ?? options.staleAfter;
    const mode = spec.sequence ?? options.sequence;
    if (mode && !seqOf) return Promise.reject(new InvalidOptionError('seqOf', 'a sequence policy needs seqOf'));
    if (spec.subscribe === undefined && options.subscribeMessage === undefined) {
      return Promise.reject(new InvalidOptionError('subscribeMessage', `no subscribe message for ${key}: give subscribeMessage or spec.subscribe`));
    }
    let resolve!: () => void;
    let reject!: (error: unknown) => void;
    const ready = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // A caller that does not await it must not see an unhandled rejection.
    ready.catch(() => {});
    const sub: Sub = {
      key,
      spec,
      state: 'pending',
      staleAfter: staleAfter === false ? undefined : staleAfter,
      seq: mode ? new SequenceTracker(mode, lastSeq) : undefined,
      messages: 0,
      stale: 0,
      lastMessageAt: undefined,
      quietSince: Date.now(),
      timer: undefined,
      removed: false,
      resolve,
      reject,
      ready,
      settled: false,
    };
    subs.set(key, sub);
    toSubscribe.push(sub);
    void scheduleFlush();
    return ready;
  }

  function remove(key: string): Sub | undefined {
    const sub = subs.get(key);
    if (sub === undefined) return undefined;
    subs.delete(key);
    sub.removed = true;
    if (sub.timer !== undefined) globalThis.clearTimeout(sub.timer);
    sub.timer = undefined;
    settle(sub, new SubscriptionClosedError(`Unsubscribed from ${key} before it was active`));
    return sub;
  }

  /** Queue the unsubscribe of a removed subscription that reached the server; false when none is due. */
  function queueUnsubscribe(sub: Sub): boolean {
    const wasSent = sub.state === 'active' || sub.state === 'subscribing';
    if (!wasSent || !isOpen() || (sub.spec.unsubscribe === undefined && options.unsubscribeMessage === undefined)) return false;
    toUnsubscribe.push({ key: sub.key, spec: sub.spec });
    void scheduleFlush();
    return true;
  }

  return {
    subscribe(key, spec = {}) {
      return register(key, spec, undefined);
    },
    async unsubscribe(key) {
      const sub = remove(key);
      if (sub !== undefined && queueUnsubscribe(sub)) await scheduleFlush();
    },
    has(key) {
      return subs.has(key);
    },
    list() {
      return [...subs.values()].map((sub) => ({
        key: sub.key,
        state: sub.state,
        messages: sub.messages,
        duplicates: sub.seq?.duplicates ?? 0,
        gaps: sub.seq?.gaps ?? 0,
        stale: sub.stale,
        lastSeq: sub.seq?.last,
        lastMessageAt: sub.lastMessageAt,
      }));
    },
    get size() {
      return subs.size;
    },
    on(event, listener) {
      return events.on(event, listener);
    },
    off(event, listener) {
      events.off(event, listener);
    },
    detach(key, detachOptions) {
      const sub = remove(key);
      if (sub === undefined) return undefined;
      if (detachOptions?.unsubscribe) queueUnsubscribe(sub);
      return { spec: sub.spec, lastSeq: sub.seq?.last };
    },
    adopt(key, carry) {
      return register(key, carry.spec, carry.lastSeq);
    },
    close() {
      if (closed) return;
      closed = true;
      life.abort(new SubscriptionClosedError());
      removeFilter();
      removeHook();
      removeClose();
      removeOpen();
      stopTimers();
      for (const key of [...subs.keys()]) remove(key);
      if (bucket !== undefined && !(options.sendRate instanceof TokenBucket)) bucket.cancelAll(new SubscriptionClosedError());
    },
  };
}

function isConnectionLoss(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return (
    error instanceof NotConnectedError ||
    error.name === 'WebSocketCloseError' ||
    code === 'ERR_CONNECTION_CLOSED' ||
    code === 'ERR_REQUEST_NOT_SENT' ||
    code === 'ERR_REQUEST_OUTCOME_UNKNOWN' ||
    code === 'ERR_ENGINE_STOPPED'
  );
}
