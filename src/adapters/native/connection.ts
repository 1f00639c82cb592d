/**
 * One open connection: the socket after the handshake, the frame parser on its input, the
 * sender on its output, the queue of received messages, outstanding pings, and the closing
 * handshake of RFC 6455 section 7.
 */
import type { Socket } from 'node:net';
import { waitClosed } from '../core/close-wait.js';
import { PingRegistry } from '../core/ping-registry.js';
import { ConnectionClosedError, WebSocketCloseError, type WsEngineError } from '../errors.js';
import { MAX_PENDING_PONGS, PingFloodError } from '../flood-error.js';
import { ReadQueue, type MessageListener } from '../read-queue.js';
import { abortReason } from '../signals.js';
import { MessageType, type Message } from '../types.js';
import { FrameParser, Opcode } from './frame-parser.js';
import type { ResolvedOptions } from './options.js';
import { PerMessageDeflate, type DeflateParams } from './permessage-deflate.js';
import { Sender } from './sender.js';
import type { SocketInput } from './socket-input.js';

/**
 * - `open`: messages flow both ways.
 * - `closing`: we sent a close frame (or failed the connection) and wait for the server's close
 *   frame and the end of TCP.
 * - `closed`: the server's close frame arrived (answered), or TCP is gone: no more sends.
 */
type State = 'open' | 'closing' | 'closed';

function encodeClose(code: number, reason: string): Buffer {
  const payload = Buffer.allocUnsafe(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2, 'utf8');
  return payload;
}

