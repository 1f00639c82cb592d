/**
 * Options of the native adapter, each documented once with its default, and validated at
 * construction with a message that names the option.
 */
import { ADAPTER_DEFAULTS, OptionReader, readNodeOptions, type NodeAdapterOptions, type TlsOptions } from '../options.js';

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

/** TLS settings for `wss:`: the shared {@link TlsOptions}. */
export type NativeTlsOptions = TlsOptions;

/**
 * Options of the native adapter: the options every Node adapter shares (`handshakeTimeout`,
 * `closeTimeout`, `readQueue`, `maxPayload`, `tls`, `followRedirects`, `maxRedirects`; see
 * {@link NodeAdapterOptions} for their defaults) and those below.
 */
export interface NativeAdapterOptions extends NodeAdapterOptions {
  /** Largest frame payload accepted from the server, in bytes; a larger frame fails the connection with 1009. Default 64 MiB. */
  readonly maxFrameSize?: number;
  /** Split outgoing messages into frames of at most this many payload bytes; 0 never splits. Default 0. */
  readonly fragmentSize?: number;
  /** Offer permessage-deflate: `true` for the defaults, or its settings. Default false (off). */
  readonly perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** An HTTP(S) proxy URL (`http://user:pass@host:port`); the handshake tunnels through it with CONNECT. Default none. */
  readonly proxy?: string;
  /** Take the proxy from HTTPS_PROXY (wss:) / HTTP_PROXY (ws:) / ALL_PROXY, honouring NO_PROXY, when `proxy` is not set. Default false. */
  readonly proxyFromEnv?: boolean;
}

type NodeTlsValue = string | Buffer | Array<string | Buffer>;

/** The TLS options as `tls.connect` takes them. */
export interface ResolvedTlsOptions {
  readonly ca?: NodeTlsValue;
  readonly cert?: NodeTlsValue;
  readonly key?: NodeTlsValue;
  readonly servername?: string;
  readonly rejectUnauthorized?: boolean;
}

export interface ResolvedDeflateOptions {
  readonly threshold: number;
  readonly serverNoContextTakeover: boolean;
  readonly clientNoContextTakeover: boolean;
  readonly serverMaxWindowBits: number | undefined;
  readonly clientMaxWindowBits: boolean | number;
  readonly level: number;
}

/** The resolved options, under the names the connection and the handshake read. */
export interface ResolvedOptions {
  readonly maxFrameSize: number;
  /** The public `maxPayload`: the largest message. */
  readonly maxMessageSize: number;
  readonly fragmentSize: number;
  readonly handshakeTimeout: number;
  readonly closeTimeout: number;
  readonly followRedirects: boolean;
  readonly maxRedirects: number;
  readonly perMessageDeflate: ResolvedDeflateOptions | undefined;
  readonly tls: ResolvedTlsOptions;
  readonly proxy: string | undefined;
  readonly proxyFromEnv: boolean;
  /** The public `readQueue.messages`. */
  readonly readHighWaterMessages: number;
  /** The public `readQueue.bytes`. */
  readonly readHighWaterBytes: number;
}

function resolveDeflate(reader: OptionReader): ResolvedDeflateOptions | undefined {
  const value = reader.raw('perMessageDeflate');
  if (value === undefined || value === false) return undefined;
  if (value !== true && (typeof value !== 'object' || value === null)) {
    reader.fail('perMessageDeflate', 'expected a boolean or an options object');
  }
  const given = value === true ? new OptionReader({}, 'perMessageDeflate', 'perMessageDeflate.') : reader.object('perMessageDeflate');
  const windowBits = given.raw('clientMaxWindowBits');
  const clientMaxWindowBits =
    windowBits === undefined || typeof windowBits === 'boolean' ? (windowBits ?? true) : given.integer('clientMaxWindowBits', 15, 8, 15);
  const resolved: ResolvedDeflateOptions = {
    threshold: given.integer('threshold', 1024, 0),
    serverNoContextTakeover: given.boolean('serverNoContextTakeover', false),
    clientNoContextTakeover: given.boolean('clientNoContextTakeover', false),
    serverMaxWindowBits:
      given.raw('serverMaxWindowBits') === undefined ? undefined : given.integer('serverMaxWindowBits', 15, 8, 15),
    clientMaxWindowBits,
    level: given.integer('level', 1, 0, 9),
  };
  given.done();
  return resolved;
}

function proxyOption(reader: OptionReader): string | undefined {
  const value = reader.string('proxy');
  if (value === undefined) return undefined;
  try {
    const url = new URL(value.includes('://') ? value : `http://${value}`);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
  } catch {
    reader.fail('proxy', `expected an http: or https: URL, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Validate options and fill in defaults; throws InvalidOptionError naming the bad option. */
export function resolveOptions(options: NativeAdapterOptions = {}): ResolvedOptions {
  const reader = new OptionReader(options, 'native adapter options');
  const shared = readNodeOptions(reader);
  const resolved: ResolvedOptions = {
    maxFrameSize: reader.integer('maxFrameSize', ADAPTER_DEFAULTS.maxFrameSize, 1),
    maxMessageSize: shared.maxPayload,
    fragmentSize: reader.integer('fragmentSize', 0, 0),
    handshakeTimeout: shared.handshakeTimeout,
    closeTimeout: shared.closeTimeout,
    followRedirects: shared.followRedirects,
    maxRedirects: shared.maxRedirects,
    perMessageDeflate: resolveDeflate(reader),
    // Strings and Buffers (Uint8Arrays) as checked; tls.connect takes both.
    tls: shared.tls as ResolvedTlsOptions,
    proxy: proxyOption(reader),
    proxyFromEnv: reader.boolean('proxyFromEnv', false),
    readHighWaterMessages: shared.readQueue.messages,
    readHighWaterBytes: shared.readQueue.bytes,
  };
  reader.done();
  return resolved;
}
