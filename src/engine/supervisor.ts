/**
 * The supervisor: the engine's one retry loop. It opens a session, serves it until it ends, and
 * decides what comes next. Every outage (the start, a lost connection, a restart) is one p-retry
 * call, with p-retry's own backoff (`minTimeout`, `factor`, `maxTimeout`, `retries`, `signal`)
 * and its hooks for the rest: `shouldRetry` makes the per-failure decision and adds what p-retry
 * cannot express (the jitter of `reconnect.jitter`, and a server's `Retry-After`), and
 * `onFailedAttempt` reports each failed attempt. So there is one place that waits between
 * attempts: p-retry's, plus the extra in its hook.
 *
 * An outage that begins with a lost connection counts the loss as its first failure: p-retry
 * then waits before the first new attempt, as it waits before every later one.
 */
import pRetry from 'p-retry';
import type { EngineContext } from './context.js';
import { EngineStoppedError, RetriesExhaustedError } from './errors.js';
import { open, serve, type Session } from './session.js';
import { deferred, noop, onAbort, type Deferred } from '../adapters/signals.js';
import { moveTo } from './state.js';
import { sleep } from './timers.js';

/** What began an outage. */
type Cause = { kind: 'start' } | { kind: 'restart' } | { kind: 'lost' | 'heartbeat'; error: unknown };

/** A failure wrapped for p-retry, which treats some raw errors (TypeError) specially. */
class AttemptFailure extends Error {
  constructor(readonly failure: unknown) {
    super('connection attempt failed');
  }
}

function unwrap(error: unknown): unknown {
  return error instanceof AttemptFailure ? error.failure : error;
}

/** The reason an outage's waits are aborted with by `restart()`. */
const RESTART = Symbol('restart');

export class Supervisor {
  private starting: Promise<void> | undefined;
  private running: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  /** Aborts the current outage's waits (`restart()`) and, with the engine's life, its attempts. */
  private waits: AbortController | undefined;

  constructor(private readonly ctx: EngineContext) {}

  start(): Promise<void> {
    // A stop under way wins over everything else: its engine ends stopped, so neither the
    // pending start's promise nor "already running" would tell the truth.
    if (this.stopping) return Promise.reject(new EngineStoppedError('The engine is stopping'));
    if (this.starting) return this.starting;
    const { ctx } = this;
    const state = ctx.state;
    if (state !== 'idle' && state !== 'stopped') return Promise.resolve();
    ctx.life = new AbortController();
    const first = deferred<void>();
    this.starting = first.promise;
    moveTo(ctx, 'connecting');
    this.running = this.loop(first);
    return first.promise;
  }

