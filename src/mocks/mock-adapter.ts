/**
 * The mock adapter: a `WebSocketConnectionAdapter` whose other end is a {@link MockServer} in
 * the same process. It keeps every clause of the contract, throws the same typed errors as
 * the real adapters, and records every call for assertions.
 */
import {
  ConnectionClosedError,
  HandshakeError,
  InvalidArgumentError,
  InvalidStateError,
  WebSocketCloseError,
} from '../adapters/errors.js';
import { ReadQueue } from '../adapters/read-queue.js';
import { abortReason, raceSignal } from '../adapters/signals.js';
import type { StatusCode } from '../adapters/status-codes.js';
import type {
  DialOptions,
  HandshakeResponse,
  HeaderInit,
  Message,
  MessageType,
  OperationOptions,
  WebSocketConnectionAdapter,
  WriteData,
} from '../adapters/types.js';
import { normalizeWriteData, parseWebSocketUrl, validateClose } from '../adapters/validation.js';
import { trimArgs, type MockCall, type MockCallArgs, type MockCallMethod, type MockCallOf, type MockCallValues } from './calls.js';
import { toMessage } from './messages.js';
import { MockServer, beginHandshake } from './mock-server.js';
import type { MockServerConnection } from './mock-server-connection.js';
import { checkDelay, schedule, type Cancel } from './timers.js';
import type { MockDialRequest } from './types.js';
import type { ServerEndpoint } from './wire.js';

/** Options of {@link MockAdapter}. */
export interface MockAdapterOptions {
  /** How long `close` waits for the server's close frame before giving up on it, in ms. Default 5000. */
  readonly closeTimeout?: number;
  /** Pause the server's sending when this many messages wait unread. Default 256. */
  readonly highWaterMessages?: number;
  /** Pause the server's sending when this many payload bytes wait unread. Default 4 MiB. */
  readonly highWaterBytes?: number;
}

/** Finds the server a URL reaches, or `undefined` when nothing answers there. */
export type MockServerResolver = (url: URL) => MockServer | undefined;

/** The adapter's state: before any dial, dialling, open, closing (close frame sent), closed. */
export type MockAdapterState = 'idle' | 'connecting' | 'open' | 'closing' | 'closed';

interface RecordedCall {
  method: MockCallMethod;
  args: unknown[];
  result: 'pending' | 'resolved' | 'rejected';
  value?: unknown;
  error?: unknown;
}

interface PendingWrite {
  message: Message;
  resolve: () => void;
  reject: (error: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

interface PendingPing {
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** RFC 7230 section 3.2.6 `token`: header names and subprotocols (RFC 6455 section 4.1). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function randomKey(): string {
  // RFC 6455 section 4.1: Sec-WebSocket-Key is 16 random bytes, base64-encoded.
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return btoa(String.fromCharCode(...bytes));
}

function buildRequest(url: URL, options: DialOptions): MockDialRequest {
  const protocols = options.protocols ?? [];
  if (!Array.isArray(protocols)) throw new InvalidArgumentError('Invalid option protocols: expected an array of strings');
  const seen = new Set<string>();
  for (const protocol of protocols) {
    if (typeof protocol !== 'string' || !TOKEN.test(protocol)) {
      throw new InvalidArgumentError(`Invalid subprotocol ${JSON.stringify(protocol)}: expected an HTTP token`);
    }
    if (seen.has(protocol)) throw new InvalidArgumentError(`Subprotocol "${protocol}" is offered twice`);
    seen.add(protocol);
  }
  const headers: Record<string, string> = {
    host: url.host,
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-version': '13',
    'sec-websocket-key': randomKey(),
  };
  if (protocols.length > 0) headers['sec-websocket-protocol'] = protocols.join(', ');
  const extra: HeaderInit = options.headers ?? {};
  if (typeof extra !== 'object' || extra === null) {
    throw new InvalidArgumentError('Invalid option headers: expected an object of header names to values');
  }
  for (const [name, value] of Object.entries(extra)) {
    if (!TOKEN.test(name)) throw new InvalidArgumentError(`Invalid header name ${JSON.stringify(name)}`);
    const values: readonly unknown[] = Array.isArray(value) ? value : [value];
    for (const one of values) {
      if (typeof one !== 'string' || /[\r\n\0]/.test(one)) {
        throw new InvalidArgumentError(`Invalid value for header "${name}": expected a string without CR, LF or NUL`);
      }
    }
    headers[name.toLowerCase()] = values.join(', ');
  }
  return { url: url.href, headers, protocols: [...protocols] };
}

function checkPositive(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0)) {
    throw new InvalidArgumentError(`Invalid option ${name}: expected a number > 0, got ${String(value)}`);
  }
  return value;
}

/** The client side of one connection: its read queue, pending pings, close handshake. */
class ClientConnection {
  state: 'connecting' | 'open' | 'closing' | 'closed' = 'connecting';
  server: ServerEndpoint | undefined;
  connection: MockServerConnection | undefined;
  readonly queue: ReadQueue;
  readonly #pings = new Map<number, PendingPing>();
  readonly #writes: PendingWrite[] = [];
  readonly #onHandover: (message: Message) => void;
  #closeDone: (() => void) | undefined;

