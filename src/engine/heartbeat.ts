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
import { expectOption, numberOption, POSITIVE } from './options.js';
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
  return { mode, interval, timeout, message: o.message, isPong: o.isPong, deliverPongs: o.deliverPongs ?? false };
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
export interface Heartbeat {
  /** Whether inbound messages matter to this heartbeat (message and traffic modes): lets the reader skip the call. */
  watchesMessages: boolean;
  start(): void;
  stop(): void;
  /** Sees an inbound message; returns true when it is a pong to keep from the application. */
  onMessage(message: Message): boolean;
}

/**
 * Make the heartbeat of one connection. A closure rather than a class: its state lives in
 * local variables, which a minifier shortens (property names it cannot).
 */
export function createHeartbeat(options: ResolvedHeartbeatOptions, probes: HeartbeatProbes, events: HeartbeatEvents): Heartbeat {
  const { interval, timeout, isPong } = options;
  /** The mode in use (after any fallback from `auto`). */
  let mode: Exclude<HeartbeatMode, 'auto'> = options.mode === 'auto' ? 'ping' : options.mode;
  const tick = new Timer();
  const deadline = new Timer();
  let probeController: AbortController | undefined;
  let sentAt = 0;
  let phase: HeartbeatPhase = 'waiting';
  let lastTraffic = 0;

  const stop = (): void => {
    phase = 'stopped';
    tick.cancel();
    deadline.cancel();
    probeController?.abort();
    probeController = undefined;
  };

  const die = (timeoutMs: number): void => {
    if (phase === 'stopped') return;
    stop();
    events.dead(new HeartbeatTimeoutError(timeoutMs));
  };

  const armSilence = (ms: number): void => {
    deadline.arm(ms, () => {
      const limit = interval + timeout;
      const silent = Date.now() - lastTraffic;
      if (silent >= limit) die(limit);
      else armSilence(limit - silent);
    });
  };

  const schedule = (): void => {
    if (phase === 'stopped') return;
    phase = 'waiting';
    if (mode === 'traffic') {
      // Nothing is sent: silence for interval + timeout means the connection is gone.
      tick.cancel();
      lastTraffic = Date.now();
      armSilence(interval + timeout);
      return;
    }
    tick.arm(interval, probe);
  };

  const answered = (): void => {
    if (phase === 'stopped') return;
    deadline.cancel();
    events.rtt(Date.now() - sentAt);
    schedule();
  };

  const fallBack = (): void => {
    deadline.cancel();
    mode = options.message !== undefined ? 'message' : 'traffic';
    heartbeat.watchesMessages = true;
    if (mode === 'message') probe();
    else schedule();
  };

  function probe(): void {
    if (phase === 'stopped') return;
    phase = 'probing';
    sentAt = Date.now();
    deadline.arm(timeout, () => die(timeout));
    if (mode === 'ping') {
      const controller = new AbortController();
      probeController = controller;
      probes.ping(controller.signal).then(
        () => {
          if (probeController !== controller) return;
          probeController = undefined;
          answered();
        },
        (error: unknown) => {
          if (probeController !== controller) return;
          probeController = undefined;
          if (error instanceof UnsupportedOperationError) fallBack();
          else if (error instanceof ConnectionClosedError || error instanceof WebSocketCloseError) {
            stop();
            events.gone(error);
          }
          // Other failures are left to the deadline.
        },
      );
      return;
    }
    const spec = options.message!;
    const message = typeof spec === 'function' ? spec() : spec;
    probes.send(message).catch(() => {
      // A failed write means the connection is going; the deadline or the reader will see it.
    });
  }

  const heartbeat: Heartbeat = {
    watchesMessages: mode === 'message' || mode === 'traffic',
    start: () => {
      if (mode !== 'off') schedule();
    },
    stop,
    onMessage: (message) => {
      if (mode === 'traffic') {
        // Only a time stamp per message: the deadline timer checks it when it fires.
        lastTraffic = Date.now();
        return false;
      }
      if (mode !== 'message') return false;
      const matched = isPong === undefined ? true : isPong(message);
      if (matched && phase === 'probing') answered();
      return matched && isPong !== undefined && !options.deliverPongs;
    },
  };
  return heartbeat;
}
