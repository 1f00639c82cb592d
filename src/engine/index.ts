/**
 * The resilient engine: `createEngine(options)`; browser-safe (no `node:`, `ws` or undici imports).
 */
export {
  Engine,
  createEngine,
  type EngineOptions,
  type EngineEvents,
  type HookContext,
  type CloseInfo,
  type CloseChoice,
  type RestartErrorContext,
  type SendOptions,
  type StartOptions,
  type OpenInfo,
  type OpenHook,
  type MessageFilter,
} from './engine.js';
export { EngineState, canTransition } from './state.js';
export {
  ReconnectPolicy,
  defaultShouldRetry,
  retryAfterMs,
  type ReconnectOptions,
  type RetryContext,
  type RetryInfo,
} from './reconnect-policy.js';
export { type HeartbeatOptions, type HeartbeatMode, type HeartbeatMessage } from './heartbeat.js';
export { type OutboxOptions } from './outbox.js';
export { type DeliveryOptions } from './delivery.js';
export { type MetricsSnapshot } from './metrics.js';
export { type TracerLike, type SpanLike } from './tracing.js';
export {
  NotConnectedError,
  OutboxOverflowError,
  MessageExpiredError,
  RetriesExhaustedError,
  EngineStoppedError,
  OpenTimeoutError,
  HeartbeatTimeoutError,
  RestartRequestedError,
  InvalidOptionError,
} from './errors.js';
