/**
 * The WebWire client on the engine: named requests with replies, signals both ways, and
 * sessions that survive reconnects (webwire-go v0.1.0-alpha1, protocol "1.1").
 *
 * The engine keeps the connection (reconnect with backoff, heartbeat: protocol 1.1 has no
 * heartbeat message, so the engine's ping frames are what catch a silent server). The client
 * consumes every inbound message (`intercept(engine, filter)`), correlates replies by their 8-byte id, and
 * holds its own queue of requests and signals: they flow only once a connection is open and, when
 * there is a session, once it has been restored on that connection (the restore is written by an
 * open hook, ahead of everything else).
 */
import { ConnectionClosedError, InvalidArgumentError, WebSocketCloseError } from '../../adapters/errors.js';
import { MessageType, type Message } from '../../adapters/types.js';
import { createEngine, type Engine, type EngineOptions, type HookContext, type StartOptions } from '../../engine/engine.js';
import { EngineStoppedError, NotConnectedError } from '../../engine/errors.js';
import { TypedEmitter } from '../../engine/events.js';
import { addOpenHook, intercept } from '../../engine/layers.js';
import { RequestNotSentError, RequestOutcomeUnknownError, RequestTimeoutError } from '../rpc/errors.js';
import { decodeMessage, decodeReplyPayload, decodeSession } from './decode.js';
import { encodeCloseSession, encodeRequest, encodeRestoreSession, encodeSignal } from './encode.js';
import { WebWireProtocolError, WebWireRequestError } from './errors.js';
import { Correlator, idCounter } from './correlation.js';
import {
  WebWireType,
  type WebWireEncoding,
  type WebWireErrorReplyMessage,
  type WebWirePayload,
  type WebWireReplyMessage,
  type WebWireSession,
} from './messages.js';
import { resolveWebWireOptions, WEBWIRE_OPTION_KEYS, type ResolvedWebWireOptions, type WebWireClientOptions } from './options.js';
import { SignalIterator, type WebWireSignal } from './signal-iterator.js';
import { decodeUtf16le, decodeUtf8 } from './text.js';
import { fetchProtocolVersion, httpUrlOf, WEBWIRE_PROTOCOL_VERSION, WebWireVersionError } from './version.js';

/** What `request()` and `signal()` accept: text, or bytes. */
export type WebWireData = string | Uint8Array | ArrayBuffer;

export interface WebWireSendOptions {
  /** Payload encoding. Default: `utf8` for a string, `binary` for bytes. */
  readonly encoding?: WebWireEncoding;
  /** Wait for the connection when there is none (overrides the client's `queue`). */
  readonly queue?: boolean;
  /** Aborts the call; it rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /** How long a signal may wait for the connection, in ms. Default the client's `requestTimeout`. */
  readonly timeout?: number;
}

export interface WebWireRequestOptions extends WebWireSendOptions {
  /** Time for the reply, in ms, from the call (waiting for the connection included). Default the client's `requestTimeout`. */
  readonly timeout?: number;
}

/** The client's events: `client.on(name, listener)`. */
export interface WebWireClientEvents {
  /** A server signal: a string for UTF-8 and UTF-16 payloads, bytes for binary. */
  signal: [name: string, payload: string | Uint8Array, encoding: WebWireEncoding];
  /** The server created a session (`[21]`); it is kept and restored after every reconnect. */
  'session-created': [session: WebWireSession];
  /** The session was restored on a new connection. */
  'session-restored': [session: WebWireSession];
  /** The server closed the session (`[22]`), or `closeSession()` finished. */
  'session-closed': [];
  /** The server refused to restore the session (`WebWireRequestError`, or a malformed answer): it is cleared. */
  'session-restore-failed': [error: WebWireRequestError | WebWireProtocolError];
  /** A connection is open and (when there was a session) restored: queued requests flow now. */
  ready: [];
  /** The server sent something that breaks the protocol; the connection is kept. */
  'protocol-error': [error: WebWireProtocolError];
}

type Phase = 'queued' | 'writing' | 'sent' | 'settled';

/** One request, signal, close-session or restore, from the call until it is settled. */
interface Outgoing {
  readonly key: number;
  readonly bytes: Uint8Array;
  readonly expectsReply: boolean;
  readonly waits: boolean;
  phase: Phase;
  timer: ReturnType<typeof globalThis.setTimeout> | undefined;
  cleanup: (() => void) | undefined;
  onReply(message: WebWireReplyMessage | WebWireErrorReplyMessage): void;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  onTimeout(): void;
}

