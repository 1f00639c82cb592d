/**
 * A token bucket: `count` tokens per `per` ms, at most `burst` saved up. Used for the messages
 * an exchange lets a client send per connection (Binance: 10 per second) and for how fast new
 * connections are opened (Binance: 300 per 5 minutes). Waiters are served in call order, so a
 * throttled subscribe never overtakes an earlier one. Timers go through `globalThis`, so it runs
 * in browsers and under fake clocks.
 */
import { InvalidOptionError } from '../../engine/errors.js';

export interface RateOptions {
  /** Tokens added per `per` ms. */
  readonly count: number;
  /** The period, in ms. */
  readonly per: number;
  /**
   * Tokens that may be saved up (the largest burst). Default `count`. A server that counts in a
   * sliding window may see up to `burst + count` messages in one window: set it lower there.
   */
  readonly burst?: number;
}

interface Waiter {
  readonly n: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: (() => void) | undefined;
}

export function validateRate(name: string, rate: RateOptions): void {
  if (rate === null || typeof rate !== 'object') throw new InvalidOptionError(name, 'expected {count, per}');
  for (const field of ['count', 'per'] as const) {
    const v = rate[field];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new InvalidOptionError(`${name}.${field}`, `expected a finite number > 0, got ${String(v)}`);
    }
  }
  // The wait for a token is up to `per` ms: at most what a timer can take (setTimeout fires a
  // longer one after 1 ms, and the bucket would re-arm every millisecond).
  if (rate.per > 2 ** 31 - 1) throw new InvalidOptionError(`${name}.per`, `expected at most 2147483647 ms, got ${rate.per}`);
  if (rate.burst !== undefined && (typeof rate.burst !== 'number' || !Number.isFinite(rate.burst) || rate.burst < 1)) {
    throw new InvalidOptionError(`${name}.burst`, `expected a finite number >= 1, got ${String(rate.burst)}`);
  }
}

export class TokenBucket {
  readonly #ratePerMs: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens: number;
  #updated: number;
  readonly #waiters: Waiter[] = [];
  #timer: ReturnType<typeof globalThis.setTimeout> | undefined;

  constructor(rate: RateOptions, now: () => number = () => Date.now()) {
    validateRate('rate', rate);
    this.#ratePerMs = rate.count / rate.per;
    this.#burst = rate.burst ?? rate.count;
    this.#now = now;
    this.#tokens = this.#burst;
    this.#updated = now();
  }

  #refill(): void {
    const now = this.#now();
    const elapsed = now - this.#updated;
    if (elapsed > 0) {
      this.#tokens = Math.min(this.#burst, this.#tokens + elapsed * this.#ratePerMs);
      this.#updated = now;
    }
  }

  /** Tokens available now (fractional). */
  get tokens(): number {
    this.#refill();
    return this.#tokens;
  }

  /** Callers waiting for tokens. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** Take `n` tokens now if they are there (and nobody waits before us). */
  tryTake(n = 1): boolean {
    if (this.#waiters.length > 0) return false;
    this.#refill();
    if (this.#tokens + 1e-9 < n) return false;
    this.#tokens -= n;
    return true;
  }

  /** Ms until `n` tokens are there (0 when they are). */
  delayFor(n = 1): number {
    this.#refill();
    const missing = Math.min(n, this.#burst) - this.#tokens;
    return missing <= 1e-9 ? 0 : Math.ceil(missing / this.#ratePerMs);
  }

  /** Wait for `n` tokens (at most `burst` at once), in call order. Rejects with the signal's reason. */
  take(n = 1, signal?: AbortSignal): Promise<void> {
    n = Math.min(n, this.#burst);
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.tryTake(n)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const onAbort = signal
        ? (): void => {
            const index = this.#waiters.indexOf(waiter);
            if (index >= 0) this.#waiters.splice(index, 1);
            if (index === 0) this.#schedule();
            reject(signal.reason);
          }
        : undefined;
      const waiter: Waiter = { n, resolve, reject, signal, onAbort };
      this.#waiters.push(waiter);
      if (signal) signal.addEventListener('abort', onAbort!, { once: true });
      if (this.#waiters.length === 1) this.#schedule();
    });
  }

  /** Reject every waiter (on shutdown), leaving no timer behind. */
  cancelAll(reason: unknown): void {
    if (this.#timer !== undefined) globalThis.clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const waiter of this.#waiters.splice(0)) {
      if (waiter.onAbort) waiter.signal!.removeEventListener('abort', waiter.onAbort);
      waiter.reject(reason);
    }
  }

  #schedule(): void {
    if (this.#timer !== undefined) globalThis.clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#waiters.length > 0) {
      const head = this.#waiters[0]!;
      this.#refill();
      if (this.#tokens + 1e-9 >= head.n) {
        this.#tokens -= head.n;
        this.#waiters.shift();
        if (head.onAbort) head.signal!.removeEventListener('abort', head.onAbort);
        head.resolve();
        continue;
      }
      this.#timer = globalThis.setTimeout(() => {
        this.#timer = undefined;
        this.#schedule();
      }, this.delayFor(head.n));
      return;
    }
  }
}
