/**
 * The options every adapter shares, with one name and one default each, and the one validator
 * that checks them (and each adapter's own options) when the adapter is created.
 *
 * A bad value, or a key that is not an option (misspelt, or a name from an older release),
 * throws {@link InvalidOptionError} naming the option by its path (`readQueue.messages`); an
 * options argument that is not an object throws `InvalidArgumentError`.
 * Browser-safe: nothing here needs Node.
 */
import { InvalidArgumentError, InvalidOptionError } from './errors.js';


/** Bounds of an adapter's inbound queue: messages that arrived but were not read yet. */
export interface ReadQueueLimits {
  /** Unread messages at which the adapter pushes back (pauses the transport). Default 4096. */
  readonly messages?: number;
  /** Unread payload bytes (UTF-16 units for text) at which it pushes back. Default 8 MiB. */
  readonly bytes?: number;
}

/** TLS material and checks for `wss:` (Node adapters). */
export interface TlsOptions {
  /** Trusted CA certificates (PEM), replacing Node's bundled roots. Default: Node's roots. */
  readonly ca?: string | Uint8Array | ReadonlyArray<string | Uint8Array>;
  /** Client certificate chain (PEM), for servers that ask for one (mutual TLS). Default none. */
  readonly cert?: string | Uint8Array | ReadonlyArray<string | Uint8Array>;
  /** Private key of the client certificate (PEM). Default none. */
  readonly key?: string | Uint8Array | ReadonlyArray<string | Uint8Array>;
  /** Verify the server's certificate. Default true; turn it off only in tests. */
  readonly rejectUnauthorized?: boolean;
  /** Server name for SNI and the certificate check. Default: the URL's host name. */
  readonly servername?: string;
}

/** Options every adapter takes. */
export interface CommonAdapterOptions {
  /**
   * Milliseconds the whole opening handshake may take (TCP connect, TLS, HTTP upgrade); then
   * `dial` rejects with `TimeoutError` and the attempt is torn down. Default 30000.
   */
  readonly handshakeTimeout?: number;
  /**
   * Milliseconds `close` waits for the server's close frame (and the end of the connection)
   * after sending ours, before it gives up waiting (RFC 6455 section 7.1.1). Default 5000.
   */
  readonly closeTimeout?: number;
  /** Bounds of the inbound queue. Defaults: 4096 messages, 8 MiB. */
  readonly readQueue?: ReadQueueLimits;
}

/** Options the Node adapters (ws, native) share on top of {@link CommonAdapterOptions}. */
export interface NodeAdapterOptions extends CommonAdapterOptions {
  /**
   * Largest message accepted from the server, in bytes, after joining fragments (and after
   * decompression); a bigger one fails the connection with 1009. Default 64 MiB.
   */
  readonly maxPayload?: number;
  /** TLS settings for `wss:`. Default: verify against Node's roots. */
  readonly tls?: TlsOptions;
  /** Follow HTTP redirects during the opening handshake. Default false. */
  readonly followRedirects?: boolean;
  /** The most redirects followed when `followRedirects` is on. Default 10. */
  readonly maxRedirects?: number;
}

/** The inbound queue's default bounds (also in {@link ADAPTER_DEFAULTS}). */
// Sizes as literals: a bundler keeps an object whose values are computed, even when unused.
const READ_QUEUE_DEFAULTS = { messages: 4096, bytes: 8_388_608 /* 8 MiB */ } as const;

/** The shared defaults, in one place. */
export const ADAPTER_DEFAULTS = {
  handshakeTimeout: 30_000,
  closeTimeout: 5_000,
  readQueue: READ_QUEUE_DEFAULTS,
  maxPayload: 67_108_864 /* 64 MiB */,
  maxFrameSize: 67_108_864,
  followRedirects: false,
  maxRedirects: 10,
} as const;

/**
 * Old names of the options every adapter shares and what replaced them, so that an upgrade fails
 * with a useful message (the engine's options never had these names, so it does not carry them).
 */
export const RENAMED: Readonly<Record<string, string>> = {
  highWaterMessages: 'readQueue.messages',
  highWaterBytes: 'readQueue.bytes',
  'readQueue.highWaterMessages': 'readQueue.messages',
  'readQueue.highWaterBytes': 'readQueue.bytes',
  readHighWaterMessages: 'readQueue.messages',
  readHighWaterBytes: 'readQueue.bytes',
};

/**
 * Old names of the Node adapters' own options. Added by {@link readNodeOptions}, so that they
 * stay out of the browser's bundle: there, a `ca` is simply not an option.
 */
const NODE_RENAMED: Readonly<Record<string, string>> = {
  maxMessageSize: 'maxPayload',
  ca: 'tls.ca',
  cert: 'tls.cert',
  key: 'tls.key',
  rejectUnauthorized: 'tls.rejectUnauthorized',
  servername: 'tls.servername',
};

