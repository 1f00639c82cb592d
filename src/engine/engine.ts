/**
 * The resilient engine's facade: the options, their validation, and the public methods. It keeps
 * one WebSocket connection alive through any adapter, reconnecting with backoff, probing liveness,
 * refusing (or queueing) sends while disconnected, and delivering messages in order. It knows
 * adapters only through the contract (`../adapters/types.ts`) and runs in browsers: no `node:`
 * imports, timers through `globalThis`.
 *
 * The work is done by parts with one job each: the supervisor (`supervisor.ts`, the retry
 * loop), the session (`session.ts`, one connection from dial to teardown) and the reader
 * (`reader.ts`, the read loop and the read gate). Optional features are separate functions, so an
 * app ships only what it uses: `createOutbox()` (queueing), `messages()` (async iteration),
 * `exclusive()` (a read mutex), `otelTracing()` (OpenTelemetry spans).
 *
 * The hooks are callbacks for each step of a connection's life (on open, on message, on read
 * error, on close, on close error, on restart error); each gets the connection's adapter, `send()`,
 * `restart()`, `exit()` and its id.
 */
import { abortReason, onAbort } from '../adapters/signals.js';
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
import { parseWebSocketUrl } from '../adapters/validation.js';
import type { EngineContext } from './context.js';
import { Dispatcher, resolveConcurrency, type DeliveryOptions } from './delivery.js';
import { InvalidOptionError, type HeartbeatTimeoutError } from './errors.js';
import { TypedEmitter } from './events.js';
import { expectOption, numberOption, refuseUnknownOptions } from './options.js';
import { resolveHeartbeatOptions, type HeartbeatOptions } from './heartbeat.js';
import { Metrics, type MetricsSnapshot } from './metrics.js';
import type { Outbox } from './outbox.js';
import { ReadGate } from './reader.js';
import { ReconnectPolicy, type ReconnectOptions, type RetryInfo } from './reconnect-policy.js';
import { send, trySend } from './session.js';
import type { EngineState } from './state.js';
import { Supervisor } from './supervisor.js';
import { MAX_DELAY } from './timers.js';
import type { EngineTracing } from './tracing.js';

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
  /**
   * What `send()` does while disconnected: without an outbox (the default) it rejects at once
   * with `NotConnectedError`; with `createOutbox({...})` it queues, bounded, with a time-to-live.
   */
  readonly outbox?: Outbox;
  /** How the message hook runs. See {@link DeliveryOptions}. */
  readonly delivery?: DeliveryOptions;
  /** How long `stop()` waits for the server's close frame, in ms. Default 5000. */
  readonly closeTimeout?: number;
  /** Spans per attempt and per local close: `otelTracing(tracer?)`. Default: none (`false` too). */
  readonly tracing?: EngineTracing | false;
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

/** An extra open hook (see `addOpenHook(engine, hook)`). */
export type OpenHook = (ctx: HookContext) => void | Promise<void>;

/** An inbound message filter (see `intercept(engine, filter)`); `true` consumes the message. */
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
  /** Time-to-live in the outbox for this message, in ms (overrides the outbox's `ttl`). */
  readonly ttl?: number;
}

let engineCount = 0;

const HOOKS = ['onOpen', 'onMessage', 'onReadError', 'onClose', 'onCloseError', 'onRestartError'] as const;

/** Every key of {@link EngineOptions}: any other (a typo, another client's name) is refused. */
const OPTION_KEYS: ReadonlySet<string> = /* @__PURE__ */ new Set<string>([
  ...HOOKS,
  'url',
  'headers',
  'protocols',
  'adapter',
  'reconnect',
  'heartbeat',
  'outbox',
  'delivery',
  'closeTimeout',
  'tracing',
] satisfies ReadonlyArray<keyof EngineOptions>);