  /** Whether `start()` is still waiting for its first connection and returned this promise. */
  isStarting(starting: Promise<void>): boolean {
    return this.starting === starting;
  }

  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    const { ctx } = this;
    const state = ctx.state;
    // Never started: stopped all the same (idle -> stopped), so that sends queued meanwhile are
    // rejected rather than wait out their ttl, and iterators made meanwhile end.
    if (state === 'idle') this.finish(undefined, deferred<void>());
    if (state === 'idle' || state === 'stopped') return Promise.resolve();
    this.stopping = (async () => {
      const session = ctx.session;
      if (session && session.phase !== 'opening') session.end({ kind: 'stop' });
      ctx.life.abort(new EngineStoppedError());
      await this.running;
    })();
    return this.stopping;
  }

  restart(): void {
    const session = this.ctx.session;
    if (session && session.phase !== 'opening' && session.phase !== 'ended') session.end({ kind: 'restart' });
    // Waiting to reconnect: give up this outage's wait and begin a new outage at once.
    else if (this.ctx.state === 'reconnecting') this.waits?.abort(RESTART);
  }

  private async loop(first: Deferred<void>): Promise<void> {
    const { ctx } = this;
    const life = ctx.life.signal;
    let failure: unknown;
    try {
      let cause: Cause = { kind: 'start' };
      // Waits the current outage has consumed: a connection shorter than `minUptime` does not
      // end the outage, so the next one continues the count (and the growth of the waits).
      let carried = 0;
      while (true) {
        let session: Session;
        try {
          session = await this.outage(cause, carried);
        } catch (error) {
          if (error === RESTART && !life.aborted) {
            cause = { kind: 'restart' };
            carried = 0;
            continue;
          }
          throw error;
        }
        carried = cause.kind === 'lost' || cause.kind === 'heartbeat' ? session.attempt : session.attempt - 1;
        // Settled from here on, synchronously: an abort of start()'s signal no longer stops anything.
        this.starting = undefined;
        first.resolve();
        const end = await serve(session);
        if (end.kind === 'stop' || life.aborted) return;
        if (end.kind === 'restart') {
          cause = { kind: 'restart' };
          carried = 0;
        } else {
          cause = end;
          if (ctx.policy.resetsCount(Date.now() - session.openedAt)) carried = 0;
        }
      }
    } catch (error) {
      if (!life.aborted) failure = error;
    } finally {
      this.finish(failure, first);
    }
  }

  /** One outage: attempts under the reconnect policy until one opens a session. */
  private async outage(cause: Cause, carried: number): Promise<Session> {
    const { ctx } = this;
    const { policy } = ctx;
    const life = ctx.life.signal;
    if (life.aborted) throw life.reason;
    const controller = (this.waits = new AbortController());
    const { signal } = controller;
    const off = onAbort(life, () => controller.abort(life.reason));
    const lost = cause.kind === 'lost' || cause.kind === 'heartbeat';
    // The loss is the outage's first failure (p-retry's attempt 1); attempts to connect follow.
    const losses = lost ? 1 : 0;
    const base = lost ? carried : 0;
    const retries =
      cause.kind === 'restart'
        ? Math.max(1, policy.retries) - 1 // an explicit restart gets one attempt, even with reconnect off
        : cause.kind === 'start' && !policy.retryOnStart
          ? 0
          : Math.max(0, policy.retries - base);
    // p-retry waits minTimeout * factor^n, capped at maxTimeout: the low end of the jittered
    // range; the shouldRetry hook waits the rest.
    const low = 1 - policy.jitter;
    const maxTimeout = Math.floor(policy.maxDelay * low);
    const minTimeout = Math.min(maxTimeout, Math.floor(policy.minDelay * low * policy.factor ** base));
    let refused = false;
    let made = base;
    try {
      return await pRetry(
        async (n: number) => {
          if (n <= losses) throw new AttemptFailure((cause as { error: unknown }).error);
          made = base + n - losses;
          try {
            return await open(ctx, made, cause.kind !== 'start', signal);
          } catch (error) {
            throw new AttemptFailure(error);
          }
        },
        {
          retries,
          factor: policy.factor,
          minTimeout,
          maxTimeout,
          signal,
          onFailedAttempt: async ({ error, attemptNumber }) => {
            if (attemptNumber > losses && !signal.aborted) await this.failed(unwrap(error), base + attemptNumber - losses);
          },
          shouldRetry: async ({ error, attemptNumber, retriesConsumed }) => {
            if (signal.aborted) return false;
            const failure = unwrap(error);
            const number = base + attemptNumber - losses;
            // Connections the engine ended itself (heartbeat timeout) are always replaced.
            const retry =
              attemptNumber > losses
                ? policy.shouldRetry(failure, number, 'connect')
                : cause.kind === 'heartbeat' || policy.shouldRetry(failure, number, 'lost');
            if (!retry) {
              refused = true;
              return false;
            }
            const delayMs = policy.delayFor(base + retriesConsumed + 1, failure);
            moveTo(ctx, 'reconnecting');
            ctx.events.emit('retry', { attempt: number + 1, delayMs, error: failure });
            const waits = Math.min(Math.round(minTimeout * policy.factor ** retriesConsumed), maxTimeout);
            if (delayMs > waits) await sleep(delayMs - waits, signal);
            return true;
          },
        },
      );
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      const failure = unwrap(error);
      const raw = (policy.retries === 0 && cause.kind !== 'restart') || (cause.kind === 'start' && !policy.retryOnStart);
      if (refused || raw || !(error instanceof AttemptFailure)) throw failure;
      throw new RetriesExhaustedError(made, failure);
    } finally {
      off();
      // Nothing to abort between outages: an idle engine keeps no controller of its own.
      if (this.waits === controller) this.waits = undefined;
    }
  }

  /** An attempt failed: the `attempt-failed` event, then the restart-error hook. */
  private async failed(error: unknown, attempt: number): Promise<void> {
    const { ctx } = this;
    ctx.events.emit('attempt-failed', error, attempt);
    const hook = ctx.options.onRestartError;
    if (!hook) return;
    try {
      await hook(error, { attempt, exit: () => void ctx.stop() });
    } catch (hookError) {
      ctx.report(hookError);
    }
  }

  private finish(failure: unknown, first: Deferred<void>): void {
    const { ctx } = this;
    ctx.session = undefined;
    this.starting = undefined;
    if (failure !== undefined) ctx.events.emit('error', failure);
    const reason = failure ?? new EngineStoppedError();
    first.reject(reason);
    // Nobody may be waiting on `start()` any more (it resolved earlier): avoid an unhandled rejection.
    first.promise.catch(noop);
    ctx.outbox?.rejectAll(reason);
    moveTo(ctx, 'stopped');
    this.stopping = undefined;
    this.running = undefined;
    ctx.events.emit('stopped', { error: failure });
  }
}
