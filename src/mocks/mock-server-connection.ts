/**
 * One connection of the scripted server: what a test uses to play the server's part.
 */
import { ConnectionClosedError, InvalidArgumentError, WebSocketCloseError } from '../adapters/errors.js';
import { ReadQueue } from '../adapters/read-queue.js';
import { MessageType, type Message, type OperationOptions, type WriteData } from '../adapters/types.js';
import { normalizeWriteData, validateClose } from '../adapters/validation.js';
import { Emitter } from './emitter.js';
import { toMessage } from './messages.js';
import { TimerGroup, checkDelay, type Cancel } from './timers.js';
import type { MockCloseFrame, MockConnectionState, MockDelays, MockDialRequest } from './types.js';
import type { ClientEndpoint, ServerEndpoint } from './wire.js';

/** Events of a {@link MockServerConnection}. */
export interface MockServerConnectionEvents extends Record<string, unknown[]> {
  /** The client sent a message. */
  message: [message: Message];
  /** The client sent a ping (before it is answered, or not). */
  ping: [];
  /** The connection ended; the frame is the client's close frame, or code 1006 if none came. */
  close: [frame: MockCloseFrame];
}

/** What {@link MockServer} hands a new connection. */
export interface MockServerConnectionInit {
  readonly id: number;
  readonly request: MockDialRequest;
  readonly protocol: string;
  readonly client: ClientEndpoint;
  readonly delays: MockDelays;
  readonly answerPings: boolean;
  readonly onEnd: (connection: MockServerConnection) => void;
}

type Outbound =
  | { kind: 'message'; message: Message; resolve: () => void; reject: (error: unknown) => void }
  | { kind: 'close'; code: number | undefined; reason: string };

/**
 * The server side of one accepted connection. Created by {@link MockServer}; reach it through
 * `server.accept()`, `server.connections` or the server's `'connection'` event.
 */
export class MockServerConnection extends Emitter<MockServerConnectionEvents> {
  /** 1 for the server's first connection, 2 for the next, ... */
  readonly id: number;
  /** The opening handshake's request. */
  readonly request: MockDialRequest;
  /** The subprotocol the server chose, or `""`. */
  readonly protocol: string;
  /** Every message the client sent, in order. */
  readonly messages: readonly Message[] = [];
  /** Every message the server sent (or queued for a paused client), in order. */
  readonly sent: readonly Message[] = [];
  /** Resolves with the client's close frame when it arrives, or `{ code: 1006, reason: "" }` if the connection ends without one. */
  readonly closed: Promise<MockCloseFrame>;

  readonly #client: ClientEndpoint;
  readonly #endpoint: ServerEndpoint;
  readonly #inbox = new ReadQueue({ highWaterMessages: Infinity, highWaterBytes: Infinity });
  readonly #timers = new TimerGroup();
  readonly #onEnd: (connection: MockServerConnection) => void;
  #resolveClosed!: (frame: MockCloseFrame) => void;
  #state: MockConnectionState = 'open';
  #delays: MockDelays;
  #answerPings: boolean;
  #pings = 0;
  #outbound: Outbound[] = [];
  #closeSent = false;
  #clientClose: MockCloseFrame | undefined;
  #cancelCloseAnswer: Cancel | undefined;
  readonly #closeWaiters: Array<() => void> = [];
  #resumeScheduled = false;
  #reading = true;
  #drainScheduled = false;

  /** Created by {@link MockServer}; not meant to be constructed by users. */
  constructor(init: MockServerConnectionInit) {
    super();
    this.id = init.id;
    this.request = init.request;
    this.protocol = init.protocol;
    this.#client = init.client;
    this.#delays = init.delays;
    this.#answerPings = init.answerPings;
    this.#onEnd = init.onEnd;
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    this.#endpoint = {
      reading: () => this.#reading,
      message: (message) => this.#onMessage(message),
      ping: (id) => this.#onPing(id),
      close: (code, reason) => this.#onClientClose(code, reason),
      resume: () => this.#onResume(),
      destroy: () => this.#end(),
    };
    // The client's frames reach this connection through the wire from now on.
    init.client.attach(this.#endpoint, this);
  }

