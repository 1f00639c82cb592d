/**
 * Errors of the engine. Each is a class the caller can test with `instanceof` and carries a
 * stable string `code`. Errors of the adapter contract (`HandshakeError`, `WebSocketCloseError`,
 * ...) pass through the engine unchanged, so a caller sees the server's answer as it was.
 */
import { errorClass } from '../adapters/errors.js';

/** `send()` while the engine has no open connection and the outbox does not queue. */
export const NotConnectedError = /* @__PURE__ */ errorClass('NotConnectedError', 'The engine has no open connection');
export type NotConnectedError = InstanceType<typeof NotConnectedError>;

/** The outbox is full (its message or byte bound); the message was not queued. */
export class OutboxOverflowError extends /* @__PURE__ */ errorClass('OutboxOverflowError') {
  /** Messages queued when the message was refused. */
  readonly queuedMessages: number;
  /** Bytes queued when the message was refused. */
  readonly queuedBytes: number;
  constructor(message: string, queuedMessages: number, queuedBytes: number) {
    super(message);
    this.queuedMessages = queuedMessages;
    this.queuedBytes = queuedBytes;
  }
}

/** A queued message outlived its time-to-live before a connection opened; it was never sent. */
export class MessageExpiredError extends /* @__PURE__ */ errorClass('MessageExpiredError') {
  /** How long the message waited, in ms. */
  readonly waitedMs: number;
  constructor(waitedMs: number) {
    super(`The message expired after ${waitedMs} ms in the outbox and was not sent`);
    this.waitedMs = waitedMs;
  }
}

/** The reconnect policy gave up: its retry limit was reached. `cause` is the last failure. */
export class RetriesExhaustedError extends /* @__PURE__ */ errorClass('RetriesExhaustedError') {
  /** Connection attempts made since the last reset of the count. */
  readonly attempts: number;
  constructor(attempts: number, cause: unknown) {
    const detail = cause instanceof Error ? `: ${cause.message}` : '';
    super(`Gave up after ${attempts} connection attempt${attempts === 1 ? '' : 's'}${detail}`, {
      cause,
    });
    this.attempts = attempts;
  }
}

/** The engine was stopped (by `stop()` or a hook's `exit()`) while the operation waited. */
export const EngineStoppedError = /* @__PURE__ */ errorClass('EngineStoppedError', 'The engine was stopped');
export type EngineStoppedError = InstanceType<typeof EngineStoppedError>;

/** A connection attempt (dial plus the open hook) took longer than `reconnect.openTimeout`. */
export class OpenTimeoutError extends /* @__PURE__ */ errorClass('OpenTimeoutError') {
  readonly timeoutMs: number;
  constructor(timeoutMs: number) {
    super(`The connection did not open (dial and open hook) within ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

/** No pong (or no traffic) arrived within `heartbeat.timeout` after a probe: the connection is dead. */
export class HeartbeatTimeoutError extends /* @__PURE__ */ errorClass('HeartbeatTimeoutError') {
  readonly timeoutMs: number;
  constructor(timeoutMs: number) {
    super(`No sign of life from the server within ${timeoutMs} ms of a heartbeat probe`);
    this.timeoutMs = timeoutMs;
  }
}

/** The engine closed the connection because a hook called `restart()`. */
export const RestartRequestedError = /* @__PURE__ */ errorClass('RestartRequestedError', 'The connection was restarted on request');
export type RestartRequestedError = InstanceType<typeof RestartRequestedError>;

/** An option is invalid; the message names it. One class for the engine and the adapters. */
export { InvalidOptionError } from '../adapters/errors.js';
