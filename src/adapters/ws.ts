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
import { randomBytes } from 'node:crypto';
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import WebSocket, { type PerMessageDeflateOptions } from 'ws';
import {
  ConnectionClosedError,
  HandshakeError,
  InvalidArgumentError,
  InvalidStateError,
  TimeoutError,
  WebSocketCloseError,
} from './errors.js';
import { MAX_PENDING_PONGS, PingFloodError } from './flood-error.js';
import { ReadQueue } from './read-queue.js';
import { abortReason, raceSignal } from './signals.js';
import type { StatusCode } from './status-codes.js';
import {
  MessageType,
  type DialOptions,
  type HandshakeResponse,
  type Message,
  type OperationOptions,
  type WebSocketConnectionAdapter,
  type WriteData,
} from './types.js';
import { normalizeWriteData, parseWebSocketUrl, validateClose } from './validation.js';

/** TLS material and checks, passed to `ws` (and from it to `tls.connect`) for `wss:` URLs. */
export type TlsValue = string | Buffer | Array<string | Buffer>;

/** Options of the `ws` adapter. Every option is checked when the adapter is created. */
export interface WsAdapterOptions {
  /**
   * Milliseconds the whole opening handshake may take: TCP connect, TLS, HTTP upgrade. When it
   * runs out, `dial` rejects with `TimeoutError` and the attempt is torn down. Default 30000.
   */
  readonly handshakeTimeout?: number;
  /**
   * Milliseconds `close` waits for the server's close frame (and the end of the TCP connection)
   * after sending ours, before it terminates the socket (RFC 6455 section 7.1.1 lets the client
   * wait for the server to close TCP first). Default 5000.
   */
  readonly closeTimeout?: number;
  /**
   * Largest message accepted, in bytes; a bigger one closes the connection with 1009. `0` means
   * no limit. Default 104857600 (100 MiB, as `ws`).
   */
  readonly maxPayload?: number;
  /**
   * Offer permessage-deflate (RFC 7692): `true`, or `ws`'s `PerMessageDeflateOptions`.
   * Default false: market feeds are latency-bound, and compression costs CPU on both ends.
   */
  readonly perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** Trusted CA certificates (PEM) for `wss:`; default: Node's bundled roots. */
  readonly ca?: TlsValue;
  /** Client certificate chain (PEM) for mutual TLS; default none. */
  readonly cert?: TlsValue;
  /** Private key (PEM) of the client certificate; default none. */
  readonly key?: TlsValue;
  /** Verify the server's certificate. Default true; turn off only for tests. */
  readonly rejectUnauthorized?: boolean;
  /** TLS server name (SNI) and the name the certificate is checked against. Default: the URL's host. */
  readonly servername?: string;
  /**
   * High-water marks of the inbound queue: past either one the socket is paused (TCP flow
   * control then slows the server) until readers drain the queue to half of both.
   * Defaults: 256 messages, 4 MiB.
   */
  readonly readQueue?: {
    readonly highWaterMessages?: number;
    readonly highWaterBytes?: number;
  };
  /**
   * Bytes buffered for sending (`ws`'s `bufferedAmount`) above which `write` waits for the
   * socket to drain before it hands over the next message. Default 1048576 (1 MiB).
   */
  readonly writeHighWaterMark?: number;
  /** Follow HTTP redirects during the opening handshake (at most 10). Default false. */
  readonly followRedirects?: boolean;
}

interface ResolvedOptions {
  readonly handshakeTimeout: number;
  readonly closeTimeout: number;
  readonly maxPayload: number;
  readonly perMessageDeflate: boolean | PerMessageDeflateOptions;
  readonly tls: {
    ca?: TlsValue;
    cert?: TlsValue;
    key?: TlsValue;
    rejectUnauthorized?: boolean;
    servername?: string;
  };
  readonly highWaterMessages: number;
  readonly highWaterBytes: number;
  readonly writeHighWaterMark: number;
  readonly followRedirects: boolean;
}

/** At most this much of a refusal's body is kept for `HandshakeError.body`. */
const REFUSAL_BODY_LIMIT = 4096;
/** A refusal whose body does not end within this many ms is reported with what arrived. */
const REFUSAL_BODY_WAIT_MS = 1000;

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  return typeof value;
}

