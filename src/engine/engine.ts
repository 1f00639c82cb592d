/**
 * The resilient engine: keeps one WebSocket connection alive through any adapter, reconnecting
 * with backoff, probing liveness, queueing or refusing sends while disconnected, and delivering
 * messages in order. It knows adapters only through the contract (`../adapters/types.ts`) and
 * runs in browsers: no `node:` imports, timers through `globalThis`.
 *
 * The hooks are callbacks for each step of a connection's life (on open, on message, on read error, on close,
 * on close error, on restart error); each gets the adapter, `restart()`, `exit()` and the id of
 * the current connection.
 */
import { ConnectionClosedError, InvalidArgumentError, WebSocketCloseError } from '../adapters/errors.js';
import { abortReason, raceSignal } from '../adapters/signals.js';
import type { StatusCode } from '../adapters/status-codes.js';
import {
  MessageType,
  type AdapterFactory,
  type HandshakeResponse,
  type HeaderInit,
  type Message,
  type WebSocketConnectionAdapter,
  type WriteData,
} from '../adapters/types.js';
import { normalizeWriteData, parseWebSocketUrl } from '../adapters/validation.js';
import {
  Dispatcher,
  MessageIterator,
  ReadGate,
  resolveDeliveryOptions,
  type DeliveryOptions,
  type ResolvedDeliveryOptions,
} from './delivery.js';
import {
  EngineStoppedError,
  HeartbeatTimeoutError,
  InvalidOptionError,
  NotConnectedError,
  OpenTimeoutError,
  RestartRequestedError,
  RetriesExhaustedError,
} from './errors.js';
import { TypedEmitter } from './events.js';
import { Heartbeat, resolveHeartbeatOptions, type HeartbeatOptions, type ResolvedHeartbeatOptions } from './heartbeat.js';
import { byteLength, Metrics, type MetricsSnapshot } from './metrics.js';
import { Outbox, resolveOutboxOptions, type OutboxOptions } from './outbox.js';
import { ReconnectPolicy, type ReconnectOptions, type RetryInfo } from './reconnect-policy.js';
import { EngineState, StateMachine } from './state.js';
import { deferred, sleep, type Deferred } from './timers.js';
import { endSpan, resolveTracer, startSpan, urlAttributes, type TracerLike } from './tracing.js';

/** What every hook receives about the connection it runs for. */
export interface HookContext {
  /** The adapter of this connection: hooks may read and write through it directly. */
  readonly adapter: WebSocketConnectionAdapter;
  /** Unique id of this connection (one per successful dial). */
  readonly connectionId: string;
  /** The number of the attempt that opened it within the current outage (1 when the first try worked). */
  readonly attempt: number;
  /** Whether this connection replaces an earlier one (false for the first after `start()`). */
  readonly reconnect: boolean;
  /** What the server answered to the opening handshake. */
  readonly handshake: HandshakeResponse;
  /** Aborted when this connection ends (or its opening is abandoned). */
  readonly signal: AbortSignal;
  /**
   * Send on this connection, counted in the metrics. Inside an open hook it is written at once,
   * before the outbox is flushed; later it behaves as `engine.send()`. Rejects with
   * `NotConnectedError` once this connection has ended.
   */
  send(type: MessageType, data: WriteData, options?: SendOptions): Promise<void>;
  sendText(text: string, options?: SendOptions): Promise<void>;
  sendBinary(data: Uint8Array | ArrayBuffer, options?: SendOptions): Promise<void>;
  /** Close this connection and open a new one at once. */
  restart(): void;
  /** Stop the engine (as `stop()`, without waiting for it). */
  exit(): void;
}

/** Why and how a connection ended, as the close hook and the `close` event see it. */
export interface CloseInfo {
  /** The close code: sent by us (`local`) or received (`remote`; 1006 when no close frame came). */
  readonly code: number;
  readonly reason: string;
  /** Who ended the connection. */
  readonly initiator: 'local' | 'remote';
  /** What ended it: the close error, a heartbeat timeout, a restart request; `undefined` for `stop()`. */
  readonly error: unknown;
}

/** What the close hook may return to choose the close frame of a local close. */
export interface CloseChoice {
  readonly code?: StatusCode;
  readonly reason?: string;
}

/** Details of a failed restart attempt, for the restart-error hook. */
export interface RestartErrorContext {
  readonly attempt: number;
  /** Stop the engine. */
  exit(): void;
}

