/**
 * Errors of the subscription registry and pool.
 */
import { WsEngineError } from '../../adapters/errors.js';

/** The subscription was removed (unsubscribed, moved, or its registry closed) before it was active. */
export class SubscriptionClosedError extends WsEngineError {
  constructor(message = 'The subscriptions were closed') {
    super('ERR_SUBSCRIPTION_CLOSED', message);
  }
}

/** The pool has no room: every connection it may open holds `maxPerConnection` subscriptions. */
export class PoolFullError extends WsEngineError {
  readonly capacity: number;
  constructor(capacity: number) {
    super('ERR_POOL_FULL', `The pool is full: ${capacity} subscriptions (maxConnections x maxPerConnection)`);
    this.capacity = capacity;
  }
}