function checkNumber(name: string, value: unknown, fallback: number, min: number, integer: boolean): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    const what = integer ? 'an integer' : 'a finite number';
    throw new InvalidArgumentError(`Invalid option ${name}: expected ${what} >= ${min}, got ${describe(value)}`);
  }
  return value;
}

function checkBoolean(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') {
    throw new InvalidArgumentError(`Invalid option ${name}: expected a boolean, got ${describe(value)}`);
  }
  return value;
}

function checkTls(name: string, value: unknown): TlsValue | undefined {
  if (value === undefined) return undefined;
  const ok = (v: unknown): boolean => typeof v === 'string' || Buffer.isBuffer(v);
  if (ok(value) || (Array.isArray(value) && value.every(ok))) return value as TlsValue;
  throw new InvalidArgumentError(
    `Invalid option ${name}: expected a PEM string, a Buffer, or an array of them, got ${describe(value)}`,
  );
}

function resolveOptions(options: WsAdapterOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError(`Invalid ws adapter options: expected an object, got ${describe(options)}`);
  }
  const deflate = options.perMessageDeflate;
  if (deflate !== undefined && typeof deflate !== 'boolean' && (deflate === null || typeof deflate !== 'object')) {
    throw new InvalidArgumentError(
      `Invalid option perMessageDeflate: expected a boolean or an options object, got ${describe(deflate)}`,
    );
  }
  if (options.servername !== undefined && typeof options.servername !== 'string') {
    throw new InvalidArgumentError(`Invalid option servername: expected a string, got ${describe(options.servername)}`);
  }
  const readQueue = options.readQueue ?? {};
  if (readQueue === null || typeof readQueue !== 'object') {
    throw new InvalidArgumentError(`Invalid option readQueue: expected an object, got ${describe(readQueue)}`);
  }
  const tls: ResolvedOptions['tls'] = {};
  const ca = checkTls('ca', options.ca);
  const cert = checkTls('cert', options.cert);
  const key = checkTls('key', options.key);
  if (ca !== undefined) tls.ca = ca;
  if (cert !== undefined) tls.cert = cert;
  if (key !== undefined) tls.key = key;
  if (options.rejectUnauthorized !== undefined) {
    tls.rejectUnauthorized = checkBoolean('rejectUnauthorized', options.rejectUnauthorized, true);
  }
  if (options.servername !== undefined) tls.servername = options.servername;
  return {
    handshakeTimeout: checkNumber('handshakeTimeout', options.handshakeTimeout, 30_000, 1, false),
    closeTimeout: checkNumber('closeTimeout', options.closeTimeout, 5_000, 0, false),
    maxPayload: checkNumber('maxPayload', options.maxPayload, 100 * 1024 * 1024, 0, true),
    perMessageDeflate: deflate ?? false,
    tls,
    highWaterMessages: checkNumber('readQueue.highWaterMessages', readQueue.highWaterMessages, 256, 1, true),
    highWaterBytes: checkNumber('readQueue.highWaterBytes', readQueue.highWaterBytes, 4 * 1024 * 1024, 1, true),
    writeHighWaterMark: checkNumber('writeHighWaterMark', options.writeHighWaterMark, 1024 * 1024, 0, true),
    followRedirects: checkBoolean('followRedirects', options.followRedirects, false),
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

function toBuffer(data: WebSocket.RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** Read at most REFUSAL_BODY_LIMIT bytes of a refusal's body, without waiting long for its end. */
function readShortBody(res: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      res.off('data', onData);
      const body = Buffer.concat(chunks).subarray(0, REFUSAL_BODY_LIMIT);
      resolve(body.byteLength > 0 ? body.toString('utf8') : undefined);
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.byteLength;
      if (size >= REFUSAL_BODY_LIMIT) finish();
    };
    const timer = setTimeout(finish, REFUSAL_BODY_WAIT_MS);
    res.on('data', onData);
    res.once('end', finish);
    res.once('close', finish);
    res.once('error', finish);
  });
}

