/**
 * How the message hook runs: in order (the next message waits for the hook's promise), or up to
 * N calls at once. Iterators (`iterator.ts`), the read gate and the read loop (`reader.ts`) are
 * the other ways messages reach user code.
 */
import { FINITE, numberOption } from './options.js';
import { deferred, type Deferred } from './timers.js';

export interface DeliveryOptions {
  /**
   * How many message-hook calls may run at once. 1 (default): strictly in order, the next
   * message waits until the hook's promise settles. N > 1: up to N run concurrently (they start
   * in order but may finish in any order); reading waits while N are running.
   */
  readonly concurrency?: number;
}

export function resolveConcurrency(options: DeliveryOptions | undefined): number {
  return numberOption('delivery.concurrency', options?.concurrency, 1, 1, FINITE, true);
}

function settled(): undefined {
  return undefined;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function';
}

/**
 * Runs the message hook with the configured concurrency. `dispatch` returns `undefined` when the
 * caller may read on at once (the hot path: a synchronous hook costs no extra promise), or a
 * promise to wait for first.
 */
export class Dispatcher {
  private running = 0;
  private slot: Deferred<void> | undefined;
  // Settle callbacks made once rather than twice for every message whose hook returns a
  // promise, and only for the mode in use (an idle engine stays small).
  private readonly doneOk: (() => void) | undefined;
  private readonly doneFailed: ((error: unknown) => void) | undefined;

  constructor(
    private readonly concurrency: number,
    private readonly onError: (error: unknown) => void,
  ) {
    if (concurrency > 1) {
      this.doneOk = () => this.done();
      this.doneFailed = (error) => {
        onError(error);
        this.done();
      };
    }
  }

  dispatch<A, B>(hook: (a: A, b: B) => unknown, a: A, b: B): Promise<void> | undefined {
    let result: unknown;
    try {
      result = hook(a, b);
    } catch (error) {
      this.onError(error);
      return undefined;
    }
    if (!isPromiseLike(result)) return undefined;
    if (this.concurrency === 1) return Promise.resolve(result).then(settled, this.onError);
    this.running++;
    Promise.resolve(result).then(this.doneOk, this.doneFailed);
    if (this.running < this.concurrency) return undefined;
    this.slot ??= deferred<void>();
    return this.slot.promise;
  }

  private done(): void {
    this.running--;
    if (this.slot && this.running < this.concurrency) {
      const slot = this.slot;
      this.slot = undefined;
      slot.resolve();
    }
  }
}
