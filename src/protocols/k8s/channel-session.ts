/**
 * One exec or attach session over the channel protocols, independent of the stream flavour
 * (Node streams, WHATWG streams): it dials, reads and demultiplexes, writes stdin and resize
 * events, decodes the exit status and closes. Browser-safe.
 *
 * It drives an adapter directly rather than the engine: an exec cannot be resumed, so the
 * engine's reconnection has nothing to do, and its read loop and heartbeat do not fit a stream
 * consumer that may stop reading for minutes. Here the read loop waits for the consumer before it
 * reads the next message (the adapter's bounded queue then pauses the socket and TCP slows the
 * server), the heartbeat does not take that silence for a dead peer, and output already received
 * is never dropped because the connection closed behind it.
 */
import { ConnectionClosedError, InvalidArgumentError, UnsupportedOperationError, WebSocketCloseError } from '../../adapters/errors.js';
import { deferred } from '../../adapters/signals.js';
import type { HandshakeResponse, HeaderInit, Message, WebSocketConnectionAdapter } from '../../adapters/types.js';
import { HeartbeatTimeoutError } from '../../engine/errors.js';
import { decodeServerMessage, encodeClientMessage, encodeCloseSignal, encodeResize, type ClientMessage } from './codec.js';
import { ExecInterruptedError, K8sProtocolError } from './errors.js';
import { Liveness } from './liveness.js';
import type { ResolvedExecOptions } from './options.js';
import { Channel, protocolSpec, type ProtocolSpec } from './protocols.js';
import { decodeErrorText, decodeStatus, type ExecOutcome } from './status.js';

/** Where one output channel goes: a Node `Readable` or a WHATWG `ReadableStream`, wrapped. */
export interface OutputSink {
  /** Hand over a chunk; `false` when the consumer's buffer is full (wait for {@link demand}). */
  push(chunk: Uint8Array): boolean;
  /** Resolves when the consumer wants more, or will never read again (it went away). */
  demand(): Promise<void>;
  /** No more output. Called once. */
  end(): void;
}

/** Stdin frames are cut to this size: a huge write becomes several messages, not one huge one. */
const MAX_STDIN_FRAME = 1024 * 1024;
/** RFC 6455 section 7.4.1: 1002, the peer broke the protocol. */
const PROTOCOL_ERROR = 1002;
const NORMAL_CLOSURE = 1000;
const GOING_AWAY = 1001;

function isClosed(error: unknown): boolean {
  return error instanceof WebSocketCloseError || error instanceof ConnectionClosedError;
}

export class ChannelSession {
  readonly #adapter: WebSocketConnectionAdapter;
  readonly #options: ResolvedExecOptions;
  readonly #stdout: OutputSink;
  readonly #stderr: OutputSink;
  readonly #exit = deferred<number>();
  readonly #done = deferred<void>();
  #spec!: ProtocolSpec;
  #handshake!: HandshakeResponse;
  #settled = false;
  #finished = false;
  #closing: Promise<void> | undefined;
  #outputEnded = { [Channel.Stdout]: false, [Channel.Stderr]: false } as Record<number, boolean>;
  #holding = false;
  #pendingWrites = 0;
  #liveness: Liveness | undefined;
  #stdinEnded = false;
  #onAbort: (() => void) | undefined;

  private constructor(adapter: WebSocketConnectionAdapter, options: ResolvedExecOptions, stdout: OutputSink, stderr: OutputSink) {
    this.#adapter = adapter;
    this.#options = options;
    this.#stdout = stdout;
    this.#stderr = stderr;
    // Nobody may be listening (a caller that only reads stdout): never an unhandled rejection.
    this.#exit.promise.catch(() => {});
  }

