/**
 * Errors of request/reply layers (the generic requester, JSON-RPC, WebWire). Each tells the
 * caller what it most needs after a failure: whether the request may have been executed.
 */
import { WsEngineError } from '../../adapters/errors.js';

/** No reply within the request's timeout. The request was written: it may have executed. */
export class RequestTimeoutError extends WsEngineError {
  readonly timeoutMs: number;
  constructor(timeoutMs: number) {
    super('ERR_REQUEST_TIMEOUT', `No reply within ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The request never reached the socket (no connection, or the connection dropped before it was
 * written): the server cannot have executed it, so sending it again is safe.
 */
export class RequestNotSentError extends WsEngineError {
  constructor(message = 'The request was not sent', options?: { cause?: unknown }) {
    super('ERR_REQUEST_NOT_SENT', message, options);
  }
}

/**
 * The request was written, then the connection dropped before its reply arrived: the server
 * may or may not have executed it. `cause` is what ended the connection.
 */
export class RequestOutcomeUnknownError extends WsEngineError {
  constructor(message = 'The connection dropped after the request was sent and before its reply', options?: { cause?: unknown }) {
    super('ERR_REQUEST_OUTCOME_UNKNOWN', message, options);
  }
}

/**
 * More requests waited for a free slot than `maxQueued` allows (`maxInFlight` were already in
 * flight): this one was refused and not sent.
 */
export class RequestQueueFullError extends WsEngineError {
  readonly queued: number;
  constructor(queued: number) {
    super('ERR_REQUEST_QUEUE_FULL', `${queued} requests already wait for a slot; this one was not sent`);
    this.queued = queued;
  }
}

/**
 * The server answered with an error that is not an `Error` already (the codec returned a plain
 * value): `error` is that value, as decoded.
 */
export class ReplyError extends WsEngineError {
  readonly error: unknown;
  constructor(error: unknown) {
    super('ERR_REPLY_ERROR', `The server answered with an error: ${describe(error)}`);
    this.error = error;
  }
}

/** The requester was closed (`close()`): the request was refused or abandoned. */
export class RequesterClosedError extends WsEngineError {
  constructor(message = 'The requester is closed') {
    super('ERR_REQUESTER_CLOSED', message);
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
