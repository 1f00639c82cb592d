/**
 * The `ws` adapter: the adapter contract on top of the `ws` package, for Node.
 *
 * ```ts
 * import { createWsAdapter } from 'wsengine/adapters/ws';
 * const adapter = createWsAdapter({ handshakeTimeout: 10_000 });
 * await adapter.dial('wss://feed.example/stream', { headers: { authorization: `Bearer ${token}` } });
 * ```
 *
 * `ws` does the framing, masking, UTF-8 checks and permessage-deflate; this file maps its events
 * onto the contract: a bounded read queue that pauses the socket, writes that wait for the
 * socket to drain, pings matched to their pongs by payload, and a bounded closing handshake.
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import WebSocket, { type PerMessageDeflateOptions } from 'ws';
import { AdapterCore, type CoreConnection, type CoreConnectionState, type OpenedConnection } from './core/adapter-core.js';
import { waitClosed } from './core/close-wait.js';
import { PingRegistry } from './core/ping-registry.js';
import { RefusalBody } from './core/refusal-body.js';
import { WriteQueue, type QueuedWrite } from './core/write-queue.js';
import { ConnectionClosedError, HandshakeError, InvalidArgumentError, WebSocketCloseError } from './errors.js';
import { MAX_PENDING_PONGS, PingFloodError } from './flood-error.js';
import { OptionReader, readNodeOptions, type NodeAdapterOptions, type ResolvedNodeOptions } from './options.js';
import { ReadQueue, type MessageListener } from './read-queue.js';
import { raceSignal, WRITTEN } from './signals.js';
import { MessageType, type DialOptions, type Message } from './types.js';

/**
 * Options of the `ws` adapter: the options every Node adapter shares (`handshakeTimeout`,
 * `closeTimeout`, `readQueue`, `maxPayload`, `tls`, `followRedirects`, `maxRedirects`; see
 * {@link NodeAdapterOptions} for their defaults) and the two below. Every option is checked
 * when the adapter is created. `ws` checks frame sizes against `maxPayload` too.
 */
export interface WsAdapterOptions extends NodeAdapterOptions {
  /**
   * Offer permessage-deflate (RFC 7692): `true`, or `ws`'s `PerMessageDeflateOptions`.
   * Default false: market feeds are latency-bound, and compression costs CPU on both ends.
   */
  readonly perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /**
   * Bytes buffered for sending (`ws`'s `bufferedAmount`) above which `write` waits for the
   * socket to drain before it hands over the next message. Default 1048576 (1 MiB).
   */
  readonly writeHighWaterMark?: number;
}

interface ResolvedOptions extends ResolvedNodeOptions {
  readonly perMessageDeflate: boolean | PerMessageDeflateOptions;
  readonly writeHighWaterMark: number;
}

/** A refusal whose body does not end within this many ms is reported with what arrived. */
const REFUSAL_BODY_WAIT_MS = 1000;

function resolveOptions(options: WsAdapterOptions): ResolvedOptions {
  const reader = new OptionReader(options, 'ws adapter options');
  const shared = readNodeOptions(reader);
  const deflate = reader.raw('perMessageDeflate');
  if (deflate !== undefined && typeof deflate !== 'boolean' && (deflate === null || typeof deflate !== 'object')) {
    reader.fail('perMessageDeflate', `expected a boolean or an options object, got ${typeof deflate}`);
  }
  const writeHighWaterMark = reader.integer('writeHighWaterMark', 1024 * 1024, 0);
  reader.done();
  return {
    ...shared,
    perMessageDeflate: (deflate as boolean | PerMessageDeflateOptions | undefined) ?? false,
    writeHighWaterMark,
  };
}

/** Response headers with lower-case names; a repeated header's values joined with ", ". */
function joinHeaders(raw: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return headers;
}

/**
 * The close code ws sent when it failed the connection itself (RFC 6455 section 7.1.7), read
 * from its documented error codes; ws then reports 1006, as no close frame came back.
 */
