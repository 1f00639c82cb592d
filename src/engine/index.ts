/**
 * The resilient engine: `createEngine(options)`; browser-safe (no `node:`, `ws` or undici imports).
 * The optional features are separate functions, so an app ships only what it uses:
 * `createOutbox`, `messages`, `exclusive`, `otelTracing`.
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
export { createOutbox, type Outbox, type OutboxOptions } from './outbox.js';
export { type DeliveryOptions } from './delivery.js';
export { messages, type MessagesOptions } from './iterator.js';
export { exclusive } from './exclusive.js';
export { addOpenHook, intercept } from './layers.js';
export { type MetricsSnapshot } from './metrics.js';
export { otelTracing, loadGlobalTracer, type EngineTracing, type SpanEnd, type TracerLike, type SpanLike } from './tracing.js';
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
