/**
 * The native adapter: our own RFC 6455 client behind the adapter contract.
 */
import { ConnectionClosedError, InvalidStateError } from '../errors.js';
import { abortReason } from '../signals.js';
import type { StatusCode } from '../status-codes.js';
import type {
  DialOptions,
  HandshakeResponse,
  Message,
  MessageType,
  OperationOptions,
  WebSocketConnectionAdapter,
  WriteData,
} from '../types.js';
import { normalizeWriteData, parseWebSocketUrl, validateClose } from '../validation.js';
import { NativeConnection } from './connection.js';
import { handshake, validateHeaders, validateProtocols } from './handshake.js';
import { resolveOptions, type NativeAdapterOptions, type ResolvedOptions } from './options.js';

export class NativeAdapter implements WebSocketConnectionAdapter {
  readonly #options: ResolvedOptions;
  #connection: NativeConnection | undefined;
  #dialing: AbortController | undefined;

  /** Options are checked here; a bad one throws InvalidArgumentError naming it. */
  constructor(options: NativeAdapterOptions = {}) {
    this.#options = resolveOptions(options);
  }

  async dial(url: string | URL, options: DialOptions = {}): Promise<HandshakeResponse> {
    if (this.#dialing) throw new InvalidStateError('dial() was called while another dial is in progress');
    const target = parseWebSocketUrl(url);
    const headers = validateHeaders(options.headers);
    const protocols = validateProtocols(options.protocols);
    if (options.signal?.aborted) throw abortReason(options.signal);
    // close() during the dial cancels it, as well as the caller's signal.
    const cancel = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, cancel.signal]) : cancel.signal;
    this.#dialing = cancel;
    try {
      // The contract: close and drop any previous connection first.
      const previous = this.#connection;
      this.#connection = undefined;
      previous?.abandon();
      const result = await handshake({ url: target, headers, protocols, signal, options: this.#options });
      this.#connection = new NativeConnection(result.socket, result.head, result.deflate, this.#options, result.input);
      return result.response;
    } finally {
      this.#dialing = undefined;
    }
  }

  close(code: StatusCode = 1000, reason = '', options: OperationOptions = {}): Promise<void> {
    try {
      validateClose(code, reason);
    } catch (error) {
      return Promise.reject(error);
    }
    const connection = this.#connection;
    if (this.#dialing && !connection) {
      // Nothing is open yet: give up the dial in progress, which rejects with this error too.
      const error = new ConnectionClosedError('close() was called while dialling');
      this.#dialing.abort(error);
      return Promise.reject(error);
    }
    if (!connection || connection.state !== 'open') {
      return Promise.reject(new ConnectionClosedError('close() was called on a connection that is not open'));
    }
    return connection.close(code, reason, options.signal);
  }

  ping(options: OperationOptions = {}): Promise<void> {
    const connection = this.#connection;
    if (!connection) return Promise.reject(new ConnectionClosedError('ping() was called before a connection was opened'));
    return connection.ping(options.signal);
  }

  read(options?: OperationOptions): Promise<Message> {
    const connection = this.#connection;
    if (!connection) return Promise.reject(new ConnectionClosedError('read() was called before a connection was opened'));
    return connection.read(options?.signal);
  }

  tryRead(): Message | undefined {
    return this.#connection?.tryRead();
  }

  write(type: MessageType, data: WriteData, options?: OperationOptions): Promise<void> {
    let payload: string | Uint8Array;
    try {
      payload = normalizeWriteData(type, data);
    } catch (error) {
      return Promise.reject(error);
    }
    const connection = this.#connection;
    if (!connection) return Promise.reject(new ConnectionClosedError('write() was called before a connection was opened'));
    return connection.write(type, payload, options?.signal);
  }

  /** The `net.Socket` (a `tls.TLSSocket` for wss:) while connected, else undefined. */
  underlying(): unknown {
    const connection = this.#connection;
    return connection && connection.state !== 'closed' ? connection.socket : undefined;
  }
}

/** Creates a native adapter; options are validated at once. */
export function createNativeAdapter(options: NativeAdapterOptions = {}): NativeAdapter {
  return new NativeAdapter(options);
}
