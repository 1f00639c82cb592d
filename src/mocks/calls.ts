/**
 * The record of an adapter's calls, for assertions.
 */
import type { StatusCode } from '../adapters/status-codes.js';
import type {
  DialOptions,
  HandshakeResponse,
  Message,
  MessageType,
  OperationOptions,
  WriteData,
} from '../adapters/types.js';

/** The adapter methods that are recorded. */
export type MockCallMethod = 'dial' | 'close' | 'ping' | 'read' | 'write';

/** The arguments of each recorded method, as the caller passed them (trailing `undefined`s left out). */
export interface MockCallArgs {
  dial: [url: string | URL, options?: DialOptions];
  close: [code?: StatusCode, reason?: string, options?: OperationOptions];
  ping: [options?: OperationOptions];
  read: [options?: OperationOptions];
  write: [type: MessageType, data: WriteData, options?: OperationOptions];
}

/** What each recorded method resolved with. */
export interface MockCallValues {
  dial: HandshakeResponse;
  close: void;
  ping: void;
  read: Message;
  write: void;
}

/** How a call ended, so far. */
export type MockCallResult = 'pending' | 'resolved' | 'rejected';

/** One call of method `M`. `result`, `value` and `error` change once, when the call settles. */
export interface MockCallOf<M extends MockCallMethod> {
  readonly method: M;
  readonly args: MockCallArgs[M];
  readonly result: MockCallResult;
  /** What the call resolved with, once `result` is `"resolved"`. */
  readonly value?: MockCallValues[M];
  /** What the call rejected with, once `result` is `"rejected"`. */
  readonly error?: unknown;
}

/** One recorded call; narrow it with `call.method`. */
export type MockCall = { [M in MockCallMethod]: MockCallOf<M> }[MockCallMethod];

/** Drop trailing `undefined` arguments so that records compare like the call reads. */
export function trimArgs<T extends unknown[]>(args: T): T {
  let end = args.length;
  while (end > 0 && args[end - 1] === undefined) end--;
  return args.slice(0, end) as T;
}
