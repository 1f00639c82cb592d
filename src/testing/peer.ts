/**
 * The server side of the contract suite. A peer is whatever the adapter under test talks to:
 * a real WebSocket server on loopback for a real adapter, the scripted server for the mock.
 * The suite drives it through this interface only.
 */
import type { Message, MessageType } from '../adapters/types.js';

/** One accepted connection, as the server sees it. */
export interface PeerConnection {
  /** Headers of the client's upgrade request, names in lower case. */
  readonly requestHeaders: Readonly<Record<string, string>>;
  /** The subprotocol the server chose, or "". */
  readonly protocol: string;
  /** Send a message to the client. */
  send(type: MessageType, data: string | Uint8Array): Promise<void>;
  /** The next message the client sent (in order; messages are buffered until asked for). */
  receive(): Promise<Message>;
  /** Send a close frame with this code and reason (the client answers it). */
  close(code: number, reason: string): Promise<void>;
  /** Drop the connection without a close frame (TCP reset or destroy): the client sees 1006. */
  drop(): void;
  /** Stop answering pings (for timeouts); pings are answered with pongs by default. */
  ignorePings(ignore: boolean): void;
  /** Resolves with the close frame the client sent (code, reason), or code 1006 if none came. */
  readonly closed: Promise<{ code: number; reason: string }>;
}

export interface PeerRefusal {
  /** HTTP status of the refusal; 200 means "answer 200 instead of 101". */
  readonly status: number;
  /** Extra response headers. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Response body. */
  readonly body?: string;
}

/** A server for the contract suite. */
export interface ContractPeer {
  /** Start listening; resolves with the URL to dial (e.g. ws://127.0.0.1:PORT/). */
  start(): Promise<string>;
  /** Stop: close every connection and the server. */
  stop(): Promise<void>;
  /** The next connection the server accepts (connections are buffered until asked for). */
  accept(): Promise<PeerConnection>;
  /**
   * Refuse the next upgrade with this answer. Applies to exactly one upgrade request.
   */
  refuseNext(refusal: PeerRefusal): void;
  /**
   * Leave the next upgrade request unanswered, with its connection open, as a server that
   * hangs. Resolves once that request has arrived. The connection goes when the client gives
   * up or the peer stops.
   */
  hangNext(): Promise<void>;
  /** Which of the offered subprotocols the server picks: the first offered one by default. */
  selectProtocol(choose: (offered: readonly string[]) => string | false): void;
}

/** Makes a fresh peer for each test. */
export type PeerFactory = () => ContractPeer;