/** A value as option messages show it: strings quoted, objects by kind. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

/**
 * The one check behind every option of the engine and the adapters: unless `ok`, throw
 * {@link InvalidOptionError} naming the option, "expected <expected>, got <value>".
 */
export function expectOption(ok: boolean, name: string, expected: string, value: unknown): asserts ok {
  if (!ok) throw new InvalidOptionError(name, `expected ${expected}, got ${describeValue(value)}`);
}

/** Largest finite number: a bound that refuses `Infinity`. */
export const FINITE = Number.MAX_VALUE;
/** Smallest positive number: a bound that refuses 0. */
export const POSITIVE = Number.MIN_VALUE;

/**
 * `value`, or `fallback` when it is `undefined`, checked to be a number in [min, max] (an integer
 * when `integer`); `max` = {@link FINITE} refuses `Infinity`, `min` = {@link POSITIVE} refuses 0.
 */
export function numberOption(name: string, value: unknown, fallback: number, min: number, max = FINITE, integer = false): number {
  const n = value === undefined ? fallback : value;
  const ok = typeof n === 'number' && n >= min && n <= max && (!integer || n === Infinity || Number.isInteger(n));
  if (!ok) {
    const range = `${min === POSITIVE ? '> 0' : `>= ${min}`}${max === Infinity ? ' or Infinity' : max < Number.MAX_SAFE_INTEGER ? ` and <= ${max}` : ''}`;
    expectOption(false, name, `${integer ? 'an integer' : 'a number'} ${range}`, n);
  }
  return n as number;
}

/**
 * An options object as given: `{}` when absent. Anything else that is not a plain object throws
 * `InvalidArgumentError` ("Invalid <what>: expected an object, got ..."), or, for a nested one
 * (a `prefix` such as `readQueue.`), {@link InvalidOptionError} naming it.
 */
export function optionsObject(options: unknown, what: string, prefix = ''): Readonly<Record<string, unknown>> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    const expected = `expected an object, got ${describeValue(options)}`;
    if (prefix) throw new InvalidOptionError(prefix.slice(0, -1), expected);
    throw new InvalidArgumentError(`Invalid ${what}: ${expected}`);
  }
  return options as Record<string, unknown>;
}

/**
 * Refuse the keys of `values` that `known` does not name: misspelt options, or names an older
 * release used ("renamed to ...", from `renamed`: an adapter's old names, by path).
 */
export function refuseUnknownOptions(
  values: Readonly<Record<string, unknown>>,
  known: (key: string) => boolean,
  prefix = '',
  renamed?: Readonly<Record<string, string>>,
): void {
  for (const key of Object.keys(values)) {
    if (known(key) || values[key] === undefined) continue;
    const path = prefix + key;
    const now = renamed?.[path];
    throw new InvalidOptionError(path, now ? `renamed to ${now}` : 'not an option');
  }
}

/** `value` when it is one of `allowed`, `fallback` when it is absent; otherwise InvalidOptionError naming `name`. */
export function oneOfOption<T extends string>(name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  expectOption(allowed.includes(value as T), name, allowed.map((a) => JSON.stringify(a)).join(' or '), value);
  return value as T;
}

/** The largest delay a timer takes, in ms (2^31 - 1): the bound of every duration option. */
const MAX_MS = 2 ** 31 - 1;

/**
 * Reads one options object: each getter checks one option and returns its value or default;
 * {@link done} then refuses every key nobody read. Nested objects get a reader of their own.
 */
export class OptionReader {
  private readonly values: Readonly<Record<string, unknown>>;
  private readonly prefix: string;
  private readonly read = new Set<string>();
  /** Old names (by path) of the options, for {@link done}. */
  renamed: Readonly<Record<string, string>> = RENAMED;

  /** `what` names the options object in messages ("ws adapter options"). */
  constructor(options: unknown, what: string, prefix = '') {
    this.values = optionsObject(options, what, prefix);
    this.prefix = prefix;
  }

  /** The raw value of `name`, marked as read. */
  raw(name: string): unknown {
    this.read.add(name);
    return this.values[name];
  }

  /** Throw {@link InvalidOptionError} for option `name`. */
  fail(name: string, message: string): never {
    throw new InvalidOptionError(this.prefix + name, message);
  }

  /** An integer in [min, max]. */
  integer(name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    return numberOption(this.prefix + name, this.raw(name), fallback, min, max, true);
  }

  /** A duration in ms: an integer from `min` to 2^31 - 1 (the largest delay a timer takes). */
  milliseconds(name: string, fallback: number, min = 0): number {
    return this.integer(name, fallback, min, MAX_MS);
  }

  /** The value of `name` when `check` accepts it (or it is absent), else InvalidOptionError. */
  private checked<T>(name: string, expected: string, check: (value: unknown) => boolean): T | undefined {
    const value = this.raw(name);
    if (value !== undefined) expectOption(check(value), this.prefix + name, expected, value);
    return value as T | undefined;
  }

