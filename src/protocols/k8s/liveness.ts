/**
 * The heartbeat of an exec session: a ping frame every `interval` (RFC 6455 section 5.5.2), so
 * proxies and load balancers see traffic on an idle exec and a dead connection is found.
 *
 * It differs from the engine's heartbeat in one rule: a probe that goes unanswered is not proof
 * of death while the session itself is holding the connection back. When a slow consumer stops
 * the reads, the socket is paused and the pong waits unread behind output; when a large stdin
 * write is queued, the ping waits behind it. So a probe only fails when no message arrived, no
 * read was held and no write was pending since it was sent. Browser-safe (timers through
 * `globalThis`).
 */
import { ConnectionClosedError, UnsupportedOperationError, WebSocketCloseError } from '../../adapters/errors.js';

export interface LivenessOptions {
  readonly interval: number;
  readonly timeout: number;
}

export interface LivenessHooks {
  ping(signal: AbortSignal): Promise<void>;
  /** Whether reads are held or writes pending right now. */
  busy(): boolean;
  /** No answer, no traffic, nothing held back within `timeout`. */
  dead(): void;
}

export class Liveness {
  readonly #options: LivenessOptions;
  readonly #hooks: LivenessHooks;
  #timer: ReturnType<typeof globalThis.setTimeout> | undefined;
  #probe: AbortController | undefined;
  #excused = false;
  #stopped = false;

  constructor(options: LivenessOptions, hooks: LivenessHooks) {
    this.#options = options;
    this.#hooks = hooks;
  }

  start(): void {
    this.#schedule(this.#options.interval, () => this.#send());
  }

  /** A message arrived, or the session was busy: the current probe cannot fail. */
  alive(): void {
    this.#excused = true;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) globalThis.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#probe?.abort();
    this.#probe = undefined;
  }

  #schedule(ms: number, run: () => void): void {
    if (this.#stopped) return;
    if (this.#timer !== undefined) globalThis.clearTimeout(this.#timer);
    this.#timer = globalThis.setTimeout(run, ms);
  }

  #send(): void {
    const probe = new AbortController();
    this.#probe = probe;
    this.#excused = this.#hooks.busy();
    this.#schedule(this.#options.timeout, () => this.#expire(probe));
    this.#hooks.ping(probe.signal).then(
      () => {
        if (this.#probe !== probe) return;
        this.#probe = undefined;
        this.#schedule(this.#options.interval, () => this.#send());
      },
      (error: unknown) => {
        if (this.#probe !== probe) return;
        this.#probe = undefined;
        // No ping frames here (a browser), or the connection is closing: the read loop and
        // the server's own idle rules take over.
        if (error instanceof UnsupportedOperationError || error instanceof ConnectionClosedError || error instanceof WebSocketCloseError) {
          this.stop();
        }
        // Any other failure is left to the deadline.
      },
    );
  }

  #expire(probe: AbortController): void {
    if (this.#probe === probe) {
      probe.abort();
      this.#probe = undefined;
    }
    if (this.#excused || this.#hooks.busy()) {
      this.#schedule(this.#options.interval, () => this.#send());
      return;
    }
    this.stop();
    this.#hooks.dead();
  }
}