export class NativeConnection {
  readonly socket: Socket;
  readonly queue: ReadQueue;
  readonly #parser: FrameParser;
  readonly #sender: Sender;
  readonly #deflate: PerMessageDeflate | undefined;
  readonly #closeTimeout: number;
  #state: State = 'open';
  readonly #pings = new PingRegistry();
  #closeSent = false;
  #closeTimer: NodeJS.Timeout | undefined;
  readonly #socketClosed: Promise<void>;
  #transportPaused = false;
  #localClose: WebSocketCloseError | undefined;
  #backlogPaused = false;
  #pendingPongs = 0;
  /** A failure waiting for the reader to take (and answer) the messages before it. */
  #deferred: { closeCode: number; error: WsEngineError } | undefined;
  #deferredCheck: NodeJS.Immediate | undefined;
  #deferredTimer: NodeJS.Timeout | undefined;
  readonly #pongWritten = (): void => {
    this.#pendingPongs--;
  };

  /**
   * `input` is given when the socket was created with its `onread` option (plain TCP): the
   * parser is then fed by it rather than by 'data' events.
   */
  constructor(
    socket: Socket,
    head: Buffer,
    deflateParams: DeflateParams | undefined,
    options: ResolvedOptions,
    input?: SocketInput,
  ) {
    this.socket = socket;
    this.#closeTimeout = options.closeTimeout;
    const deflateOptions = options.perMessageDeflate;
    this.#deflate =
      deflateParams && deflateOptions ? new PerMessageDeflate(deflateParams, deflateOptions.threshold, deflateOptions.level) : undefined;
    this.queue = new ReadQueue({
      highWaterMessages: options.readHighWaterMessages,
      highWaterBytes: options.readHighWaterBytes,
      pause: () => {
        this.#transportPaused = true;
        this.socket.pause();
      },
      resume: () => {
        this.#transportPaused = false;
        if (!this.#backlogPaused) this.socket.resume();
      },
    });
    const queue = this.queue;
    this.#parser = new FrameParser(
      {
        onMessage: (opcode: 1 | 2, data: string | Buffer) => {
          // After our close frame, section 7.1.2 lets us discard what still arrives.
          if (this.#state !== 'open') return;
          queue.push(
            opcode === 1
              ? { type: MessageType.Text, data: data as string }
              : { type: MessageType.Binary, data: data as Buffer },
          );
        },
        onPing: (payload) => this.#onPing(payload),
        onPong: (payload) => this.#onPong(payload),
        onClose: (code, reason) => this.#onClose(code, reason),
        onError: (error) => this.#defer(error.closeCode, error),
        onBacklog: (paused) => {
          this.#backlogPaused = paused;
          if (paused) this.socket.pause();
          else if (!this.#transportPaused) this.socket.resume();
        },
      },
      { maxFrameSize: options.maxFrameSize, maxMessageSize: options.maxMessageSize, deflate: this.#deflate },
    );
    this.#sender = new Sender(socket, options.fragmentSize, this.#deflate);
    // Before any 'data' listener: attaching drains the readable side with read(), which emits
    // 'data' as well.
    input?.attach(this.#parser, head);

    socket.setNoDelay(true);
    socket.setTimeout(0);
    this.#socketClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.#parser.push(chunk));
    socket.on('error', () => {
      // 'close' follows and reports the loss (1006 unless the closing handshake finished).
    });
    socket.on('end', () => {
      // The server ended TCP: end our side too (section 7.1.1), 'close' follows.
      socket.end();
    });
    socket.on('close', () => this.#onSocketClose());
    if (!input && head.length > 0) this.#parser.push(head);
  }

  get state(): State {
    return this.#state;
  }

  /**
   * The next message. While a failure waits (see #defer), taking the last message before it
   * lets the failure proceed once the reader has answered.
   */
  read(signal: AbortSignal | undefined): Promise<Message> {
    const message = this.queue.read(signal);
    if (this.#deferred !== undefined && this.queue.length === 0) this.#checkDeferred();
    return message;
  }

  /** The next message already received, or undefined; see {@link read}. */
  tryRead(): Message | undefined {
    const message = this.queue.tryRead();
    if (this.#deferred !== undefined && this.queue.length === 0) this.#checkDeferred();
    return message;
  }

  /** Messages straight from the parser to `listener`; refused once closing or while a failure waits. */
  listen(listener: MessageListener | undefined): boolean {
    if (listener !== undefined && (this.#state !== 'open' || this.#deferred !== undefined)) return false;
    return this.queue.listen(listener);
  }

  /** Send a data message now, or nothing (see {@link Sender.trySend}). */
  tryWrite(type: MessageType, data: string | Uint8Array): boolean {
    return this.#state === 'open' && this.#sender.trySend(type, data);
  }

  /** Send a data message. */
  write(type: MessageType, data: string | Uint8Array, signal: AbortSignal | undefined): Promise<void> {
    if (this.#state !== 'open') return Promise.reject(new ConnectionClosedError('write() was called on a connection that is not open'));
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return this.#sender.send(type, data, signal);
  }

  /** Send a ping and wait for its pong (section 5.5.2, 5.5.3). */
  ping(signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (this.#state !== 'open') return Promise.reject(new ConnectionClosedError('ping() was called on a connection that is not open'));
    return this.#pings.add(signal, (id) => {
      // The payload is the ping's id, which the pong echoes (section 5.5.3).
      const payload = Buffer.allocUnsafe(4);
      payload.writeUInt32BE(id >>> 0, 0);
      this.#sender.sendControl(Opcode.Ping, payload);
    });
  }

  /**
   * Start the closing handshake (section 7.1.2) and wait until the server answered and TCP
   * closed, or `closeTimeout` passed, or `signal` aborted. The signal only cuts the wait short:
   * the close frame is sent regardless, TCP is ended, and the promise still resolves.
   */
  async close(code: number, reason: string, signal: AbortSignal | undefined): Promise<void> {
    if (this.#state !== 'open') throw new ConnectionClosedError('close() was called on a connection that is not open');
    this.#clearDeferred();
    this.#state = 'closing';
    // Pending reads are rejected when the close completes (the socket closes), not now: the
    // caller is awaiting close() and will handle them once it returns.
    this.#localClose = new WebSocketCloseError(code, reason, { wasClean: true });
    this.#failPending(new ConnectionClosedError('The connection was closed'));
    this.#sendClose(code, reason);
    this.#armCloseTimer();
    if (await waitClosed(this.#socketClosed, this.#closeTimeout, signal)) return;
    if (signal?.aborted) {
      // Do not wait for the server's answer: the close frame is on its way, end TCP after it.
      if (this.#localClose) this.queue.fail(this.#localClose, true);
      this.socket.end();
      return;
    }
    // Timed out: the close timer destroys the socket; 'close' follows.
    await this.#socketClosed;
  }

  /** Drop the connection at once (a new dial replaces it): close frame if possible, then end TCP. */
  abandon(): void {
    this.#clearDeferred();
    if (this.#state === 'open') {
      this.#state = 'closing';
      this.queue.fail(new WebSocketCloseError(1001, 'replaced by a new connection', { wasClean: true }), true);
      this.#failPending(new ConnectionClosedError('The connection was replaced by a new one'));
      this.#sendClose(1001, '');
    }
    this.#armCloseTimer();
    this.socket.end();
  }

  #sendClose(code: number, reason: string): void {
    if (this.#closeSent) return;
    this.#closeSent = true;
    this.#sender.sendControl(Opcode.Close, code === 1005 ? Buffer.alloc(0) : encodeClose(code, reason));
  }

  #armCloseTimer(): void {
    if (this.#closeTimer || this.socket.destroyed) return;
    // Section 7.1.1: the server should close TCP first; if it does not, we do, after a while.
    this.#closeTimer = setTimeout(() => this.socket.destroy(), this.#closeTimeout);
    this.#closeTimer.unref?.();
  }

  #onPing(payload: Buffer): void {
    // Section 5.5.2: answer with a pong carrying the same payload, unless we already sent close.
    if (this.#closeSent) return;
    if (this.#pendingPongs >= MAX_PENDING_PONGS) {
      this.#parser.stop();
      this.#fail(1008, new PingFloodError(MAX_PENDING_PONGS));
      return;
    }
    if (this.#sender.sendControl(Opcode.Pong, payload, this.#pongWritten)) this.#pendingPongs++;
  }

  #onPong(payload: Buffer): void {
    // Section 5.5.3: a pong may answer only the latest ping, so it settles that one and every
    // ping sent before it. An unsolicited pong matches nothing and is ignored.
    if (payload.length === 4) this.#pings.answer(payload.readUInt32BE(0));
  }

  #onClose(code: number, reason: string): void {
    if (this.#state === 'open') {
      // Section 5.5.1: the server closes first; echo its code and reason, then TCP ends.
      this.#state = 'closed';
      this.queue.fail(new WebSocketCloseError(code, reason, { wasClean: true }));
      this.#failPending(new ConnectionClosedError(`The server closed the connection (${code})`));
      this.#sendClose(code, reason);
    }
    this.#state = 'closed';
    this.#armCloseTimer();
    // Section 7.1.1: after both close frames, the client may end TCP; the server closes its side.
    this.socket.end();
  }

  /**
   * The server broke the protocol or a limit: the connection must be failed (section 7.1.7),
   * but not before the messages that preceded the bad frame have been read and the reader had
   * its chance to answer them, as a frame-by-frame receiver would let it: the failure takes
   * effect one event-loop turn (setImmediate: every promise continuation of the reader has run
   * by then) after the read queue is empty, and at the latest after closeTimeout, for a reader
   * that stopped reading. The parser has stopped; nothing more is received meanwhile, and
   * writes (the answers) still go out, before the close frame.
   */
  #defer(closeCode: number, error: WsEngineError): void {
    if (this.#state !== 'open') {
      this.#fail(closeCode, error);
      return;
    }
    this.#deferred = { closeCode, error };
    this.#deferredTimer = setTimeout(() => this.#failDeferred(), this.#closeTimeout);
    this.#checkDeferred();
  }

  #checkDeferred(): void {
    if (this.#deferredCheck !== undefined) return;
    this.#deferredCheck = setImmediate(() => {
      this.#deferredCheck = undefined;
      if (this.queue.length === 0) this.#failDeferred();
    });
  }

  #failDeferred(): void {
    const deferred = this.#deferred;
    if (deferred === undefined) return;
    this.#clearDeferred();
    this.#fail(deferred.closeCode, deferred.error);
  }

  #clearDeferred(): void {
    this.#deferred = undefined;
    if (this.#deferredCheck !== undefined) clearImmediate(this.#deferredCheck);
    if (this.#deferredTimer !== undefined) clearTimeout(this.#deferredTimer);
    this.#deferredCheck = undefined;
    this.#deferredTimer = undefined;
  }

  /**
   * Section 7.1.7, "Fail the WebSocket Connection": send the close frame with the code, then
   * close TCP; the rest of the input cannot be parsed any more (the parser has stopped).
   */
  #fail(closeCode: number, error: WsEngineError): void {
    const wasOpen = this.#state === 'open';
    this.#state = 'closed';
    if (wasOpen) {
      this.queue.fail(new WebSocketCloseError(closeCode, error.message, { wasClean: false, cause: error }));
      this.#failPending(new ConnectionClosedError(`The connection failed: ${error.message}`, { cause: error }));
    }
    this.#sendClose(closeCode, '');
    this.#armCloseTimer();
    this.socket.end();
  }

  #onSocketClose(): void {
    if (this.#closeTimer) clearTimeout(this.#closeTimer);
    this.#closeTimer = undefined;
    this.#parser.stop();
    this.#deflate?.close();
    const deferred = this.#deferred;
    this.#clearDeferred();
    if (this.#localClose) {
      this.queue.fail(this.#localClose, true);
    } else if (deferred && this.#state === 'open') {
      // TCP ended while a failure waited: the protocol error is the reason, not the lost socket.
      this.queue.fail(new WebSocketCloseError(deferred.closeCode, deferred.error.message, { wasClean: false, cause: deferred.error }));
    } else if (this.#state === 'open') {
      // Section 7.1.5: no close frame was received: the close code is 1006.
      this.queue.fail(new WebSocketCloseError(1006, '', { wasClean: false }));
    }
    this.#state = 'closed';
    this.#failPending(new ConnectionClosedError('The connection closed'));
  }

  #failPending(error: ConnectionClosedError): void {
    this.#sender.fail(error);
    this.#pings.fail(error);
  }
}
