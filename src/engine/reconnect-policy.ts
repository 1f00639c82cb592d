/**
 * When and how soon to reconnect. The retry loop itself is p-retry's (attempt counting, the
 * limit, abort); this module adds what a WebSocket client needs on top: a per-failure decision
 * that knows handshake statuses and close codes, exponential backoff with jitter inside
 * [minDelay, maxDelay], and the server's `Retry-After` on 429 and 503 (RFC 9110 section 10.2.3).
 */
import pRetry from 'p-retry';
import { HandshakeError, InvalidArgumentError, UnsupportedOperationError, WebSocketCloseError } from '../adapters/errors.js';
import { InvalidOptionError, RetriesExhaustedError } from './errors.js';
import { sleep } from './timers.js';

/** What a retry decision is told besides the error. */
export interface RetryContext {
  /** The number of the attempt that failed (1 for the first since the count was last reset). */
  readonly attempt: number;
  /** `connect`: an attempt (dial plus open hook) failed; `lost`: an open connection ended. */
  readonly phase: 'connect' | 'lost';
  /** What the default rules decide for this error. */
  readonly defaultDecision: boolean;
}

export interface ReconnectOptions {
  /** Connection attempts after a failure; `Infinity` retries for ever. Default `Infinity`. */
  readonly retries?: number;
  /** Delay before the first retry, and the smallest delay, in ms. Default 1000. */
  readonly minDelay?: number;
  /** Largest delay between attempts, in ms. Default 30000. */
  readonly maxDelay?: number;
  /** Growth of the delay per failed attempt. Default 2. */
  readonly factor?: number;
  /**
   * Random spread of each delay, as a fraction: the delay is multiplied by a random factor in
   * [1 - jitter, 1 + jitter] (then kept within the bounds), so that clients dropped together do
   * not come back together. Default 0.2; 0 makes delays exact.
   */
  readonly jitter?: number;
  /**
   * A connection that stayed open this long (ms) resets the attempt count, so the next outage
   * starts again from `minDelay`; a shorter one (a server that accepts then drops at once)
   * continues the count. Default 5000.
   */
  readonly minUptime?: number;
  /** Bound on one attempt: dial plus the open hook, in ms. Default 10000. */
  readonly openTimeout?: number;
  /**
   * Whether `start()` retries its first connection under this policy, as a reconnect would.
   * Default true: a client started before its server (or during a blip) keeps trying, and
   * `start({ signal })` bounds the wait. `false`: the first failed attempt rejects `start()`.
   */
  readonly retryOnStart?: boolean;
  /** Longest `Retry-After` honoured, in ms (a longer one is cut to this). Default 600000. */
  readonly maxRetryAfter?: number;
  /**
   * Decide per failure whether to try again; see {@link defaultShouldRetry} for the defaults.
   * Connections ended locally (heartbeat timeout, `restart()`) are always replaced.
   */
  readonly shouldRetry?: (error: unknown, context: RetryContext) => boolean;
}

/** Handshake statuses that another attempt will not fix. */
const FATAL_STATUSES = new Set([400, 401, 403, 404]);
/**
 * Close codes that say the client itself is at fault (RFC 6455 section 7.4.1): a protocol
 * error (1002), data it should not have sent (1003, 1007), a policy violation (1008).
 */
const FATAL_CLOSE_CODES = new Set([1002, 1003, 1007, 1008]);

/**
 * The default decision: do not retry a handshake refused with 400, 401, 403 or 404, a close
 * with 1002, 1003, 1007 or 1008, or an invalid argument (a malformed URL); retry everything
 * else: network errors, timeouts, 1001, 1006, 1011-1014, 429 and 503, other 5xx.
 */
export function defaultShouldRetry(error: unknown): boolean {
  if (error instanceof HandshakeError) return error.status === undefined || !FATAL_STATUSES.has(error.status);
  if (error instanceof WebSocketCloseError) return !FATAL_CLOSE_CODES.has(error.code);
  // Errors of configuration, not of the network: retrying cannot make them pass.
  if (
    error instanceof InvalidArgumentError ||
    error instanceof InvalidOptionError ||
    error instanceof UnsupportedOperationError
  ) {
    return false;
  }
  return true;
}

