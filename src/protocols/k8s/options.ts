/**
 * The options every exec session takes (Node and browser), checked once, when `exec` is called,
 * with a message naming the option. Browser-safe.
 */
import type { AdapterFactory } from '../../adapters/types.js';
import { parseWebSocketUrl } from '../../adapters/validation.js';
import { InvalidOptionError } from '../../engine/errors.js';
import { DEFAULT_K8S_PROTOCOLS, isK8sProtocol, type K8sProtocol } from './protocols.js';

export interface ExecHeartbeatOptions {
  /** Time between ping frames, in ms. Default 15000. */
  readonly interval?: number;
  /** How long a ping may go unanswered (while nothing else arrives), in ms. Default 5000. */
  readonly timeout?: number;
}

/** Options common to `exec` on Node and in the browser. */
export interface ExecOptionsBase {
  /** A bearer token for the API server. Default none. */
  readonly token?: string;
  /** Subprotocols to offer, best first. Default {@link DEFAULT_K8S_PROTOCOLS} (v5 first). */
  readonly protocols?: readonly K8sProtocol[];
  /**
   * Open stdin. The URL's query gets `stdin=true` (or `false`), and `stdout=true`,
   * `stderr=true` (`false` with `tty`), `tty=false` (`true` with `tty`), each only where the URL
   * has no such parameter already. Default true.
   */
  readonly stdin?: boolean;
  /** Ask for a terminal (`tty=true`, `stderr=false` in the query, see `stdin`): the server merges stderr into stdout. Default false. */
  readonly tty?: boolean;
  /** Aborting closes the session (1000); `exitCode` then rejects with `ExecInterruptedError`. */
  readonly signal?: AbortSignal;
  /** Ping frames to keep an idle exec alive behind proxies and find a dead one; `false` turns them off. */
  readonly heartbeat?: ExecHeartbeatOptions | false;
  /** How long closing waits for the server's close frame, in ms. Default 5000. */
  readonly closeTimeout?: number;
  /**
   * Before v5 nothing on the wire can end stdin alone. `false` (default): ending stdin sends
   * nothing, the remote command does not see end-of-file, output keeps flowing. `true`: ending
   * stdin closes the whole connection (what older clients do), which also cuts the output and
   * loses the exit status. From v5 on, ending stdin always sends the CLOSE signal `[255, 0]`.
   */
  readonly closeOnStdinEnd?: boolean;
  /** Bytes buffered in each output stream before reading from the socket stops. Default 65536. */
  readonly highWaterMark?: number;
}

export interface ResolvedExecOptions {
  readonly url: string;
  readonly adapter: AdapterFactory;
  readonly token: string | undefined;
  readonly protocols: readonly K8sProtocol[];
  readonly stdin: boolean;
  readonly tty: boolean;
  readonly signal: AbortSignal | undefined;
  readonly heartbeat: { readonly interval: number; readonly timeout: number } | false;
  readonly closeTimeout: number;
  readonly closeOnStdinEnd: boolean;
  readonly highWaterMark: number;
}

function positive(name: string, value: unknown, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new InvalidOptionError(name, `expected a finite number >= ${min}, got ${String(value)}`);
  }
  return value;
}

function boolean(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new InvalidOptionError(name, `expected a boolean, got ${typeof value}`);
  return value;
}

/** The options both entries take; each entry names the ones only it has (`headers` on Node). */
const COMMON_OPTIONS = [
  'adapter',
  'token',
  'protocols',
  'stdin',
  'tty',
  'signal',
  'heartbeat',
  'closeTimeout',
  'closeOnStdinEnd',
  'highWaterMark',
];

/** Check the common options and build the URL (query parameters for stdin and tty). */
export function resolveExecOptions(
  url: string | URL,
  options: ExecOptionsBase & { readonly adapter?: AdapterFactory },
  defaultAdapter: AdapterFactory | undefined,
  entryOptions: readonly string[] = [],
): ResolvedExecOptions {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'expected an object');
  // A misspelt option would be ignored and the session dialled without it (no token: a 401).
  for (const key of Object.keys(options)) {
    if (!COMMON_OPTIONS.includes(key) && !entryOptions.includes(key)) throw new InvalidOptionError(key, 'not an option of exec');
  }
  let target: URL;
  try {
    target = parseWebSocketUrl(url);
  } catch (error) {
    throw new InvalidOptionError('url', (error as Error).message);
  }
  const adapter = options.adapter ?? defaultAdapter;
  if (typeof adapter !== 'function') {
    throw new InvalidOptionError('adapter', `expected an adapter factory function, got ${typeof adapter}`);
  }
  if (options.token !== undefined && (typeof options.token !== 'string' || options.token === '')) {
    throw new InvalidOptionError('token', 'expected a non-empty string');
  }
  const protocols = options.protocols ?? DEFAULT_K8S_PROTOCOLS;
  if (!Array.isArray(protocols) || protocols.length === 0) {
    throw new InvalidOptionError('protocols', 'expected a non-empty array of channel subprotocols');
  }
  for (const p of protocols as readonly unknown[]) {
    if (typeof p !== 'string' || !isK8sProtocol(p)) {
      throw new InvalidOptionError('protocols', `${JSON.stringify(p)} is not one of ${DEFAULT_K8S_PROTOCOLS.join(', ')}`);
    }
  }
  const stdin = boolean('stdin', options.stdin, true);
  const tty = boolean('tty', options.tty, false);
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw new InvalidOptionError('signal', 'expected an AbortSignal');
  }
  let heartbeat: ResolvedExecOptions['heartbeat'] = false;
  if (options.heartbeat !== false) {
    const h = options.heartbeat ?? {};
    if (h === null || typeof h !== 'object') throw new InvalidOptionError('heartbeat', 'expected an object or false');
    heartbeat = {
      interval: positive('heartbeat.interval', h.interval, 15_000),
      timeout: positive('heartbeat.timeout', h.timeout, 5_000),
    };
  }
  // The exec and attach endpoints open only the streams the query asks for; a parameter the
  // caller wrote into the URL wins. With a terminal, stderr is merged into stdout by the server.
  const query: Record<string, string> = { stdin: String(stdin), stdout: 'true', stderr: String(!tty), tty: String(tty) };
  for (const [name, value] of Object.entries(query)) {
    if (!target.searchParams.has(name)) target.searchParams.set(name, value);
  }
  return {
    url: target.href,
    adapter,
    token: options.token,
    protocols,
    stdin,
    tty,
    signal: options.signal,
    heartbeat,
    closeTimeout: positive('closeTimeout', options.closeTimeout, 5_000, 0),
    closeOnStdinEnd: boolean('closeOnStdinEnd', options.closeOnStdinEnd, false),
    highWaterMark: positive('highWaterMark', options.highWaterMark, 65_536),
  };
}
