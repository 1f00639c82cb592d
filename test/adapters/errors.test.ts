/**
 * The error classes: each has its name, a stable code, and its place in the class hierarchy,
 * whether written as a class or made by errorClass().
 */
import { describe, expect, it } from 'vitest';
import * as adapters from '../../src/adapters/index.js';
import { errorClass, InvalidArgumentError, WsEngineError } from '../../src/adapters/errors.js';
import * as engine from '../../src/engine/index.js';

/** Every error class the package root exports, with its code. */
const CODES: Record<string, string | number> = {
  ConnectionClosedError: 'ERR_CONNECTION_CLOSED',
  UnsupportedOperationError: 'ERR_UNSUPPORTED_OPERATION',
  HandshakeError: 'ERR_HANDSHAKE',
  InvalidArgumentError: 'ERR_INVALID_ARGUMENT',
  InvalidOptionError: 'ERR_INVALID_OPTION',
  InvalidStateError: 'ERR_INVALID_STATE',
  TimeoutError: 'ERR_TIMEOUT',
  PingFloodError: 'ERR_PING_FLOOD',
  WebSocketCloseError: 1000,
  NotConnectedError: 'ERR_NOT_CONNECTED',
  OutboxOverflowError: 'ERR_OUTBOX_OVERFLOW',
  MessageExpiredError: 'ERR_MESSAGE_EXPIRED',
  RetriesExhaustedError: 'ERR_RETRIES_EXHAUSTED',
  EngineStoppedError: 'ERR_ENGINE_STOPPED',
  OpenTimeoutError: 'ERR_OPEN_TIMEOUT',
  HeartbeatTimeoutError: 'ERR_HEARTBEAT_TIMEOUT',
  RestartRequestedError: 'ERR_RESTART_REQUESTED',
};

/** One instance of an error class, whatever its constructor's arguments. */
function instance(ErrorClass: new (...args: never[]) => Error, name: string): Error {
  const make = ErrorClass as unknown as new (...args: unknown[]) => Error;
  if (name === 'WebSocketCloseError') return new make(1000, 'bye');
  if (name === 'InvalidOptionError') return new make('an.option', 'expected less');
  if (/Timeout|Flood|Expired|Exhausted/.test(name) && name !== 'TimeoutError') return new make(5, new Error('cause'));
  return new make('a message', 1, 2);
}

describe('error classes', () => {
  const exported = { ...adapters, ...engine } as Record<string, unknown>;
  const classes = Object.entries(exported).filter(
    ([, value]) => typeof value === 'function' && (value as { prototype?: unknown }).prototype instanceof Error,
  ) as Array<[string, new (...args: never[]) => Error]>;

  it('are all listed here, with their codes', () => {
    expect(classes.map(([name]) => name).filter((name) => name !== 'WsEngineError').sort()).toEqual(Object.keys(CODES).sort());
  });

  for (const [name, ErrorClass] of classes) {
    if (name === 'WsEngineError') continue;
    it(`${name}: its name and code, an Error`, () => {
      const error = instance(ErrorClass, name);
      expect(error).toBeInstanceOf(ErrorClass);
      expect(error).toBeInstanceOf(Error);
      expect(error.name).toBe(name);
      expect((error as Error & { code: unknown }).code).toBe(CODES[name]);
      expect(error.message.length).toBeGreaterThan(0);
    });
  }

  it('errorClass: a WsEngineError subclass, named, with a code from its name and a default message', () => {
    const LimitReachedError = errorClass('LimitReachedError', 'The limit was reached');
    const error = new LimitReachedError();
    expect(error).toBeInstanceOf(LimitReachedError);
    expect(error).toBeInstanceOf(WsEngineError);
    expect(error).not.toBeInstanceOf(InvalidArgumentError);
    expect(error).toMatchObject({ name: 'LimitReachedError', code: 'ERR_LIMIT_REACHED', message: 'The limit was reached' });
    const cause = new Error('below');
    expect(new LimitReachedError('over 3', { cause })).toMatchObject({ message: 'over 3', cause });
  });

  it('InvalidOptionError is an InvalidArgumentError with a code of its own', () => {
    const error = new adapters.InvalidOptionError('readQueue.bytes', 'expected an integer >= 1, got 0');
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error).toMatchObject({ code: 'ERR_INVALID_OPTION', option: 'readQueue.bytes', message: 'Invalid option readQueue.bytes: expected an integer >= 1, got 0' });
  });
});
