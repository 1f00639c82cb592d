/**
 * Subscriptions that survive reconnects, with staleness and sequence policies, and a pool that
 * shards them over connections under an exchange's limits: `wsengine/subscriptions`. Browser-safe.
 */
export {
  createSubscriptions,
  type Subscriptions,
  type SubscriptionsOptions,
  type SubscriptionsEvents,
  type SubscriptionsEngine,
  type SubscriptionSpec,
  type SubscriptionState,
  type SubscriptionInfo,
  type SubscriptionControl,
  type SubscriptionCarry,
  type StreamMessage,
  type Gap,
} from './registry.js';
export {
  createSubscriptionPool,
  type SubscriptionPool,
  type SubscriptionPoolOptions,
  type SubscriptionPoolEvents,
  type PoolMessage,
  type PoolConnectionInfo,
} from './pool.js';
export { SequenceTracker, type SequenceMode, type SequenceVerdict } from './sequence.js';
export { TokenBucket, type RateOptions } from './rate-limit.js';
export { chooseSlot, planMoves, type SlotLoad, type PlacementLimits } from './placement.js';
export { SubscriptionClosedError, PoolFullError } from './errors.js';