function failureCode(error: Error | undefined): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string' || !code.startsWith('WS_ERR_')) return undefined;
  if (code === 'WS_ERR_INVALID_UTF8') return 1007;
  if (code.startsWith('WS_ERR_UNSUPPORTED_')) return 1009;
  if (code === 'WS_ERR_TOO_MANY_BUFFERED_PARTS') return 1008;
  return 1002;
}

/** ws's send options, shared by every send (ws copies them). */
const BINARY = { binary: true } as const;
const TEXT = { binary: false } as const;

/** `ws.send` with no options: ws's types require an object there, its code does not. */
type SendWithoutOptions = (data: string | Uint8Array, options: undefined, cb: (error?: Error) => void) => void;

function toBuffer(data: WebSocket.RawData): Buffer {
  // ws hands over a Buffer unless its binaryType was changed (never here).
  if (data instanceof Uint8Array) return data as Buffer;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** Read a refusal's body up to the shared cap, without waiting long for its end. */
function readShortBody(res: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve) => {
    const body = new RefusalBody();
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      res.off('data', onData);
      resolve(body.text());
    };
    const onData = (chunk: Buffer): void => {
      if (body.push(chunk)) finish();
    };
    const timer = setTimeout(finish, REFUSAL_BODY_WAIT_MS);
    res.on('data', onData);
    res.once('end', finish);
    res.once('close', finish);
    res.once('error', finish);
  });
}

interface OutgoingMessage extends QueuedWrite {
  readonly payload: string | Uint8Array;
  readonly binary: boolean;
}

/** The ping payload's length: a 4-byte connection prefix and a 6-byte sequence number. */
const PING_PAYLOAD_BYTES = 10;

/** One open `ws` instance: the transport under the adapter core. A new one for every dial. */
class WsConnection implements CoreConnection {
  readonly ws: WebSocket;
  readonly queue: ReadQueue;
  state: CoreConnectionState = 'open';
  readonly #writeHighWaterMark: number;
  readonly #closeTimeout: number;
  readonly #socket: Duplex | undefined;
  readonly #writes = new WriteQueue<OutgoingMessage>();
  #pumping = false;
  #drainWaiters: Array<() => void> = [];
  readonly #pings = new PingRegistry();
  /** A prefix no other connection's pings carry, so a stray pong cannot match (RFC 6455 section 5.5.3). */
  readonly #pingPrefix = Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(4)));
  #lastError: Error | undefined;
  /** What reads reject with after a local close; set when close() starts. */
  #localClose: WebSocketCloseError | undefined;
  readonly #closed: Promise<void>;
  #markClosed!: () => void;

