/**
 * When and how soon to reconnect: the options, a per-failure decision that knows handshake
 * statuses and close codes, exponential backoff with jitter inside [minDelay, maxDelay], and the
 * server's `Retry-After` on 429 and 503 (RFC 9110 section 10.2.3). The retry loop that applies
 * them is p-retry's, driven by the supervisor (`supervisor.ts`).
 */
import { HandshakeError, InvalidArgumentError, UnsupportedOperationError, WebSocketCloseError } from '../adapters/errors.js';
import { expectOption, knownOptions, numberOption } from './options.js';
import { MAX_DELAY } from './timers.js';

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
  // (An InvalidOptionError is an InvalidArgumentError too.)
  return !(error instanceof InvalidArgumentError || error instanceof UnsupportedOperationError);
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

/** Details of a scheduled retry. */
export interface RetryInfo {
  /** The number of the next attempt. */
  readonly attempt: number;
  /** The wait before it, in ms. */
  readonly delayMs: number;
  /** The failure that caused it. */
  readonly error: unknown;
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
  private readonly decide: ((error: unknown, context: RetryContext) => boolean) | undefined;

  constructor(
    options: ReconnectOptions = {},
    private readonly random: () => number = Math.random,
  ) {
    const o = options;
    this.retries = numberOption('reconnect.retries', o.retries, Infinity, 0, Infinity, true);
    this.minDelay = numberOption('reconnect.minDelay', o.minDelay, 1000, 0, MAX_DELAY);
    this.maxDelay = numberOption('reconnect.maxDelay', o.maxDelay, 30_000, this.minDelay, MAX_DELAY);
    this.factor = numberOption('reconnect.factor', o.factor, 2, 1);
    this.jitter = numberOption('reconnect.jitter', o.jitter, 0.2, 0, 1);
    this.minUptime = numberOption('reconnect.minUptime', o.minUptime, 5000, 0);
    this.openTimeout = numberOption('reconnect.openTimeout', o.openTimeout, 10_000, 1, MAX_DELAY);
    this.maxRetryAfter = numberOption('reconnect.maxRetryAfter', o.maxRetryAfter, 600_000, 0, MAX_DELAY);
    expectOption(options.retryOnStart === undefined || typeof options.retryOnStart === 'boolean', 'reconnect.retryOnStart', 'a boolean', options.retryOnStart);
    this.retryOnStart = options.retryOnStart ?? true;
    expectOption(options.shouldRetry === undefined || typeof options.shouldRetry === 'function', 'reconnect.shouldRetry', 'a function', options.shouldRetry);
    this.decide = options.shouldRetry;
    // Every option is a member of the policy under its own name (shouldRetry: the method).
    knownOptions(o, this, 'reconnect.');
  }

  /** Whether `error` is worth another attempt, by the user's rule or the default one. */
  shouldRetry(error: unknown, attempt: number, phase: RetryContext['phase']): boolean {
    const defaultDecision = defaultShouldRetry(error);
    if (!this.decide) return defaultDecision;
    return this.decide(error, { attempt, phase, defaultDecision }) === true;
  }

  /** The wait after failed attempt number `attempt` (1-based), honouring `Retry-After`. */
  delayFor(attempt: number, error?: unknown): number {
    const base = Math.min(this.maxDelay, this.minDelay * this.factor ** Math.max(0, attempt - 1));
    const spread = this.jitter === 0 ? 1 : 1 + this.jitter * (2 * this.random() - 1);
    let delay = Math.round(Math.min(this.maxDelay, Math.max(this.minDelay, base * spread)));
    const asked = retryAfterMs(error);
    if (asked !== undefined) delay = Math.max(delay, Math.min(asked, this.maxRetryAfter));
    return delay;
  }

  /** Whether the attempt count starts again after a connection that stayed open `uptimeMs`. */
  resetsCount(uptimeMs: number): boolean {
    return uptimeMs >= this.minUptime;
  }
}
