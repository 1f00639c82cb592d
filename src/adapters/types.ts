/**
 * The adapter contract: what the engine asks of every WebSocket implementation.
 *
 * A TypeScript reading of the Go WebSocket engine's `WebsocketConnectionAdapterInterface`
 * (Dial, Close, Ping, Read, Write, GetUnderlyingWebsocketConnection): a Go context becomes an
 * `AbortSignal`, blocking calls become promises, `net.ErrClosed` becomes
 * {@link ConnectionClosedError}. Every adapter passes the contract suite (`wsengine/testing`).
 */
import type { StatusCode } from './status-codes.js';

/**
 * Message types, numbered like their RFC 6455 opcodes (section 5.6). Control frames and
 * continuations never surface: adapters handle them.
 */
export const MessageType = {
  Text: 1,
  Binary: 2,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** A text message: its data is the decoded (and UTF-8 validated) string. */
export interface TextMessage {
  readonly type: typeof MessageType.Text;
  readonly data: string;
}

/** A binary message: its data is the payload bytes (a `Buffer` on Node, a `Uint8Array` elsewhere). */
export interface BinaryMessage {
  readonly type: typeof MessageType.Binary;
  readonly data: Uint8Array;
}

/** One whole message: fragments joined, decompressed, UTF-8 checked. */
export type Message = TextMessage | BinaryMessage;

/** What `write` accepts: a string or bytes for text (bytes must be UTF-8), bytes for binary. */
export type WriteData = string | Uint8Array | ArrayBuffer;

/** Options every operation takes. */
export interface OperationOptions {
  /** Aborts the operation; the promise rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** Request headers: a value per name, or several values for one name. */
export type HeaderInit = Readonly<Record<string, string | readonly string[]>>;

export interface DialOptions extends OperationOptions {
  /** Extra request headers for the opening handshake (not every runtime can send them: the browser cannot). */
  readonly headers?: HeaderInit;
  /** Subprotocols to offer in `Sec-WebSocket-Protocol`, in order of preference. */
  readonly protocols?: readonly string[];
}

/** What the server answered to the opening handshake, as far as the runtime exposes it. */
export interface HandshakeResponse {
  /** The URL that was dialled (after any redirect). */
  readonly url: string;
  /** The HTTP status (101), or `undefined` where the runtime hides it (the browser). */
  readonly status: number | undefined;
  /** Response headers, names in lower case, repeated headers joined with ", "; empty where hidden. */
  readonly headers: Readonly<Record<string, string>>;
  /** The subprotocol the server chose, or `""`. */
  readonly protocol: string;
  /** The extensions the server accepted, as the `Sec-WebSocket-Extensions` value, or `""`. */
  readonly extensions: string;
}

/**
 * A connection to a WebSocket server, driven by the engine.
 *
 * Adapters are safe under concurrent calls: concurrent writes go out whole and in call order;
 * concurrent reads are served in call order, one message each.
 */
export interface WebSocketConnectionAdapter {
  /**
   * Open a connection and perform the opening handshake.
   *
   * - Resolves only when the handshake is complete, with what the server answered.
   * - Keeps the connection inside the adapter, for the other operations.
   * - Closes and drops any previous connection first.
   * - Rejects with {@link HandshakeError} carrying the HTTP status and headers when the server
   *   refuses the upgrade, and the first 4096 bytes of its body (`REFUSAL_BODY_LIMIT`, decoded
   *   as UTF-8, a character cut by the cap left out; `undefined` when the body is empty or the
   *   runtime hides it); with `InvalidArgumentError` for a URL that is not ws:, wss: (or
   *   http:, https:, mapped to them); with `InvalidStateError` while another dial is in progress;
   *   with `TimeoutError` when the handshake takes longer than the adapter's `handshakeTimeout`;
   *   with the signal's reason when aborted.
   * - Rejects with {@link ConnectionClosedError} when `close()` is called before it completed
   *   (see `close`).
   */
  dial(url: string | URL, options?: DialOptions): Promise<HandshakeResponse>;

  /**
   * Send a close frame with `code` (default 1000) and `reason` (default `""`), and close.
   *
   * - Resolves once the close frame is sent and, where the adapter can, the closing handshake
   *   finished or timed out.
   * - During a dial: cancels it. `close()` resolves once the dial has settled, and the pending
   *   `dial()` rejects with {@link ConnectionClosedError}; nothing stays open. (If the handshake
   *   completed first, that connection is closed as an open one is.)
   * - Drops pending reads and writes: they reject with {@link WebSocketCloseError} or
   *   {@link ConnectionClosedError}.
   * - Closes even if the signal is already aborted (the signal only stops the wait for the
   *   server's close frame).
   * - Rejects with {@link ConnectionClosedError} when already closed (or never opened).
   * - Refuses codes that may not be sent (see `isSendableStatusCode`) and reasons over 123
   *   UTF-8 bytes with `InvalidArgumentError`, without closing.
   */
  close(code?: StatusCode, reason?: string, options?: OperationOptions): Promise<void>;

  /**
   * Send a ping frame and resolve when the matching pong arrives.
   *
   * - Works without anyone calling `read` at the same time.
   * - Rejects with {@link ConnectionClosedError} when closed (or when the connection closes
   *   while waiting), or with the signal's reason when aborted.
   * - An adapter that cannot send ping frames rejects with {@link UnsupportedOperationError}.
   */
  ping(options?: OperationOptions): Promise<void>;

  /**
   * Resolve the next whole message.
   *
   * - Never returns control frames.
   * - Rejects with {@link WebSocketCloseError} once the connection is closed (code 1006 when no
   *   close frame was received), and keeps rejecting with it on later calls.
   * - Rejects with the signal's reason when aborted; the message it would have taken stays queued.
   * - Before any dial, rejects with {@link ConnectionClosedError}.
   */
  read(options?: OperationOptions): Promise<Message>;

  /**
   * Optional: the next message if one has already arrived, without waiting; `undefined` otherwise.
   * A consumer draining a burst this way pays no promise per message (the engine does).
   *
   * - Takes messages from the same queue as `read`, in the same order: a message it returns is
   *   never returned by `read`, and while a `read` is pending it returns `undefined`.
   * - Never throws and never reports the close: once the queued messages are gone it returns
   *   `undefined`, and `read` rejects as described above.
   * - Returns `undefined` whenever `read` would not return a message at once (before a dial,
   *   after a local close that drops unread messages).
   */
  tryRead?(): Message | undefined;

  /**
   * Optional: hand each message to `listener` synchronously as it arrives, instead of queueing it
   * for `read`, until `listen(undefined)`. A consumer that keeps up pays neither a queue slot nor
   * a promise per message (the engine listens while its read gate is open and the hook is
   * synchronous).
   *
   * - Returns `false` and changes nothing while a message is queued, a `read` is pending, the
   *   connection has failed or is closing, or before a dial: read those first, then listen.
   * - Messages go to the listener in the order `read` would have returned them; none is queued
   *   meanwhile, so the read queue never pauses the socket while listening.
   * - When the connection ends, the listener is called once with `undefined` and dropped; `read`
   *   then reports the close. A local close stops delivery at once (unread messages are dropped).
   * - `listen(undefined)` stops at once, also from inside the listener; later messages queue.
   * - A `read` made while listening (from inside the listener, say) takes the next message.
   * - The listener must not throw.
   */
  listen?(listener: ((message: Message | undefined) => void) | undefined): boolean;

  /**
   * Send one whole message, fragmenting and compressing as configured.
   *
   * - Resolves when the message is handed to the socket, honouring backpressure.
   * - Never sends control frames.
   * - Rejects with `InvalidArgumentError` for a wrong message type or data (a string for a
   *   binary message, invalid UTF-8 bytes for a text message), with
   *   {@link ConnectionClosedError} when closed, with the signal's reason when aborted before
   *   the message was handed over (it is then never sent).
   * - Before any dial, rejects with {@link ConnectionClosedError}.
   */
  write(type: MessageType, data: WriteData, options?: OperationOptions): Promise<void>;

  /**
   * Optional: send one whole message at once if the connection can take it now, without a
   * promise. A sender that does not wait on each message (a feed of orders or quotes) pays no
   * promise and no reaction per message; when it returns `false`, `write` is the way to wait.
   *
   * - Returns `true` once the message is handed to the socket, as a `write` that resolves at once.
   * - Returns `false` and sends nothing when `write` would wait or reject for the connection's
   *   sake: before a dial, once closing or closed, while an earlier `write` waits, or while the
   *   transport holds more than its write high-water mark. A message it refuses never overtakes
   *   one that waits: `if (!adapter.tryWrite(t, d)) await adapter.write(t, d)` keeps call order.
   * - Throws `InvalidArgumentError` for a wrong message type or data, as `write` rejects.
   */
  tryWrite?(type: MessageType, data: WriteData): boolean;

  /** The runtime object (the `ws` instance, the `WebSocket`, the `net.Socket`), or `undefined` when not connected. */
  underlying(): unknown;
}

/**
 * The same interface under the name users of the Go WebSocket engine know
 * (`WebsocketConnectionAdapterInterface`).
 */
export type WebsocketConnectionAdapter = WebSocketConnectionAdapter;

/** Creates a fresh adapter; what the engine and the contract suite take. */
export type AdapterFactory<A extends WebSocketConnectionAdapter = WebSocketConnectionAdapter> = () => A;