  constructor(options: { highWaterMessages: number; highWaterBytes: number; onHandover: (message: Message) => void }) {
    this.#onHandover = options.onHandover;
    this.queue = new ReadQueue({
      highWaterMessages: options.highWaterMessages,
      highWaterBytes: options.highWaterBytes,
      resume: () => this.server?.resume(),
    });
  }

  get accepting(): boolean {
    // A closing or closed client discards data frames, so they never wait.
    return this.state === 'closing' || this.state === 'closed' || !this.queue.paused;
  }

  message(message: Message): void {
    if (this.state === 'connecting' || this.state === 'open') this.queue.push(message);
  }

  close(code: number | undefined, reason: string): void {
    if (this.state === 'closing') {
      // The server's answer to our close frame: the closing handshake is complete.
      this.#finish();
      return;
    }
    if (this.state === 'closed') return;
    // RFC 6455 section 7.1.5: the connection is closed with the code of the received close frame
    // (1005 when it had none); section 5.5.1: answer it, echoing the code.
    this.state = 'closed';
    this.queue.fail(new WebSocketCloseError(code ?? 1005, reason, { wasClean: true }));
    this.#rejectPending(new ConnectionClosedError('The connection was closed by the server'));
    this.server?.close(code, reason);
  }

  pong(id: number): void {
    const ping = this.#pings.get(id);
    if (!ping) return;
    this.#pings.delete(id);
    ping.resolve();
  }

  lost(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    // RFC 6455 section 7.1.5: no close frame received, so the close code is 1006.
    this.queue.fail(new WebSocketCloseError(1006, '', { wasClean: false }));
    this.#rejectPending(new ConnectionClosedError('The connection was lost'));
    this.#finish();
  }

  /**
   * Hand `message` to the server, in call order; while the server does not read, hold it
   * until it does (backpressure), the signal aborts, or the connection ends.
   */
  write(message: Message, signal: AbortSignal | undefined): Promise<void> {
    if (this.#writes.length === 0 && this.server!.reading()) {
      this.#handOver(message);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const pending: PendingWrite = { message, resolve, reject, signal, onAbort: undefined };
      if (signal) {
        pending.onAbort = () => {
          const index = this.#writes.indexOf(pending);
          if (index >= 0) this.#writes.splice(index, 1);
          reject(abortReason(signal));
        };
        signal.addEventListener('abort', pending.onAbort, { once: true });
      }
      this.#writes.push(pending);
    });
  }

  drain(): void {
    while (this.#writes.length > 0 && this.state === 'open' && this.server!.reading()) {
      const pending = this.#writes.shift()!;
      if (pending.onAbort) pending.signal!.removeEventListener('abort', pending.onAbort);
      this.#handOver(pending.message);
      pending.resolve();
    }
  }

