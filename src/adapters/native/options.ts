/**
 * Options of the native adapter, each documented once with its default, and validated at
 * construction with a message that names the option.
 */
import { InvalidArgumentError } from '../errors.js';

/** permessage-deflate (RFC 7692) settings. */
export interface PerMessageDeflateOptions {
  /**
   * Messages shorter than this many bytes are sent uncompressed (compressing a few bytes costs
   * more than it saves). Default 1024.
   */
  readonly threshold?: number;
  /** Ask the server not to keep its compression context between messages (section 7.1.1.1). Default false. */
  readonly serverNoContextTakeover?: boolean;
  /** Tell the server we will not keep ours (section 7.1.1.2); we then reset it after every message. Default false. */
  readonly clientNoContextTakeover?: boolean;
  /** Ask the server to use at most this LZ77 window (8-15, section 7.1.2.1). Default: not asked. */
  readonly serverMaxWindowBits?: number;
  /**
   * Offer `client_max_window_bits` (section 7.1.2.2): `true` offers it without a value (the server
   * may then pick one), a number 8-15 limits our own window. Default true.
   */
  readonly clientMaxWindowBits?: boolean | number;
  /** zlib compression level 0-9 for what we send. Default 1 (fast; messages are usually small). */
  readonly level?: number;
}

/** TLS settings for `wss:` (verification is on by default). */
export interface NativeTlsOptions {
  /** Trusted CA certificates (PEM), replacing Node's default list. Default: Node's list. */
  readonly ca?: string | Buffer | ReadonlyArray<string | Buffer>;
  /** Client certificate chain (PEM), for servers that ask for one. Default none. */
  readonly cert?: string | Buffer;
  /** Private key of the client certificate (PEM). Default none. */
  readonly key?: string | Buffer;
  /** Server name for SNI and certificate checks. Default: the URL's host name. */
  readonly servername?: string;
  /** Verify the server certificate. Default true; turning it off makes wss: no safer than ws:. */
  readonly rejectUnauthorized?: boolean;
}

export interface NativeAdapterOptions {
  /** Largest frame payload accepted from the server, in bytes; a larger frame fails the connection with 1009. Default 64 MiB. */
  readonly maxFrameSize?: number;
  /**
   * Largest message accepted from the server, in bytes, after joining fragments and after
   * decompression; a larger one fails the connection with 1009. Default 64 MiB.
   */
  readonly maxMessageSize?: number;
  /** Split outgoing messages into frames of at most this many payload bytes; 0 never splits. Default 0. */
  readonly fragmentSize?: number;
  /** The opening handshake must complete within this many ms, else dial rejects with TimeoutError. Default 30000. */
  readonly handshakeTimeout?: number;
  /** How long to wait for the server's close frame and TCP close after ours, in ms. Default 5000. */
  readonly closeTimeout?: number;
  /** Follow HTTP redirects during the opening handshake. Default false. */
  readonly followRedirects?: boolean;
  /** The most redirects followed when `followRedirects` is on. Default 5. */
  readonly maxRedirects?: number;
  /** Offer permessage-deflate: `true` for the defaults, or its settings. Default false (off). */
  readonly perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** TLS settings for wss:. Default: verify against Node's CA list. */
  readonly tls?: NativeTlsOptions;
  /** An HTTP(S) proxy URL (`http://user:pass@host:port`); the handshake tunnels through it with CONNECT. Default none. */
  readonly proxy?: string;
  /** Take the proxy from HTTPS_PROXY (wss:) / HTTP_PROXY (ws:) / ALL_PROXY, honouring NO_PROXY, when `proxy` is not set. Default false. */
  readonly proxyFromEnv?: boolean;
  /** Pause reading from the socket when this many messages wait unread. Default 4096. */
  readonly readHighWaterMessages?: number;
  /** Pause reading from the socket when this many payload bytes wait unread. Default 8 MiB. */
  readonly readHighWaterBytes?: number;
}

export interface ResolvedDeflateOptions {
  readonly threshold: number;
  readonly serverNoContextTakeover: boolean;
  readonly clientNoContextTakeover: boolean;
  readonly serverMaxWindowBits: number | undefined;
  readonly clientMaxWindowBits: boolean | number;
  readonly level: number;
}

