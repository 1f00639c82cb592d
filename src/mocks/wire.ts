/**
 * What travels between the two ends of a mock connection. Not exported to users: the adapter
 * and the scripted server call each other through these interfaces, the way two WebSocket
 * endpoints exchange frames (RFC 6455 section 5), with no bytes and no I/O in between.
 */
import type { Message } from '../adapters/types.js';
import type { MockServerConnection } from './mock-server-connection.js';

/** The client end, as the server sees it (frames the server sends). */
export interface ClientEndpoint {
  /** The server accepted: frames from the client go to `server` from now on. */
  attach(server: ServerEndpoint, connection: MockServerConnection): void;
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
