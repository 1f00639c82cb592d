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
import type { Message, MessageType, WebSocketConnectionAdapter, WriteData } from '../adapters/types.js';
import { HeartbeatTimeoutError, InvalidOptionError } from './errors.js';
import { expectOption, knownOptions, numberOption, oneOfOption, POSITIVE } from './options.js';
import type { HeartbeatPhase } from './state.js';
import { MAX_DELAY } from './timers.js';

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
  const mode = oneOfOption('heartbeat.mode', o.mode, MODES, 'auto');
  const interval = numberOption('heartbeat.interval', o.interval, 15_000, POSITIVE);
  const timeout = numberOption('heartbeat.timeout', o.timeout, 5_000, POSITIVE);
  if (mode === 'message' && o.message === undefined) {
    throw new InvalidOptionError('heartbeat.message', 'is required in heartbeat mode "message"');
  }
  expectOption(o.isPong === undefined || typeof o.isPong === 'function', 'heartbeat.isPong', 'a function', o.isPong);
  return knownOptions(o, { mode, interval, timeout, message: o.message, isPong: o.isPong, deliverPongs: o.deliverPongs ?? false }, 'heartbeat.');
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

/** The heartbeat of one connection, as the session and the reader see it. */
export interface Heartbeat {
  /** Whether inbound messages matter to this heartbeat (message and traffic modes): lets the reader skip the call. */
  watchesMessages: boolean;
  /**
   * Tell the heartbeat a message arrived. Returns true when the message is an application-level
   * pong that should not be delivered.
   */
  onMessage(message: Message): boolean;
  stop(): void;
}

/**
 * Start the heartbeat of a connection that just opened (mode not `off`); it runs until `stop()`
 * or until it reports the connection dead or gone. A closure: its state is local variables,
 * which a minifier shortens.
 */
export function startHeartbeat(options: ResolvedHeartbeatOptions, adapter: WebSocketConnectionAdapter, events: HeartbeatEvents): Heartbeat {
  const { interval, timeout, message: spec, isPong } = options;
  /** The mode in use (after any fallback from `auto`). */
  let mode: Exclude<HeartbeatMode, 'auto' | 'off'> = options.mode === 'auto' || options.mode === 'off' ? 'ping' : options.mode;
  let phase: HeartbeatPhase = 'waiting';
  let sentAt = 0;
  let heard = 0;
  let pinging: AbortController | undefined;
  /**
   * One timer, as one thing is awaited at a time: the next probe (`waiting`), the deadline of
   * the probe that is out (`probing`), or the end of the allowed silence (`traffic` mode).
   */
  let timer: ReturnType<typeof globalThis.setTimeout> | undefined;
  const arm = (ms: number, callback: () => void): void => {
    globalThis.clearTimeout(timer);
    timer = globalThis.setTimeout(callback, Math.min(ms, MAX_DELAY));
  };

  const stop = (): void => {
    phase = 'stopped';
    globalThis.clearTimeout(timer);
    pinging?.abort();
    pinging = undefined;
  };

  const die = (timeoutMs: number): void => {
    if (phase === 'stopped') return;
    stop();
    events.dead(new HeartbeatTimeoutError(timeoutMs));
  };

  /** Wait for the next probe; in `traffic` mode, watch for silence of interval + timeout instead. */
  const schedule = (): void => {
    if (phase === 'stopped') return;
    phase = 'waiting';
    if (mode !== 'traffic') {
      arm(interval, probe);
      return;
    }
    heard = Date.now();
    const limit = interval + timeout;
    const watch = (ms: number): void =>
      arm(ms, () => {
        const silent = Date.now() - heard;
        if (silent >= limit) die(limit);
        else watch(limit - silent);
      });
    watch(limit);
  };

  /** A probe was answered: report the round trip; the next probe's wait replaces the deadline. */
  const answered = (): void => {
    if (phase === 'stopped') return;
    events.rtt(Date.now() - sentAt);
    schedule();
  };

  function probe(): void {
    if (phase === 'stopped') return;
    phase = 'probing';
    sentAt = Date.now();
    arm(timeout, () => die(timeout));
    if (mode !== 'ping') {
      adapter.write(...messageOf(spec!)).catch(() => {
        // A failed write means the connection is going; the deadline or the reader will see it.
      });
      return;
    }
    const controller = (pinging = new AbortController());
    adapter.ping({ signal: controller.signal }).then(
      () => {
        if (pinging !== controller) return;
        pinging = undefined;
        answered();
      },
      (error: unknown) => {
        if (pinging !== controller) return;
        pinging = undefined;
        if (error instanceof UnsupportedOperationError) {
          // No ping frames (a browser): use messages if configured, else traffic. The probe or
          // the watch re-arms the timer, replacing the ping's deadline.
          mode = spec !== undefined ? 'message' : 'traffic';
          self.watchesMessages = true;
          if (mode === 'message') probe();
          else schedule();
        } else if (error instanceof ConnectionClosedError || error instanceof WebSocketCloseError) {
          stop();
          events.gone(error);
        }
        // Other failures are left to the deadline.
      },
    );
  }

  const self: Heartbeat = {
    watchesMessages: mode !== 'ping',
    onMessage(message) {
      if (mode === 'traffic') {
        // Only a time stamp per message: the timer checks it when it fires.
        heard = Date.now();
        return false;
      }
      if (mode !== 'message') return false;
      const matched = isPong === undefined || isPong(message);
      if (matched && phase === 'probing') answered();
      return matched && isPong !== undefined && !options.deliverPongs;
    },
    stop,
  };
  schedule();
  return self;
}

/** The ping message of a probe, as `write` arguments. */
function messageOf(spec: HeartbeatMessage | (() => HeartbeatMessage)): [MessageType, WriteData] {
  const message = typeof spec === 'function' ? spec() : spec;
  return [message.type, message.data];
}
