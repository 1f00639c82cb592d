/**
 * The browser adapter: wsengine over any WHATWG `WebSocket` constructor — the browser's own,
 * Deno's, Bun's, or undici's on Node.
 *
 * The WHATWG API (https://websockets.spec.whatwg.org/) is smaller than the adapter contract,
 * and this adapter documents exactly where it falls short (see docs/browser.md):
 *
 * - `dial` cannot send request headers and cannot see the handshake's HTTP status or headers;
 *   a refused upgrade, a network error and a TLS failure all look the same ("error" then
 *   "close" before "open"), so they reject with a {@link HandshakeError} whose status is unknown.
 * - `close` may only send 1000 and 3000-4999 (WHATWG `close()` step 1 throws otherwise); the
 *   other sendable codes of RFC 6455 section 7.4.1 are mapped (option `closeCodeMapping`).
 * - `ping` is impossible: the API has no ping frames. It rejects with
 *   {@link UnsupportedOperationError}, and the engine falls back to an application heartbeat.
 * - `write` has no drain event to wait on: it polls `bufferedAmount` with a timer while it is
 *   above the high-water mark.
 * - Reading cannot be paused: the inbound queue is bounded by failing the connection when it
 *   overflows (option `readQueue.overflow`).
 *
 * This module is browser-safe: it imports nothing from `node:`, `ws` or undici.
 */
import {
  ConnectionClosedError,
  HandshakeError,
  InvalidArgumentError,
  InvalidStateError,
  UnsupportedOperationError,
  WebSocketCloseError,
} from './errors.js';
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

/** The part of a WHATWG `WebSocket` this adapter uses. */
export interface WhatwgWebSocket {
  readonly url: string;
  readonly protocol: string;
  readonly extensions: string;
  readonly readyState: number;
  readonly bufferedAmount: number;
  binaryType: string;
  send(data: string | ArrayBufferView | ArrayBuffer): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: { handleEvent(event: Event): void }): void;
  removeEventListener(type: string, listener: { handleEvent(event: Event): void }): void;
}

/** A WHATWG `WebSocket` constructor: `globalThis.WebSocket`, or undici's `WebSocket` on Node. */
export type WhatwgWebSocketConstructor = new (url: string, protocols?: string | string[]) => WhatwgWebSocket;

/**
 * What `close` sends for a code a WHATWG WebSocket refuses to send (1001-1003 and 1007-1014):
 * - `'offset'`: 4000 + (code - 1000), so 1001 becomes 4001 and 1011 becomes 4011. The server
 *   can recover the meaning; the codes share the private range 4000-4999 with the application.
 * - `'normal'`: 1000; the reason string is kept either way.
 * - a function from the requested code to the code to send (must return 1000 or 3000-4999).
 */
export type CloseCodeMapping = 'offset' | 'normal' | ((code: number) => number);

export interface BrowserReadQueueOptions {
  /** Unread messages at which the queue overflows. Default 256. */
  readonly highWaterMessages?: number;
  /** Unread payload bytes (UTF-16 units for text) at which the queue overflows. Default 4 MiB. */
  readonly highWaterBytes?: number;
  /**
   * What an overflow does. A WHATWG WebSocket cannot stop reading from its socket, so the queue
   * cannot push back on the server. `'close'` (default) closes the connection with 1009
   * (MessageTooBig, sent as mapped by `closeCodeMapping`): readers get the messages already
   * queued, then a `WebSocketCloseError` with code 1009. `'buffer'` keeps queueing without bound.
   */
  readonly overflow?: 'close' | 'buffer';
}

export interface BrowserAdapterOptions {
  /** The WebSocket constructor. Default: `globalThis.WebSocket` (required where there is none, e.g. Node 20). */
  readonly WebSocket?: WhatwgWebSocketConstructor;
  /** `write` waits while `bufferedAmount` is above this many bytes before sending. Default 1 MiB. */
  readonly writeHighWaterMark?: number;
  /** How often, in ms, a waiting `write` polls `bufferedAmount` (WHATWG has no drain event). Default 10. */
  readonly drainPollInterval?: number;
  /** How long, in ms, `close` waits for the closing handshake (the "close" event) before resolving. Default 5000. */
  readonly closeTimeout?: number;
  /** Bounds of the inbound queue and what happens when they are crossed. */
  readonly readQueue?: BrowserReadQueueOptions;
  /** How `close` maps codes a WHATWG WebSocket may not send. Default `'offset'` (1001 -> 4001). */
  readonly closeCodeMapping?: CloseCodeMapping;
  /**
   * What `dial` does when asked to send request headers, which a WHATWG WebSocket cannot:
   * `'reject'` (default) rejects with `UnsupportedOperationError`, so that credentials are never
   * dropped silently; `'ignore'` dials without them (for options shared with Node adapters).
   */
  readonly requestHeaders?: 'reject' | 'ignore';
}

