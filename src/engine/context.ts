/**
 * What the parts of the engine share: the facade (`engine.ts`) makes one context per engine, and
 * the supervisor, the session and the reader work on it. Internal: not exported from the package.
 */
import type { Message } from '../adapters/types.js';
import type { Dispatcher } from './delivery.js';
import type { EngineEvents, EngineOptions, MessageFilter, OpenHook } from './engine.js';
import type { TypedEmitter } from './events.js';
import type { ResolvedHeartbeatOptions } from './heartbeat.js';
import type { Metrics } from './metrics.js';
import type { Outbox } from './outbox.js';
import type { ReadGate } from './reader.js';
import type { ReconnectPolicy } from './reconnect-policy.js';
import type { Session } from './session.js';
import type { EngineState } from './state.js';
import type { EngineTracing } from './tracing.js';

/** Takes a delivered message; a promise means "wait before reading on" (an iterator is full). */
export type Sink = (message: Message) => Promise<void> | undefined;

export interface EngineContext {
  readonly options: EngineOptions;
  readonly policy: ReconnectPolicy;
  readonly heartbeat: ResolvedHeartbeatOptions;
  readonly closeTimeout: number;
  readonly outbox: Outbox | undefined;
  readonly tracing: EngineTracing | undefined;
  /** The lifecycle state; changed only by `moveTo`, which emits `state`. */
  state: EngineState;
  readonly events: TypedEmitter<EngineEvents>;
  readonly metrics: Metrics;
  readonly dispatcher: Dispatcher;
  readonly gate: ReadGate;
  /** Engine number, for connection ids. */
  readonly id: number;
  /** Connections dialled so far, for connection ids. */
  seq: number;
  /** Aborted by `stop()`: ends every wait and attempt. A new one per `start()`. */
  life: AbortController;
  /** The connection being opened or open; `undefined` between connections. */
  session: Session | undefined;
  openHooks: readonly OpenHook[];
  filters: readonly MessageFilter[];
  /**
   * Async iterators (`messages()`), fed after the hook and the event. Replaced, never changed in
   * place; an array, whose `length` the reader checks per message for less than a `Set`'s `size`.
   */
  sinks: readonly Sink[];
  /** A hook, filter or listener threw: emit `error`, or write to the console when nobody listens. */
  report(error: unknown): void;
  /** `engine.stop()`, for the hooks' `exit()`. */
  stop: () => Promise<void>;
}