interface PendingWrite {
  readonly payload: string | Uint8Array;
  readonly binary: boolean;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

interface PendingPing {
  readonly seq: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

type ConnectionState = 'connecting' | 'open' | 'closing' | 'closed';

/** One `ws` instance and everything the adapter keeps for it. A new one for every dial. */
class WsConnection {
  readonly ws: WebSocket;
  readonly queue: ReadQueue;
  state: ConnectionState = 'connecting';
  readonly #writeHighWaterMark: number;
  #socket: Duplex | undefined;
  readonly #writes: PendingWrite[] = [];
  #pumping = false;
  #drainWaiters: Array<() => void> = [];
  readonly #pings = new Map<string, PendingPing>();
  readonly #pingPrefix = randomBytes(4);
  #pingSeq = 0;
  #lastError: Error | undefined;
  /** What reads reject with after a local close; set when close() starts. */
  #localClose: WebSocketCloseError | undefined;
  readonly #closed: Promise<void>;
  #markClosed!: () => void;

  constructor(ws: WebSocket, options: ResolvedOptions) {
    this.ws = ws;
    this.#writeHighWaterMark = options.writeHighWaterMark;
    this.queue = new ReadQueue({
      highWaterMessages: options.highWaterMessages,
      highWaterBytes: options.highWaterBytes,
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
  }

  /** The handshake completed on `socket`. */
  opened(socket: Duplex | undefined): void {
    this.state = 'open';
    this.#socket = socket;
    socket?.on('drain', this.#wakeWriters);
  }

  get isOpen(): boolean {
    return this.state === 'open' && this.ws.readyState === WebSocket.OPEN;
  }

  /** Resolves once `ws` emitted 'close'. */
  get closed(): Promise<void> {
    return this.#closed;
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

  write(payload: string | Uint8Array, binary: boolean, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const entry: PendingWrite = { payload, binary, resolve, reject, signal, onAbort: undefined };
      if (signal) {
        // Aborted before it was handed to ws: take it out of the queue, so it is never sent.
        entry.onAbort = () => {
          const index = this.#writes.indexOf(entry);
          if (index >= 0) this.#writes.splice(index, 1);
          reject(abortReason(signal));
        };
        signal.addEventListener('abort', entry.onAbort, { once: true });
      }
      this.#writes.push(entry);
      void this.#pump();
    });
  }

  /**
   * Hand queued writes to ws in call order. A write waits while more than the high-water mark
   * is buffered; the fast path runs synchronously, so a write resolves in the tick it was made.
   */
  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#writes.length > 0 && this.isOpen) {
        if (this.ws.bufferedAmount > this.#writeHighWaterMark) {
          await new Promise<void>((resolve) => this.#drainWaiters.push(resolve));
          continue;
        }
        const entry = this.#writes.shift()!;
        if (entry.signal && entry.onAbort) entry.signal.removeEventListener('abort', entry.onAbort);
        this.ws.send(entry.payload, { binary: entry.binary }, (error) => {
          // A failed send is followed by 'close'; its error becomes the close error's cause.
          if (error) this.#lastError ??= error;
          this.#wakeWriters();
        });
        entry.resolve();
      }
    } finally {
      this.#pumping = false;
    }
  }

  readonly #wakeWriters = (): void => {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const wake of waiters) wake();
  };

  ping(signal: AbortSignal | undefined): Promise<void> {
    const seq = ++this.#pingSeq;
    // A payload no other ping of this connection carries (RFC 6455 section 5.5.3: the pong
    // echoes the ping's application data), so a stray or late pong cannot be mistaken for it.
    const payload = Buffer.alloc(12);
    this.#pingPrefix.copy(payload, 0);
    payload.writeUIntBE(seq, 4, 6);
    const key = payload.toString('hex');
    const pong = new Promise<void>((resolve, reject) => {
      this.#pings.set(key, { seq, resolve, reject });
    });
    this.ws.ping(payload, undefined, (error) => {
      const pending = this.#pings.get(key);
      if (error && pending) {
        this.#pings.delete(key);
        pending.reject(new ConnectionClosedError('The connection closed before the ping was sent', { cause: error }));
      }
    });
    return raceSignal(pong, signal, () => this.#pings.delete(key));
  }

  #onPong(data: Buffer): void {
    const answered = this.#pings.get(data.toString('hex'));
    if (!answered) return;
    // RFC 6455 section 5.5.3: a peer may answer only the most recent of several pings, so a
    // pong for ping N also answers every ping sent before it.
    for (const [key, pending] of this.#pings) {
      if (pending.seq > answered.seq) continue;
      this.#pings.delete(key);
      pending.resolve();
    }
  }

