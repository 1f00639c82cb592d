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
