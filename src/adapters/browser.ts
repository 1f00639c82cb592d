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
import { AdapterCore, type CoreConnection, type CoreConnectionState, type OpenedConnection } from './core/adapter-core.js';
import { waitClosed } from './core/close-wait.js';
import { WriteQueue, queueWrite, type PendingWrite } from './core/write-queue.js';
import {
  ConnectionClosedError,
  HandshakeError,
  InvalidArgumentError,
  UnsupportedOperationError,
  WebSocketCloseError,
} from './errors.js';
import {
  expectOption,
  numberOption,
  oneOfOption,
  optionsObject,
  refuseUnknownOptions,
  RENAMED,
  resolveCommonOptions,
  type CommonAdapterOptions,
  type ReadQueueLimits,
  type ResolvedCommonOptions,
} from './options.js';
import { ReadQueue, type MessageListener } from './read-queue.js';
import { deferred, raceSignal, WRITTEN, type Deferred } from './signals.js';
import { MessageType, type DialOptions, type HandshakeResponse, type Message } from './types.js';

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
  addEventListener(type: string, listener: (event: Event) => void): void;
  removeEventListener(type: string, listener: (event: Event) => void): void;
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

export interface BrowserReadQueueOptions extends ReadQueueLimits {
  /**
   * What reaching `messages` or `bytes` does. A WHATWG WebSocket cannot stop reading from its
   * socket, so the queue cannot push back on the server. `'close'` (default) closes the
   * connection with 1009 (MessageTooBig, sent as mapped by `closeCodeMapping`): readers get the
   * messages already queued, then a `WebSocketCloseError` with code 1009. `'buffer'` keeps
   * queueing without bound.
   */
  readonly overflow?: 'close' | 'buffer';
}

/**
 * Options of the browser adapter: the options every adapter shares (`handshakeTimeout`,
 * `closeTimeout`, `readQueue`; see {@link CommonAdapterOptions} for their defaults) and those
 * below. A WHATWG WebSocket has no handshake timeout of its own: the adapter's closes the
 * attempt when it runs out.
 */
