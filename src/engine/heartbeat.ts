/**
 * Liveness. A TCP connection can die without either end hearing of it (a half-open connection:
 * a NAT drops its mapping, a cable is pulled, a peer crashes without RST); TCP's own timers take
 * minutes to notice, and a WebSocket that only receives would wait for ever. So every `interval`
 * the heartbeat probes, and when nothing answers within `timeout` it declares the connection
 * dead: detection within interval + timeout.
 *
 * Probes, by mode:
 * - `ping`: a ping frame; the pong answers it (RFC 6455 section 5.5.2 and 5.5.3).
 * - `message`: an application message (for servers or runtimes without ping frames, the
 *   browser); an inbound message accepted by `isPong` answers it (any message when no `isPong`).
 * - `traffic`: nothing is sent; any inbound message within interval + timeout is a sign of life.
 * - `auto` (default): `ping`, falling back to `message` (when a message is configured) or
 *   `traffic` if the adapter cannot send ping frames.
 * - `off`: no heartbeat.
 */
import { ConnectionClosedError, UnsupportedOperationError, WebSocketCloseError } from '../adapters/errors.js';
import type { Message, MessageType, WriteData } from '../adapters/types.js';
import { HeartbeatTimeoutError, InvalidOptionError } from './errors.js';
import { expectOption, knownOptions, numberOption, POSITIVE } from './options.js';
import type { HeartbeatPhase } from './state.js';
import { Timer } from './timers.js';

export type HeartbeatMode = 'auto' | 'ping' | 'message' | 'traffic' | 'off';

/** An application-level ping message. */
export interface HeartbeatMessage {
  readonly type: MessageType;
  readonly data: WriteData;
}

export interface HeartbeatOptions {
  /** How the connection is probed; see the module comment. Default `'auto'`. */
  readonly mode?: HeartbeatMode;
  /** Time between probes, in ms. Default 15000. */
  readonly interval?: number;
  /** How long a probe may go unanswered before the connection is declared dead, in ms. Default 5000. */
  readonly timeout?: number;
  /** The application-level ping for `message` mode (or a function making a fresh one per probe). */
  readonly message?: HeartbeatMessage | (() => HeartbeatMessage);
  /** Recognises the application-level pong; without it any inbound message answers a probe. */
  readonly isPong?: (message: Message) => boolean;
  /** Whether messages recognised by `isPong` are also delivered to the user. Default false. */
  readonly deliverPongs?: boolean;
}

export interface ResolvedHeartbeatOptions {
  readonly mode: HeartbeatMode;
  readonly interval: number;
  readonly timeout: number;
  readonly message: HeartbeatMessage | (() => HeartbeatMessage) | undefined;
  readonly isPong: ((message: Message) => boolean) | undefined;
  readonly deliverPongs: boolean;
}

const MODES: readonly HeartbeatMode[] = ['auto', 'ping', 'message', 'traffic', 'off'];

export function resolveHeartbeatOptions(options: HeartbeatOptions | false | undefined): ResolvedHeartbeatOptions {
  const o = options === false ? { mode: 'off' as const } : (options ?? {});
  const mode = o.mode ?? 'auto';
  expectOption(MODES.includes(mode), 'heartbeat.mode', `one of ${MODES.join(', ')}`, mode);
  const interval = numberOption('heartbeat.interval', o.interval, 15_000, POSITIVE);
  const timeout = numberOption('heartbeat.timeout', o.timeout, 5_000, POSITIVE);
  if (mode === 'message' && o.message === undefined) {
    throw new InvalidOptionError('heartbeat.message', 'is required in heartbeat mode "message"');
  }
  expectOption(o.isPong === undefined || typeof o.isPong === 'function', 'heartbeat.isPong', 'a function', o.isPong);
  return knownOptions(o, { mode, interval, timeout, message: o.message, isPong: o.isPong, deliverPongs: o.deliverPongs ?? false }, 'heartbeat.');
}

/** What the heartbeat needs from the connection. */
export interface HeartbeatProbes {
  ping(signal: AbortSignal): Promise<void>;
  send(message: HeartbeatMessage): Promise<void>;
}

export interface HeartbeatEvents {
  /** The connection is dead: no answer within the timeout. Called at most once. */
  dead(error: HeartbeatTimeoutError): void;
  /** A probe was answered after `rttMs`. */
  rtt(rttMs: number): void;
  /**
   * A probe found the connection closed. While delivery is paused nobody reads, so this is how
   * the engine learns of a close it would otherwise only see on resume.
   */
  gone(error: unknown): void;
}