/** The heartbeat request's payload: a request may not be empty. */
const PING_PAYLOAD: WebWirePayload = { encoding: 'binary', data: Uint8Array.of(0) };

function isConnectionGone(error: unknown): boolean {
  return error instanceof NotConnectedError || error instanceof WebSocketCloseError || error instanceof ConnectionClosedError;
}

/** A payload from what the caller gave: strings default to UTF-8, bytes to binary. */
function toPayload(data: WebWireData, encoding: WebWireEncoding | undefined): WebWirePayload {
  const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data;
  if (typeof bytes !== 'string' && !(bytes instanceof Uint8Array)) {
    throw new InvalidArgumentError('A WebWire payload is a string, a Uint8Array or an ArrayBuffer');
  }
  const chosen = encoding ?? (typeof bytes === 'string' ? 'utf8' : 'binary');
  if (chosen === 'binary') return { encoding: chosen, data: typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes };
  if (chosen !== 'utf8' && chosen !== 'utf16') throw new InvalidArgumentError(`Unknown WebWire encoding ${String(chosen)}`);
  if (typeof bytes === 'string') return { encoding: chosen, data: bytes };
  // Bytes already in the chosen encoding: check them by decoding.
  if (chosen === 'utf8') {
    try {
      return { encoding: chosen, data: decodeUtf8(bytes) };
    } catch {
      throw new InvalidArgumentError('The payload bytes are not valid UTF-8');
    }
  }
  if (bytes.length % 2 !== 0) throw new InvalidArgumentError('UTF-16 payload bytes have even length');
  return { encoding: chosen, data: decodeUtf16le(bytes) };
}

