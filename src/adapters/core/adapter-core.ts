/**
 * The part of the adapter contract that does not depend on the transport, written once: dial
 * exclusivity and the handshake timeout, close during a dial, dropping the previous connection,
 * argument and state checks, and the dispatch of each operation to the open connection.
 * An adapter extends {@link AdapterCore} and supplies its transport: how to open a connection,
 * and a {@link CoreConnection} that sends, pings, closes and queues what it receives.
 *
 * Browser-safe: nothing here needs Node.
 */
import { ConnectionClosedError, InvalidStateError, TimeoutError, UnsupportedOperationError } from '../errors.js';
import { abortReason, NO_OPTIONS, noop, onAbort } from '../signals.js';
import type { StatusCode } from '../status-codes.js';
import type {
  MessageType,
  DialOptions,
  HandshakeResponse,
  Message,
  OperationOptions,
  WebSocketConnectionAdapter,
  WriteData,
} from '../types.js';
import type { MessageListener } from '../read-queue.js';
import { normalizeWriteData, parseWebSocketUrl, validateClose } from '../validation.js';

/** Where a connection is: messages flow (`open`), a close frame went out or came in (`closing`), gone (`closed`). */
export type CoreConnectionState = 'open' | 'closing' | 'closed';

/** One open connection, as the core drives it; the adapter's transport implements it. */
export interface CoreConnection {
  readonly state: CoreConnectionState;
  /** The next message, or the close error (see the contract's `read`). */
  read(signal: AbortSignal | undefined): Promise<Message>;
  tryRead(): Message | undefined;
  /** See the contract's `listen`; a transport without it leaves it out (the core then refuses). */
  listen?(listener: MessageListener | undefined): boolean;
  /** See the contract's `tryWrite`: called only while `open`, with checked data. */
  tryWrite(type: MessageType, payload: string | Uint8Array): boolean;
  /** Called only while `open`, with checked data and a signal that is not aborted. */
  write(type: MessageType, payload: string | Uint8Array, signal: AbortSignal | undefined): Promise<void>;
  /** Called only while `open`, with a signal that is not aborted; absent when there are no ping frames. */
  ping?(signal: AbortSignal | undefined): Promise<void>;
  /** Called only while `open`, with a checked code and reason (see the contract's `close`). */
  close(code: number, reason: string, signal: AbortSignal | undefined): Promise<void>;
  /**
   * Close and drop, because a new dial replaces this connection. An adapter that waits for the
   * closing handshake here stops waiting when `signal` (the new dial's) aborts.
   */
  abandon(signal?: AbortSignal): void | Promise<void>;
  /** The runtime object `underlying()` returns while the connection is not closed. */
  readonly runtime: unknown;
}

/** What a transport's `open` resolves with. */
export interface OpenedConnection<C extends CoreConnection> {
  readonly connection: C;
  readonly response: HandshakeResponse;
}

/** How the core behaves for one adapter. */
export interface CoreSettings {
  /**
   * Milliseconds a dial may take before it rejects with `TimeoutError`; `undefined` when the
   * transport enforces the handshake timeout itself.
   */
  readonly handshakeTimeout: number | undefined;
  /** Whether the transport can send ping frames; otherwise `ping` rejects with `UnsupportedOperationError`. */
  readonly pingFrames: boolean;
}

export interface Dialing {
  readonly controller: AbortController;
  /** Settles (never rejects) once the dial did. */
  readonly settled: Promise<void>;
}


/**
 * The adapter contract over a transport. Close during a dial: the dial rejects with
 * `ConnectionClosedError` and `close()` resolves once the dial has settled (if the handshake
 * completed first, that connection is closed like any open one).
 */
export abstract class AdapterCore<C extends CoreConnection, R = unknown> implements WebSocketConnectionAdapter {
  /** The current connection (open, closing or closed), if any. */
  protected live: C | undefined;
  /** The dial in progress, if any. */
  protected dialing: Dialing | undefined;
  private readonly settings: CoreSettings;

  protected constructor(settings: CoreSettings) {
    this.settings = settings;
  }

  /**
   * Open a connection to `url` (already checked) and complete the opening handshake. Must
   * reject promptly with `signal.reason` once `signal` aborts (close during the dial, the
   * caller's signal, the handshake timeout), tearing down what it started.
   */
  protected abstract open(url: URL, options: DialOptions, signal: AbortSignal): Promise<OpenedConnection<C>>;

  /** Extra checks of a close code before anything happens (the browser's code mapping). */
  protected checkCloseCode(_code: number): void {}

  /**
   * Checks of the dial's options that the transport adds (headers, subprotocols); a throw
   * rejects the dial before anything else happens (the previous connection stays open).
   */
  protected checkDial(_url: URL, _options: DialOptions): void {}

  /** What `underlying()` returns while a dial is in progress (the socket being dialled, if exposed). */
  protected dialingRuntime(): R | undefined {
    return undefined;
  }