export interface BrowserAdapterOptions extends Omit<CommonAdapterOptions, 'readQueue'> {
  /** The WebSocket constructor. Default: `globalThis.WebSocket` (required where there is none, e.g. Node 20). */
  readonly WebSocket?: WhatwgWebSocketConstructor;
  /** `write` waits while `bufferedAmount` is above this many bytes before sending. Default 1 MiB. */
  readonly writeHighWaterMark?: number;
  /** How often, in ms, a waiting `write` polls `bufferedAmount` (WHATWG has no drain event). Default 10. */
  readonly drainPollInterval?: number;
  /** Bounds of the inbound queue (defaults 4096 messages, 8 MiB) and what crossing them does. */
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

interface ResolvedOptions extends ResolvedCommonOptions {
  readonly WebSocket: WhatwgWebSocketConstructor;
  readonly writeHighWaterMark: number;
  readonly drainPollInterval: number;
  readonly readQueue: ResolvedCommonOptions['readQueue'] & { readonly overflow: 'close' | 'buffer' };
  readonly closeCodeMapping: CloseCodeMapping;
  readonly requestHeaders: 'reject' | 'ignore';
}

function resolveOptions(options: BrowserAdapterOptions): ResolvedOptions {
  const given = optionsObject(options, 'browser adapter options');
  const WebSocketCtor =
    (given.WebSocket as WhatwgWebSocketConstructor | undefined) ?? (globalThis as { WebSocket?: WhatwgWebSocketConstructor }).WebSocket;
  // Absent, and globalThis.WebSocket is undefined too (Node 20): "got undefined".
  expectOption(typeof WebSocketCtor === 'function', 'WebSocket', 'a WHATWG WebSocket constructor', WebSocketCtor);
  const mapping = given.closeCodeMapping ?? 'offset';
  expectOption(typeof mapping === 'function' || mapping === 'offset' || mapping === 'normal', 'closeCodeMapping', '"offset", "normal" or a function', mapping);
  const queue = optionsObject(given.readQueue, 'readQueue', 'readQueue.');
  const overflow = oneOfOption('readQueue.overflow', queue.overflow, ['close', 'buffer'], 'close');
  const common = resolveCommonOptions(given, queue);
  const readQueue = { ...common.readQueue, overflow };
  refuseUnknownOptions(queue, (key) => Object.hasOwn(readQueue, key), 'readQueue.', RENAMED);
  const resolved: ResolvedOptions = {
    ...common,
    readQueue,
    WebSocket: WebSocketCtor,
    writeHighWaterMark: numberOption('writeHighWaterMark', given.writeHighWaterMark, 1024 * 1024, 0, Number.MAX_SAFE_INTEGER, true),
    drainPollInterval: numberOption('drainPollInterval', given.drainPollInterval, 10, 1, 2 ** 31 - 1, true),
    closeCodeMapping: mapping as CloseCodeMapping,
    requestHeaders: oneOfOption('requestHeaders', given.requestHeaders, ['reject', 'ignore'], 'reject'),
  };
  refuseUnknownOptions(given, (key) => Object.hasOwn(resolved, key), '', RENAMED);
  return resolved;
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

/** The socket events a connection listens to. */
const EVENTS = ['open', 'message', 'error', 'close'];

/** WHATWG `readyState` OPEN. */
const OPEN = 1;

const textDecoder = new TextDecoder();

function isArrayBuffer(value: unknown): value is ArrayBuffer {
  // Tag check rather than instanceof: the buffer may come from another realm.
  return Object.prototype.toString.call(value) === '[object ArrayBuffer]';
}

type Phase = 'connecting' | CoreConnectionState;

/** One WHATWG socket and everything that belongs to it: the transport under the adapter core. */
interface BrowserConnection extends CoreConnection {
  readonly socket: WhatwgWebSocket;
  /** Settles on "open" (resolve) or on a failure before it (reject). */
  readonly opened: Deferred<HandshakeResponse>;
  abandon(): void;
}

/** WHATWG send() picks the frame type from the argument: text must go as a string. */
const asSent = (type: MessageType, payload: string | Uint8Array): string | Uint8Array =>
  type === MessageType.Text && typeof payload !== 'string' ? textDecoder.decode(payload) : payload;

/**
 * The connection over `socket`. A closure rather than a class: its state is local variables,
 * which a minifier shortens (a class's fields keep their names in every bundle).
 */
function connect(socket: WhatwgWebSocket, url: string, options: ResolvedOptions): BrowserConnection {
  const { closeCodeMapping, writeHighWaterMark } = options;
  const opened = deferred<HandshakeResponse>();
  /** Resolves on the socket's "close" event. */
  const closed = deferred<void>();
  let phase: Phase = 'connecting';
  /** The error pending reads get once a local close() finishes. */
  let heldError: WebSocketCloseError | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const stopPolling = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  const writes = new WriteQueue<PendingWrite<string | Uint8Array>>(stopPolling);
  const queue = new ReadQueue({
    highWaterMessages: options.readQueue.messages,
    highWaterBytes: options.readQueue.bytes,
    // Called by the queue when it crosses a mark; there is no way to pause a WHATWG socket.
    // Keep what is queued: readers get it, then the close error.
    pause: options.readQueue.overflow === 'close' ? () => phase === 'open' && shut(1009, 'read queue overflow', false) : undefined,
  });

  /** Before "open": the dial fails (a no-op once the socket opened or the dial failed already). */
  const failOpen = (code?: number): void => {
    if (phase !== 'connecting') return;
    phase = 'closing';
    opened.reject(
      new HandshakeError(
        `The WebSocket handshake with ${url} failed${code === undefined ? '' : ` (close code ${code})`}; ` +
          'a WHATWG WebSocket does not tell a refused upgrade from a network or TLS error',
      ),
    );
  };

  /**
   * Start the closing handshake: pending writes fail, pending reads get a `WebSocketCloseError`
   * with `code` and `errorReason` (queued messages are dropped when `drop`), and the socket is
   * asked to close with the mapped code.
   * With `defer`, reads fail only at the end of `close`: a caller of `close()` that left a read
   * pending then gets its rejection in the same turn as close() settling.
   */
  const shut = (code: number, reason: string, drop: boolean, defer = false, errorReason = reason): void => {
    if (phase === 'connecting') {
      // WHATWG close() before "open" fails the connection ("error" then "close" follow).
      phase = 'closing';
      opened.reject(new ConnectionClosedError(`The dial of ${url} was abandoned`));
      socket.close();
      return;
    }
    if (phase !== 'open') return;
    phase = 'closing';
    stopPolling();
    writes.fail(new ConnectionClosedError('The connection is closing'));
    const error = new WebSocketCloseError(code, errorReason);
    if (defer) heldError = error;
    else queue.fail(error, drop);
    let wire = 1000;
    try {
      wire = mapCloseCode(code, closeCodeMapping);
    } catch {
      // Only the adapter's own closes (overflow, Blob) get here: close() checked the mapping
      // before; a mapping function that refuses their code gets a normal closure instead.
    }
    socket.close(wire, reason);
  };

  const refusal = (error: unknown): ConnectionClosedError => new ConnectionClosedError('The WebSocket refused the message', { cause: error });
  /** At once when nothing waits, the socket is open and its buffer has room; see the contract. */
  const tryWrite = (type: MessageType, payload: string | Uint8Array): boolean => {
    if (writes.length > 0 || socket.readyState !== OPEN || socket.bufferedAmount > writeHighWaterMark) return false;
    socket.send(asSent(type, payload));
    return true;
  };

  // WHATWG WebSocket has no drain event (its bufferedAmount only ever goes down silently),
  // so a waiting write checks it on a timer.
  const poll = (): void => {
    if (timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      // Not once CLOSING, where send() would drop the data: the close fails what waits.
      while (writes.length > 0 && socket.readyState === OPEN && socket.bufferedAmount <= writeHighWaterMark) {
        const pending = writes.shift()!;
        try {
          socket.send(pending.item);
          pending.resolve();
        } catch (error) {
          pending.reject(refusal(error));
        }
      }
      if (writes.length > 0) poll();
    }, options.drainPollInterval);
  };

  const listener = (event: Event): void => {
    switch (event.type) {
      case 'open':
        if (phase !== 'connecting') return;
        phase = 'open';
        opened.resolve({ url: socket.url, status: undefined, headers: {}, protocol: socket.protocol, extensions: socket.extensions });
        return;
      case 'message': {
        if (phase !== 'open') return;
        const data: unknown = (event as MessageEvent).data;
        let message: Message;
        if (typeof data === 'string') message = { type: MessageType.Text, data };
        else if (isArrayBuffer(data)) message = { type: MessageType.Binary, data: new Uint8Array(data) };
        else if (ArrayBuffer.isView(data)) {
          message = { type: MessageType.Binary, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
        } else {
          // Someone switched binaryType to "blob" through underlying(): we cannot keep order.
          shut(1003, 'binaryType must stay arraybuffer', false);
          return;
        }
        queue.push(message);
        return;
      }
      case 'error':
        // WHATWG fires "error" before "close" for a failed connection and gives no detail;
        // before "open" it means the handshake failed.
        failOpen();
        return;
      case 'close': {
        const { code, reason } = event as CloseEvent;
        failOpen(code);
        phase = 'closed';
        stopPolling();
        // The close event's code is 1006 when no close frame was received (RFC 6455 section
        // 7.1.5), 1005 when the frame had no code; WebSocketCloseError derives wasClean from it.
        if (!heldError) queue.fail(new WebSocketCloseError(code, reason));
        writes.fail(new ConnectionClosedError(`The connection closed with ${code}`));
        for (const type of EVENTS) socket.removeEventListener(type, listener);
        closed.resolve();
      }
    }
  };

  // ArrayBuffer, not Blob: a Blob can only be read asynchronously, which would reorder messages.
  socket.binaryType = 'arraybuffer';
  for (const type of EVENTS) socket.addEventListener(type, listener);

  return {
    socket,
    opened,
    get state(): CoreConnectionState {
      return phase === 'connecting' ? 'open' : phase;
    },
    runtime: socket,
    read: (signal) => queue.read(signal),
    tryRead: () => queue.tryRead(),
    listen: (listener: MessageListener | undefined) => (listener && phase !== 'open' ? false : queue.listen(listener)),
    /**
     * The close frame is queued; wait for the closing handshake ("close" event), at most
     * closeTimeout, or until the signal aborts: the signal only cuts the wait short, the close
     * has happened either way. A WHATWG socket that never finishes closing cannot be torn down
     * from here; the runtime does it when its own timer expires.
     */
    async close(code, reason, signal) {
      shut(code, reason, true, true);
      try {
        await waitClosed(closed.promise, options.closeTimeout, signal);
      } finally {
        // End the deferred local close: pending reads reject, queued messages are dropped.
        if (heldError) queue.fail(heldError, true);
      }
    },
    /** Close and drop at once: a new dial replaces this connection, or its dial was abandoned. */
    abandon: () => shut(1000, '', true, false, 'replaced by a new dial'),
    tryWrite,
    write(type, payload, signal) {
      try {
        if (tryWrite(type, payload)) return WRITTEN;
      } catch (error) {
        return Promise.reject(refusal(error));
      }
      // In CLOSING, WHATWG send() discards the data without an error; say so instead.
      if (socket.readyState !== OPEN) return Promise.reject(new ConnectionClosedError('The connection is closing'));
      const queued = queueWrite(writes, asSent(type, payload), signal);
      poll();
      return queued;
    },
  };
}

/**
 * A {@link WebSocketConnectionAdapter} over a WHATWG `WebSocket`. See the module comment and
 * docs/browser.md for where the WHATWG API cannot meet the contract.
 */
export class BrowserAdapter extends AdapterCore<BrowserConnection, WhatwgWebSocket> {
  private readonly opts: ResolvedOptions;
  /** The connection being dialled. */
  private dialed: BrowserConnection | undefined;

  constructor(options: BrowserAdapterOptions = {}) {
    const resolved = resolveOptions(options);
    // No ping frames in the WHATWG API: the core's ping() rejects with UnsupportedOperationError.
    super({ handshakeTimeout: resolved.handshakeTimeout, pingFrames: false });
    this.opts = resolved;
  }

  protected override checkDial(_url: URL, options: DialOptions): void {
    const headerNames = Object.keys(options.headers ?? {});
    if (headerNames.length > 0 && this.opts.requestHeaders === 'reject') {
      throw new UnsupportedOperationError(
        `A WHATWG WebSocket cannot send request headers (${headerNames.join(', ')}); ` +
          "pass credentials in the URL or a subprotocol, or set requestHeaders: 'ignore'",
      );
    }
    const protocols = options.protocols ?? [];
    if (!Array.isArray(protocols) || protocols.some((p) => typeof p !== 'string')) {
      throw new InvalidArgumentError('Dial option protocols must be an array of strings');
    }
  }

  protected override checkCloseCode(code: number): void {
    // A mapping function returning a code the browser refuses fails here, before closing.
    mapCloseCode(code, this.opts.closeCodeMapping);
  }

  protected override dialingRuntime(): WhatwgWebSocket | undefined {
    return this.dialed?.socket;
  }

  protected async open(url: URL, options: DialOptions, signal: AbortSignal): Promise<OpenedConnection<BrowserConnection>> {
    let socket: WhatwgWebSocket;
    try {
      socket = new this.opts.WebSocket(url.href, [...(options.protocols ?? [])]);
    } catch (error) {
      // WHATWG constructor: SyntaxError for a bad URL or subprotocol list, SecurityError for
      // a blocked port or mixed content.
      if ((error as { name?: unknown } | null)?.name === 'SyntaxError') {
        throw new InvalidArgumentError(`The WebSocket constructor refused the dial: ${(error as Error).message}`);
      }
      throw new HandshakeError(`The WebSocket constructor refused ${url.href}`, { cause: error });
    }
    const connection = connect(socket, url.href, this.opts);
    this.dialed = connection;
    try {
      const response = await raceSignal(connection.opened.promise, signal, () => connection.abandon());
      return { connection, response };
    } finally {
      if (this.dialed === connection) this.dialed = undefined;
    }
  }
}

/** Creates a {@link BrowserAdapter}; options are validated here. */
export function createBrowserAdapter(options: BrowserAdapterOptions = {}): BrowserAdapter {
  return new BrowserAdapter(options);
}
