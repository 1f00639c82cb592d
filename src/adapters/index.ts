export * from './errors.js';
export { MAX_PENDING_PONGS, PingFloodError } from './flood-error.js';
export * from './status-codes.js';
export * from './types.js';
export {
  MAX_CLOSE_REASON_BYTES,
  normalizeWriteData,
  parseWebSocketUrl,
  validateClose,
  validateMessageType,
} from './validation.js';
export { ReadQueue, type ReadQueueOptions } from './read-queue.js';
export { raceSignal, abortReason } from './signals.js';
export { REFUSAL_BODY_LIMIT } from './core/refusal-body.js';
export {
  type CommonAdapterOptions,
  type NodeAdapterOptions,
  type ReadQueueLimits,
  type TlsOptions,
} from './options.js';