/**
 * The wait a refusal asks for, in ms: `Retry-After` of a 429 or 503 answer, as delay-seconds or
 * an HTTP-date (RFC 9110 section 10.2.3). `undefined` when there is none or it is unreadable.
 */
export function retryAfterMs(error: unknown, now = Date.now()): number | undefined {
  if (!(error instanceof HandshakeError) || (error.status !== 429 && error.status !== 503)) return undefined;
  const value = error.headers['retry-after']?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

function checkNumber(name: string, value: unknown, min: number, allowInfinity = false): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || (!allowInfinity && !Number.isFinite(value))) {
    throw new InvalidOptionError(name, `expected a ${allowInfinity ? 'number or Infinity' : 'finite number'} >= ${min}, got ${String(value)}`);
  }
  return value;
}

/** A failure wrapped for p-retry, which treats some raw errors (TypeError) specially. */
class AttemptFailure extends Error {
  constructor(readonly failure: unknown) {
    super('connection attempt failed');
  }
}

/** Details of a scheduled retry. */
export interface RetryInfo {
  /** The number of the next attempt. */
  readonly attempt: number;
  /** The wait before it, in ms. */
  readonly delayMs: number;
  /** The failure that caused it. */
  readonly error: unknown;
}

export interface RunOptions {
  /** Aborts the waits and the loop (stop()). */
  readonly signal: AbortSignal;
  /** Attempts already made in this outage (a short-lived connection does not reset the count). */
  readonly attemptsSoFar: number;
  /** At most this many attempts in this call (`Infinity`: no limit). */
  readonly maxAttempts: number;
  /**
   * Index of the wait after attempt N is N + waitOffset: 1 when the outage began with a lost
   * connection (its first wait came before attempt 1), 0 when it began with `start()`.
   */
  readonly waitOffset: number;
  /** Called after each failed attempt, with its number. */
  readonly onFailure: (error: unknown, attempt: number) => void | Promise<void>;
  /** Called before waiting for the next attempt. */
  readonly onRetry: (info: RetryInfo) => void;
  /** Lets a caller cut the current wait short (restart()): a promise that settles when it should. */
  readonly skipWait?: () => Promise<void> | undefined;
}

export class ReconnectPolicy {
  readonly retries: number;
  readonly minDelay: number;
  readonly maxDelay: number;
  readonly factor: number;
  readonly jitter: number;
  readonly minUptime: number;
  readonly openTimeout: number;
  readonly retryOnStart: boolean;
  readonly maxRetryAfter: number;
  readonly #shouldRetry: ((error: unknown, context: RetryContext) => boolean) | undefined;
  readonly #random: () => number;

  constructor(options: ReconnectOptions = {}, random: () => number = Math.random) {
    this.retries = checkNumber('reconnect.retries', options.retries ?? Infinity, 0, true);
    if (Number.isFinite(this.retries) && !Number.isInteger(this.retries)) {
      throw new InvalidOptionError('reconnect.retries', `expected an integer or Infinity, got ${this.retries}`);
    }
    this.minDelay = checkNumber('reconnect.minDelay', options.minDelay ?? 1000, 0);
    this.maxDelay = checkNumber('reconnect.maxDelay', options.maxDelay ?? 30_000, 0);
    if (this.maxDelay < this.minDelay) {
      throw new InvalidOptionError('reconnect.maxDelay', `must be >= reconnect.minDelay (${this.minDelay}), got ${this.maxDelay}`);
    }
    this.factor = checkNumber('reconnect.factor', options.factor ?? 2, 1);
    this.jitter = checkNumber('reconnect.jitter', options.jitter ?? 0.2, 0);
    if (this.jitter > 1) throw new InvalidOptionError('reconnect.jitter', `expected a fraction in [0, 1], got ${this.jitter}`);
    this.minUptime = checkNumber('reconnect.minUptime', options.minUptime ?? 5000, 0);
    this.openTimeout = checkNumber('reconnect.openTimeout', options.openTimeout ?? 10_000, 1);
    this.maxRetryAfter = checkNumber('reconnect.maxRetryAfter', options.maxRetryAfter ?? 600_000, 0);
    if (options.retryOnStart !== undefined && typeof options.retryOnStart !== 'boolean') {
      throw new InvalidOptionError('reconnect.retryOnStart', `expected a boolean, got ${typeof options.retryOnStart}`);
    }
    this.retryOnStart = options.retryOnStart ?? true;
    if (options.shouldRetry !== undefined && typeof options.shouldRetry !== 'function') {
      throw new InvalidOptionError('reconnect.shouldRetry', `expected a function, got ${typeof options.shouldRetry}`);
    }
    this.#shouldRetry = options.shouldRetry;
    this.#random = random;
  }