  #handOver(message: Message): void {
    this.server!.message(message);
    this.#onHandover(message);
  }

  ping(id: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#pings.set(id, { resolve, reject });
      this.server!.ping(id);
    });
  }

  forgetPing(id: number): void {
    this.#pings.delete(id);
  }

  /**
   * Send our close frame and wait for the server's, up to `timeout` ms or until `signal`
   * aborts; the connection is closed either way (RFC 6455 section 7.1.2), and the promise
   * resolves either way, as the ws adapter's does.
   */
  async sendClose(code: number, reason: string, timeout: number, signal: AbortSignal | undefined): Promise<void> {
    this.state = 'closing';
    this.queue.fail(new WebSocketCloseError(code, reason, { wasClean: true }), true);
    this.#rejectPending(new ConnectionClosedError('The connection was closed'));
    let cancelTimer: Cancel | undefined;
    let onAbort: (() => void) | undefined;
    const done = new Promise<void>((resolve) => {
      this.#closeDone = resolve;
    });
    this.server!.close(code, reason);
    if (this.state === 'closing') {
      cancelTimer = schedule(timeout, () => this.#abandon());
      if (signal) {
        onAbort = () => this.#abandon();
        if (signal.aborted) this.#abandon();
        else signal.addEventListener('abort', onAbort, { once: true });
      }
    }
    try {
      await done;
    } finally {
      cancelTimer?.();
      if (onAbort) signal!.removeEventListener('abort', onAbort);
    }
  }

  /** Close and drop this connection without waiting (a new dial replaces it). */
  discard(): void {
    if (this.state === 'open' || this.state === 'connecting') {
      this.state = 'closing';
      this.queue.fail(new WebSocketCloseError(1000, '', { wasClean: true }), true);
      this.#rejectPending(new ConnectionClosedError('The connection was replaced by a new dial'));
      this.server?.close(1000, '');
    }
    this.#abandon();
  }

  /** Stop waiting for the server: the transport goes away. */
  #abandon(): void {
    this.server?.destroy();
    this.#finish();
  }

  #finish(): void {
    this.state = 'closed';
    const done = this.#closeDone;
    this.#closeDone = undefined;
    done?.();
  }

  /** Drop pending pings and held writes: they reject with `error`. */
  #rejectPending(error: ConnectionClosedError): void {
    const pings = [...this.#pings.values()];
    this.#pings.clear();
    for (const ping of pings) ping.reject(error);
    for (const pending of this.#writes.splice(0)) {
      if (pending.onAbort) pending.signal!.removeEventListener('abort', pending.onAbort);
      pending.reject(error);
    }
  }
}

/**
 * A `WebSocketConnectionAdapter` talking to a {@link MockServer}.
 *
 * `new MockAdapter(server)` (or `server.createAdapter()`) reaches that server whatever ws: URL
 * it dials; `new MockAdapter(resolver)` asks `resolver(url)` at each dial, and a dial that
 * reaches no server rejects with `HandshakeError` (no status), like a refused TCP connection.
 */
export class MockAdapter implements WebSocketConnectionAdapter {
  /** Every call, in call order, with its arguments and (once settled) its outcome. */
  readonly calls: readonly MockCall[] = [];
  /** Every message handed to the server by `write`, in order (text as a string, binary as bytes). */
  readonly writes: readonly Message[] = [];
  /** Every message `read` (or `tryRead`) returned, in order. */
  readonly reads: readonly Message[] = [];

  readonly #resolve: MockServerResolver;
  readonly #closeTimeout: number;
  readonly #highWaterMessages: number;
  readonly #highWaterBytes: number;
  #current: ClientConnection | undefined;
  #dialling = false;
  /** Set while dialling: `close()` aborts it, and waits for the dial to settle. */
  #pendingDial: { cancel: AbortController; done: Promise<unknown> } | undefined;
  #dialled = false;
  #nextPing = 1;