  /**
   * Dial and start reading. Rejects with the adapter's `HandshakeError` when the server refuses
   * (its status and body), with {@link K8sProtocolError} when it picks a subprotocol we do not
   * speak, with the signal's reason when aborted.
   */
  static async open(
    options: ResolvedExecOptions,
    dial: { readonly headers?: HeaderInit; readonly protocols: readonly string[] },
    stdout: OutputSink,
    stderr: OutputSink,
  ): Promise<ChannelSession> {
    const adapter = options.adapter();
    const session = new ChannelSession(adapter, options, stdout, stderr);
    const handshake = await adapter.dial(options.url, {
      protocols: dial.protocols,
      ...(dial.headers === undefined ? {} : { headers: dial.headers }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    const spec = protocolSpec(handshake.protocol);
    if (spec === undefined) {
      const error = new K8sProtocolError(`The server chose the subprotocol ${JSON.stringify(handshake.protocol)}, which is not a channel protocol`);
      await adapter.close(PROTOCOL_ERROR, 'unsupported subprotocol').catch(() => {});
      throw error;
    }
    session.#start(handshake, spec);
    return session;
  }

  /** The negotiated subprotocol and what it allows. */
  get protocol(): ProtocolSpec {
    return this.#spec;
  }

  get handshake(): HandshakeResponse {
    return this.#handshake;
  }

  /** The remote command's exit code; see {@link ExecOutcome} for the rules. */
  get exitCode(): Promise<number> {
    return this.#exit.promise;
  }

  /** Resolves once the connection is closed and every stream has ended. */
  get done(): Promise<void> {
    return this.#done.promise;
  }

  /** Whether the session has ended (the connection is closed or closing). */
  get finished(): boolean {
    return this.#finished || this.#closing !== undefined;
  }

  #start(handshake: HandshakeResponse, spec: ProtocolSpec): void {
    this.#handshake = handshake;
    this.#spec = spec;
    const signal = this.#options.signal;
    if (signal) {
      this.#onAbort = () => {
        // The signal ended it: its reason is the cause, as a drop's close error is.
        this.#settle({ error: new ExecInterruptedError('The session was aborted before the command ended', { cause: signal.reason }) });
        void this.#close(NORMAL_CLOSURE, '', true);
      };
      if (signal.aborted) queueMicrotask(this.#onAbort);
      else signal.addEventListener('abort', this.#onAbort, { once: true });
    }
    if (this.#options.heartbeat) {
      const { timeout } = this.#options.heartbeat;
      this.#liveness = new Liveness(this.#options.heartbeat, {
        ping: (s) => this.#adapter.ping({ signal: s }),
        busy: () => this.#holding || this.#pendingWrites > 0,
        dead: () => this.#fail(new ExecInterruptedError('The connection is dead: no answer to the heartbeat', { cause: new HeartbeatTimeoutError(timeout) }), GOING_AWAY, 'heartbeat timeout'),
      });
      this.#liveness.start();
    }
    void this.#pump();
  }

  /** Send stdin bytes (cut into frames of at most 1 MiB). Dropped once the session has ended. */
  async writeStdin(chunk: Uint8Array): Promise<void> {
    let offset = 0;
    do {
      await this.#send(encodeClientMessage(this.#spec, Channel.Stdin, chunk.subarray(offset, offset + MAX_STDIN_FRAME)));
      offset += MAX_STDIN_FRAME;
    } while (offset < chunk.byteLength);
  }

  /**
   * End stdin: the v5 CLOSE signal `[255, 0]`; before v5, nothing, or a close of the whole
   * connection with `closeOnStdinEnd`.
   */
  async endStdin(): Promise<void> {
    if (this.#stdinEnded) return;
    this.#stdinEnded = true;
    if (this.#spec.closeSignal) await this.#send(encodeCloseSignal(this.#spec, Channel.Stdin));
    else if (this.#options.closeOnStdinEnd) await this.close();
  }

  /** Send a terminal size on channel 4 (v3 and later). */
  async resize(cols: number, rows: number): Promise<void> {
    for (const [name, value] of [['cols', cols], ['rows', rows]] as const) {
      if (!Number.isInteger(value) || value < 1 || value > 65535) {
        throw new InvalidArgumentError(`resize: ${name} must be an integer from 1 to 65535, got ${String(value)}`);
      }
    }
    if (!this.#spec.resize) throw new UnsupportedOperationError(`${this.#spec.name} has no resize channel (v3 and later have)`);
    await this.#send(encodeResize(this.#spec, cols, rows));
  }

  /**
   * Close the connection (1000) and wait for the closing handshake (up to `closeTimeout`). If the
   * exit status had not arrived, `exitCode` rejects with {@link ExecInterruptedError}.
   */
  close(): Promise<void> {
    this.#settle({ error: new ExecInterruptedError('The session was closed before the command ended') });
    return this.#close(NORMAL_CLOSURE, '', true);
  }

  async #send(message: ClientMessage): Promise<void> {
    if (this.finished) return;
    this.#pendingWrites++;
    try {
      await this.#adapter.write(message.type, message.data);
    } catch (error) {
      // The connection went away under the write: the read loop reports how the session ended.
      if (!isClosed(error)) throw error;
    } finally {
      this.#pendingWrites--;
    }
  }

  async #pump(): Promise<void> {
    const adapter = this.#adapter;
    const canTry = typeof adapter.tryRead === 'function';
    for (;;) {
      let message: Message | undefined = canTry ? adapter.tryRead!() : undefined;
      if (message === undefined) {
        try {
          message = await adapter.read();
        } catch (error) {
          this.#ended(error);
          return;
        }
      }
      this.#liveness?.alive();
      let frame;
      try {
        frame = decodeServerMessage(this.#spec, message);
      } catch (error) {
        this.#fail(error, PROTOCOL_ERROR, 'channel protocol error');
        continue;
      }
      if (frame.kind === 'empty') continue;
      if (frame.kind === 'close') {
        if (frame.channel === Channel.Stdout || frame.channel === Channel.Stderr) this.#endOutput(frame.channel);
        continue;
      }
      // A readiness frame: the server opened the channel; nothing to deliver.
      if (frame.payload.byteLength === 0) continue;
      if (frame.channel === Channel.Error) {
        let outcome: ExecOutcome;
        try {
          outcome = this.#spec.status ? decodeStatus(frame.payload) : decodeErrorText(frame.payload);
        } catch (error) {
          this.#fail(error, PROTOCOL_ERROR, 'bad status');
          continue;
        }
        this.#settle(outcome);
        // The status is the last word: every output message came before it.
        this.#endOutput(Channel.Stdout);
        this.#endOutput(Channel.Stderr);
        if (this.#spec.status) void this.#close(NORMAL_CLOSURE, '', true);
        continue;
      }
      if (this.#outputEnded[frame.channel] || this.#closing) continue;
      const sink = frame.channel === Channel.Stdout ? this.#stdout : this.#stderr;
      if (!sink.push(frame.payload)) {
        // Backpressure: read nothing more until the consumer asks (the adapter's bounded queue
        // then pauses the socket).
        this.#holding = true;
        try {
          await sink.demand();
        } finally {
          this.#holding = false;
          this.#liveness?.alive();
        }
      }
    }
  }

  #endOutput(channel: number): void {
    if (this.#outputEnded[channel]) return;
    this.#outputEnded[channel] = true;
    (channel === Channel.Stdout ? this.#stdout : this.#stderr).end();
  }

  #settle(outcome: ExecOutcome | { readonly error: unknown }): void {
    if (this.#settled) return;
    this.#settled = true;
    if ('exitCode' in outcome) this.#exit.resolve(outcome.exitCode);
    else this.#exit.reject(outcome.error);
  }

  /** The session cannot go on: reject `exitCode` with `error` and close with `code`. */
  #fail(error: unknown, code: number, reason: string): void {
    this.#settle({ error });
    this.#endOutput(Channel.Stdout);
    this.#endOutput(Channel.Stderr);
    void this.#close(code, reason, code !== GOING_AWAY);
  }

  #close(code: number, reason: string, wait: boolean): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#liveness?.stop();
    const controller = new AbortController();
    let timer: ReturnType<typeof globalThis.setTimeout> | undefined;
    if (wait) timer = globalThis.setTimeout(() => controller.abort(), this.#options.closeTimeout);
    else controller.abort();
    this.#closing = this.#adapter
      .close(code, reason, { signal: controller.signal })
      .catch(() => {
        // Already closed by the server: nothing to do.
      })
      .finally(() => {
        if (timer !== undefined) globalThis.clearTimeout(timer);
      })
      .then(() => this.#done.promise);
    return this.#closing;
  }

  /** The read loop saw the connection end. */
  #ended(error: unknown): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#liveness?.stop();
    if (this.#onAbort) this.#options.signal?.removeEventListener('abort', this.#onAbort);
    this.#endOutput(Channel.Stdout);
    this.#endOutput(Channel.Stderr);
    if (!this.#settled) {
      const clean = error instanceof WebSocketCloseError && error.wasClean && error.code === NORMAL_CLOSURE;
      if (!this.#spec.status && clean) {
        // Before v4 success is not announced: a normal close after no error text is exit code 0.
        this.#settle({ exitCode: 0 });
      } else {
        const what = error instanceof WebSocketCloseError ? `closed with ${error.code}${error.reason ? ` (${error.reason})` : ''}` : 'lost';
        this.#settle({ error: new ExecInterruptedError(`The connection ${what} before the command's exit status arrived`, { cause: error }) });
      }
    }
    if (!isClosed(error)) void this.#close(NORMAL_CLOSURE, '', false);
    this.#done.resolve();
  }
}
