/**
 * Errors of the adapter contract. Every error is a class the caller can test with
 * `instanceof`; all but {@link WebSocketCloseError} carry a stable string `code`
 * (a close error's `code` is the numeric close status code).
 */
import { statusCodeName } from './status-codes.js';

/** Base class of every wsengine error that carries a string code. */
export class WsEngineError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    // A subclass's own name; the errorClass() ones set theirs, which survives minification.
    this.name = new.target === WsEngineError ? 'WsEngineError' : new.target.name;
  }
}

/**
 * The connection is closed: a close frame was received, or the connection was lost.
 * `code` is the close status code (1006 when no close frame was received, 1005 when the
 * close frame had no code); `reason` is the close reason, possibly empty.
 *
 * https://www.rfc-editor.org/rfc/rfc6455.html#section-7.1.5
 */
export class WebSocketCloseError extends Error {
  /** The close status code received or used. */
  readonly code: number;
  /** The close reason received or used; may be empty. */
  readonly reason: string;
  /** Whether a close frame was received from the peer (false for 1006). */
  readonly wasClean: boolean;
  constructor(code: number, reason = '', options?: { cause?: unknown; wasClean?: boolean }) {
    super(
      `WebSocket closed with ${code} (${statusCodeName(code)})${reason ? `: ${reason}` : ''}`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'WebSocketCloseError';
    this.code = code;
    this.reason = reason;
    this.wasClean = options?.wasClean ?? code !== 1006;
  }
}

/** A constructor made by {@link errorClass}: `message` (default: the class's own), an optional `cause`. */
export type ErrorClass = new (message?: string, options?: { cause?: unknown }) => WsEngineError;

/**
 * A subclass of {@link WsEngineError}, made cheaply: its `name` is given (so it stays right when
 * a minifier renames classes), its `code` is `ERR_` and the name without `Error` in upper snake
 * case (`ConnectionClosedError` -> `ERR_CONNECTION_CLOSED`), and `message` defaults to `fallback`.
 * `instanceof` works as for any class.
 */
export function errorClass(name: string, fallback = ''): ErrorClass {
  const code = `ERR_${name.slice(0, -5).replace(/\B[A-Z]/g, '_$&').toUpperCase()}`;
  return class extends WsEngineError {
    constructor(message = fallback, options?: { cause?: unknown }) {
      super(code, message, options);
      this.name = name;
    }
  };
}

/** An operation was called on a connection that is closed or was never opened (Go's net.ErrClosed). */
export const ConnectionClosedError = /* @__PURE__ */ errorClass('ConnectionClosedError', 'The connection is closed');
export type ConnectionClosedError = InstanceType<typeof ConnectionClosedError>;

/** The adapter cannot perform this operation (e.g. ping frames in a browser). */
export const UnsupportedOperationError = /* @__PURE__ */ errorClass('UnsupportedOperationError');
export type UnsupportedOperationError = InstanceType<typeof UnsupportedOperationError>;

/**
 * The opening handshake failed: the server refused the upgrade, answered something that is
 * not a valid WebSocket handshake, or the connection failed before the handshake completed.
 * `status` and `headers` are the server's answer where there was one and the runtime exposes
 * it (`undefined` in a browser, or when no HTTP response arrived).
 */
export class HandshakeError extends /* @__PURE__ */ errorClass('HandshakeError') {
  readonly status: number | undefined;
  readonly headers: Readonly<Record<string, string>>;
  /** The response body as UTF-8 text, at most its first 4096 bytes (`REFUSAL_BODY_LIMIT`); `undefined` when empty or hidden. */
  readonly body: string | undefined;
  constructor(
    message: string,
    init: { status?: number; headers?: Record<string, string>; body?: string; cause?: unknown } = {},
  ) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.headers = init.headers ?? {};
    this.body = init.body;
  }
}

/** An argument is invalid: a bad URL, close code, close reason, message type or payload. */
export const InvalidArgumentError = /* @__PURE__ */ errorClass('InvalidArgumentError');
export type InvalidArgumentError = InstanceType<typeof InvalidArgumentError>;

/**
 * An option given to a constructor or factory is invalid: wrong type, out of range, or not an
 * option at all (a misspelt or renamed one). It is an {@link InvalidArgumentError} too. `option` is its path, e.g. `readQueue.messages`.
 * Options are checked once, when the adapter (or engine) is created, never later.
 */
export class InvalidOptionError extends InvalidArgumentError {
  /** The option's path, e.g. `"tls.servername"` or `"reconnect.jitter"`. */
  readonly option: string;
  declare readonly code: string;
  constructor(option: string, message: string) {
    super(`Invalid option ${option}: ${message}`);
    this.code = 'ERR_INVALID_OPTION';
    this.name = 'InvalidOptionError';
    this.option = option;
  }
}

/** The call is not allowed in the adapter's current state (e.g. `dial` while a dial is in progress). */
export const InvalidStateError = /* @__PURE__ */ errorClass('InvalidStateError');
export type InvalidStateError = InstanceType<typeof InvalidStateError>;

/** An operation did not finish within its configured time (handshake timeout, close timeout). */
export const TimeoutError = /* @__PURE__ */ errorClass('TimeoutError');
export type TimeoutError = InstanceType<typeof TimeoutError>;