  constructor(target: MockServer | MockServerResolver, options: MockAdapterOptions = {}) {
    if (target instanceof MockServer) this.#resolve = () => target;
    else if (typeof target === 'function') this.#resolve = target;
    else throw new InvalidArgumentError('MockAdapter needs a MockServer or a function from URL to MockServer');
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError('Invalid MockAdapter options: expected an object');
    }
    this.#closeTimeout = options.closeTimeout === undefined ? 5000 : checkDelay('closeTimeout', options.closeTimeout);
    this.#highWaterMessages = checkPositive('highWaterMessages', options.highWaterMessages, 256);
    this.#highWaterBytes = checkPositive('highWaterBytes', options.highWaterBytes, 4 * 1024 * 1024);
  }

  /** Where the adapter is: `idle` (never dialled), `connecting`, `open`, `closing`, `closed`. */
  get state(): MockAdapterState {
    if (this.#dialling) return 'connecting';
    if (!this.#current) return this.#dialled ? 'closed' : 'idle';
    return this.#current.state === 'connecting' ? 'open' : this.#current.state;
  }

  /** The server's side of the current connection, for scripting it from the adapter. */
  get connection(): MockServerConnection | undefined {
    return this.#current?.connection;
  }

  /** The recorded calls of one method. */
  callsOf<M extends MockCallMethod>(method: M): Array<MockCallOf<M>> {
    return this.calls.filter((call): call is MockCallOf<M> & MockCall => call.method === method) as Array<MockCallOf<M>>;
  }

  /** Forget the recorded calls, writes and reads (the connection is untouched). */
  clearCalls(): void {
    (this.calls as MockCall[]).length = 0;
    (this.writes as Message[]).length = 0;
    (this.reads as Message[]).length = 0;
  }

  dial(url: string | URL, options?: DialOptions): Promise<HandshakeResponse> {
    return this.#record('dial', trimArgs<MockCallArgs['dial']>([url, options]), () => this.#dial(url, options ?? {}));
  }

  close(code?: StatusCode, reason?: string, options?: OperationOptions): Promise<void> {
    return this.#record('close', trimArgs<MockCallArgs['close']>([code, reason, options]), () =>
      this.#close(code ?? 1000, reason ?? '', options?.signal),
    );
  }

  ping(options?: OperationOptions): Promise<void> {
    return this.#record('ping', trimArgs<MockCallArgs['ping']>([options]), () => this.#ping(options?.signal));
  }

  read(options?: OperationOptions): Promise<Message> {
    return this.#record('read', trimArgs<MockCallArgs['read']>([options]), () => this.#read(options?.signal));
  }

  /**
   * A message already received, or `undefined` (see the contract). Not listed in `calls`: it is
   * synchronous and a consumer calls it before most reads. What it returns joins `reads`.
   */
  tryRead(): Message | undefined {
    const message = this.#current?.queue.tryRead();
    if (message !== undefined) (this.reads as Message[]).push(message);
    return message;
  }

  write(type: MessageType, data: WriteData, options?: OperationOptions): Promise<void> {
    return this.#record('write', trimArgs<MockCallArgs['write']>([type, data, options]), () =>
      this.#write(type, data, options?.signal),
    );
  }

  /** The server's side of the current connection (the mock's "runtime object"), or `undefined`. */
  underlying(): unknown {
    const current = this.#current;
    return current && current.state !== 'closed' ? current.connection : undefined;
  }

  #record<M extends MockCallMethod>(
    method: M,
    args: MockCallArgs[M],
    run: () => Promise<MockCallValues[M]>,
  ): Promise<MockCallValues[M]> {
    const call: RecordedCall = { method, args, result: 'pending' };
    (this.calls as unknown as RecordedCall[]).push(call);
    let promise: Promise<MockCallValues[M]>;
    try {
      promise = run();
    } catch (error) {
      promise = Promise.reject(error);
    }
    promise.then(
      (value) => {
        call.result = 'resolved';
        call.value = value;
      },
      (error: unknown) => {
        call.result = 'rejected';
        call.error = error;
      },
    );
    return promise;
  }

  async #dial(input: string | URL, options: DialOptions): Promise<HandshakeResponse> {
    if (this.#dialling) throw new InvalidStateError('dial() was called while another dial is in progress');
    const url = parseWebSocketUrl(input);
    const request = buildRequest(url, options);
    const { signal } = options;
    if (signal?.aborted) throw abortReason(signal);
    // The dial clause of the contract: close any previous connection, and drop it.
    this.#current?.discard();
    this.#current = undefined;
    this.#dialled = true;
    const server = this.#resolve(url);
    if (!server) throw new HandshakeError(`Connection refused: no mock server answers at ${url.href}`);
    const client = new ClientConnection({
      highWaterMessages: this.#highWaterMessages,
      highWaterBytes: this.#highWaterBytes,
      onHandover: (message) => (this.writes as Message[]).push(message),
    });
    this.#dialling = true;
    const cancel = new AbortController();
    let settled!: () => void;
    this.#pendingDial = { cancel, done: new Promise<void>((resolve) => (settled = resolve)) };
    try {
      const attempt = beginHandshake(server, request, {
        attach: (endpoint, connection) => {
          client.server = endpoint;
          client.connection = connection;
        },
        get accepting() {
          return client.accepting;
        },
        message: (message) => client.message(message),
        close: (code, reason) => client.close(code, reason),
        pong: (id) => client.pong(id),
        lost: () => client.lost(),
        drain: () => client.drain(),
      });
      const { response } = await raceSignal(
        raceSignal(attempt.promise, cancel.signal, attempt.cancel),
        signal,
        attempt.cancel,
      );
      if (client.state === 'connecting') client.state = 'open';
      this.#current = client;
      return response;
    } finally {
      this.#dialling = false;
      this.#pendingDial = undefined;
      settled();
    }
  }

  async #close(code: number, reason: string, signal: AbortSignal | undefined): Promise<void> {
    validateClose(code, reason);
    const dial = this.#pendingDial;
    if (dial) {
      // Closing while dialling cancels the dial (it rejects with ConnectionClosedError); a dial
      // that completed first is closed like any open connection.
      dial.cancel.abort(new ConnectionClosedError('close() was called while dialling'));
      await dial.done;
      if (this.#current?.state !== 'open') return;
    }
    const current = this.#current;
    if (!current || current.state !== 'open') {
      throw new ConnectionClosedError(current ? 'The connection is already closed' : 'Not connected: call dial() first');
    }
    await current.sendClose(code, reason, this.#closeTimeout, signal);
  }

  async #ping(signal: AbortSignal | undefined): Promise<void> {
    const current = this.#open('ping');
    if (signal?.aborted) throw abortReason(signal);
    const id = this.#nextPing++;
    await raceSignal(current.ping(id), signal, () => current.forgetPing(id));
  }

  async #read(signal: AbortSignal | undefined): Promise<Message> {
    const current = this.#current;
    if (!current) throw new ConnectionClosedError('Not connected: call dial() first');
    const message = await current.queue.read(signal);
    (this.reads as Message[]).push(message);
    return message;
  }

  async #write(type: MessageType, data: WriteData, signal: AbortSignal | undefined): Promise<void> {
    const payload = normalizeWriteData(type, data);
    const current = this.#open('write');
    if (signal?.aborted) throw abortReason(signal);
    await current.write(toMessage(type, payload), signal);
  }

  #open(operation: string): ClientConnection {
    const current = this.#current;
    if (!current) throw new ConnectionClosedError(`Cannot ${operation}: not connected, call dial() first`);
    if (current.state !== 'open') throw new ConnectionClosedError(`Cannot ${operation}: the connection is ${current.state}`);
    return current;
  }
}
