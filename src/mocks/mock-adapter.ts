/**
 * The mock adapter: a `WebSocketConnectionAdapter` whose other end is a {@link MockServer} in
 * the same process. It keeps every clause of the contract, throws the same typed errors as
 * the real adapters, and records every call for assertions.
 */
import { AdapterCore, type CoreConnection, type CoreConnectionState, type OpenedConnection } from '../adapters/core/adapter-core.js';
import { waitClosed } from '../adapters/core/close-wait.js';
import { PingRegistry } from '../adapters/core/ping-registry.js';
import { WriteQueue, queueWrite, type PendingWrite } from '../adapters/core/write-queue.js';
import { ConnectionClosedError, HandshakeError, InvalidArgumentError, WebSocketCloseError } from '../adapters/errors.js';
import { OptionReader, readCommonOptions, type CommonAdapterOptions, type ResolvedCommonOptions } from '../adapters/options.js';
import { ReadQueue, type MessageListener } from '../adapters/read-queue.js';
import { raceSignal, WRITTEN } from '../adapters/signals.js';
import type { StatusCode } from '../adapters/status-codes.js';
import type {
  DialOptions,
  HandshakeResponse,
  HeaderInit,
  Message,
  MessageType,
  OperationOptions,
  WriteData,
} from '../adapters/types.js';
import { trimArgs, type MockCall, type MockCallArgs, type MockCallMethod, type MockCallOf, type MockCallValues } from './calls.js';
import { toMessage } from './messages.js';
import type { MockServerConnection } from './mock-server-connection.js';
import type { MockDialRequest } from './types.js';
import { connect, isListening, type ClientEndpoint, type ServerEndpoint } from './wire.js';

/**
 * Options of {@link MockAdapter}: the options every adapter shares, with the same defaults.
 * `handshakeTimeout` (30000 ms) bounds a dial the server delays; `closeTimeout` (5000 ms) is
 * how long `close` waits for the server's close frame; `readQueue` (4096 messages, 8 MiB)
 * is where the server's sends are held until the client reads.
 */
export type MockAdapterOptions = CommonAdapterOptions;

/**
 * A mock server, as an adapter reaches it: `MockServer` is one. (The adapter finds the server
 * through the wire module, so it needs no more than this.)
 */
export interface MockServerTarget {
  /** The URL the server reports. */
  readonly url: string;
}

/** Finds the server a URL reaches, or `undefined` when nothing answers there. */
export type MockServerResolver = (url: URL) => MockServerTarget | undefined;

/** The adapter's state: before any dial, dialling, open, closing (close frame sent), closed. */
export type MockAdapterState = 'idle' | 'connecting' | 'open' | 'closing' | 'closed';

interface RecordedCall {
  method: MockCallMethod;
  args: unknown[];
  result: 'pending' | 'resolved' | 'rejected';
  value?: unknown;
  error?: unknown;
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

/** The client side of one connection: the mock's transport under the adapter core. */
class ClientConnection implements CoreConnection {
  phase: 'connecting' | CoreConnectionState = 'connecting';
  server: ServerEndpoint | undefined;
  connection: MockServerConnection | undefined;
  readonly queue: ReadQueue;
  /** What the server talks to (frames the server sends). */
  readonly endpoint: ClientEndpoint;
  readonly #pings = new PingRegistry();
  readonly #writes = new WriteQueue<PendingWrite<Message>>();
  readonly #onHandover: (message: Message) => void;
  readonly #closeTimeout: number;
  readonly #done: Promise<void>;
  #markDone!: () => void;

  constructor(options: ResolvedCommonOptions, onHandover: (message: Message) => void) {
    this.#onHandover = onHandover;
    this.#closeTimeout = options.closeTimeout;
    this.#done = new Promise<void>((resolve) => (this.#markDone = resolve));
    this.queue = new ReadQueue({
      highWaterMessages: options.readQueue.messages,
      highWaterBytes: options.readQueue.bytes,
      resume: () => this.server?.resume(),
    });
    const accepting = (): boolean =>
      // A closing or closed client discards data frames, so they never wait.
      this.phase === 'closing' || this.phase === 'closed' || !this.queue.paused;
    this.endpoint = {
      attach: (server, connection) => {
        this.server = server;
        this.connection = connection as MockServerConnection;
      },
      get accepting() {
        return accepting();
      },
      message: (message) => {
        if (this.phase === 'connecting' || this.phase === 'open') this.queue.push(message);
      },
      close: (code, reason) => this.#onClose(code, reason),
      pong: (id) => this.#pings.answer(id),
      lost: () => this.#lost(),
      drain: () => this.#drain(),
    };
  }

