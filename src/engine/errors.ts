/**
 * Errors of the engine. Each is a class the caller can test with `instanceof` and carries a
 * stable string `code`. Errors of the adapter contract (`HandshakeError`, `WebSocketCloseError`,
 * ...) pass through the engine unchanged, so a caller sees the server's answer as it was.
 */
import { WsEngineError } from '../adapters/errors.js';

/** `send()` while the engine has no open connection and the outbox does not queue. */
export class NotConnectedError extends WsEngineError {
  constructor(message = 'The engine has no open connection', options?: { cause?: unknown }) {
    super('ERR_NOT_CONNECTED', message, options);
  }
}

/** The outbox is full (its message or byte bound); the message was not queued. */
export class OutboxOverflowError extends WsEngineError {
  /** Messages queued when the message was refused. */
  readonly queuedMessages: number;
  /** Bytes queued when the message was refused. */
  readonly queuedBytes: number;
  constructor(message: string, queuedMessages: number, queuedBytes: number) {
    super('ERR_OUTBOX_OVERFLOW', message);
    this.queuedMessages = queuedMessages;
    this.queuedBytes = queuedBytes;
  }
}

/** A queued message outlived its time-to-live before a connection opened; it was never sent. */
export class MessageExpiredError extends WsEngineError {
  /** How long the message waited, in ms. */
  readonly waitedMs: number;
  constructor(waitedMs: number) {
    super('ERR_MESSAGE_EXPIRED', `The message expired after ${waitedMs} ms in the outbox and was not sent`);
    this.waitedMs = waitedMs;
  }
}

/** The reconnect policy gave up: its retry limit was reached. `cause` is the last failure. */
export class RetriesExhaustedError extends WsEngineError {
  /** Connection attempts made since the last reset of the count. */
  readonly attempts: number;
  constructor(attempts: number, cause: unknown) {
    const detail = cause instanceof Error ? `: ${cause.message}` : '';
    super('ERR_RETRIES_EXHAUSTED', `Gave up after ${attempts} connection attempt${attempts === 1 ? '' : 's'}${detail}`, {
      cause,
    });
    this.attempts = attempts;
  }
}

/** The engine was stopped (by `stop()` or a hook's `exit()`) while the operation waited. */
export class EngineStoppedError extends WsEngineError {
  constructor(message = 'The engine was stopped') {
    super('ERR_ENGINE_STOPPED', message);
  }
}

/** A connection attempt (dial plus the open hook) took longer than `reconnect.openTimeout`. */
export class OpenTimeoutError extends WsEngineError {
  readonly timeoutMs: number;
  constructor(timeoutMs: number) {
    super('ERR_OPEN_TIMEOUT', `The connection did not open (dial and open hook) within ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

/** No pong (or no traffic) arrived within `heartbeat.timeout` after a probe: the connection is dead. */
export class HeartbeatTimeoutError extends WsEngineError {
  readonly timeoutMs: number;
  constructor(timeoutMs: number) {
    super('ERR_HEARTBEAT_TIMEOUT', `No sign of life from the server within ${timeoutMs} ms of a heartbeat probe`);
    this.timeoutMs = timeoutMs;
  }
}

/** The engine closed the connection because a hook called `restart()`. */
export class RestartRequestedError extends WsEngineError {
  constructor() {
    super('ERR_RESTART_REQUESTED', 'The connection was restarted on request');
  }
}

/** An option is invalid; the message names it. One class for the engine and the adapters. */
export { InvalidOptionError } from '../adapters/errors.js';
