/**
 * The native adapter: our own RFC 6455 client behind the adapter contract. The adapter core
 * does the contract's bookkeeping; the handshake and the connection are the transport.
 */
import { AdapterCore, type CoreConnection, type CoreConnectionState, type OpenedConnection } from '../core/adapter-core.js';
import type { DialOptions, Message, MessageType } from '../types.js';
import type { MessageListener } from '../read-queue.js';
import { NativeConnection } from './connection.js';
import { handshake, validateHeaders, validateProtocols } from './handshake.js';
import { resolveOptions, type NativeAdapterOptions, type ResolvedOptions } from './options.js';

/** A {@link NativeConnection} as the core sees it: straight calls, nothing allocated per message. */
class NativeLink implements CoreConnection {
  readonly #connection: NativeConnection;

  constructor(connection: NativeConnection) {
    this.#connection = connection;
  }

  get state(): CoreConnectionState {
    return this.#connection.state;
  }

  /** The `net.Socket` (a `tls.TLSSocket` for wss:). */
  get runtime(): unknown {
    return this.#connection.socket;
  }

  read(signal: AbortSignal | undefined): Promise<Message> {
    // Through the connection: a protocol error waiting behind queued messages proceeds once
    // they are read (connection.ts).
    return this.#connection.read(signal);
  }

  tryRead(): Message | undefined {
    return this.#connection.tryRead();
  }

  listen(listener: MessageListener | undefined): boolean {
    return this.#connection.listen(listener);
  }

  tryWrite(type: MessageType, payload: string | Uint8Array): boolean {
    return this.#connection.tryWrite(type, payload);
  }

  write(type: MessageType, payload: string | Uint8Array, signal: AbortSignal | undefined): Promise<void> {
    return this.#connection.write(type, payload, signal);
  }

  ping(signal: AbortSignal | undefined): Promise<void> {
    return this.#connection.ping(signal);
  }

  close(code: number, reason: string, signal: AbortSignal | undefined): Promise<void> {
    return this.#connection.close(code, reason, signal);
  }

  abandon(): void {
    this.#connection.abandon();
  }
}

export class NativeAdapter extends AdapterCore<NativeLink> {
  readonly #options: ResolvedOptions;
  /** The dial's checked headers and subprotocols, from checkDial to open. */
  #request: { headers: Record<string, string | string[]>; protocols: string[] } | undefined;

  /** Options are checked here; a bad one throws InvalidOptionError naming it. */
  constructor(options: NativeAdapterOptions = {}) {
    const resolved = resolveOptions(options);
    // The handshake enforces handshakeTimeout itself (it owns the sockets to tear down).
    super({ handshakeTimeout: undefined, pingFrames: true });
    this.#options = resolved;
  }

  protected override checkDial(_url: URL, options: DialOptions): void {
    this.#request = { headers: validateHeaders(options.headers), protocols: validateProtocols(options.protocols) };
  }

  protected async open(url: URL, _options: DialOptions, signal: AbortSignal): Promise<OpenedConnection<NativeLink>> {
    const { headers, protocols } = this.#request!;
    this.#request = undefined;
    const result = await handshake({ url, headers, protocols, signal, options: this.#options });
    const connection = new NativeConnection(result.socket, result.head, result.deflate, this.#options, result.input);
    return { connection: new NativeLink(connection), response: result.response };
  }
}

/** Creates a native adapter; options are validated at once. */
export function createNativeAdapter(options: NativeAdapterOptions = {}): NativeAdapter {
  return new NativeAdapter(options);
}