/** Validate the options once, naming the option; resolve the parts the engine shares. */
function createContext(options: EngineOptions): EngineContext {
  expectOption(options !== null && typeof options === 'object', 'options', 'an object', options);
  refuseUnknownOptions(options as unknown as Readonly<Record<string, unknown>>, (key) => OPTION_KEYS.has(key));
  const url = options.url;
  if (typeof url === 'string' || url instanceof URL) {
    try {
      parseWebSocketUrl(url);
    } catch (error) {
      throw new InvalidOptionError('url', (error as Error).message);
    }
  } else expectOption(typeof url === 'function', 'url', 'a string, a URL or a function', url);
  expectOption(typeof options.adapter === 'function', 'adapter', 'an adapter factory function', options.adapter);
  for (const hook of HOOKS) {
    expectOption(options[hook] === undefined || typeof options[hook] === 'function', hook, 'a function', options[hook]);
  }
  expectOption(options.protocols === undefined || Array.isArray(options.protocols), 'protocols', 'an array of strings', options.protocols);
  const closeTimeout = numberOption('closeTimeout', options.closeTimeout, 5000, 0, MAX_DELAY);
  const outbox = options.outbox;
  expectOption(
    outbox === undefined || typeof (outbox as Partial<Outbox>).enqueue === 'function',
    'outbox',
    'an outbox made by createOutbox()',
    outbox,
  );
  const tracing = options.tracing || undefined;
  expectOption(tracing === undefined || typeof tracing.connect === 'function', 'tracing', 'otelTracing() or false', tracing);
  const events: TypedEmitter<EngineEvents> = new TypedEmitter<EngineEvents>((error, event) => {
    // A throwing 'error' listener must not recurse into itself: surface it as an uncaught error.
    if (event === 'error') {
      globalThis.queueMicrotask(() => {
        throw error;
      });
    } else ctx.report(error);
  });
  const report = (error: unknown): void => {
    if (events.has('error')) events.emit('error', error);
    else globalThis.console?.error('wsengine: a hook or listener threw (listen to "error" to handle it):', error);
  };
  const ctx: EngineContext = {
    options,
    policy: new ReconnectPolicy(options.reconnect === false ? { retries: 0 } : options.reconnect),
    heartbeat: resolveHeartbeatOptions(options.heartbeat),
    closeTimeout,
    outbox,
    tracing,
    state: 'idle',
    events,
    metrics: new Metrics(),
    dispatcher: new Dispatcher(resolveConcurrency(options.delivery), report),
    gate: new ReadGate(),
    id: ++engineCount,
    seq: 0,
    life: new AbortController(),
    session: undefined,
    openHooks: [],
    filters: [],
    sinks: [],
    report,
    stop: () => Promise.resolve(),
  };
  return ctx;
}

export class Engine {
  private readonly ctx: EngineContext;
  private readonly supervisor: Supervisor;

  constructor(options: EngineOptions) {
    const ctx = (this.ctx = createContext(options));
    const supervisor = (this.supervisor = new Supervisor(ctx));
    ctx.stop = () => supervisor.stop();
  }

  /** The current lifecycle state. */
  get state(): EngineState {
    return this.ctx.state;
  }

  /** Whether delivery is paused. */
  get paused(): boolean {
    return this.ctx.gate.paused;
  }

  /** The id of the open connection, if any. */
  get connectionId(): string | undefined {
    const session = this.ctx.session;
    return session && session.phase !== 'opening' ? session.id : undefined;
  }

  /** Listen to an event; returns a function that removes the listener. */
  on<E extends keyof EngineEvents>(event: E, listener: (...args: EngineEvents[E]) => void): () => void {
    return this.ctx.events.on(event, listener);
  }

  /** Listen to the next occurrence of an event only; `off(event, listener)` removes it too. */
  once<E extends keyof EngineEvents>(event: E, listener: (...args: EngineEvents[E]) => void): () => void {
    return this.ctx.events.once(event, listener);
  }