export interface EngineOptions {
  /** Where to connect; a function is called before every attempt (fresh tokens in the query). */
  readonly url: string | URL | (() => string | URL | Promise<string | URL>);
  /** Request headers for the handshake; a function is called before every attempt. */
  readonly headers?: HeaderInit | (() => HeaderInit | Promise<HeaderInit>);
  /** Subprotocols to offer, in order of preference. */
  readonly protocols?: readonly string[];
  /** Makes the adapter for each connection, e.g. `createWsAdapter` or `() => mockServer.adapter()`. */
  readonly adapter: AdapterFactory;
  /**
   * Runs once a connection is dialled, before any message is delivered and before queued sends
   * are flushed; may talk to the server (authenticate, subscribe): `engine.send()` and
   * `ctx.send()` write on this connection here, before the outbox. Bounded by
   * `reconnect.openTimeout` together with the dial. A throw fails the attempt, which the
   * reconnect policy may retry (as any failed attempt, also the first one of `start()`).
   */
  readonly onOpen?: (ctx: HookContext) => void | Promise<void>;
  /** Each inbound message; with `delivery.concurrency` 1 the next waits for its promise. */
  readonly onMessage?: (message: Message, ctx: HookContext) => void | Promise<void>;
  /**
   * A read failed with something other than the connection closing. The engine reads on after
   * the hook returns (it may call `ctx.restart()` or `ctx.exit()`); without the hook the
   * connection is replaced.
   */
  readonly onReadError?: (error: unknown, ctx: HookContext) => void | Promise<void>;
  /**
   * A connection ends. For a local close (stop, restart, heartbeat timeout) it runs before the
   * close frame is sent and may choose its code and reason; for a remote close its result is ignored.
   */
  readonly onClose?: (info: CloseInfo, ctx: HookContext) => CloseChoice | void | Promise<CloseChoice | void>;
  /** Closing a connection failed. */
  readonly onCloseError?: (error: unknown, ctx: HookContext) => void;
  /** A connection attempt failed (another may follow, per the reconnect policy). */
  readonly onRestartError?: (error: unknown, ctx: RestartErrorContext) => void | Promise<void>;
  /** Backoff, limits and decisions; `false` never retries. See {@link ReconnectOptions}. */
  readonly reconnect?: ReconnectOptions | false;
  /** Liveness probing; `false` turns it off. See {@link HeartbeatOptions}. */
  readonly heartbeat?: HeartbeatOptions | false;
  /** What `send()` does while disconnected. See {@link OutboxOptions}. */
  readonly outbox?: OutboxOptions;
  /** Concurrency and iterator buffering. See {@link DeliveryOptions}. */
  readonly delivery?: DeliveryOptions;
  /** How long `stop()` waits for the server's close frame, in ms. Default 5000. */
  readonly closeTimeout?: number;
  /**
   * OpenTelemetry spans: `true` (default) uses `@opentelemetry/api`'s global tracer when the
   * package is installed, `false` never loads it, or pass a tracer.
   */
  readonly tracing?: boolean | TracerLike;
}

/** What the `open` event reports. */
export interface OpenInfo {
  /** The attempt that opened it within the current outage (1 when the first try worked). */
  readonly attempt: number;
  /** Whether this connection replaces an earlier one (false for the first after `start()`). */
  readonly reconnect: boolean;
  readonly connectionId: string;
  readonly handshake: HandshakeResponse;
}

/** An extra open hook (see {@link Engine.addOpenHook}). */
export type OpenHook = (ctx: HookContext) => void | Promise<void>;

/** An inbound message filter (see {@link Engine.intercept}); `true` consumes the message. */
export type MessageFilter = (message: Message, ctx: HookContext) => boolean;

/** Options for `start()`. */
export interface StartOptions {
  /** Bounds the start: when it aborts before a connection is open, the engine stops and `start()` rejects with its reason. */
  readonly signal?: AbortSignal;
}

/** The engine's typed events: `engine.on(name, listener)`. */
export interface EngineEvents {
  state: [to: EngineState, from: EngineState];
  connecting: [info: { readonly attempt: number }];
  open: [info: OpenInfo];
  message: [message: Message, connectionId: string];
  close: [info: CloseInfo & { readonly connectionId: string; readonly uptimeMs: number }];
  /** A connection attempt failed. */
  'attempt-failed': [error: unknown, attempt: number];
  /** The next attempt is scheduled. */
  retry: [info: RetryInfo];
  'heartbeat-timeout': [error: HeartbeatTimeoutError, connectionId: string];
  /** A heartbeat probe was answered. */
  pong: [rttMs: number];
  /** A hook or listener threw, or the engine gave up (then `stopped` follows). */
  error: [error: unknown];
  stopped: [info: { readonly error: unknown }];
}

/** Options for one `send`. */
export interface SendOptions {
  /** Aborts the send; a queued message is then removed from the outbox. */
  readonly signal?: AbortSignal;
  /** Time-to-live in the outbox for this message, in ms (overrides `outbox.ttl`). */
  readonly ttl?: number;
}

type End =
  | { kind: 'lost'; error: unknown }
  | { kind: 'heartbeat'; error: HeartbeatTimeoutError }
  | { kind: 'restart' }
  | { kind: 'stop' };

interface Connection {
  readonly id: string;
  readonly adapter: WebSocketConnectionAdapter;
  readonly attempt: number;
  readonly ctx: HookContext;
  readonly controller: AbortController;
  readonly ended: Deferred<End>;
  done: boolean;
  openedAt: number;
  /** The reader's read in flight ({@link TAKEN_OVER} once an exclusive holder took it), if any. */
  inflight: Promise<Message> | undefined;
  /** A read carried over a pause or an exclusive hold, to be consumed first. */
  carry: Promise<Message> | undefined;
  heartbeat: Heartbeat | undefined;
}

let engineCount = 0;

/** Marks a read in flight that an exclusive holder took over (the reader is still waiting on it). */
const TAKEN_OVER: Promise<Message> = new Promise<Message>(() => {});

/** Codes the heartbeat and restarts close with (RFC 6455 section 7.4.1). */
const NORMAL_CLOSURE = 1000;
const GOING_AWAY = 1001;
/** After this many read errors in a row (not closes), a connection is treated as lost. */
const MAX_CONSECUTIVE_READ_ERRORS = 16;

function isConnectionGone(error: unknown): boolean {
  return error instanceof WebSocketCloseError || error instanceof ConnectionClosedError;
}