  /** Whether `error` is worth another attempt, by the user's rule or the default one. */
  shouldRetry(error: unknown, attempt: number, phase: RetryContext['phase']): boolean {
    const defaultDecision = defaultShouldRetry(error);
    if (!this.#shouldRetry) return defaultDecision;
    return this.#shouldRetry(error, { attempt, phase, defaultDecision }) === true;
  }

  /** The wait after failed attempt number `attempt` (1-based), honouring `Retry-After`. */
  delayFor(attempt: number, error?: unknown): number {
    const base = Math.min(this.maxDelay, this.minDelay * this.factor ** Math.max(0, attempt - 1));
    const spread = this.jitter === 0 ? 1 : 1 + this.jitter * (2 * this.#random() - 1);
    let delay = Math.round(Math.min(this.maxDelay, Math.max(this.minDelay, base * spread)));
    const asked = retryAfterMs(error);
    if (asked !== undefined) delay = Math.max(delay, Math.min(asked, this.maxRetryAfter));
    return delay;
  }

  /** Whether the attempt count starts again after a connection that stayed open `uptimeMs`. */
  resetsCount(uptimeMs: number): boolean {
    return uptimeMs >= this.minUptime;
  }

  /**
   * Run `attempt` until it succeeds, the decision says stop (rejects with that failure), the
   * limit is reached (rejects with {@link RetriesExhaustedError}) or the signal aborts (rejects
   * with its reason).
   */
  async run<T>(attempt: (attempt: number) => Promise<T>, options: RunOptions): Promise<T> {
    const already = options.attemptsSoFar;
    const remaining = Number.isFinite(options.maxAttempts) ? Math.max(0, options.maxAttempts - 1) : Infinity;
    let refused = false;
    let made = already;
    try {
      return await pRetry(
        async (n: number) => {
          made = already + n;
          try {
            return await attempt(already + n);
          } catch (error) {
            throw new AttemptFailure(error);
          }
        },
        {
          retries: remaining,
          // The waits are ours (jitter within bounds, Retry-After): p-retry's own are zero.
          minTimeout: 0,
          factor: 1,
          signal: options.signal,
          onFailedAttempt: async ({ error, attemptNumber }) => {
            await options.onFailure(unwrap(error), already + attemptNumber);
          },
          shouldRetry: async ({ error, attemptNumber }) => {
            const failure = unwrap(error);
            const number = already + attemptNumber;
            if (!this.shouldRetry(failure, number, 'connect')) {
              refused = true;
              return false;
            }
            const delayMs = this.delayFor(number + options.waitOffset, failure);
            options.onRetry({ attempt: number + 1, delayMs, error: failure });
            await sleep(delayMs, options.signal, options.skipWait?.());
            return true;
          },
        },
      );
    } catch (error) {
      if (options.signal.aborted) throw options.signal.reason;
      const failure = unwrap(error);
      if (refused || !(error instanceof AttemptFailure)) throw failure;
      throw new RetriesExhaustedError(made, failure);
    }
  }
}

function unwrap(error: unknown): unknown {
  return error instanceof AttemptFailure ? error.failure : error;
}