  boolean(name: string, fallback: boolean): boolean {
    return this.checked<boolean>(name, 'a boolean', (v) => typeof v === 'boolean') ?? fallback;
  }

  string(name: string): string | undefined {
    return this.checked<string>(name, 'a string', (v) => typeof v === 'string');
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    return oneOfOption(this.prefix + name, this.raw(name), allowed, fallback);
  }

  /** A reader for the nested options object `name` (an absent one reads as `{}`). */
  object(name: string): OptionReader {
    return new OptionReader(this.raw(name), name, `${this.prefix}${name}.`);
  }

  /** Refuse the keys nobody read: misspelt options, or names an older release used. */
  done(): void {
    refuseUnknownOptions(this.values, (key) => this.read.has(key), this.prefix, this.renamed);
  }
}

/** The shared options, resolved. */
export interface ResolvedCommonOptions {
  readonly handshakeTimeout: number;
  readonly closeTimeout: number;
  readonly readQueue: { readonly messages: number; readonly bytes: number };
}

/**
 * Check and resolve `handshakeTimeout`, `closeTimeout` and `readQueue` of `options`, with
 * `queue` its `readQueue` object (see {@link optionsObject}); unknown keys are the caller's to refuse.
 */
export function resolveCommonOptions(
  options: Readonly<Record<string, unknown>>,
  queue: Readonly<Record<string, unknown>>,
): ResolvedCommonOptions {
  const readQueue = {
    messages: numberOption('readQueue.messages', queue.messages, READ_QUEUE_DEFAULTS.messages, 1, Number.MAX_SAFE_INTEGER, true),
    bytes: numberOption('readQueue.bytes', queue.bytes, READ_QUEUE_DEFAULTS.bytes, 1, Number.MAX_SAFE_INTEGER, true),
  };
  return {
    handshakeTimeout: numberOption('handshakeTimeout', options.handshakeTimeout, 30_000, 1, MAX_MS, true),
    closeTimeout: numberOption('closeTimeout', options.closeTimeout, 5_000, 0, MAX_MS, true),
    readQueue,
  };
}

/** Read `handshakeTimeout`, `closeTimeout` and `readQueue` (a nested reader may add its own keys first). */
export function readCommonOptions(reader: OptionReader, queue: OptionReader = reader.object('readQueue')): ResolvedCommonOptions {
  const resolved = resolveCommonOptions(
    { handshakeTimeout: reader.raw('handshakeTimeout'), closeTimeout: reader.raw('closeTimeout') },
    { messages: queue.raw('messages'), bytes: queue.raw('bytes') },
  );
  queue.done();
  return resolved;
}

type TlsValue = string | Uint8Array | ReadonlyArray<string | Uint8Array>;

function tlsValue(reader: OptionReader, name: string): TlsValue | undefined {
  const value = reader.raw(name);
  if (value === undefined) return undefined;
  const ok = (v: unknown): boolean => typeof v === 'string' || v instanceof Uint8Array;
  if (ok(value) || (Array.isArray(value) && value.every(ok))) return value as TlsValue;
  return reader.fail(name, `expected a PEM string, a Buffer, or an array of them, got ${describeValue(value)}`);
}

/** The Node adapters' shared options, resolved. `tls` holds only what was given. */
export interface ResolvedNodeOptions extends ResolvedCommonOptions {
  readonly maxPayload: number;
  readonly tls: TlsOptions;
  readonly followRedirects: boolean;
  readonly maxRedirects: number;
}

/** Read the common options plus `maxPayload`, `tls`, `followRedirects` and `maxRedirects`. */
export function readNodeOptions(reader: OptionReader): ResolvedNodeOptions {
  reader.renamed = { ...RENAMED, ...NODE_RENAMED };
  const common = readCommonOptions(reader);
  const tlsReader = reader.object('tls');
  const tls: { -readonly [K in keyof TlsOptions]: TlsOptions[K] } = {};
  const ca = tlsValue(tlsReader, 'ca');
  const cert = tlsValue(tlsReader, 'cert');
  const key = tlsValue(tlsReader, 'key');
  if (ca !== undefined) tls.ca = ca;
  if (cert !== undefined) tls.cert = cert;
  if (key !== undefined) tls.key = key;
  if (tlsReader.raw('rejectUnauthorized') !== undefined) tls.rejectUnauthorized = tlsReader.boolean('rejectUnauthorized', true);
  const servername = tlsReader.string('servername');
  if (servername !== undefined) tls.servername = servername;
  tlsReader.done();
  return {
    ...common,
    maxPayload: reader.integer('maxPayload', ADAPTER_DEFAULTS.maxPayload, 1),
    tls,
    followRedirects: reader.boolean('followRedirects', ADAPTER_DEFAULTS.followRedirects),
    maxRedirects: reader.integer('maxRedirects', ADAPTER_DEFAULTS.maxRedirects, 0, 100),
  };
}
