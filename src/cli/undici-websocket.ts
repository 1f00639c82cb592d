/**
 * undici's WHATWG WebSocket for the browser adapter on Node, with one difference: a closing
 * handshake that does not finish within `closeTimeout` ends the TCP connection.
 *
 * Why: undici waits for the server's close frame (RFC 6455 section 7.1.1) with no time limit,
 * and keeps the socket until TCP itself gives up (many minutes). After a half-open period the
 * server never answers, so the socket (and with it the process) would stay alive long after the
 * engine stopped. The WHATWG API has no way to abort a connection, so each WebSocket gets its
 * own undici Agent whose connector keeps the socket it opens, and destroys it when the closing
 * handshake overruns.
 */
import type { Socket } from 'node:net';
import { Agent, buildConnector, WebSocket as UndiciWebSocket } from 'undici';
import { InvalidArgumentError } from '../adapters/errors.js';

export interface UndiciWebSocketOptions {
  /** ms to wait for the server's close frame after ours before the socket is destroyed. Default 5000. */
  readonly closeTimeout?: number;
}

/** A WebSocket constructor (url, protocols) over undici whose close is bounded in time. */
export type BoundedCloseWebSocket = new (url: string, protocols?: string | string[]) => UndiciWebSocket;

export function createUndiciWebSocket(options: UndiciWebSocketOptions = {}): BoundedCloseWebSocket {
  const closeTimeout = options.closeTimeout ?? 5000;
  if (!Number.isInteger(closeTimeout) || closeTimeout < 0) {
    throw new InvalidArgumentError(`Invalid option closeTimeout: expected an integer >= 0, got ${String(closeTimeout)}`);
  }
  const connect = buildConnector({});
  return class extends UndiciWebSocket {
    readonly #held: { socket: Socket | undefined };
    readonly #agent: Agent;
    #timer: ReturnType<typeof setTimeout> | undefined;

    constructor(url: string, protocols?: string | string[]) {
      const held: { socket: Socket | undefined } = { socket: undefined };
      const agent = new Agent({
        connect: (connectOptions, callback) => {
          connect(connectOptions, (...args) => {
            const [error, socket] = args;
            if (error === null) held.socket = socket;
            callback(...args);
          });
        },
      });
      super(url, { protocols: protocols ?? [], dispatcher: agent });
      this.#held = held;
      this.#agent = agent;
      this.addEventListener('close', () => {
        if (this.#timer !== undefined) clearTimeout(this.#timer);
        this.#timer = undefined;
        void this.#agent.close().catch(() => {});
      });
    }

    override close(code?: number, reason?: string): void {
      super.close(code, reason);
      if (this.#timer !== undefined || this.readyState === this.CLOSED) return;
      // Unref'd: a pending wait never keeps the process alive by itself, only the socket does.
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#held.socket?.destroy();
      }, closeTimeout);
      this.#timer.unref();
    }
  };
}
