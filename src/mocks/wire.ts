/**
 * The wire between a mock adapter and a mock server: the only way the two talk. Not exported to
 * users. A server listens on the wire; an adapter connects through it and gets the server's end
 * of the new connection, the way two WebSocket endpoints exchange frames (RFC 6455 section 5),
 * with no bytes and no I/O in between. Neither side imports the other for this.
 */
import type { HandshakeResponse, Message } from '../adapters/types.js';
import type { MockDialRequest } from './types.js';

/** The client end, as the server sees it (frames the server sends). */
export interface ClientEndpoint {
  /**
   * The server accepted: frames from the client go to `server` from now on. `connection` is
   * the server-side object the adapter exposes to tests (`MockAdapter.connection`).
   */
  attach(server: ServerEndpoint, connection: object): void;
  /** False while the client's read queue is paused: data frames wait on the server side. */
  readonly accepting: boolean;
  /** A whole data message. */
  message(message: Message): void;
  /** A close frame; `code` is undefined for a close frame without a status code. */
  close(code: number | undefined, reason: string): void;
  /** The pong answering the client's ping `id`. */
  pong(id: number): void;
  /** The transport is gone without a close frame (RFC 6455 section 7.1.5: code 1006). */
  lost(): void;
  /** The server reads again: writes held by the client may go out. */
  drain(): void;
}

/** The server end, as the client sees it (frames the client sends). */
export interface ServerEndpoint {
  /** False while the server does not read: the client holds its writes (backpressure). */
  reading(): boolean;
  message(message: Message): void;
  ping(id: number): void;
  close(code: number | undefined, reason: string): void;
  /** The client's read queue drained after a pause: queued server messages may flow again. */
  resume(): void;
  /** The client tore the transport down (close timeout, redial, aborted dial). */
  destroy(): void;
}

/** An opening handshake in progress; `cancel` undoes it (an aborted dial). */
export interface WireHandshake {
  /** Resolves with the server's answer once it accepted (after `attach`), or rejects with `HandshakeError`. */
  readonly promise: Promise<HandshakeResponse>;
  readonly cancel: () => void;
}

/** How a listening server answers a dial. */
export type WireListener = (request: MockDialRequest, client: ClientEndpoint) => WireHandshake;

/** Servers listening on the wire, by identity. */
const listeners = new WeakMap<object, WireListener>();

/** `server` answers the dials that reach it with `listener`. */
export function listen(server: object, listener: WireListener): void {
  listeners.set(server, listener);
}

/** Whether `server` listens on the wire (is a mock server). */
export function isListening(server: unknown): server is object {
  return typeof server === 'object' && server !== null && listeners.has(server);
}

/** Dial `server`: its listener starts the handshake with `client`. */
export function connect(server: object, request: MockDialRequest, client: ClientEndpoint): WireHandshake {
  const listener = listeners.get(server);
  if (!listener) throw new TypeError('Not a mock server');
  return listener(request, client);
}