  off<E extends keyof EngineEvents>(event: E, listener: (...args: EngineEvents[E]) => void): void {
    this.ctx.events.off(event, listener);
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
    const supervisor = this.supervisor;
    const starting = supervisor.start();
    if (signal === undefined || !supervisor.isStarting(starting)) return starting;
    return new Promise<void>((resolve, reject) => {
      const settle = onAbort(signal, () => {
        // Once the first connection is open (its promise about to resolve), the signal is moot.
        if (!supervisor.isStarting(starting)) return;
        reject(abortReason(signal));
        void supervisor.stop();
      });
      starting.then(
        () => {
          settle();
          resolve();
        },
        (error: unknown) => {
          settle();
          reject(error);
        },
      );
    });
  }

  /**
   * Close with 1000 (or what the close hook returns), wait for the closing handshake up to
   * `closeTimeout`, and stop: no timer, socket or listener of the engine stays behind. Queued
   * sends reject with `EngineStoppedError`; iterators finish.
   */
  stop(): Promise<void> {
    return this.supervisor.stop();
  }

  /**
   * Replace the connection now: close the open one (code from the close hook, else 1000) and
   * dial again without waiting; while waiting to reconnect, cut the wait short.
   */
  restart(): void {
    this.supervisor.restart();
  }

  /**
   * Send one message. While open it is written at once (in call order), and inside the open
   * hooks on the connection being opened, before the outbox. Otherwise it rejects with
   * `NotConnectedError` (naming the state), or, with an outbox, waits in it (bounded, with a
   * time-to-live) until the next connection's open hooks have finished.
   */
  send(type: MessageType, data: WriteData, options?: SendOptions): Promise<void> {
    return send(this.ctx, type, data, options);
  }

  /**
   * Send one message now, without a promise, or send nothing and return `false`. It returns
   * `true` once the message is handed to the connection (open, or being opened inside the open
   * hooks), as a `send()` that resolves at once, and counts it. It returns `false` while
   * disconnected, while queued messages are being flushed, while the adapter's buffer is above
   * its high-water mark, and with an adapter that has no `tryWrite`; it never queues. A sender
   * that does not wait on each message writes `if (!engine.trySend(type, data)) await
   * engine.send(type, data)`, which keeps call order and waits only when it must. Throws
   * `InvalidArgumentError` for a wrong message type or data.
   */
  trySend(type: MessageType, data: WriteData): boolean {
    return trySend(this.ctx, type, data);
  }

  /** Send a text message. */
  sendText(text: string, options?: SendOptions): Promise<void> {
    return send(this.ctx, MessageType.Text, text, options);
  }

  /** Send a binary message. */
  sendBinary(data: Uint8Array | ArrayBuffer, options?: SendOptions): Promise<void> {
    return send(this.ctx, MessageType.Binary, data, options);
  }

  /**
   * Stop reading (messages wait in the adapter, which pushes back on the server); survives
   * reconnects. While paused, a closed connection is noticed by the heartbeat (or on resume).
   */
  pause(): void {
    this.ctx.gate.pause();
  }

  resume(): void {
    this.ctx.gate.resume();
  }

  /** A snapshot of the counters. */
  metrics(): MetricsSnapshot {
    const { metrics, session, outbox, state } = this.ctx;
    const open = session !== undefined && session.phase !== 'opening' && session.phase !== 'ended';
    return {
      ...metrics,
      state,
      connectionId: this.connectionId,
      uptimeMs: open ? Date.now() - session.openedAt : 0,
      queuedMessages: outbox ? outbox.length : 0,
      queuedBytes: outbox ? outbox.bytes : 0,
    };
  }
}

/** The context of an engine, for the features that live outside the facade (`exclusive`, `messages`). */
export function contextOf(engine: Engine): EngineContext {
  if (!(engine instanceof Engine)) throw new TypeError('Expected an engine made by createEngine');
  return engine['ctx'];
}

/** Create an engine (the same as `new Engine(options)`). */
export function createEngine(options: EngineOptions): Engine {
  return new Engine(options);
}