  /**
   * Start the closing handshake (RFC 6455 section 7.1.2) and wait for it to finish, for at most
   * `timeout` ms or until `signal` aborts; then terminate the TCP connection.
   */
  async close(code: number, reason: string, signal: AbortSignal | undefined, timeout: number): Promise<void> {
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
    await this.#waitClosed(signal, timeout);
  }

  /** Tear down at once, without a closing handshake. */
  terminate(): void {
    if (this.state === 'closed') return;
    if (this.state === 'open') this.state = 'closing';
    this.ws.terminate();
  }

  async #waitClosed(signal: AbortSignal | undefined, timeout: number): Promise<void> {
    if (this.state === 'closed') return;
    if (!signal?.aborted) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      let onAbort: (() => void) | undefined;
      const cutShort = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeout);
        onAbort = resolve;
        signal?.addEventListener('abort', onAbort, { once: true });
      });
      await Promise.race([this.#closed, cutShort]);
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
    // The state changes in the 'close' listener, while this method awaited.
    if ((this.state as ConnectionState) !== 'closed') {
      this.ws.terminate();
      await this.#closed;
    }
  }

  #failPending(error: ConnectionClosedError): void {
    for (const entry of this.#writes.splice(0)) {
      if (entry.signal && entry.onAbort) entry.signal.removeEventListener('abort', entry.onAbort);
      entry.reject(error);
    }
    for (const pending of this.#pings.values()) pending.reject(error);
    this.#pings.clear();
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
export class WsAdapter implements WebSocketConnectionAdapter {
  readonly #options: ResolvedOptions;
  #connection: WsConnection | undefined;
  #dial: { cancel: AbortController; done: Promise<unknown> } | undefined;

  constructor(options: WsAdapterOptions = {}) {
    this.#options = resolveOptions(options);
  }

  dial(url: string | URL, options: DialOptions = {}): Promise<HandshakeResponse> {
    if (this.#dial) {
      return Promise.reject(new InvalidStateError('dial() was called while another dial is in progress'));
    }
    let parsed: URL;
    try {
      parsed = parseWebSocketUrl(url);
    } catch (error) {
      return Promise.reject(error);
    }
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const cancel = new AbortController();
    const combined = signal ? AbortSignal.any([signal, cancel.signal]) : cancel.signal;
    const done = this.#runDial(parsed, options, combined);
    const dial = { cancel, done };
    this.#dial = dial;
    const clear = (): void => {
      if (this.#dial === dial) this.#dial = undefined;
    };
    done.then(clear, clear);
    return done;
  }

  async #runDial(url: URL, options: DialOptions, signal: AbortSignal): Promise<HandshakeResponse> {
    const previous = this.#connection;
    this.#connection = undefined;
    if (previous) {
      // The contract: close and drop the previous connection before opening the next one.
      await previous.close(1000, '', signal, this.#options.closeTimeout);
    }
    if (signal.aborted) throw abortReason(signal);
    const { connection, response } = await this.#open(url, options, signal);
    this.#connection = connection;
    return response;
  }

  #open(
    url: URL,
    options: DialOptions,
    signal: AbortSignal,
  ): Promise<{ connection: WsConnection; response: HandshakeResponse }> {
    const opts = this.#options;
    return new Promise((resolve, reject) => {
      let ws: WebSocket;
      try {
        const wsOptions: WebSocket.ClientOptions & { closeTimeout: number; maxPendingAutoPongs: number } = {
          perMessageDeflate: opts.perMessageDeflate,
          maxPayload: opts.maxPayload,
          followRedirects: opts.followRedirects,
          autoPong: true,
          // ws's default (60) drops a connection on a burst of 61 pings in one read; the bound
          // is the one every adapter uses (see flood-error.ts).
          maxPendingAutoPongs: MAX_PENDING_PONGS,
          // ws copies these into the HTTP request; Node sends an array as repeated header lines.
          headers: (options.headers ?? {}) as Record<string, string>,
          // ws's own limit on a closing handshake, which also bounds one the server started.
          closeTimeout: opts.closeTimeout,
          ...opts.tls,
        };
        ws = new WebSocket(url, options.protocols ? [...options.protocols] : [], wsOptions);
      } catch (error) {
        // ws and node:http validate subprotocols and header names/values synchronously.
        reject(new InvalidArgumentError(`Invalid dial options: ${(error as Error).message}`));
        return;
      }
      const connection = new WsConnection(ws, opts);
      let upgrade: { status: number; headers: Record<string, string>; socket: Duplex } | undefined;
      let settled = false;

      const settle = (): boolean => {
        if (settled) return false;
        settled = true;
        clearTimeout(timer);
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
        connection.terminate();
        reject(error);
      };
      const onAbort = (): void => fail(abortReason(signal));
      const timer = setTimeout(
        () => fail(new TimeoutError(`The opening handshake with ${url.href} did not complete within ${opts.handshakeTimeout} ms`)),
        opts.handshakeTimeout,
      );

      const onUpgrade = (res: IncomingMessage): void => {
        upgrade = { status: res.statusCode ?? 101, headers: joinHeaders(res.rawHeaders), socket: res.socket };
      };
      const onOpen = (): void => {
        if (!settle()) return;
        connection.opened(upgrade?.socket);
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

  close(code: StatusCode = 1000, reason = '', options: OperationOptions = {}): Promise<void> {
    try {
      validateClose(code, reason);
    } catch (error) {
      return Promise.reject(error);
    }
    const dial = this.#dial;
    if (dial) {
      // Closing while dialling cancels the dial; it rejects with ConnectionClosedError.
      dial.cancel.abort(new ConnectionClosedError('close() was called while dialling'));
      return dial.done.then(
        () => this.#closeConnection(code, reason, options.signal),
        () => undefined,
      );
    }
    return this.#closeConnection(code, reason, options.signal);
  }

  #closeConnection(code: number, reason: string, signal: AbortSignal | undefined): Promise<void> {
    const connection = this.#connection;
    if (!connection || !connection.isOpen) {
      return Promise.reject(new ConnectionClosedError('close() was called on a connection that is not open'));
    }
    return connection.close(code, reason, signal, this.#options.closeTimeout);
  }

  ping(options: OperationOptions = {}): Promise<void> {
    const connection = this.#connection;
    if (!connection || !connection.isOpen) {
      return Promise.reject(new ConnectionClosedError('ping() was called on a connection that is not open'));
    }
    if (options.signal?.aborted) return Promise.reject(abortReason(options.signal));
    return connection.ping(options.signal);
  }

  read(options: OperationOptions = {}): Promise<Message> {
    const connection = this.#connection;
    if (!connection) return Promise.reject(new ConnectionClosedError('read() was called before a connection was opened'));
    return connection.read(options.signal);
  }

  tryRead(): Message | undefined {
    return this.#connection?.tryRead();
  }

  write(type: MessageType, data: WriteData, options: OperationOptions = {}): Promise<void> {
    let payload: string | Uint8Array;
    try {
      payload = normalizeWriteData(type, data);
    } catch (error) {
      return Promise.reject(error);
    }
    const connection = this.#connection;
    if (!connection || !connection.isOpen) {
      return Promise.reject(new ConnectionClosedError('write() was called on a connection that is not open'));
    }
    if (options.signal?.aborted) return Promise.reject(abortReason(options.signal));
    return connection.write(payload, type === MessageType.Binary, options.signal);
  }

  /** The `ws` WebSocket while a connection is open or closing; otherwise `undefined`. */
  underlying(): WebSocket | undefined {
    const connection = this.#connection;
    if (!connection || connection.state === 'closed' || connection.state === 'connecting') return undefined;
    return connection.ws;
  }
}

/** Create a `ws` adapter; options are checked here (see {@link WsAdapterOptions} for the defaults). */
export function createWsAdapter(options: WsAdapterOptions = {}): WsAdapter {
  return new WsAdapter(options);
}