interface ResolvedOptions {
  readonly WebSocket: WhatwgWebSocketConstructor;
  readonly writeHighWaterMark: number;
  readonly drainPollInterval: number;
  readonly closeTimeout: number;
  readonly highWaterMessages: number;
  readonly highWaterBytes: number;
  readonly overflow: 'close' | 'buffer';
  readonly closeCodeMapping: CloseCodeMapping;
  readonly requestHeaders: 'reject' | 'ignore';
}

function integerOption(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new InvalidArgumentError(`Option ${name} must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}

function oneOf<T extends string>(name: string, value: T | undefined, allowed: readonly T[]): T {
  if (value === undefined) return allowed[0]!;
  if (!allowed.includes(value)) {
    throw new InvalidArgumentError(`Option ${name} must be ${allowed.map((a) => `'${a}'`).join(' or ')}, got ${String(value)}`);
  }
  return value;
}

function resolveOptions(options: BrowserAdapterOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError(`Invalid browser adapter options: expected an object, got ${options === null ? 'null' : typeof options}`);
  }
  const WebSocketCtor =
    options.WebSocket ?? (globalThis as { WebSocket?: WhatwgWebSocketConstructor }).WebSocket;
  if (typeof WebSocketCtor !== 'function') {
    throw new InvalidArgumentError(
      'Option WebSocket must be a WHATWG WebSocket constructor; none was given and globalThis.WebSocket is undefined',
    );
  }
  const mapping = options.closeCodeMapping ?? 'offset';
  if (typeof mapping !== 'function' && mapping !== 'offset' && mapping !== 'normal') {
    throw new InvalidArgumentError(`Option closeCodeMapping must be 'offset', 'normal' or a function, got ${String(mapping)}`);
  }
  const queue = options.readQueue ?? {};
  return {
    WebSocket: WebSocketCtor,
    writeHighWaterMark: integerOption('writeHighWaterMark', options.writeHighWaterMark, 1024 * 1024, 0),
    drainPollInterval: integerOption('drainPollInterval', options.drainPollInterval, 10, 1),
    closeTimeout: integerOption('closeTimeout', options.closeTimeout, 5000, 0),
    highWaterMessages: integerOption('readQueue.highWaterMessages', queue.highWaterMessages, 256, 1),
    highWaterBytes: integerOption('readQueue.highWaterBytes', queue.highWaterBytes, 4 * 1024 * 1024, 1),
    overflow: oneOf('readQueue.overflow', queue.overflow, ['close', 'buffer']),
    closeCodeMapping: mapping,
    requestHeaders: oneOf('requestHeaders', options.requestHeaders, ['reject', 'ignore']),
  };
}

/** Whether a WHATWG WebSocket may send `code` (WHATWG `close()` step 1). */
export function isBrowserSendableCode(code: number): boolean {
  return code === 1000 || (Number.isInteger(code) && code >= 3000 && code <= 4999);
}

/**
 * The code actually sent for a requested (already validated) code. Throws
 * `InvalidArgumentError` when a mapping function returns a code the browser would refuse.
 */
export function mapCloseCode(code: number, mapping: CloseCodeMapping = 'offset'): number {
  if (isBrowserSendableCode(code)) return code;
  const mapped = mapping === 'offset' ? code + 3000 : mapping === 'normal' ? 1000 : mapping(code);
  if (!isBrowserSendableCode(mapped)) {
    throw new InvalidArgumentError(
      `Option closeCodeMapping mapped close code ${code} to ${String(mapped)}; a WHATWG WebSocket can only send 1000 or 3000-4999`,
    );
  }
  return mapped;
}

/** WHATWG `readyState` OPEN. */
const OPEN = 1;

const textDecoder = new TextDecoder();

function isArrayBuffer(value: unknown): value is ArrayBuffer {
  // Tag check rather than instanceof: the buffer may come from another realm.
  return Object.prototype.toString.call(value) === '[object ArrayBuffer]';
}

interface PendingWrite {
  readonly data: string | Uint8Array;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

type ConnectionState = 'connecting' | 'open' | 'closing' | 'closed';

/** One WHATWG socket and everything that belongs to it; replaced on every dial. */
class BrowserConnection {
  readonly socket: WhatwgWebSocket;
  readonly queue: ReadQueue;
  state: ConnectionState = 'connecting';
  /** Settles on "open" (resolve) or on a failure before it (reject). */
  readonly opened: Promise<HandshakeResponse>;
  /** Resolves on the socket's "close" event. */
  readonly closed: Promise<void>;
  readonly #options: ResolvedOptions;
  readonly #url: string;
  #resolveOpened!: (answer: HandshakeResponse) => void;
  #rejectOpened!: (error: unknown) => void;
  #openSettled = false;
  #resolveClosed!: () => void;
  readonly #writes: PendingWrite[] = [];
  /** The error pending reads get once a local close() finishes (see finishClose). */
  #deferredError: WebSocketCloseError | undefined;
  #pollTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(socket: WhatwgWebSocket, url: string, options: ResolvedOptions) {
    this.socket = socket;
    this.#url = url;
    this.#options = options;
    this.opened = new Promise((resolve, reject) => {
      this.#resolveOpened = resolve;
      this.#rejectOpened = reject;
    });
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.queue = new ReadQueue({
      highWaterMessages: options.highWaterMessages,
      highWaterBytes: options.highWaterBytes,
      // Called by the queue when it crosses a mark; there is no way to pause a WHATWG socket.
      pause: options.overflow === 'close' ? () => this.#overflow() : undefined,
    });
    // ArrayBuffer, not Blob: a Blob can only be read asynchronously, which would reorder messages.
    socket.binaryType = 'arraybuffer';
    for (const type of ['open', 'message', 'error', 'close']) socket.addEventListener(type, this);
  }

  handleEvent(event: Event): void {
    switch (event.type) {
      case 'open':
        if (this.state !== 'connecting') return;
        this.state = 'open';
        this.#openSettled = true;
        this.#resolveOpened({
          url: this.socket.url,
          status: undefined,
          headers: {},
          protocol: this.socket.protocol,
          extensions: this.socket.extensions,
        });
        return;
      case 'message':
        this.#onMessage((event as MessageEvent).data);
        return;
      case 'error':
        // WHATWG fires "error" before "close" for a failed connection and gives no detail;
        // before "open" it means the handshake failed.
        if (this.state === 'connecting') this.#failOpen();
        return;
      case 'close': {
        const { code, reason } = event as CloseEvent;
        this.#onClose(code, reason);
        return;
      }
    }
  }

  #failOpen(code?: number): void {
    if (this.#openSettled) return;
    this.#openSettled = true;
    this.state = 'closing';
    this.#rejectOpened(
      new HandshakeError(
        `The WebSocket handshake with ${this.#url} failed${code === undefined ? '' : ` (close code ${code})`}; ` +
          'a WHATWG WebSocket does not tell a refused upgrade from a network or TLS error',
      ),
    );
  }

  #onMessage(data: unknown): void {
    if (this.state !== 'open') return;
    let message: Message;
    if (typeof data === 'string') message = { type: MessageType.Text, data };
    else if (isArrayBuffer(data)) message = { type: MessageType.Binary, data: new Uint8Array(data) };
    else if (ArrayBuffer.isView(data)) {
      message = { type: MessageType.Binary, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
    } else {
      // Someone switched binaryType to "blob" through underlying(): we cannot keep order.
      this.close(1003, 'binaryType must stay arraybuffer', new WebSocketCloseError(1003, 'binaryType must stay arraybuffer'), false);
      return;
    }
    this.queue.push(message);
  }

  #overflow(): void {
    if (this.state !== 'open') return;
    const reason = 'read queue overflow';
    // Keep what is queued: readers get it, then the close error.
    this.close(1009, reason, new WebSocketCloseError(1009, reason), false);
  }

  #onClose(code: number, reason: string): void {
    this.#failOpen(code);
    this.state = 'closed';
    this.#stopPolling();
    // The close event's code is 1006 when no close frame was received (RFC 6455 section 7.1.5),
    // 1005 when the frame had no code; WebSocketCloseError derives wasClean from it.
    if (!this.#deferredError) this.queue.fail(new WebSocketCloseError(code, reason));
    this.#rejectWrites(new ConnectionClosedError(`The connection closed with ${code}`));
    for (const type of ['open', 'message', 'error', 'close']) this.socket.removeEventListener(type, this);
    this.#resolveClosed();
  }

  /**
   * Start the closing handshake: pending writes fail, pending reads get `error` (queued
   * messages are dropped when `drop`), and the socket is asked to close with the mapped code.
   * With `defer`, reads fail only at {@link finishClose}: a caller of `close()` that left a read
   * pending then gets its rejection in the same turn as close() settling.
   */
  close(code: number, reason: string, error: WebSocketCloseError, drop: boolean, defer = false): void {
    if (this.state === 'connecting') {
      // WHATWG close() before "open" fails the connection ("error" then "close" follow).
      this.state = 'closing';
      this.#openSettled = true;
      this.#rejectOpened(new ConnectionClosedError(`The dial of ${this.#url} was abandoned`));
      this.socket.close();
      return;
    }
    if (this.state !== 'open') return;
    this.state = 'closing';
    this.#stopPolling();
    this.#rejectWrites(new ConnectionClosedError('The connection is closing'));
    if (defer) this.#deferredError = error;
    else this.queue.fail(error, drop);
    let wire = 1000;
    try {
      wire = mapCloseCode(code, this.#options.closeCodeMapping);
    } catch {
      // Only the adapter's own closes (overflow, Blob) get here: close() checked the mapping
      // before; a mapping function that refuses their code gets a normal closure instead.
    }
    this.socket.close(wire, reason);
  }

  /** End a deferred local close: pending reads reject, queued messages are dropped. */
  finishClose(): void {
    if (this.#deferredError) this.queue.fail(this.#deferredError, true);
  }

  write(data: string | Uint8Array, signal: AbortSignal | undefined): Promise<void> {
    if (this.#writes.length === 0 && this.socket.bufferedAmount <= this.#options.writeHighWaterMark) {
      return this.#send(data);
    }
    return new Promise<void>((resolve, reject) => {
      const pending: PendingWrite = { data, resolve, reject, signal, onAbort: undefined };
      if (signal) {
        pending.onAbort = () => {
          const index = this.#writes.indexOf(pending);
          if (index >= 0) this.#writes.splice(index, 1);
          if (this.#writes.length === 0) this.#stopPolling();
          reject(abortReason(signal));
        };
        signal.addEventListener('abort', pending.onAbort, { once: true });
      }
      this.#writes.push(pending);
      this.#poll();
    });
  }

  #send(data: string | Uint8Array): Promise<void> {
    // In CLOSING, WHATWG send() discards the data without an error; say so instead.
    if (this.socket.readyState !== OPEN) return Promise.reject(new ConnectionClosedError('The connection is closing'));
    try {
      this.socket.send(data);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(new ConnectionClosedError('The WebSocket refused the message', { cause: error }));
    }
  }

  // WHATWG WebSocket has no drain event (its bufferedAmount only ever goes down silently),
  // so a waiting write checks it on a timer.
  #poll(): void {
    if (this.#pollTimer !== undefined) return;
    this.#pollTimer = setTimeout(() => {
      this.#pollTimer = undefined;
      this.#flush();
    }, this.#options.drainPollInterval);
  }

  #flush(): void {
    while (this.#writes.length > 0 && this.state === 'open' && this.socket.bufferedAmount <= this.#options.writeHighWaterMark) {
      const pending = this.#writes.shift()!;
      if (pending.signal && pending.onAbort) pending.signal.removeEventListener('abort', pending.onAbort);
      this.#send(pending.data).then(pending.resolve, pending.reject);
    }
    if (this.#writes.length > 0) this.#poll();
  }

  #stopPolling(): void {
    if (this.#pollTimer !== undefined) clearTimeout(this.#pollTimer);
    this.#pollTimer = undefined;
  }

  #rejectWrites(error: unknown): void {
    for (const pending of this.#writes.splice(0)) {
      if (pending.signal && pending.onAbort) pending.signal.removeEventListener('abort', pending.onAbort);
      pending.reject(error);
    }
  }
}