  /** Headers of the client's upgrade request, names in lower case. */
  get requestHeaders(): Readonly<Record<string, string>> {
    return this.request.headers;
  }

  /** `open`, `closing` (one close frame sent, waiting for the other), or `closed`. */
  get state(): MockConnectionState {
    return this.#state;
  }

  /** Pings received from the client so far (answered or not). */
  get pings(): number {
    return this.#pings;
  }

  /** The close frame the client sent, once it did. */
  get clientClose(): MockCloseFrame | undefined {
    return this.#clientClose;
  }

  /** This connection's answer delays (pong and close; `dial` is the server's). */
  get delays(): MockDelays {
    return this.#delays;
  }

  /** Change this connection's answer delays from now on. */
  setDelays(delays: Partial<Pick<MockDelays, 'pong' | 'close'>>): void {
    this.#delays = {
      ...this.#delays,
      ...(delays.pong === undefined ? {} : { pong: checkDelay('delays.pong', delays.pong) }),
      ...(delays.close === undefined ? {} : { close: checkDelay('delays.close', delays.close) }),
    };
  }

  /** Whether the server reads the client's messages (see {@link pauseReading}). */
  get reading(): boolean {
    return this.#reading;
  }

  /**
   * Stop reading the client's messages, as a busy server whose TCP window fills up: the
   * client's `write` calls stay pending (not handed over) until {@link resumeReading}, an
   * aborted signal, or the end of the connection. Pings and close frames still get through.
   */
  pauseReading(): void {
    this.#reading = false;
  }

  /** Read again: writes the client holds go out, in order. */
  resumeReading(): void {
    if (this.#reading) return;
    this.#reading = true;
    if (this.#drainScheduled || this.#state === 'closed') return;
    this.#drainScheduled = true;
    this.#timers.schedule(0, () => {
      this.#drainScheduled = false;
      this.#client.drain();
    });
  }

  /** Stop answering pings (`ignore` true, the default), or answer them again (false). */
  ignorePings(ignore = true): void {
    this.#answerPings = !ignore;
  }

  /**
   * Send a message to the client. Resolves once the client's adapter has it queued; while the
   * client's read queue is paused (a slow reader), messages wait here, in order.
   * Rejects with `InvalidArgumentError` for bad data, `ConnectionClosedError` once a close frame
   * was sent or received.
   */
  send(type: MessageType, data: WriteData): Promise<void> {
    let payload: string | Uint8Array;
    try {
      payload = normalizeWriteData(type, data);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#state !== 'open' || this.#closeSent) {
      return Promise.reject(new ConnectionClosedError(`Mock connection ${this.id} is ${this.#state}: cannot send`));
    }
    const message = toMessage(type, payload);
    (this.sent as Message[]).push(message);
    return new Promise<void>((resolve, reject) => {
      this.#outbound.push({ kind: 'message', message, resolve, reject });
      this.#flush();
    });
  }

  /** `send(MessageType.Text, text)`. */
  sendText(text: string): Promise<void> {
    return this.send(MessageType.Text, text);
  }

  /** `send(MessageType.Binary, data)`. */
  sendBinary(data: Uint8Array | ArrayBuffer): Promise<void> {
    return this.send(MessageType.Binary, data);
  }

  /**
   * The next client message not yet taken by `received()` (messages wait until asked for).
   * Rejects with `WebSocketCloseError` once the connection ended and every message was taken.
   */
  received(options: OperationOptions = {}): Promise<Message> {
    return this.#inbox.read(options.signal);
  }

  /**
   * Send a close frame (RFC 6455 section 5.5.1) after any message still queued for the client.
   * The client's reads reject with `WebSocketCloseError(code, reason)` once it has read what
   * came before; the client answers, and the promise resolves with that answer. Without a
   * code, the frame carries no status and the client sees 1005. Answering a client's close
   * that is still waiting (see `delays.close`) sends this frame as the answer at once.
   */
  close(code?: number, reason = ''): Promise<void> {
    try {
      if (code === undefined) {
        if (reason !== '') throw new InvalidArgumentError('A close frame without a status code cannot carry a reason');
      } else {
        validateClose(code, reason);
      }
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#state === 'closed' || this.#closeSent) {
      return Promise.reject(new ConnectionClosedError(`Mock connection ${this.id} already sent its close frame or ended`));
    }
    if (this.#state === 'closing') {
      // The client's close frame is waiting for its answer: this frame is the answer.
      this.#answerClose(code, reason);
      return Promise.resolve();
    }
    this.#closeSent = true;
    this.#state = 'closing';
    const done = new Promise<void>((resolve) => this.#closeWaiters.push(resolve));
    this.#outbound.push({ kind: 'close', code, reason });
    this.#flush();
    return done;
  }

  /**
   * Drop the connection without a close frame (a reset TCP connection): the client's reads
   * reject with `WebSocketCloseError` 1006, pending pings with `ConnectionClosedError`.
   * Messages still queued for the client are lost. Does nothing once the connection ended.
   */
  drop(): void {
    if (this.#state === 'closed') return;
    this.#end();
    this.#client.lost();
  }

  /** Hand queued frames to the client, in order, while it accepts them. */
  #flush(): void {
    while (this.#outbound.length > 0 && this.#state !== 'closed') {
      const item = this.#outbound[0]!;
      if (item.kind === 'message') {
        if (!this.#client.accepting) return;
        this.#outbound.shift();
        this.#client.message(item.message);
        item.resolve();
      } else {
        this.#outbound.shift();
        // The client answers synchronously, which ends this connection (see #onClientClose).
        this.#client.close(item.code, item.reason);
      }
    }
  }

  #onMessage(message: Message): void {
    if (this.#state === 'closed' || this.#clientClose) return;
    (this.messages as Message[]).push(message);
    this.#inbox.push(message);
    this.emit('message', message);
  }

  #onPing(id: number): void {
    if (this.#state === 'closed') return;
    this.#pings++;
    this.emit('ping');
    if (!this.#answerPings) return;
    // RFC 6455 section 5.5.3: a pong carries the ping's application data; `id` stands for it.
    this.#timers.schedule(this.#delays.pong, () => {
      if (this.#state !== 'closed') this.#client.pong(id);
    });
  }

  #onClientClose(code: number | undefined, reason: string): void {
    if (this.#state === 'closed' || this.#clientClose) return;
    const frame = { code: code ?? 1005, reason };
    this.#clientClose = frame;
    this.#inbox.fail(new WebSocketCloseError(frame.code, reason, { wasClean: true }));
    this.#resolveClosed(frame);
    if (this.#closeSent) {
      // Both close frames are on their way (RFC 6455 section 7.1.3): deliver ours, then done.
      this.#flush();
      this.#end();
      return;
    }
    this.#state = 'closing';
    // A closing client discards what is still queued for it; let it through so senders settle.
    this.#flush();
    // RFC 6455 section 5.5.1: answer with a close frame, echoing the status code.
    this.#cancelCloseAnswer = this.#timers.schedule(this.#delays.close, () => this.#answerClose(code, reason));
  }

  #answerClose(code: number | undefined, reason: string): void {
    if (this.#state === 'closed' || this.#closeSent) return;
    this.#cancelCloseAnswer?.();
    this.#closeSent = true;
    this.#end();
    this.#client.close(code, reason);
  }

  #onResume(): void {
    // Resumed from inside the client's read: flush on the next microtask, not re-entrantly.
    if (this.#resumeScheduled) return;
    this.#resumeScheduled = true;
    this.#timers.schedule(0, () => {
      this.#resumeScheduled = false;
      this.#flush();
    });
  }

  #end(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#timers.clear();
    const frame = this.#clientClose ?? { code: 1006, reason: '' };
    if (!this.#clientClose) {
      this.#inbox.fail(new WebSocketCloseError(1006, '', { wasClean: false }));
      this.#resolveClosed(frame);
    }
    const lost = new ConnectionClosedError(`Mock connection ${this.id} ended before the message was delivered`);
    for (const item of this.#outbound.splice(0)) if (item.kind === 'message') item.reject(lost);
    for (const resolve of this.#closeWaiters.splice(0)) resolve();
    this.#onEnd(this);
    this.emit('close', frame);
  }
}