  constructor(ws: WebSocket, socket: Duplex | undefined, options: ResolvedOptions) {
    this.ws = ws;
    this.#socket = socket;
    this.#writeHighWaterMark = options.writeHighWaterMark;
    this.#closeTimeout = options.closeTimeout;
    this.queue = new ReadQueue({
      highWaterMessages: options.readQueue.messages,
      highWaterBytes: options.readQueue.bytes,
      // Stop reading the socket: the kernel buffers fill and TCP flow control slows the server.
      pause: () => ws.pause(),
      resume: () => ws.resume(),
    });
    this.#closed = new Promise<void>((resolve) => {
      this.#markClosed = resolve;
    });
    ws.on('message', (data, isBinary) => {
      // After our close frame, data from the server is discarded (RFC 6455 section 1.4: the
      // closing endpoint will not read more data; the contract drops it).
      if (this.#localClose) return;
      const message: Message = isBinary
        ? { type: MessageType.Binary, data: toBuffer(data) }
        : { type: MessageType.Text, data: toBuffer(data).toString('utf8') };
      this.queue.push(message);
    });
    ws.on('pong', (data) => this.#onPong(data));
    // ws answers pings itself and terminates the socket, before emitting 'ping', once
    // maxPendingAutoPongs pongs wait unsent; a ping seen on a socket no longer open, that
    // nobody closed, is that termination: name it (the close is reported as 1006).
    ws.on('ping', () => {
      if (ws.readyState !== WebSocket.OPEN && this.state === 'open' && !this.#localClose) {
        this.#lastError ??= new PingFloodError(MAX_PENDING_PONGS);
      }
    });
    // Without a listener an 'error' event would be thrown; ws follows every error with 'close',
    // where the error becomes the close error's cause.
    ws.on('error', (error) => {
      this.#lastError ??= error;
    });
    ws.once('close', (code, reason) => this.#onClose(code, reason.toString('utf8')));
    socket?.on('drain', this.#wakeWriters);
  }

  get runtime(): WebSocket {
    return this.ws;
  }

  get #writable(): boolean {
    return this.state === 'open' && this.ws.readyState === WebSocket.OPEN;
  }

  /** The next message; after a local close, the close error once the close completed. */
  read(signal: AbortSignal | undefined): Promise<Message> {
    const local = this.#localClose;
    if (local && !this.queue.failed) {
      // Closing: unread messages are dropped, so nothing is returned any more.
      return raceSignal(
        this.#closed.then(() => Promise.reject(local)),
        signal,
      );
    }
    return this.queue.read(signal);
  }

  /** A queued message without waiting; none once a local close began (unread messages are dropped). */
  tryRead(): Message | undefined {
    return this.#localClose ? undefined : this.queue.tryRead();
  }

  /** Messages straight from ws's 'message' event to `listener`; refused once a local close began. */
  listen(listener: MessageListener | undefined): boolean {
    return listener !== undefined && this.#localClose ? false : this.queue.listen(listener);
  }

  /** Hands the message to ws at once when nothing waits and the socket has room. */
  tryWrite(type: MessageType, payload: string | Uint8Array): boolean {
    if (!this.#writable || this.#writes.length > 0 || this.ws.bufferedAmount > this.#writeHighWaterMark) return false;
    this.#send(payload, type === MessageType.Binary);
    return true;
  }

  write(type: MessageType, payload: string | Uint8Array, signal: AbortSignal | undefined): Promise<void> {
    if (this.tryWrite(type, payload)) return WRITTEN;
    if (!this.#writable) return Promise.reject(new ConnectionClosedError('Cannot write: the connection is closing'));
    const binary = type === MessageType.Binary;
    return new Promise<void>((resolve, reject) => {
      this.#writes.push({ payload, binary, resolve, reject, signal, onAbort: undefined });
      void this.#pump();
    });
  }

  #send(payload: string | Uint8Array, binary: boolean): void {
    // One callback for every send, not a closure each: Node's stream then runs the callbacks of
    // writes completed together in one tick, as it does for ws's own sends without a callback.
    // ws sends a string as text and bytes as binary by itself. Options only for text given as
    // bytes: ws copies them into a new object on every send (about 200 instructions).
    if (binary === (typeof payload === 'string')) this.ws.send(payload, binary ? BINARY : TEXT, this.#afterSend);
    else (this.ws.send as SendWithoutOptions)(payload, undefined, this.#afterSend);
  }

  readonly #afterSend = (error?: Error): void => {
    // A failed send is followed by 'close'; its error becomes the close error's cause.
    if (error) this.#lastError ??= error;
    this.#wakeWriters();
  };

  /** Hand queued writes to ws in call order, waiting while more than the high-water mark is buffered. */
  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#writes.length > 0 && this.#writable) {
        if (this.ws.bufferedAmount > this.#writeHighWaterMark) {
          await new Promise<void>((resolve) => this.#drainWaiters.push(resolve));
          continue;
        }
        const next = this.#writes.shift()!;
        this.#send(next.payload, next.binary);
        next.resolve();
      }
    } finally {
      this.#pumping = false;
    }
  }

  readonly #wakeWriters = (): void => {
    const waiters = this.#drainWaiters;
    if (waiters.length === 0) return;
    this.#drainWaiters = [];
    for (const wake of waiters) wake();
  };

  ping(signal: AbortSignal | undefined): Promise<void> {
    return this.#pings.add(signal, (id) => {
      // A payload no other ping carries: the connection's prefix and the ping's id.
      const payload = Buffer.alloc(PING_PAYLOAD_BYTES);
      this.#pingPrefix.copy(payload, 0);
      payload.writeUIntBE(id, 4, 6);
      this.ws.ping(payload, undefined, (error) => {
        if (error) this.#pings.reject(id, new ConnectionClosedError('The connection closed before the ping was sent', { cause: error }));
      });
    });
  }

  #onPong(data: Buffer): void {
    if (data.byteLength !== PING_PAYLOAD_BYTES || !data.subarray(0, 4).equals(this.#pingPrefix)) return;
    this.#pings.answer(data.readUIntBE(4, 6));
  }

  /**
   * Start the closing handshake (RFC 6455 section 7.1.2) and wait for it to finish, for at most
   * `closeTimeout` ms or until `signal` aborts; then terminate the TCP connection.
   */
  async close(code: number, reason: string, signal: AbortSignal | undefined): Promise<void> {
    if (this.state === 'open') {
      this.state = 'closing';
      // Pending reads reject when the close completes, just before close() resolves, so that a
      // caller awaiting close() can handle them then; messages arriving meanwhile are dropped.
      this.#localClose = new WebSocketCloseError(code, reason, { wasClean: true });
      this.#failPending(new ConnectionClosedError('The connection was closed'));
      // A paused socket would never read the server's close frame.
      this.ws.resume();
      this.ws.close(code, reason);
    }
    if (this.state === 'closed') return;
    if (!(await waitClosed(this.#closed, this.#closeTimeout, signal))) {
      this.ws.terminate();
      await this.#closed;
    }
  }

  /** A new dial replaces this connection: close it, waiting at most `closeTimeout` or until the dial is cancelled. */
  abandon(signal?: AbortSignal): Promise<void> {
    if (this.state === 'closed') return Promise.resolve();
    return this.close(1000, '', signal);
  }

  #failPending(error: ConnectionClosedError): void {
    this.#writes.fail(error);
    this.#pings.fail(error);
    this.#wakeWriters();
  }

  #onClose(received: number, reason: string): void {
    this.state = 'closed';
    const cause = this.#lastError;
    // ws reports 1005 for a close frame without a code and 1006 when none came (RFC 6455
    // section 7.1.5). When ws failed the connection itself (a message over maxPayload, invalid
    // UTF-8), the code it sent says more than 1006; the close is unclean either way.
    const failed = received === 1006 ? failureCode(cause) : undefined;
    const code = failed ?? received;
    if (this.#localClose) {
      // Closed by us: what was not read yet is dropped.
      this.queue.fail(this.#localClose, true);
    } else {
      // Closed by the server or lost: messages that arrived before stay readable.
      this.queue.fail(
        new WebSocketCloseError(code, reason, { wasClean: received !== 1006, ...(cause ? { cause } : {}) }),
      );
    }
    this.#failPending(new ConnectionClosedError(`The connection closed (${code})`, cause ? { cause } : undefined));
    this.#socket?.off('drain', this.#wakeWriters);
    this.#markClosed();
  }
}

/**
 * `WebSocketConnectionAdapter` over the `ws` package. Create it with {@link createWsAdapter}
 * or `new WsAdapter(options)`; one adapter holds at most one connection at a time.
 */
export class WsAdapter extends AdapterCore<WsConnection> {
  readonly #options: ResolvedOptions;

  constructor(options: WsAdapterOptions = {}) {
    const resolved = resolveOptions(options);
    super({ handshakeTimeout: resolved.handshakeTimeout, pingFrames: true });
    this.#options = resolved;
  }

  protected open(url: URL, options: DialOptions, signal: AbortSignal): Promise<OpenedConnection<WsConnection>> {
    const opts = this.#options;
    return new Promise((resolve, reject) => {
      let ws: WebSocket;
      try {
        const wsOptions: WebSocket.ClientOptions & { closeTimeout: number; maxPendingAutoPongs: number } = {
          perMessageDeflate: opts.perMessageDeflate,
          maxPayload: opts.maxPayload,
          followRedirects: opts.followRedirects,
          maxRedirects: opts.maxRedirects,
          autoPong: true,
          // ws's default (60) drops a connection on a burst of 61 pings in one read; the bound
          // is the one every adapter uses (see flood-error.ts).
          maxPendingAutoPongs: MAX_PENDING_PONGS,
          // ws copies these into the HTTP request; Node sends an array as repeated header lines.
          headers: (options.headers ?? {}) as Record<string, string>,
          // ws's own limit on a closing handshake, which also bounds one the server started.
          closeTimeout: opts.closeTimeout,
          ...(opts.tls as WebSocket.ClientOptions),
        };
        ws = new WebSocket(url, options.protocols ? [...options.protocols] : [], wsOptions);
      } catch (error) {
        // ws and node:http validate subprotocols and header names/values synchronously.
        reject(new InvalidArgumentError(`Invalid dial options: ${(error as Error).message}`));
        return;
      }
      let upgrade: { status: number; headers: Record<string, string>; socket: Duplex } | undefined;
      let settled = false;

      const settle = (): boolean => {
        if (settled) return false;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        // From here on the connection's own listeners (or none, after a failure) take over.
        ws.off('upgrade', onUpgrade);
        ws.off('open', onOpen);
        ws.off('unexpected-response', onUnexpectedResponse);
        ws.off('error', onError);
        ws.off('close', onClose);
        return true;
      };
      const fail = (error: unknown): void => {
        if (!settle()) return;
        // Keep an error listener: ws may still report the torn-down attempt.
        ws.on('error', () => {});
        ws.terminate();
        reject(error);
      };
      const onAbort = (): void => fail(signal.reason);

      const onUpgrade = (res: IncomingMessage): void => {
        upgrade = { status: res.statusCode ?? 101, headers: joinHeaders(res.rawHeaders), socket: res.socket };
      };
      const onOpen = (): void => {
        if (!settle()) return;
        const connection = new WsConnection(ws, upgrade?.socket, opts);
        const headers = upgrade?.headers ?? {};
        resolve({
          connection,
          response: {
            url: ws.url,
            status: upgrade?.status ?? 101,
            headers,
            protocol: ws.protocol,
            extensions: headers['sec-websocket-extensions'] ?? '',
          },
        });
      };
      // The server answered the upgrade request with something other than 101 (RFC 6455
      // section 4.1: "If the status code received from the server is not 101, the client
      // handles the response per HTTP procedures"): report it with its status, headers and body.
      const onUnexpectedResponse = (_req: ClientRequest, res: IncomingMessage): void => {
        const status = res.statusCode ?? 0;
        const headers = joinHeaders(res.rawHeaders);
        void readShortBody(res).then((body) => {
          const text = `${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}`;
          fail(
            new HandshakeError(`The server refused the WebSocket upgrade of ${url.href} with HTTP ${text}`, {
              status,
              headers,
              ...(body === undefined ? {} : { body }),
            }),
          );
        });
      };
      const onError = (error: Error): void => {
        fail(
          new HandshakeError(`The opening handshake with ${url.href} failed: ${error.message}`, {
            ...(upgrade ? { status: upgrade.status, headers: upgrade.headers } : {}),
            cause: error,
          }),
        );
      };
      const onClose = (): void => {
        fail(new HandshakeError(`The connection to ${url.href} closed before the opening handshake completed`));
      };

      signal.addEventListener('abort', onAbort, { once: true });
      ws.on('upgrade', onUpgrade);
      ws.on('open', onOpen);
      ws.on('unexpected-response', onUnexpectedResponse);
      ws.on('error', onError);
      ws.on('close', onClose);
    });
  }

  /** The `ws` WebSocket while a connection is open or closing; otherwise `undefined`. */
  override underlying(): WebSocket | undefined {
    return super.underlying() as WebSocket | undefined;
  }
}

/** Create a `ws` adapter; options are checked here (see {@link WsAdapterOptions} for the defaults). */
export function createWsAdapter(options: WsAdapterOptions = {}): WsAdapter {
  return new WsAdapter(options);
}