/**
 * A {@link WebSocketConnectionAdapter} over a WHATWG `WebSocket`. See the module comment and
 * docs/browser.md for where the WHATWG API cannot meet the contract.
 */
export class BrowserAdapter implements WebSocketConnectionAdapter {
  readonly #options: ResolvedOptions;
  /** The open (or closing, or closed) connection the operations act on. */
  #connection: BrowserConnection | undefined;
  /** The connection being dialled. */
  #dialing: BrowserConnection | undefined;

  constructor(options: BrowserAdapterOptions = {}) {
    this.#options = resolveOptions(options);
  }

  async dial(input: string | URL, options: DialOptions = {}): Promise<HandshakeResponse> {
    const { signal } = options;
    if (signal?.aborted) throw abortReason(signal);
    if (this.#dialing) throw new InvalidStateError('A dial is already in progress');
    const url = parseWebSocketUrl(input);
    const headerNames = Object.keys(options.headers ?? {});
    if (headerNames.length > 0 && this.#options.requestHeaders === 'reject') {
      throw new UnsupportedOperationError(
        `A WHATWG WebSocket cannot send request headers (${headerNames.join(', ')}); ` +
          "pass credentials in the URL or a subprotocol, or set the option requestHeaders: 'ignore'",
      );
    }
    const protocols = options.protocols ?? [];
    if (!Array.isArray(protocols) || protocols.some((p) => typeof p !== 'string')) {
      throw new InvalidArgumentError('Dial option protocols must be an array of strings');
    }

    // Close and drop the previous connection first (contract); its readers and writers fail.
    const previous = this.#connection;
    this.#connection = undefined;
    previous?.close(1000, '', new WebSocketCloseError(1000, 'replaced by a new dial'), true);

    let socket: WhatwgWebSocket;
    try {
      socket = new this.#options.WebSocket(url.href, [...protocols]);
    } catch (error) {
      // WHATWG constructor: SyntaxError for a bad URL or subprotocol list, SecurityError for
      // a blocked port or mixed content.
      if ((error as { name?: unknown } | null)?.name === 'SyntaxError') {
        throw new InvalidArgumentError(`The WebSocket constructor refused the dial: ${(error as Error).message}`);
      }
      throw new HandshakeError(`The WebSocket constructor refused ${url.href}`, { cause: error });
    }
    const connection = new BrowserConnection(socket, url.href, this.#options);
    this.#dialing = connection;
    try {
      const answer = await raceSignal(connection.opened, signal, () =>
        connection.close(1000, '', new WebSocketCloseError(1000, 'dial aborted'), true),
      );
      this.#connection = connection;
      return answer;
    } finally {
      if (this.#dialing === connection) this.#dialing = undefined;
    }
  }

  async close(code: StatusCode = 1000, reason = '', options: OperationOptions = {}): Promise<void> {
    validateClose(code, reason);
    // Map first: a mapping function returning a code the browser refuses fails here, before closing.
    mapCloseCode(code, this.#options.closeCodeMapping);
    const dialing = this.#dialing;
    if (dialing) {
      // Closing while a dial is pending abandons the dial: the caller wants no connection.
      this.#dialing = undefined;
      dialing.close(code, reason, new WebSocketCloseError(code, reason), true);
      return;
    }
    const connection = this.#connection;
    if (!connection || connection.state !== 'open') throw new ConnectionClosedError();
    connection.close(code, reason, new WebSocketCloseError(code, reason), true, true);
    // The close frame is queued; wait for the closing handshake ("close" event), at most
    // closeTimeout, or until the signal aborts: the signal only cuts the wait short, the close
    // has happened either way. A WHATWG socket that never finishes closing cannot be torn down
    // from here; the runtime does it when its own timer expires.
    const { signal } = options;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort: (() => void) | undefined;
    const cutShort = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#options.closeTimeout);
      if (signal?.aborted) resolve();
      else if (signal) {
        onAbort = () => resolve();
        signal.addEventListener('abort', onAbort, { once: true });
      }
    });
    try {
      await Promise.race([connection.closed, cutShort]);
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
      connection.finishClose();
    }
  }

  async ping(_options: OperationOptions = {}): Promise<void> {
    throw new UnsupportedOperationError(
      'A WHATWG WebSocket cannot send ping frames; use an application-level heartbeat',
    );
  }

  read(options: OperationOptions = {}): Promise<Message> {
    const connection = this.#connection;
    if (!connection) return Promise.reject(new ConnectionClosedError());
    return connection.queue.read(options.signal);
  }

  tryRead(): Message | undefined {
    return this.#connection?.queue.tryRead();
  }

  write(type: MessageType, data: WriteData, options: OperationOptions = {}): Promise<void> {
    let payload: string | Uint8Array;
    try {
      payload = normalizeWriteData(type, data);
    } catch (error) {
      return Promise.reject(error);
    }
    // WHATWG send() picks the frame type from the argument: text must go as a string.
    if (type === MessageType.Text && typeof payload !== 'string') payload = textDecoder.decode(payload);
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const connection = this.#connection;
    if (!connection || connection.state !== 'open') return Promise.reject(new ConnectionClosedError());
    return connection.write(payload, signal);
  }

  underlying(): WhatwgWebSocket | undefined {
    const connection = this.#dialing ?? this.#connection;
    return connection && connection.state !== 'closed' ? connection.socket : undefined;
  }
}

/** Creates a {@link BrowserAdapter}; options are validated here. */
export function createBrowserAdapter(options: BrowserAdapterOptions = {}): BrowserAdapter {
  return new BrowserAdapter(options);
}