export interface ResolvedOptions {
  readonly maxFrameSize: number;
  readonly maxMessageSize: number;
  readonly fragmentSize: number;
  readonly handshakeTimeout: number;
  readonly closeTimeout: number;
  readonly followRedirects: boolean;
  readonly maxRedirects: number;
  readonly perMessageDeflate: ResolvedDeflateOptions | undefined;
  readonly tls: NativeTlsOptions;
  readonly proxy: string | undefined;
  readonly proxyFromEnv: boolean;
  readonly readHighWaterMessages: number;
  readonly readHighWaterBytes: number;
}

const MiB = 1024 * 1024;

function integer(name: string, value: unknown, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`Invalid option ${name}: expected an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

function boolean(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') {
    throw new InvalidArgumentError(`Invalid option ${name}: expected a boolean, got ${typeof value}`);
  }
  return value;
}

function resolveDeflate(value: unknown): ResolvedDeflateOptions | undefined {
  if (value === undefined || value === false) return undefined;
  const given: PerMessageDeflateOptions = value === true ? {} : (value as PerMessageDeflateOptions);
  if (typeof given !== 'object' || given === null) {
    throw new InvalidArgumentError('Invalid option perMessageDeflate: expected a boolean or an options object');
  }
  const clientMaxWindowBits = given.clientMaxWindowBits ?? true;
  if (typeof clientMaxWindowBits !== 'boolean') {
    integer('perMessageDeflate.clientMaxWindowBits', clientMaxWindowBits, 15, 8, 15);
  }
  return {
    threshold: integer('perMessageDeflate.threshold', given.threshold, 1024, 0),
    serverNoContextTakeover: boolean('perMessageDeflate.serverNoContextTakeover', given.serverNoContextTakeover, false),
    clientNoContextTakeover: boolean('perMessageDeflate.clientNoContextTakeover', given.clientNoContextTakeover, false),
    serverMaxWindowBits:
      given.serverMaxWindowBits === undefined
        ? undefined
        : integer('perMessageDeflate.serverMaxWindowBits', given.serverMaxWindowBits, 15, 8, 15),
    clientMaxWindowBits,
    level: integer('perMessageDeflate.level', given.level, 1, 0, 9),
  };
}

function proxyOption(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new InvalidArgumentError('Invalid option proxy: expected a URL string');
  try {
    const url = new URL(value.includes('://') ? value : `http://${value}`);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
  } catch {
    throw new InvalidArgumentError(`Invalid option proxy: expected an http: or https: URL, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Validate options and fill in defaults; throws InvalidArgumentError naming the bad option. */
export function resolveOptions(options: NativeAdapterOptions = {}): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('Invalid native adapter options: expected an object');
  }
  const tls = options.tls ?? {};
  if (typeof tls !== 'object' || tls === null) throw new InvalidArgumentError('Invalid option tls: expected an object');
  boolean('tls.rejectUnauthorized', tls.rejectUnauthorized, true);
  if (tls.servername !== undefined && typeof tls.servername !== 'string') {
    throw new InvalidArgumentError('Invalid option tls.servername: expected a string');
  }
  return {
    maxFrameSize: integer('maxFrameSize', options.maxFrameSize, 64 * MiB, 1, 2 ** 53 - 1),
    maxMessageSize: integer('maxMessageSize', options.maxMessageSize, 64 * MiB, 1, 2 ** 53 - 1),
    fragmentSize: integer('fragmentSize', options.fragmentSize, 0, 0),
    handshakeTimeout: integer('handshakeTimeout', options.handshakeTimeout, 30_000, 1, 2 ** 31 - 1),
    closeTimeout: integer('closeTimeout', options.closeTimeout, 5_000, 1, 2 ** 31 - 1),
    followRedirects: boolean('followRedirects', options.followRedirects, false),
    maxRedirects: integer('maxRedirects', options.maxRedirects, 5, 0, 100),
    perMessageDeflate: resolveDeflate(options.perMessageDeflate),
    tls,
    proxy: proxyOption(options.proxy),
    proxyFromEnv: boolean('proxyFromEnv', options.proxyFromEnv, false),
    readHighWaterMessages: integer('readHighWaterMessages', options.readHighWaterMessages, 4096, 1),
    readHighWaterBytes: integer('readHighWaterBytes', options.readHighWaterBytes, 8 * MiB, 1),
  };
}