/** The heartbeat of one connection: started when it opens, stopped when it ends. */
export class Heartbeat {
  /** The mode in use (after any fallback from `auto`). */
  mode: Exclude<HeartbeatMode, 'auto'>;
  /**
   * One timer, as one thing is awaited at a time: the next probe (`waiting`), the deadline of
   * the probe that is out (`probing`), or the end of the allowed silence (`traffic` mode).
   */
  private readonly timer = new Timer();
  private pinging: AbortController | undefined;
  private sentAt = 0;
  private phase: HeartbeatPhase = 'waiting';
  private heard = 0;
  /** Whether inbound messages matter to this heartbeat (message and traffic modes): lets the reader skip the call. */
  watchesMessages: boolean;

  constructor(
    private readonly options: ResolvedHeartbeatOptions,
    private readonly probes: HeartbeatProbes,
    private readonly events: HeartbeatEvents,
  ) {
    this.mode = options.mode === 'auto' ? 'ping' : options.mode;
    this.watchesMessages = this.mode === 'message' || this.mode === 'traffic';
  }

  start(): void {
    if (this.mode !== 'off') this.schedule();
  }

  stop(): void {
    this.phase = 'stopped';
    this.timer.cancel();
    this.pinging?.abort();
    this.pinging = undefined;
  }

  /**
   * Tell the heartbeat a message arrived. Returns true when the message is an application-level
   * pong that should not be delivered.
   */
  onMessage(message: Message): boolean {
    if (this.mode === 'traffic') {
      // Only a time stamp per message: the timer checks it when it fires.
      this.heard = Date.now();
      return false;
    }
    if (this.mode !== 'message') return false;
    const isPong = this.options.isPong;
    const matched = isPong === undefined ? true : isPong(message);
    if (matched && this.phase === 'probing') this.answered();
    return matched && isPong !== undefined && !this.options.deliverPongs;
  }

  /** Wait for the next probe; in `traffic` mode, watch for silence of interval + timeout instead. */
  private schedule(): void {
    if (this.phase === 'stopped') return;
    this.phase = 'waiting';
    if (this.mode !== 'traffic') {
      this.timer.arm(this.options.interval, () => this.probe());
      return;
    }
    this.heard = Date.now();
    const limit = this.options.interval + this.options.timeout;
    const watch = (ms: number): void =>
      this.timer.arm(ms, () => {
        const silent = Date.now() - this.heard;
        if (silent >= limit) this.die(limit);
        else watch(limit - silent);
      });
    watch(limit);
  }

  private probe(): void {
    if (this.phase === 'stopped') return;
    this.phase = 'probing';
    this.sentAt = Date.now();
    const { timeout } = this.options;
    this.timer.arm(timeout, () => this.die(timeout));
    if (this.mode === 'ping') {
      const controller = new AbortController();
      this.pinging = controller;
      this.probes.ping(controller.signal).then(
        () => {
          if (this.pinging !== controller) return;
          this.pinging = undefined;
          this.answered();
        },
        (error: unknown) => {
          if (this.pinging !== controller) return;
          this.pinging = undefined;
          if (error instanceof UnsupportedOperationError) this.fallBack();
          else if (error instanceof ConnectionClosedError || error instanceof WebSocketCloseError) {
            this.stop();
            this.events.gone(error);
          }
          // Other failures are left to the deadline.
        },
      );
      return;
    }
    const spec = this.options.message!;
    this.probes.send(typeof spec === 'function' ? spec() : spec).catch(() => {
      // A failed write means the connection is going; the deadline or the reader will see it.
    });
  }

  /**
   * The adapter cannot send ping frames (a browser): use messages if configured, else traffic.
   * The probe or the watch re-arms the timer, replacing the ping's deadline.
   */
  private fallBack(): void {
    this.mode = this.options.message !== undefined ? 'message' : 'traffic';
    this.watchesMessages = true;
    if (this.mode === 'message') this.probe();
    else this.schedule();
  }

  /** A probe was answered: report the round trip; the next probe's wait replaces the deadline. */
  private answered(): void {
    if (this.phase === 'stopped') return;
    this.events.rtt(Date.now() - this.sentAt);
    this.schedule();
  }

  private die(timeoutMs: number): void {
    if (this.phase === 'stopped') return;
    this.stop();
    this.events.dead(new HeartbeatTimeoutError(timeoutMs));
  }
}