export class Engine implements AsyncIterable<Message> {
  readonly #options: EngineOptions;
  readonly #policy: ReconnectPolicy;
  readonly #heartbeatOptions: ResolvedHeartbeatOptions;
  readonly #delivery: ResolvedDeliveryOptions;
  readonly #outbox: Outbox;
  readonly #closeTimeout: number;
  readonly #events: TypedEmitter<EngineEvents>;
  readonly #machine: StateMachine;
  readonly #metrics = new Metrics();
  readonly #gate = new ReadGate();
  readonly #dispatcher: Dispatcher;
  readonly #iterators = new Set<MessageIterator>();
  readonly #id = ++engineCount;
  #connectionSeq = 0;
  #tracer: TracerLike | undefined;
  #life = new AbortController();
  #current: Connection | undefined;
  /** The connection whose open hooks are running: sends go straight to it. */
  #opening: Connection | undefined;
  #openHooks: readonly OpenHook[] = [];
  #filters: readonly MessageFilter[] = [];
  #flushing = false;
  #starting: Promise<void> | undefined;
  #run: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #skipWait: Deferred<void> | undefined;

  constructor(options: EngineOptions) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidOptionError('options', 'expected an object');
    }
    const url = options.url;
    if (typeof url === 'string' || url instanceof URL) {
      try {
        parseWebSocketUrl(url);
      } catch (error) {
        throw new InvalidOptionError('url', (error as Error).message);
      }
    } else if (typeof url !== 'function') {
      throw new InvalidOptionError('url', `expected a string, a URL or a function, got ${typeof url}`);
    }
    if (typeof options.adapter !== 'function') {
      throw new InvalidOptionError('adapter', `expected an adapter factory function, got ${typeof options.adapter}`);
    }
    for (const hook of ['onOpen', 'onMessage', 'onReadError', 'onClose', 'onCloseError', 'onRestartError'] as const) {
      if (options[hook] !== undefined && typeof options[hook] !== 'function') {
        throw new InvalidOptionError(hook, `expected a function, got ${typeof options[hook]}`);
      }
    }
    if (options.protocols !== undefined && !Array.isArray(options.protocols)) {
      throw new InvalidOptionError('protocols', 'expected an array of strings');
    }
    const closeTimeout = options.closeTimeout ?? 5000;
    if (typeof closeTimeout !== 'number' || !Number.isFinite(closeTimeout) || closeTimeout < 0) {
      throw new InvalidOptionError('closeTimeout', `expected a finite number of ms >= 0, got ${String(closeTimeout)}`);
    }
    this.#options = options;
    this.#closeTimeout = closeTimeout;
    this.#policy = new ReconnectPolicy(options.reconnect === false ? { retries: 0 } : options.reconnect);
    this.#heartbeatOptions = resolveHeartbeatOptions(options.heartbeat);
    this.#delivery = resolveDeliveryOptions(options.delivery);
    this.#outbox = new Outbox(resolveOutboxOptions(options.outbox));
    this.#events = new TypedEmitter<EngineEvents>((error, event) => this.#reportListenerError(error, event));
    this.#machine = new StateMachine((to, from) => this.#events.emit('state', to, from));
    this.#dispatcher = new Dispatcher(this.#delivery.concurrency, (error) => this.#report(error));
    this.#gate.preempt = () => this.#preempt();
  }

  /** The current lifecycle state. */
  get state(): EngineState {
    return this.#machine.state;
  }

  /** Whether delivery is paused. */
  get paused(): boolean {
    return this.#gate.paused;
  }

  /** The id of the open connection, if any. */
  get connectionId(): string | undefined {
    return this.#current?.id;
  }

  /** Listen to an event; returns a function that removes the listener. */
  on<E extends keyof EngineEvents>(event: E, listener: (...args: EngineEvents[E]) => void): () => void {
    return this.#events.on(event, listener);
  }

  /** Listen to the next occurrence of an event only. */
  once<E extends keyof EngineEvents>(event: E, listener: (...args: EngineEvents[E]) => void): () => void {
    return this.#events.once(event, listener);
  }

  off<E extends keyof EngineEvents>(event: E, listener: (...args: EngineEvents[E]) => void): void {
    this.#events.off(event, listener);
  }

  /**
   * Connect. Resolves once the first connection is open and its open hooks finished. Failed
   * attempts are retried under the reconnect policy (network errors, 1006, 5xx, 429...), so it
   * rejects with a failure not worth retrying (400, 401, 403, 404, a bad URL), with
   * `RetriesExhaustedError`, with `EngineStoppedError` when `stop()` came first, or with the
   * reason of `options.signal` when that aborted first (the engine then stops). With
   * `reconnect.retryOnStart: false` the first failure rejects it. Called again before that, it
   * returns the same promise; once the first connection is open, it resolves at once; after
   * `stop()` (or a failure) it starts afresh.
   */
  start(options: StartOptions = {}): Promise<void> {
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const starting = this.#start();
    if (signal === undefined || this.#starting !== starting) return starting;
    // Aborted before the first connection opened: stop trying.
    return raceSignal(starting, signal, () => {
      if (this.#starting === starting) void this.stop();
    });
  }

  #start(): Promise<void> {
    if (this.#starting) return this.#starting;
    const state = this.#machine.state;
    if (state !== EngineState.Idle && state !== EngineState.Stopped) return Promise.resolve();
    if (this.#stopping) return Promise.reject(new EngineStoppedError('The engine is stopping'));
    this.#life = new AbortController();
    const first = deferred<void>();
    this.#starting = first.promise;
    first.promise.then(
      () => {
        if (this.#starting === first.promise) this.#starting = undefined;
      },
      () => {
        if (this.#starting === first.promise) this.#starting = undefined;
      },
    );
    this.#machine.to(EngineState.Connecting);
    this.#run = this.#loop(first);
    return first.promise;
  }

  /**
   * Close with 1000 (or what the close hook returns), wait for the closing handshake up to
   * `closeTimeout`, and stop: no timer, socket or listener of the engine stays behind. Queued
   * sends reject with `EngineStoppedError`; iterators finish.
   */
  stop(): Promise<void> {
    if (this.#stopping) return this.#stopping;
    const state = this.#machine.state;
    if (state === EngineState.Idle || state === EngineState.Stopped) return Promise.resolve();
    this.#stopping = (async () => {
      if (this.#current) this.#end(this.#current, { kind: 'stop' });
      this.#life.abort(new EngineStoppedError());
      await this.#run;
    })();
    return this.#stopping;
  }

  /**
   * Replace the connection now: close the open one (code from the close hook, else 1000) and
   * dial again without waiting; while waiting to reconnect, cut the wait short.
   */
  restart(): void {
    if (this.#current && !this.#current.done) {
      this.#end(this.#current, { kind: 'restart' });
      return;
    }
    this.#skipWait?.resolve();
  }

  /**
   * Send one message. While open it is written at once (in call order); otherwise it rejects
   * with `NotConnectedError`, or, with `outbox.queue`, waits in the outbox (bounded, with a
   * time-to-live) until the next connection's open hook has finished.
   */
  send(type: MessageType, data: WriteData, options: SendOptions = {}): Promise<void> {
    // Inside the open hooks: on the connection being opened, ahead of the outbox.
    const opening = this.#opening;
    if (opening !== undefined) return this.#write(opening, type, data, options.signal);
    const conn = this.#current;
    if (conn && !conn.done && !this.#flushing) return this.#write(conn, type, data, options.signal);
    const state = this.#machine.state;
    if (this.#outbox.enabled && state !== EngineState.Stopped && !this.#stopping) {
      try {
        normalizeWriteData(type, data);
      } catch (error) {
        return Promise.reject(error);
      }
      return this.#outbox.enqueue(type, data, options);
    }
    return Promise.reject(new NotConnectedError(`Cannot send: the engine is ${this.#stopping ? 'stopping' : state}`));
  }

  /** A hook context's send: bound to its connection. */
  #sendOn(conn: Connection, type: MessageType, data: WriteData, options?: SendOptions): Promise<void> {
    if (this.#opening === conn) return this.#write(conn, type, data, options?.signal);
    if (this.#current === conn && !conn.done) return this.send(type, data, options);
    return Promise.reject(new NotConnectedError(`Cannot send: connection ${conn.id} has ended`));
  }

  /**
   * Add an open hook for a protocol layer. Hooks run after the options' `onOpen`, in
   * registration order, with its rules: bounded by `reconnect.openTimeout`, a throw fails the
   * attempt, sends inside go out before the outbox is flushed. Returns a function that removes it.
   */
  addOpenHook(hook: OpenHook): () => void {
    if (typeof hook !== 'function') throw new InvalidArgumentError(`addOpenHook expects a function, got ${typeof hook}`);
    this.#openHooks = [...this.#openHooks, hook];
    return () => {
      this.#openHooks = without(this.#openHooks, hook);
    };
  }

  /**
   * Add an inbound message filter for a protocol layer. Filters see every message, in order,
   * before it is delivered (hooks, events, iterators), in registration order; one that returns
   * `true` consumes the message: it is not delivered and later filters do not see it. A throw
   * is reported as an `error` and the message goes on. Returns a function that removes it.
   */
  intercept(filter: MessageFilter): () => void {
    if (typeof filter !== 'function') throw new InvalidArgumentError(`intercept expects a function, got ${typeof filter}`);
    this.#filters = [...this.#filters, filter];
    return () => {
      this.#filters = without(this.#filters, filter);
    };
  }

  /** Send a text message. */
  sendText(text: string, options?: SendOptions): Promise<void> {
    return this.send(MessageType.Text, text, options);
  }

  /** Send a binary message. */
  sendBinary(data: Uint8Array | ArrayBuffer, options?: SendOptions): Promise<void> {
    return this.send(MessageType.Binary, data, options);
  }

  /**
   * Stop reading (messages wait in the adapter, which pushes back on the server); survives
   * reconnects. While paused, a closed connection is noticed by the heartbeat (or on resume).
   */
  pause(): void {
    this.#gate.pause();
  }

  resume(): void {
    this.#gate.resume();
  }

  /**
   * Run `fn` with the adapter while the engine holds its reads (a read mutex): the
   * engine finishes delivering the message in hand, then reads nothing until `fn` settles, so
   * `fn` can exchange messages with the server directly. Calls are served one at a time.
   * Rejects with `NotConnectedError` when no connection is open. Do not await it inside the
   * message hook with `delivery.concurrency` 1: the hook already owns the reads there (it would
   * wait for itself); use `ctx.adapter` directly instead.
   */
  exclusive<T>(fn: (adapter: WebSocketConnectionAdapter, ctx: HookContext) => T | Promise<T>): Promise<T> {
    if (!this.#current || this.#current.done) return Promise.reject(new NotConnectedError());
    return this.#gate.hold(() => {
      const conn = this.#current;
      if (!conn || conn.done) throw new NotConnectedError();
      return fn(this.#holderView(conn), conn.ctx);
    });
  }

  /** A snapshot of the counters. */
  metrics(): MetricsSnapshot {
    const m = this.#metrics;
    const conn = this.#current;
    return {
      state: this.#machine.state,
      connectionId: conn?.id,
      connects: m.connects,
      reconnects: m.reconnects,
      failedAttempts: m.failedAttempts,
      heartbeatTimeouts: m.heartbeatTimeouts,
      messagesIn: m.messagesIn,
      messagesOut: m.messagesOut,
      bytesIn: m.bytesIn,
      bytesOut: m.bytesOut,
      lastRttMs: m.lastRttMs,
      uptimeMs: conn && !conn.done ? Date.now() - conn.openedAt : 0,
      queuedMessages: this.#outbox.length,
      queuedBytes: this.#outbox.bytes,
    };
  }

  /**
   * Iterate over delivered messages: `for await (const message of engine)`. Ends when the engine
   * stops (throwing the failure if it gave up). A slow iterator holds the engine's reads once
   * `delivery.iteratorBuffer` messages wait in it.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<Message> {
    const iterator = new MessageIterator(this.#delivery.iteratorBuffer, (it) => this.#iterators.delete(it));
    if (this.#machine.state === EngineState.Stopped) iterator.end();
    else this.#iterators.add(iterator);
    return iterator;
  }

  // --- the main loop -------------------------------------------------------------------------

  async #loop(first: Deferred<void>): Promise<void> {
    const signal = this.#life.signal;
    let failure: unknown;
    try {
      this.#tracer = await resolveTracer(this.#options.tracing);
      let carried = 0;
      let end: End | undefined;
      while (true) {
        if (signal.aborted) return;
        let conn: Connection;
        if (end === undefined) {
          conn = this.#policy.retryOnStart && this.#policy.retries > 0
            ? await this.#retrying(0, 0, this.#policy.retries + 1, false)
            : await this.#attempt(1, false);
        } else {
          const lostError = end.kind === 'lost' || end.kind === 'heartbeat' ? end.error : undefined;
          let waitFirst = true;
          if (end.kind === 'restart') {
            carried = 0;
            waitFirst = false;
          }
          // An explicit restart gets at least one attempt, even with reconnection off.
          const maxAttempts = end.kind === 'restart' ? Math.max(1, this.#policy.retries) : this.#policy.retries - carried;
          if (maxAttempts <= 0) {
            throw this.#policy.retries === 0 ? lostError : new RetriesExhaustedError(carried, lostError);
          }
          if (waitFirst) {
            const delayMs = this.#policy.delayFor(carried + 1, lostError);
            this.#machine.to(EngineState.Reconnecting);
            this.#events.emit('retry', { attempt: carried + 1, delayMs, error: lostError });
            this.#skipWait = deferred<void>();
            await sleep(delayMs, signal, this.#skipWait.promise);
            this.#skipWait = undefined;
          }
          conn = await this.#retrying(carried, 1, maxAttempts, true);
        }
        // Retries this outage consumed: the attempt numbers of a start count the first dial too.
        carried = end === undefined ? conn.attempt - 1 : conn.attempt;
        first.resolve();
        end = await this.#serve(conn);
        if (end.kind === 'stop') return;
        if (end.kind === 'lost' && !this.#policy.shouldRetry(end.error, carried, 'lost')) throw end.error;
        if (this.#policy.resetsCount(Date.now() - conn.openedAt)) carried = 0;
      }
    } catch (error) {
      if (!signal.aborted) failure = error;
    } finally {
      this.#skipWait = undefined;
      this.#finish(failure, first);
    }
  }

  /** Attempts under the reconnect policy, starting after `attemptsSoFar`. */
  #retrying(attemptsSoFar: number, waitOffset: number, maxAttempts: number, restarting: boolean): Promise<Connection> {
    return this.#policy.run((n) => this.#attempt(n, restarting), {
      signal: this.#life.signal,
      attemptsSoFar,
      maxAttempts,
      waitOffset,
      onFailure: async (error, attempt) => {
        const hook = this.#options.onRestartError;
        if (!hook) return;
        try {
          await hook(error, { attempt, exit: () => void this.stop() });
        } catch (hookError) {
          this.#report(hookError);
        }
      },
      onRetry: (info) => {
        this.#machine.to(EngineState.Reconnecting);
        this.#events.emit('retry', info);
        this.#skipWait = deferred<void>();
      },
      skipWait: () => this.#skipWait?.promise,
    });
  }

  /** One attempt: dial, then the open hook, within `openTimeout`. */
  async #attempt(attempt: number, restarting: boolean): Promise<Connection> {
    const life = this.#life.signal;
    if (life.aborted) throw life.reason;
    this.#machine.to(EngineState.Connecting);
    this.#events.emit('connecting', { attempt });
    const controller = new AbortController();
    const { signal } = controller;
    const onLifeAbort = (): void => controller.abort(life.reason);
    life.addEventListener('abort', onLifeAbort, { once: true });
    const timeout = globalThis.setTimeout(
      () => controller.abort(new OpenTimeoutError(this.#policy.openTimeout)),
      this.#policy.openTimeout,
    );
    let adapter: WebSocketConnectionAdapter | undefined;
    let opening: Connection | undefined;
    let dialled = false;
    let span: ReturnType<typeof startSpan>;
    try {
      const url = await raceSignal(this.#resolveUrl(), signal);
      span = startSpan(this.#tracer, 'wsengine.connect', { ...urlAttributes(url), 'wsengine.attempt': attempt });
      const headers = await raceSignal(this.#resolveHeaders(), signal);
      adapter = this.#options.adapter();
      const dialling = adapter.dial(url, { signal, headers, protocols: this.#options.protocols });
      const late = adapter;
      dialling.then(
        () => {
          // The dial won after the attempt was abandoned: drop that connection.
          if (signal.aborted && !dialled) late.close(NORMAL_CLOSURE, '', { signal }).catch(() => {});
        },
        () => {},
      );
      const handshake = await raceSignal(dialling, signal);
      dialled = true;
      const conn = (opening = this.#connection(adapter, handshake, attempt, restarting, controller));
      this.#opening = conn;
      if (this.#options.onOpen) await raceSignal(Promise.resolve(this.#options.onOpen(conn.ctx)), signal);
      for (const hook of this.#openHooks) await raceSignal(Promise.resolve(hook(conn.ctx)), signal);
      endSpan(span);
      return conn;
    } catch (error) {
      if (opening) opening.done = true;
      const failure = signal.aborted ? signal.reason : error;
      endSpan(span, failure);
      this.#metrics.failedAttempts++;
      if (dialled && adapter) {
        const closing = new AbortController();
        closing.abort();
        adapter.close(NORMAL_CLOSURE, '', { signal: closing.signal }).catch(() => {});
      }
      if (!life.aborted) this.#events.emit('attempt-failed', failure, attempt);
      throw failure;
    } finally {
      if (this.#opening === opening) this.#opening = undefined;
      globalThis.clearTimeout(timeout);
      life.removeEventListener('abort', onLifeAbort);
    }
  }

  #connection(
    adapter: WebSocketConnectionAdapter,
    handshake: HandshakeResponse,
    attempt: number,
    restarting: boolean,
    attemptController: AbortController,
  ): Connection {
    // One controller for the attempt and the connection it opens: `ctx.signal` aborts when the
    // opening is abandoned or, later, when the connection ends.
    const controller = attemptController;
    const ended = deferred<End>();
    const conn: Connection = {
      id: `${this.#id}.${++this.#connectionSeq}`,
      adapter,
      attempt,
      controller,
      ended,
      done: false,
      openedAt: 0,
      inflight: undefined,
      carry: undefined,
      heartbeat: undefined,
      ctx: {
        adapter,
        connectionId: '',
        attempt,
        reconnect: restarting,
        handshake,
        signal: controller.signal,
        send: (type, data, options) => this.#sendOn(conn, type, data, options),
        sendText: (text, options) => this.#sendOn(conn, MessageType.Text, text, options),
        sendBinary: (data, options) => this.#sendOn(conn, MessageType.Binary, data, options),
        restart: () => {
          if (!conn.done && this.#current === conn) this.#end(conn, { kind: 'restart' });
          // Still in the open hook: abandon this attempt; the policy decides on the next.
          else if (!conn.done) attemptController.abort(new RestartRequestedError());
        },
        exit: () => void this.stop(),
      },
    };
    (conn.ctx as { connectionId: string }).connectionId = conn.id;
    return conn;
  }

  // --- an open connection --------------------------------------------------------------------

  async #serve(conn: Connection): Promise<End> {
    this.#current = conn;
    conn.openedAt = Date.now();
    this.#metrics.connects++;
    if (conn.ctx.reconnect) this.#metrics.reconnects++;
    this.#flushing = this.#outbox.length > 0;
    this.#machine.to(EngineState.Open);
    this.#events.emit('open', {
      attempt: conn.attempt,
      reconnect: conn.ctx.reconnect,
      connectionId: conn.id,
      handshake: conn.ctx.handshake,
    });
    if (this.#heartbeatOptions.mode !== 'off') {
      conn.heartbeat = new Heartbeat(
        this.#heartbeatOptions,
        {
          ping: (signal) => conn.adapter.ping({ signal }),
          send: (message) => conn.adapter.write(message.type, message.data),
        },
        {
          dead: (error) => {
            this.#metrics.heartbeatTimeouts++;
            this.#events.emit('heartbeat-timeout', error, conn.id);
            this.#end(conn, { kind: 'heartbeat', error });
          },
          rtt: (rttMs) => {
            this.#metrics.lastRttMs = rttMs;
            this.#events.emit('pong', rttMs);
          },
          gone: (error) => this.#end(conn, { kind: 'lost', error }),
        },
      );
      conn.heartbeat.start();
    }
    void this.#read(conn);
    if (this.#flushing) void this.#flush(conn);
    const end = await conn.ended.promise;
    await this.#teardown(conn, end);
    return end;
  }

  async #read(conn: Connection): Promise<void> {
    const reader = this.#gate.readerStarted();
    const { adapter, ctx } = conn;
    const onMessage = this.#options.onMessage;
    const metrics = this.#metrics;
    const heartbeat = conn.heartbeat;
    const gate = this.#gate;
    const dispatcher = this.#dispatcher;
    const canTry = typeof adapter.tryRead === 'function';
    let readErrors = 0;
    try {
      while (!conn.done) {
        const held = gate.pass();
        if (held) {
          await held;
          continue;
        }
        // A burst that already arrived is taken without a promise per message. Not while a
        // read is carried over from a pause or an exclusive hold: that one comes first.
        let message = conn.carry === undefined && canTry ? adapter.tryRead!() : undefined;
        if (message === undefined) {
          const pending = conn.carry ?? adapter.read();
          conn.carry = undefined;
          conn.inflight = pending;
          try {
            message = await pending;
          } catch (error) {
            if (conn.inflight !== pending) {
              conn.inflight = undefined; // taken over by an exclusive holder
              continue;
            }
            conn.inflight = undefined;
            if (conn.done) return;
            if (isConnectionGone(error) || ++readErrors >= MAX_CONSECUTIVE_READ_ERRORS || !this.#options.onReadError) {
              this.#end(conn, { kind: 'lost', error });
              return;
            }
            try {
              await this.#options.onReadError(error, ctx);
            } catch (hookError) {
              this.#report(hookError);
            }
            continue;
          }
          if (conn.inflight !== pending) {
            conn.inflight = undefined; // taken over by an exclusive holder
            continue;
          }
          conn.inflight = undefined;
          if (conn.done) return;
          if (gate.closed) {
            // Paused while this read was in flight: hold the message until the gate opens.
            conn.carry = pending;
            continue;
          }
        }
        readErrors = 0;
        metrics.messagesIn++;
        metrics.bytesIn += byteLength(message.data);
        if (heartbeat !== undefined && heartbeat.watchesMessages && heartbeat.onMessage(message)) continue;
        const filters = this.#filters;
        if (filters.length !== 0 && this.#intercepted(filters, message, ctx)) continue;
        let wait: Promise<void> | undefined;
        if (onMessage !== undefined) wait = dispatcher.dispatch(onMessage, message, ctx);
        if (this.#events.has('message')) this.#events.emit('message', message, conn.id);
        if (this.#iterators.size > 0) {
          for (const iterator of this.#iterators) {
            const full = iterator.push(message);
            if (full) wait = wait ? Promise.all([wait, full]).then(() => undefined) : full;
          }
        }
        if (wait !== undefined) await wait;
      }
    } finally {
      conn.inflight = undefined;
      gate.readerGone(reader);
    }
  }

  /**
   * An exclusive holder arrived while the reader is not parked: if the reader is only waiting on
   * a read, the holder takes that read over (its message is the holder's first) and starts now.
   */
  #preempt(): boolean {
    const conn = this.#current;
    const inflight = conn?.inflight;
    if (!conn || inflight === undefined) return false;
    if (inflight !== TAKEN_OVER) {
      inflight.catch(() => {});
      conn.carry = inflight;
      conn.inflight = TAKEN_OVER;
    }
    return true;
  }

  /** The adapter as an exclusive holder sees it: its first read takes the carried-over read. */
  #holderView(conn: Connection): WebSocketConnectionAdapter {
    const adapter = conn.adapter;
    return {
      dial: (url, options) => adapter.dial(url, options),
      close: (code, reason, options) => adapter.close(code, reason, options),
      ping: (options) => adapter.ping(options),
      write: (type, data, options) => adapter.write(type, data, options),
      underlying: () => adapter.underlying(),
      // Nothing may overtake a carried-over read, even one whose message has already arrived.
      tryRead: adapter.tryRead && (() => (conn.carry === undefined ? adapter.tryRead!() : undefined)),
      read: (options) => {
        const carried = conn.carry;
        if (carried === undefined) return adapter.read(options);
        conn.carry = undefined;
        if (!options?.signal) return carried;
        // Aborted while waiting: the carried read stays first in line.
        return raceSignal(carried, options.signal, () => {
          if (conn.carry === undefined) conn.carry = carried;
        });
      },
    };
  }

  async #write(conn: Connection, type: MessageType, data: WriteData, signal?: AbortSignal): Promise<void> {
    await conn.adapter.write(type, data, signal ? { signal } : undefined);
    this.#metrics.messagesOut++;
    this.#metrics.bytesOut += byteLength(data);
  }

  /** Write the outbox in order; sends made meanwhile join its end, so order is kept. */
  async #flush(conn: Connection): Promise<void> {
    this.#flushing = true;
    try {
      while (!conn.done) {
        const entry = this.#outbox.shift();
        if (!entry) break;
        try {
          await this.#write(conn, entry.type, entry.data);
          entry.resolve();
        } catch (error) {
          if (isConnectionGone(error)) {
            // Not handed to the socket: it keeps its place for the next connection.
            this.#outbox.unshift(entry);
            break;
          }
          entry.reject(error);
        }
      }
    } finally {
      if (this.#current === conn) this.#flushing = false;
    }
  }

  /** Whether a filter consumed the message. */
  #intercepted(filters: readonly MessageFilter[], message: Message, ctx: HookContext): boolean {
    for (const filter of filters) {
      try {
        if (filter(message, ctx) === true) return true;
      } catch (error) {
        this.#report(error);
      }
    }
    return false;
  }

  /**
   * End a connection (the first reason wins). `done` is set at once, not when `ended` settles: a
   * reader draining a burst synchronously must stop at the very next message; and the state
   * leaves `open` at once, so `send()` and `state` tell the truth from here on.
   */
  #end(conn: Connection, end: End): void {
    if (conn.done) return;
    conn.done = true;
    if (this.#current === conn) this.#machine.to(EngineState.Closing);
    conn.ended.resolve(end);
  }

  async #teardown(conn: Connection, end: End): Promise<void> {
    conn.done = true;
    conn.heartbeat?.stop();
    const uptimeMs = Date.now() - conn.openedAt;
    this.#current = undefined;
    this.#flushing = false;
    let info: CloseInfo;
    if (end.kind === 'lost') {
      const error = end.error;
      info = {
        code: error instanceof WebSocketCloseError ? error.code : 1006,
        reason: error instanceof WebSocketCloseError ? error.reason : '',
        initiator: 'remote',
        error,
      };
      if (!(error instanceof WebSocketCloseError)) {
        // A read failure that is not a close: make sure the socket goes too.
        await this.#close(conn, NORMAL_CLOSURE, '', true);
      }
      await this.#closeHook(info, conn);
    } else {
      this.#machine.to(EngineState.Closing);
      const planned: CloseInfo =
        end.kind === 'heartbeat'
          ? { code: GOING_AWAY, reason: 'heartbeat timeout', initiator: 'local', error: end.error }
          : end.kind === 'restart'
            ? { code: NORMAL_CLOSURE, reason: 'restart', initiator: 'local', error: new RestartRequestedError() }
            : { code: NORMAL_CLOSURE, reason: '', initiator: 'local', error: undefined };
      const choice = await this.#closeHook(planned, conn);
      info = { ...planned, code: choice?.code ?? planned.code, reason: choice?.reason ?? planned.reason };
      // A dead connection will not answer: send the close frame without waiting for one back.
      await this.#close(conn, info.code, info.reason, end.kind === 'heartbeat');
    }
    conn.controller.abort(new EngineStoppedError('The connection ended'));
    this.#events.emit('close', { ...info, connectionId: conn.id, uptimeMs });
  }

  async #closeHook(info: CloseInfo, conn: Connection): Promise<CloseChoice | void> {
    const hook = this.#options.onClose;
    if (!hook) return undefined;
    try {
      return await hook(info, conn.ctx);
    } catch (error) {
      this.#report(error);
      return undefined;
    }
  }

  async #close(conn: Connection, code: number, reason: string, noWait: boolean): Promise<void> {
    const controller = new AbortController();
    let timer: ReturnType<typeof globalThis.setTimeout> | undefined;
    if (noWait) controller.abort();
    else timer = globalThis.setTimeout(() => controller.abort(), this.#closeTimeout);
    const span = startSpan(this.#tracer, 'wsengine.close', { 'websocket.close.code': code });
    try {
      await conn.adapter.close(code, reason, { signal: controller.signal });
      endSpan(span);
    } catch (error) {
      if (error instanceof InvalidArgumentError && (code !== NORMAL_CLOSURE || reason !== '')) {
        // The close hook chose a code or reason that may not be sent: report it, close normally.
        this.#closeError(error, conn);
        endSpan(span, error);
        return this.#close(conn, NORMAL_CLOSURE, '', noWait);
      }
      endSpan(span, error);
      if (!(error instanceof ConnectionClosedError) && !controller.signal.aborted) this.#closeError(error, conn);
    } finally {
      if (timer !== undefined) globalThis.clearTimeout(timer);
    }
  }

  #closeError(error: unknown, conn: Connection): void {
    const hook = this.#options.onCloseError;
    if (!hook) {
      this.#report(error);
      return;
    }
    try {
      hook(error, conn.ctx);
    } catch (hookError) {
      this.#report(hookError);
    }
  }

  #finish(failure: unknown, first: Deferred<void>): void {
    this.#current = undefined;
    this.#flushing = false;
    if (failure !== undefined) this.#events.emit('error', failure);
    first.reject(failure ?? new EngineStoppedError());
    // Nobody may be waiting on `start()` any more (it resolved earlier): avoid an unhandled rejection.
    first.promise.catch(() => {});
    this.#outbox.rejectAll(failure ?? new EngineStoppedError());
    for (const iterator of this.#iterators) iterator.end(failure);
    this.#iterators.clear();
    this.#machine.to(EngineState.Stopped);
    this.#stopping = undefined;
    this.#run = undefined;
    this.#events.emit('stopped', { error: failure });
  }

  // --- helpers -------------------------------------------------------------------------------

  async #resolveUrl(): Promise<string> {
    const option = this.#options.url;
    const value = typeof option === 'function' ? await option() : option;
    return parseWebSocketUrl(value).href;
  }

  async #resolveHeaders(): Promise<HeaderInit | undefined> {
    const option = this.#options.headers;
    return typeof option === 'function' ? await option() : option;
  }

  /** A hook or listener threw: never lost, an `error` event, or the console when nobody listens. */
  #report(error: unknown): void {
    if (this.#events.has('error')) this.#events.emit('error', error);
    else globalThis.console?.error('wsengine: a hook or listener threw (listen to the engine\'s "error" event to handle it):', error);
  }

  #reportListenerError(error: unknown, event: keyof EngineEvents): void {
    if (event !== 'error') {
      this.#report(error);
      return;
    }
    // A throwing 'error' listener must not recurse into itself: surface it as an uncaught error.
    globalThis.queueMicrotask(() => {
      throw error;
    });
  }
}

function without<T>(list: readonly T[], item: T): readonly T[] {
  const index = list.indexOf(item);
  return index < 0 ? list : [...list.slice(0, index), ...list.slice(index + 1)];
}

/** Create an engine (the same as `new Engine(options)`). */
export function createEngine(options: EngineOptions): Engine {
  return new Engine(options);
}