export class WebWireClient implements AsyncIterable<WebWireSignal> {
  readonly #engine: Engine;
  readonly #options: ResolvedWebWireOptions;
  readonly #engineOptions: WebWireClientOptions;
  readonly #events = new TypedEmitter<WebWireClientEvents>((error) => {
    globalThis.queueMicrotask(() => {
      throw error;
    });
  });
  readonly #correlator = new Correlator<Outgoing>();
  /** Everything not yet settled, for the drop and stop sweeps. */
  readonly #active = new Set<Outgoing>();
  /** Waiting for a ready connection, in call order. */
  readonly #queue: Outgoing[] = [];
  readonly #iterators = new Set<SignalIterator>();
  #session: WebWireSession | undefined;
  #ready = false;
  #connectionId: string | undefined;
  /** The hook context of the current connection: writes go through it, so they never reach a later one. */
  #ctx: HookContext | undefined;
  #restoring = false;
  #restoreTimer: ReturnType<typeof globalThis.setTimeout> | undefined;
  #pausedForIterators = false;

  constructor(options: WebWireClientOptions) {
    this.#options = resolveWebWireOptions(options, fetchProtocolVersion);
    this.#engineOptions = options;
    const engineOptions: EngineOptions = { ...options, heartbeat: this.#heartbeat(options) };
    delete (engineOptions as { outbox?: unknown }).outbox;
    for (const key of WEBWIRE_OPTION_KEYS) delete (engineOptions as unknown as Record<string, unknown>)[key];
    this.#engine = createEngine(engineOptions);
    // Every inbound message is WebWire's: consumed here, never delivered as a raw message.
    intercept(this.#engine, (message) => {
      this.#inbound(message);
      return true;
    });
    // The restore goes out first on a new connection, before anything else is written.
    addOpenHook(this.#engine, (ctx) => this.#opening(ctx));
    // Requests flow once the connection is open (and restored): then every write has a connection to go to.
    this.#engine.on('open', (info) => this.#opened(info.connectionId));
    this.#engine.on('close', (info) => this.#closed(info.connectionId, info.error));
    this.#engine.on('stopped', (info) => this.#stopped(info.error));
  }

  /**
   * The engine's heartbeat, with `pingRequest` as its application-level probe: the engine uses
   * ping frames where it can and falls back to this request where it cannot. The probe's reply
   * is recognised by its id and taken by the heartbeat before the client sees it.
   */
  #heartbeat(options: WebWireClientOptions): EngineOptions['heartbeat'] {
    const name = options.pingRequest;
    if (name === undefined || options.heartbeat === false) return options.heartbeat;
    let probe = 0;
    return {
      ...options.heartbeat,
      message: () => {
        const { key, id } = this.#correlator.next();
        probe = key;
        return { type: MessageType.Binary, data: encodeRequest(id, name, PING_PAYLOAD) };
      },
      isPong: (message) => {
        if (message.type !== MessageType.Binary || message.data.length < 9) return false;
        const type = message.data[0];
        const reply = type === WebWireType.ErrorReply || (type! >= WebWireType.ReplyBinary && type! <= WebWireType.ReplyUtf16);
        return reply && idCounter(message.data.subarray(1, 9)) === probe;
      },
    };
  }

  /** The engine under the client: its state, events, metrics. */
  get engine(): Engine {
    return this.#engine;
  }

  /** The current session, if the server created (or restored) one. */
  get session(): WebWireSession | undefined {
    return this.#session;
  }

  /** Whether requests flow now (connected and, when there is a session, restored). */
  get ready(): boolean {
    return this.#ready;
  }

  on<E extends keyof WebWireClientEvents>(event: E, listener: (...args: WebWireClientEvents[E]) => void): () => void {
    return this.#events.on(event, listener);
  }

  once<E extends keyof WebWireClientEvents>(event: E, listener: (...args: WebWireClientEvents[E]) => void): () => void {
    return this.#events.once(event, listener);
  }

  off<E extends keyof WebWireClientEvents>(event: E, listener: (...args: WebWireClientEvents[E]) => void): void {
    this.#events.off(event, listener);
  }

  /**
   * Connect: check the protocol version first when `protocolVersion` asks for it, then start the
   * engine. Resolves once the first connection is open. `signal` bounds the whole start.
   */
  async start(options: StartOptions = {}): Promise<void> {
    const fetcher = this.#options.protocolVersion;
    if (fetcher) {
      const option = this.#engineOptions.url;
      const url = typeof option === 'function' ? await option() : option;
      const openTimeout = (this.#engineOptions.reconnect || undefined)?.openTimeout ?? 10_000;
      const timeout = AbortSignal.timeout(openTimeout);
      const version = await fetcher(httpUrlOf(url), options.signal ? AbortSignal.any([options.signal, timeout]) : timeout);
      if (version !== WEBWIRE_PROTOCOL_VERSION) {
        throw new WebWireVersionError(`The server speaks WebWire ${version}; this client speaks ${WEBWIRE_PROTOCOL_VERSION}`, version);
      }
    }
    await this.#engine.start(options);
  }

  /** Close the connection and stop; waiting requests fail with `RequestNotSentError`. The session is kept for a later `start()`. */
  stop(): Promise<void> {
    return this.#engine.stop();
  }

  /**
   * Send a named request and resolve with the reply's payload: a string for a UTF-8 or UTF-16
   * reply, bytes for a binary one. Rejects with `WebWireRequestError` for an error reply,
   * `RequestTimeoutError` when sent but unanswered in time, `RequestNotSentError` when it never
   * went out (no connection and `queue: false`, or still waiting when the timeout came),
   * `RequestOutcomeUnknownError` when the connection dropped after it went out, the signal's
   * reason when aborted, `WebWireProtocolError` for a bad name or an empty payload.
   */
  request(name: string, payload: WebWireData, options: WebWireRequestOptions = {}): Promise<string | Uint8Array> {
    return this.#submit(options, true, (id) => encodeRequest(id, name, toPayload(payload, options.encoding)), (entry, reply) => {
      if (reply.kind === 'error-reply') return this.#settle(entry, new WebWireRequestError(reply.code, reply.message));
      let value: string | Uint8Array;
      try {
        value = decodeReplyPayload(reply);
      } catch (error) {
        this.#report(error as WebWireProtocolError);
        return this.#settle(entry, error);
      }
      this.#settle(entry, undefined, value);
    }) as Promise<string | Uint8Array>;
  }

  /** Send a named signal (no reply); resolves once written. Waits for the connection like a request. */
  signal(name: string, payload: WebWireData, options: WebWireSendOptions = {}): Promise<void> {
    return this.#submit(options, false, () => encodeSignal(name, toPayload(payload, options.encoding)), () => {}) as Promise<void>;
  }

  /** Ask the server to close the session (`[31]`); resolves once it answered. The session is then cleared. */
  closeSession(options: Omit<WebWireRequestOptions, 'encoding'> = {}): Promise<void> {
    return this.#submit(options, true, (id) => encodeCloseSession(id), (entry, reply) => {
      if (reply.kind === 'error-reply') return this.#settle(entry, new WebWireRequestError(reply.code, reply.message));
      this.#sessionClosed();
      this.#settle(entry, undefined, undefined);
    }) as Promise<void>;
  }

  /** Server signals, in order: `for await (const { name, payload } of client)`. Ends when the client stops. */
  [Symbol.asyncIterator](): AsyncIterableIterator<WebWireSignal> {
    return this.signals();
  }

  signals(): AsyncIterableIterator<WebWireSignal> {
    const iterator = new SignalIterator(this.#options.signalBuffer, (it, closed) => {
      if (closed) this.#iterators.delete(it);
      this.#maybeResume();
    });
    // Stopped: nothing more will come (as the engine's own iterators); before start(), wait.
    if (this.#engine.state === 'stopped') iterator.end();
    else this.#iterators.add(iterator);
    return iterator;
  }

  // --- outgoing ------------------------------------------------------------------------------

  #submit(
    options: WebWireSendOptions,
    expectsReply: boolean,
    encode: (id: Uint8Array) => Uint8Array,
    onReply: (entry: Outgoing, reply: WebWireReplyMessage | WebWireErrorReplyMessage) => void,
  ): Promise<unknown> {
    const timeout = options.timeout ?? this.#options.requestTimeout;
    const waits = options.queue ?? this.#options.queue;
    const signal = options.signal;
    let bytes: Uint8Array;
    let key = 0;
    try {
      if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) {
        throw new InvalidArgumentError(`timeout: expected a finite number of ms > 0, got ${String(timeout)}`);
      }
      if (expectsReply) {
        const next = this.#correlator.next();
        key = next.key;
        bytes = encode(next.id);
      } else {
        bytes = encode(new Uint8Array(0));
      }
    } catch (error) {
      return Promise.reject(error);
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#engine.state === 'stopped') {
      return Promise.reject(new RequestNotSentError('Not sent: the client is stopped', { cause: new NotConnectedError() }));
    }
    if (!this.#ready && !waits) {
      return Promise.reject(new RequestNotSentError('Not sent: no connection ready', { cause: new NotConnectedError() }));
    }
    if (!this.#ready && this.#queue.length >= this.#options.maxQueued) {
      return Promise.reject(new RequestNotSentError(`Not sent: ${this.#queue.length} messages already wait for the connection (maxQueued)`));
    }
    return new Promise((resolve, reject) => {
      const entry: Outgoing = {
        key,
        bytes,
        expectsReply,
        waits,
        phase: 'queued',
        timer: undefined,
        cleanup: undefined,
        resolve,
        reject,
        onReply: (reply) => onReply(entry, reply),
        onTimeout: () => {
          if (entry.phase === 'queued') {
            this.#settle(entry, new RequestNotSentError(`Not sent within ${timeout} ms: no connection ready`, { cause: new RequestTimeoutError(timeout) }));
          } else {
            this.#settle(entry, new RequestTimeoutError(timeout));
          }
        },
      };
      this.#track(entry, timeout, signal);
      if (this.#ready) this.#write(entry);
      else this.#queue.push(entry);
    });
  }

  #track(entry: Outgoing, timeout: number, signal: AbortSignal | undefined): void {
    this.#active.add(entry);
    if (entry.expectsReply) this.#correlator.add(entry.key, entry);
    entry.timer = globalThis.setTimeout(() => entry.onTimeout(), timeout);
    if (signal) {
      const onAbort = (): void => this.#settle(entry, signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      entry.cleanup = () => signal.removeEventListener('abort', onAbort);
    }
  }

  /** Settle once: stop its timer, forget it everywhere. A reply that comes later is ignored. */
  #settle(entry: Outgoing, error: unknown, value?: unknown): void {
    if (entry.phase === 'settled') return;
    const wasQueued = entry.phase === 'queued';
    entry.phase = 'settled';
    if (entry.timer !== undefined) globalThis.clearTimeout(entry.timer);
    entry.cleanup?.();
    this.#active.delete(entry);
    if (entry.expectsReply) this.#correlator.delete(entry.key);
    if (wasQueued) {
      const index = this.#queue.indexOf(entry);
      if (index >= 0) this.#queue.splice(index, 1);
    }
    if (error !== undefined) entry.reject(error);
    else entry.resolve(value);
  }

  #write(entry: Outgoing): void {
    entry.phase = 'writing';
    const ctx = this.#ctx;
    const writing = ctx ? ctx.sendBinary(entry.bytes) : Promise.reject(new NotConnectedError());
    writing.then(
      () => {
        if (entry.phase !== 'writing') return;
        entry.phase = 'sent';
        if (!entry.expectsReply) this.#settle(entry, undefined, undefined);
      },
      (error: unknown) => {
        if (entry.phase !== 'writing') return;
        if (entry.waits && isConnectionGone(error)) {
          // Not handed to the socket (the connection is ending; its close event follows): it
          // waits for the next connection, first in line.
          entry.phase = 'queued';
          this.#queue.unshift(entry);
          return;
        }
        this.#settle(entry, new RequestNotSentError('The message could not be written', { cause: error }));
      },
    );
  }

  #flush(): void {
    while (this.#ready && this.#queue.length > 0) {
      const entry = this.#queue.shift()!;
      if (entry.phase === 'queued') this.#write(entry);
    }
  }

  // --- connection life -----------------------------------------------------------------------

  /** Open hook: a new connection. With a session, restore it before anything else goes out. */
  #opening(ctx: HookContext): void {
    this.#ctx = ctx;
    this.#connectionId = ctx.connectionId;
    this.#ready = false;
    this.#restoring = this.#session !== undefined;
    if (this.#restoring) this.#restore(ctx.connectionId, 0);
  }

  /** The connection is open (the engine reads from it now); without a restore under way, requests flow. */
  #opened(connectionId: string): void {
    if (connectionId === this.#connectionId && !this.#restoring) this.#becomeReady();
  }

  #becomeReady(): void {
    this.#restoring = false;
    this.#ready = true;
    this.#events.emit('ready');
    this.#flush();
  }

  /** Restore the session on this connection before anything queued goes out (`[32][id][key]`). */
  #restore(connectionId: string, attempt: number): void {
    const session = this.#session;
    if (!session || this.#connectionId !== connectionId) return;
    const { key, id } = this.#correlator.next();
    const options = this.#options;
    const entry: Outgoing = {
      key,
      bytes: encodeRestoreSession(id, session.key),
      expectsReply: true,
      waits: false,
      phase: 'queued',
      timer: undefined,
      cleanup: undefined,
      resolve: () => {},
      reject: () => {},
      onTimeout: () => {
        // No answer: this connection is of no use; a new one restores again.
        this.#settle(entry, new RequestTimeoutError(options.restoreTimeout));
        if (this.#connectionId === connectionId) this.#engine.restart();
      },
      onReply: (reply) => {
        this.#settle(entry, undefined, undefined);
        if (this.#connectionId !== connectionId) return;
        if (reply.kind === 'error-reply') {
          if (reply.code === 'SESSION_ACTIVE' && attempt < options.restoreRetries) {
            // The server may still hold the previous connection: ask again a little later.
            const delay = Math.min(options.restoreMaxDelay, options.restoreMinDelay * 2 ** attempt);
            this.#restoreTimer = globalThis.setTimeout(() => {
              this.#restoreTimer = undefined;
              this.#restore(connectionId, attempt + 1);
            }, delay);
            return;
          }
          return this.#restoreRefused(new WebWireRequestError(reply.code, reply.message));
        }
        let restored: WebWireSession;
        try {
          // A restore is answered by a type-193 reply that carries the session JSON in UTF-8.
          restored = decodeSession(reply.bytes, reply.type, reply.id);
        } catch (error) {
          this.#report(error as WebWireProtocolError);
          return this.#restoreRefused(error as WebWireProtocolError);
        }
        this.#session = restored;
        this.#events.emit('session-restored', restored);
        this.#becomeReady();
      },
    };
    this.#track(entry, options.restoreTimeout, undefined);
    this.#write(entry);
  }

  #restoreRefused(error: WebWireRequestError | WebWireProtocolError): void {
    this.#session = undefined;
    this.#events.emit('session-restore-failed', error);
    this.#becomeReady();
  }

  #closed(connectionId: string, error: unknown): void {
    if (this.#connectionId !== connectionId) return;
    this.#connectionId = undefined;
    this.#ctx = undefined;
    this.#ready = false;
    this.#restoring = false;
    if (this.#restoreTimer !== undefined) globalThis.clearTimeout(this.#restoreTimer);
    this.#restoreTimer = undefined;
    const cause = error ?? new EngineStoppedError('The connection was closed');
    for (const entry of [...this.#active]) {
      if (entry.phase === 'writing' || entry.phase === 'sent') {
        this.#settle(entry, new RequestOutcomeUnknownError(undefined, { cause }));
      }
    }
  }

  #stopped(error: unknown): void {
    this.#ready = false;
    this.#restoring = false;
    this.#ctx = undefined;
    this.#connectionId = undefined;
    const cause = error ?? new EngineStoppedError();
    for (const entry of [...this.#active]) {
      this.#settle(
        entry,
        entry.phase === 'queued'
          ? new RequestNotSentError('Not sent: the client stopped', { cause })
          : new RequestOutcomeUnknownError(undefined, { cause }),
      );
    }
    for (const iterator of this.#iterators) iterator.end(error);
    this.#iterators.clear();
    this.#maybeResume();
  }

  // --- inbound -------------------------------------------------------------------------------

  #inbound(message: Message): void {
    if (message.type !== MessageType.Binary) {
      this.#report(new WebWireProtocolError('text-frame', 'the server sent a text message; WebWire messages are binary'));
      return;
    }
    const data = message.data;
    if (data.length > this.#options.maxPayload) {
      const type = data[0];
      const replyLike = type === WebWireType.ErrorReply || type === WebWireType.ReplyBinary || type === WebWireType.ReplyUtf8 || type === WebWireType.ReplyUtf16;
      const id = replyLike && data.length >= 9 ? new Uint8Array(data.subarray(1, 9)) : undefined;
      this.#rejectMalformed(
        new WebWireProtocolError('max-payload', `a message of ${data.length} bytes is over maxPayload (${this.#options.maxPayload})`, {
          messageType: type,
          id,
        }),
      );
      return;
    }
    let decoded;
    try {
      decoded = decodeMessage(data);
    } catch (error) {
      this.#rejectMalformed(error as WebWireProtocolError);
      return;
    }
    switch (decoded.kind) {
      case 'reply':
      case 'error-reply': {
        const key = idCounter(decoded.id);
        const entry = this.#correlator.take(key);
        if (entry) entry.onReply(decoded);
        // Ours but given up (timed out, aborted): a late reply, expected; anything else is not ours.
        else if (!this.#correlator.issued(key)) {
          this.#report(new WebWireProtocolError('unknown-id', 'a reply to no request of this client', { messageType: decoded.type, id: decoded.id }));
        }
        return;
      }
      case 'signal': {
        const { name, payload } = decoded;
        this.#events.emit('signal', name, payload.data, payload.encoding);
        if (this.#iterators.size > 0) {
          const signal: WebWireSignal = { name, payload: payload.data, encoding: payload.encoding };
          let full = false;
          for (const iterator of this.#iterators) {
            iterator.push(signal);
            full ||= iterator.full;
          }
          if (full && !this.#pausedForIterators) {
            this.#pausedForIterators = true;
            this.#engine.pause();
          }
        }
        return;
      }
      case 'session-created':
        this.#session = decoded.session;
        this.#events.emit('session-created', decoded.session);
        return;
      case 'session-closed':
        this.#sessionClosed();
        return;
      default:
        this.#report(new WebWireProtocolError('unexpected', `a server does not send ${decoded.kind} messages`, { messageType: decoded.type }));
    }
  }

  /** A malformed message: fail the request it answers when its id could be read, and report it. */
  #rejectMalformed(error: WebWireProtocolError): void {
    if (error.id !== undefined) {
      const entry = this.#correlator.take(idCounter(error.id));
      if (entry) this.#settle(entry, error);
    }
    this.#report(error);
  }

  #sessionClosed(): void {
    if (this.#session === undefined) return;
    this.#session = undefined;
    this.#events.emit('session-closed');
  }

  #maybeResume(): void {
    if (!this.#pausedForIterators) return;
    for (const iterator of this.#iterators) if (iterator.full) return;
    this.#pausedForIterators = false;
    this.#engine.resume();
  }

  #report(error: WebWireProtocolError): void {
    if (this.#events.has('protocol-error')) this.#events.emit('protocol-error', error);
    else console.warn(`wsengine/webwire: ${error.message}`);
  }
}

/** Create a WebWire client: `createWebWireClient({ url, adapter, ...engine options })`. */
export function createWebWireClient(options: WebWireClientOptions): WebWireClient {
  return new WebWireClient(options);
}