  dial(url: string | URL, options: DialOptions = NO_OPTIONS): Promise<HandshakeResponse> {
    if (this.dialing) {
      return Promise.reject(new InvalidStateError('dial() was called while another dial is in progress'));
    }
    let target: URL;
    try {
      target = parseWebSocketUrl(url);
      this.checkDial(target, options);
    } catch (error) {
      return Promise.reject(error);
    }
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    // One signal for every way a dial ends early: close(), the caller's signal, the timeout.
    const controller = new AbortController();
    const off = signal && onAbort(signal, () => controller.abort(abortReason(signal)));
    const limit = this.settings.handshakeTimeout;
    const timer =
      limit === undefined
        ? undefined
        : setTimeout(
            () =>
              controller.abort(
                new TimeoutError(`The opening handshake with ${target.href} did not complete within ${limit} ms`),
              ),
            limit,
          );
    const attempt = this.run(target, options, controller.signal);
    const dialing: Dialing = { controller, settled: attempt.then(noop, noop) };
    this.dialing = dialing;
    const finish = (): void => {
      clearTimeout(timer);
      off?.();
      if (this.dialing === dialing) this.dialing = undefined;
    };
    attempt.then(finish, finish);
    return attempt;
  }

  private async run(url: URL, options: DialOptions, signal: AbortSignal): Promise<HandshakeResponse> {
    // The contract: close and drop any previous connection first.
    const previous = this.live;
    this.live = undefined;
    if (previous) await previous.abandon(signal);
    if (signal.aborted) throw abortReason(signal);
    const { connection, response } = await this.open(url, options, signal);
    if (signal.aborted) {
      // Opened in the same turn as the abort: the caller wants no connection.
      await connection.abandon();
      throw abortReason(signal);
    }
    this.live = connection;
    return response;
  }

  close(code: StatusCode = 1000, reason = '', options: OperationOptions = NO_OPTIONS): Promise<void> {
    try {
      validateClose(code, reason);
      this.checkCloseCode(code);
    } catch (error) {
      return Promise.reject(error);
    }
    const dialing = this.dialing;
    if (dialing) {
      dialing.controller.abort(new ConnectionClosedError('close() was called while dialling'));
      return dialing.settled.then(() => {
        const connection = this.live;
        if (connection?.state === 'open') return connection.close(code, reason, options.signal);
        return undefined;
      });
    }
    const connection = this.live;
    if (connection?.state !== 'open') return Promise.reject(this.notOpen('close'));
    return connection.close(code, reason, options.signal);
  }

  ping(options: OperationOptions = NO_OPTIONS): Promise<void> {
    if (!this.settings.pingFrames) {
      // Only a WHATWG WebSocket has none.
      return Promise.reject(new UnsupportedOperationError('This adapter cannot send ping frames; use an application-level heartbeat'));
    }
    const connection = this.live;
    if (connection?.state !== 'open') return Promise.reject(this.notOpen('ping'));
    if (options.signal?.aborted) return Promise.reject(abortReason(options.signal));
    return connection.ping!(options.signal);
  }

  read(options: OperationOptions = NO_OPTIONS): Promise<Message> {
    const connection = this.live;
    if (!connection) return Promise.reject(this.notOpen('read'));
    return connection.read(options.signal);
  }

  tryRead(): Message | undefined {
    return this.live?.tryRead();
  }

  listen(listener: MessageListener | undefined): boolean {
    return this.live?.listen?.(listener) ?? false;
  }

  tryWrite(type: MessageType, data: WriteData): boolean {
    const payload = normalizeWriteData(type, data);
    const connection = this.live;
    return connection?.state === 'open' && connection.tryWrite(type, payload);
  }

  write(type: MessageType, data: WriteData, options: OperationOptions = NO_OPTIONS): Promise<void> {
    let payload: string | Uint8Array;
    try {
      payload = normalizeWriteData(type, data);
    } catch (error) {
      return Promise.reject(error);
    }
    const connection = this.live;
    if (connection?.state !== 'open') return Promise.reject(this.notOpen('write'));
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return connection.write(type, payload, signal);
  }

  /** The runtime object (`R`: the socket of the adapter's transport), while dialling or connected. */
  underlying(): R | undefined {
    if (this.dialing) return this.dialingRuntime();
    const connection = this.live;
    return connection && connection.state !== 'closed' ? (connection.runtime as R) : undefined;
  }

  /** The error of an operation that needs an open connection, naming the actual state. */
  private notOpen(operation: string): ConnectionClosedError {
    const connection = this.live;
    let state: string;
    if (connection) state = `the connection is ${connection.state}`;
    else if (this.dialing) state = 'a dial is in progress';
    else state = 'no connection was opened (call dial() first)';
    return new ConnectionClosedError(`Cannot ${operation}: ${state}`);
  }
}
