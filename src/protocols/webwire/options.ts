/**
 * Options of the WebWire client, validated once at construction; each names its default.
 */
import type { EngineOptions } from '../../engine/engine.js';
import { InvalidOptionError } from '../../engine/errors.js';
import { checkName } from './encode.js';
import type { ProtocolVersionFetcher } from './version.js';

/** Retrying a session restore the server refused with `SESSION_ACTIVE`. */
export interface WebWireRestoreOptions {
  /**
   * How many times `SESSION_ACTIVE` is retried before the restore counts as refused. Default 5.
   * The server may still hold the previous connection (it has not noticed the drop yet).
   */
  readonly retries?: number;
  /** First wait before a retry, in ms; doubles each time. Default 250. */
  readonly minDelay?: number;
  /** Longest wait between retries, in ms. Default 4000. */
  readonly maxDelay?: number;
  /** How long one restore may go unanswered before the connection is replaced, in ms. Default 10000. */
  readonly timeout?: number;
}

export interface WebWireClientOptions extends Omit<EngineOptions, 'onMessage' | 'outbox'> {
  /** Default timeout of `request()`, in ms, counted from the call (waiting included). Default 60000. */
  readonly requestTimeout?: number;
  /**
   * Whether requests and signals made while disconnected, or while the session is being
   * restored, wait for the connection (up to their timeout). Default `true`, as webwire-go's
   * client does; `false` fails them at once with `RequestNotSentError`.
   */
  readonly queue?: boolean;
  /** Requests and signals that may wait for the connection at once; more fail with `RequestNotSentError`. Default 10000. */
  readonly maxQueued?: number;
  /** Largest WebWire message accepted, in bytes; a bigger one is reported and dropped. Default 16 MiB. */
  readonly maxPayload?: number;
  /**
   * Check the server's protocol version (an HTTP `WEBWIRE` request) before dialling:
   * `true` uses `fetch` (Node), or pass a function answering the version. Default `false`.
   */
  readonly protocolVersion?: boolean | ProtocolVersionFetcher;
  /** Session restore after a reconnect. */
  readonly restore?: WebWireRestoreOptions;
  /**
   * The name of a request the server answers cheaply, used as the heartbeat probe where ping
   * frames are unavailable (the browser adapter): protocol 1.1 has no heartbeat message, and
   * without a probe the engine can only watch for traffic. Any reply to it, an error reply
   * included, is a sign of life. Default none.
   */
  readonly pingRequest?: string;
  /** Signals an iterator buffers before the client holds the engine's reads. Default 1024. */
  readonly signalBuffer?: number;
}

/** The keys of {@link WebWireClientOptions} that are the client's own (the others go to the engine). */
export const WEBWIRE_OPTION_KEYS: readonly string[] = [
  'requestTimeout',
  'queue',
  'maxQueued',
  'maxPayload',
  'protocolVersion',
  'restore',
  'pingRequest',
  'signalBuffer',
] satisfies ReadonlyArray<Exclude<keyof WebWireClientOptions, keyof EngineOptions>>;

export interface ResolvedWebWireOptions {
  readonly requestTimeout: number;
  readonly queue: boolean;
  readonly maxQueued: number;
  readonly maxPayload: number;
  readonly protocolVersion: ProtocolVersionFetcher | undefined;
  readonly restoreRetries: number;
  readonly restoreMinDelay: number;
  readonly restoreMaxDelay: number;
  readonly restoreTimeout: number;
  readonly signalBuffer: number;
}

function ms(name: string, value: unknown, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new InvalidOptionError(name, `expected a finite number >= ${min}, got ${String(value)}`);
  }
  return value;
}

export function resolveWebWireOptions(
  options: WebWireClientOptions,
  defaultFetcher: ProtocolVersionFetcher,
): ResolvedWebWireOptions {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'expected an object');
  if ('onMessage' in options && options.onMessage !== undefined) {
    throw new InvalidOptionError('onMessage', 'the WebWire client reads every message; listen to its events instead');
  }
  if ('outbox' in options && (options as { outbox?: unknown }).outbox !== undefined) {
    throw new InvalidOptionError('outbox', 'the WebWire client queues requests itself; use its queue and maxQueued options');
  }
  if (options.pingRequest !== undefined) {
    try {
      checkName(options.pingRequest);
    } catch (error) {
      throw new InvalidOptionError('pingRequest', (error as Error).message);
    }
  }
  if (options.queue !== undefined && typeof options.queue !== 'boolean') {
    throw new InvalidOptionError('queue', `expected a boolean, got ${typeof options.queue}`);
  }
  const version = options.protocolVersion ?? false;
  if (typeof version !== 'boolean' && typeof version !== 'function') {
    throw new InvalidOptionError('protocolVersion', `expected a boolean or a function, got ${typeof version}`);
  }
  const restore = options.restore ?? {};
  if (restore === null || typeof restore !== 'object') throw new InvalidOptionError('restore', 'expected an object');
  const retries = ms('restore.retries', restore.retries, 5);
  if (!Number.isInteger(retries)) throw new InvalidOptionError('restore.retries', `expected an integer, got ${retries}`);
  const signalBuffer = ms('signalBuffer', options.signalBuffer, 1024, 1);
  return {
    requestTimeout: ms('requestTimeout', options.requestTimeout, 60_000, 1),
    queue: options.queue ?? true,
    maxQueued: Math.floor(ms('maxQueued', options.maxQueued, 10_000)),
    maxPayload: ms('maxPayload', options.maxPayload, 16 * 1024 * 1024, 1),
    protocolVersion: version === true ? defaultFetcher : version === false ? undefined : version,
    restoreRetries: retries,
    restoreMinDelay: ms('restore.minDelay', restore.minDelay, 250),
    restoreMaxDelay: ms('restore.maxDelay', restore.maxDelay, 4000),
    restoreTimeout: ms('restore.timeout', restore.timeout, 10_000, 1),
    signalBuffer: Math.floor(signalBuffer),
  };
}