  get state(): CoreConnectionState {
    return this.phase === 'connecting' ? 'open' : this.phase;
  }

  get runtime(): MockServerConnection | undefined {
    return this.connection;
  }

  #onClose(code: number | undefined, reason: string): void {
    if (this.phase === 'closing') {
      // The server's answer to our close frame: the closing handshake is complete.
      this.#finish();
      return;
    }
    if (this.phase === 'closed') return;
    // RFC 6455 section 7.1.5: the connection is closed with the code of the received close frame
    // (1005 when it had none); section 5.5.1: answer it, echoing the code.
    this.phase = 'closed';
    this.queue.fail(new WebSocketCloseError(code ?? 1005, reason, { wasClean: true }));
    this.#rejectPending(new ConnectionClosedError('The connection was closed by the server'));
    this.server?.close(code, reason);
    this.#markDone();
  }

  #lost(): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    // RFC 6455 section 7.1.5: no close frame received, so the close code is 1006.
    this.queue.fail(new WebSocketCloseError(1006, '', { wasClean: false }));
    this.#rejectPending(new ConnectionClosedError('The connection was lost'));
    this.#finish();
  }

  read(signal: AbortSignal | undefined): Promise<Message> {
    return this.queue.read(signal);
  }

  tryRead(): Message | undefined {
    return this.queue.tryRead();
  }

  listen(listener: MessageListener | undefined): boolean {
    return listener && this.phase !== 'open' && this.phase !== 'connecting' ? false : this.queue.listen(listener);
  }

  /** Hand the message to the server now if nothing is held and the server reads; otherwise nothing. */
  tryWrite(type: MessageType, payload: string | Uint8Array): boolean {
    if (this.#writes.length > 0 || !this.server!.reading()) return false;
    this.#handOver(toMessage(type, payload));
    return true;
  }

  /**
   * Hand the message to the server, in call order; while the server does not read, hold it
   * until it does (backpressure), the signal aborts, or the connection ends.
   */
  write(type: MessageType, payload: string | Uint8Array, signal: AbortSignal | undefined): Promise<void> {
    if (this.tryWrite(type, payload)) return WRITTEN;
    return queueWrite(this.#writes, toMessage(type, payload), signal);
  }

  #drain(): void {
    while (this.#writes.length > 0 && this.phase === 'open' && this.server!.reading()) {
      const pending = this.#writes.shift()!;
      this.#handOver(pending.item);
      pending.resolve();
    }
  }

  #handOver(message: Message): void {
    this.server!.message(message);
    this.#onHandover(message);
  }

  ping(signal: AbortSignal | undefined): Promise<void> {
    return this.#pings.add(signal, (id) => this.server!.ping(id));
  }

  /**
   * Send our close frame and wait for the server's, up to `closeTimeout` ms or until `signal`
   * aborts; the connection is closed either way (RFC 6455 section 7.1.2), and the promise
   * resolves either way, as the other adapters' do.
   */
  async close(code: number, reason: string, signal: AbortSignal | undefined): Promise<void> {
    this.phase = 'closing';
    this.queue.fail(new WebSocketCloseError(code, reason, { wasClean: true }), true);
    this.#rejectPending(new ConnectionClosedError('The connection was closed'));
    this.server!.close(code, reason);
    // A server that answers at once leaves nothing to wait for (and no timer is started).
    if (this.phase === 'closing' && !(await waitClosed(this.#done, this.#closeTimeout, signal))) this.#abandon();
  }

  /** Close and drop this connection without waiting (a new dial replaces it). */
  abandon(): void {
    if (this.phase === 'open' || this.phase === 'connecting') {
      this.phase = 'closing';
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
    this.phase = 'closed';
    this.#markDone();
  }

  /** Drop pending pings and held writes: they reject with `error`. */
  #rejectPending(error: ConnectionClosedError): void {
    this.#pings.fail(error);
    this.#writes.fail(error);
  }
}

/**
 * A `WebSocketConnectionAdapter` talking to a {@link MockServer}.
 *
 * `new MockAdapter(server)` (or `server.createAdapter()`) reaches that server whatever ws: URL
 * it dials; `new MockAdapter(resolver)` asks `resolver(url)` at each dial, and a dial that
 * reaches no server rejects with `HandshakeError` (no status), like a refused TCP connection.
 */
export class MockAdapter extends AdapterCore<ClientConnection> {
  /** Every call, in call order, with its arguments and (once settled) its outcome. */
  readonly calls: readonly MockCall[] = [];
  /** Every message handed to the server by `write`, in order (text as a string, binary as bytes). */
  readonly writes: readonly Message[] = [];
  /** Every message `read` (or `tryRead`) returned, in order. */
  readonly reads: readonly Message[] = [];

  readonly #resolve: MockServerResolver;
  readonly #options: ResolvedCommonOptions;
  /** The request of the dial in progress, from checkDial to open. */
  #request: MockDialRequest | undefined;
  #dialled = false;

  constructor(target: MockServerTarget | MockServerResolver, options: MockAdapterOptions = {}) {
    let resolve: MockServerResolver;
    if (isListening(target)) resolve = () => target as MockServerTarget;
    else if (typeof target === 'function') resolve = target;
    else throw new InvalidArgumentError('MockAdapter needs a MockServer or a function from URL to MockServer');
    const reader = new OptionReader(options, 'MockAdapter options');
    const resolved = readCommonOptions(reader);
    reader.done();
    super({ handshakeTimeout: resolved.handshakeTimeout, pingFrames: true });
    this.#resolve = resolve;
    this.#options = resolved;
  }

  /** Where the adapter is: `idle` (never dialled), `connecting`, `open`, `closing`, `closed`. */
  get state(): MockAdapterState {
    if (this.dialing) return 'connecting';
    const current = this.live;
    if (!current) return this.#dialled ? 'closed' : 'idle';
    return current.state;
  }

  /** The server's side of the current connection, for scripting it from the adapter. */
  get connection(): MockServerConnection | undefined {
    return this.live?.connection;
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

  override dial(url: string | URL, options?: DialOptions): Promise<HandshakeResponse> {
    return this.#record('dial', trimArgs<MockCallArgs['dial']>([url, options]), () => super.dial(url, options));
  }

  override close(code?: StatusCode, reason?: string, options?: OperationOptions): Promise<void> {
    return this.#record('close', trimArgs<MockCallArgs['close']>([code, reason, options]), () =>
      super.close(code, reason, options),
    );
  }

  override ping(options?: OperationOptions): Promise<void> {
    return this.#record('ping', trimArgs<MockCallArgs['ping']>([options]), () => super.ping(options));
  }

  override read(options?: OperationOptions): Promise<Message> {
    return this.#record('read', trimArgs<MockCallArgs['read']>([options]), () =>
      super.read(options).then((message) => {
        (this.reads as Message[]).push(message);
        return message;
      }),
    );
  }

  /**
   * A message already received, or `undefined` (see the contract). Not listed in `calls`: it is
   * synchronous and a consumer calls it before most reads. What it returns joins `reads`.
   */
  override tryRead(): Message | undefined {
    const message = super.tryRead();
    if (message !== undefined) (this.reads as Message[]).push(message);
    return message;
  }

  /** Messages as they arrive (see the contract); not listed in `calls`, but what it hands over joins `reads`. */
  override listen(listener: MessageListener | undefined): boolean {
    const reads = this.reads as Message[];
    return super.listen(
      listener &&
        ((message) => {
          if (message !== undefined) reads.push(message);
          listener(message);
        }),
    );
  }

  override write(type: MessageType, data: WriteData, options?: OperationOptions): Promise<void> {
    return this.#record('write', trimArgs<MockCallArgs['write']>([type, data, options]), () =>
      super.write(type, data, options),
    );
  }

  /** The server's side of the current connection (the mock's "runtime object"), or `undefined`. */
  override underlying(): MockServerConnection | undefined {
    return super.underlying() as MockServerConnection | undefined;
  }

  protected override checkDial(url: URL, options: DialOptions): void {
    this.#request = buildRequest(url, options);
  }

  protected async open(url: URL, _options: DialOptions, signal: AbortSignal): Promise<OpenedConnection<ClientConnection>> {
    const request = this.#request!;
    this.#request = undefined;
    this.#dialled = true;
    const server = this.#resolve(url);
    if (!server) throw new HandshakeError(`Connection refused: no mock server answers at ${url.href}`);
    if (!isListening(server)) throw new InvalidArgumentError(`The resolver returned something that is not a MockServer for ${url.href}`);
    const client = new ClientConnection(this.#options, (message) => (this.writes as Message[]).push(message));
    const attempt = connect(server, request, client.endpoint);
    const response = await raceSignal(attempt.promise, signal, attempt.cancel);
    if (client.phase === 'connecting') client.phase = 'open';
    return { connection: client, response };
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
}
