/**
 * `exec` for Node: the session's channels as Node streams. stdout and stderr are `Readable`s that
 * push back on the socket: when one holds `highWaterMark` bytes nobody has read, the session
 * reads no further message until it is read from.
 */
import { Readable, Writable } from 'node:stream';
import { InvalidOptionError } from '../../adapters/errors.js';
import { createWsAdapter } from '../../adapters/ws.js';
import type { AdapterFactory, HandshakeResponse, HeaderInit } from '../../adapters/types.js';
import { ChannelSession, type OutputSink } from './channel-session.js';
import { resolveExecOptions, type ExecOptionsBase } from './options.js';
import type { K8sProtocol, ProtocolSpec } from './protocols.js';

export interface ExecOptions extends ExecOptionsBase {
  /** Extra request headers for the handshake. With `token`, `Authorization: Bearer <token>` is added. */
  readonly headers?: HeaderInit;
  /** Makes the adapter. Default: the `ws` adapter with its defaults (`createWsAdapter()`). */
  readonly adapter?: AdapterFactory;
}

/** A running remote command. */
export interface ExecSession {
  /** The subprotocol the server chose. */
  readonly protocol: K8sProtocol;
  /** What that subprotocol allows (resize, JSON status, CLOSE signal). */
  readonly spec: ProtocolSpec;
  /** What the server answered to the opening handshake. */
  readonly handshake: HandshakeResponse;
  /**
   * The command's stdin. `end()` sends the v5 CLOSE signal `[255, 0]`; before v5 see
   * `closeOnStdinEnd`. Writes after the session ended are dropped.
   */
  readonly stdin: Writable;
  /** The command's stdout; ends when the command ends (or the connection does). */
  readonly stdout: Readable;
  /** The command's stderr (empty with `tty`). */
  readonly stderr: Readable;
  /** Send the terminal size (v3 and later; rejects with `UnsupportedOperationError` before). */
  resize(cols: number, rows: number): Promise<void>;
  /**
   * The exit code: 0 for `{"status":"Success"}`, the code of a `NonZeroExitCode` status. Rejects
   * with `ExecStatusError` (carrying the Status, or before v4 the error text),
   * `K8sProtocolError`, or `ExecInterruptedError`.
   */
  readonly exitCode: Promise<number>;
  /** Resolves when the connection is closed and the output streams have ended. */
  readonly closed: Promise<void>;
  /** Close the connection (1000); a pending `exitCode` rejects with `ExecInterruptedError`. */
  close(): Promise<void>;
}

/** A `Readable` fed by the session, which tells it when its consumer wants more. */
class OutputReadable extends Readable {
  #wake: (() => void) | undefined;
  #gone = false;
  readonly sink: OutputSink;

  constructor(highWaterMark: number) {
    super({ highWaterMark });
    // A consumer that destroyed the stream will never read again: stop waiting for it, drop output.
    this.once('close', () => {
      this.#gone = true;
      this.#wakeUp();
    });
    this.sink = {
      push: (chunk) => (this.#gone ? true : this.push(chunk)),
      demand: () => (this.#gone ? Promise.resolve() : new Promise<void>((resolve) => (this.#wake = resolve))),
      end: () => {
        if (!this.#gone) this.push(null);
      },
    };
  }

  override _read(): void {
    this.#wakeUp();
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

function withToken(headers: HeaderInit | undefined, token: string | undefined): HeaderInit | undefined {
  if (token === undefined) return headers;
  const has = headers !== undefined && Object.keys(headers).some((name) => name.toLowerCase() === 'authorization');
  return has ? headers : { ...headers, authorization: `Bearer ${token}` };
}

/**
 * Run a command (an `exec` or `attach` URL of the API server, `ws:`/`wss:` or `http:`/`https:`)
 * and get its stdin, stdout, stderr, resize and exit code. Resolves once the server accepted;
 * rejects with the adapter's `HandshakeError` when it refused (status, headers, body).
 */
export async function exec(url: string | URL, options: ExecOptions = {}): Promise<ExecSession> {
  const resolved = resolveExecOptions(url, options, () => createWsAdapter(), ['headers']);
  if (options.headers !== undefined && (options.headers === null || typeof options.headers !== 'object')) {
    throw new InvalidOptionError('headers', `expected an object of header names to values, got ${options.headers === null ? 'null' : typeof options.headers}`);
  }
  const stdout = new OutputReadable(resolved.highWaterMark);
  const stderr = new OutputReadable(resolved.highWaterMark);
  const headers = withToken(options.headers, resolved.token);
  const session = await ChannelSession.open(
    resolved,
    { protocols: resolved.protocols, ...(headers === undefined ? {} : { headers }) },
    stdout.sink,
    stderr.sink,
  );
  const stdin = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      session.writeStdin(chunk).then(() => callback(), callback);
    },
    final(callback) {
      session.endStdin().then(() => callback(), callback);
    },
  });
  return {
    protocol: session.protocol.name,
    spec: session.protocol,
    handshake: session.handshake,
    stdin,
    stdout,
    stderr,
    resize: (cols, rows) => session.resize(cols, rows),
    exitCode: session.exitCode,
    closed: session.done,
    close: () => session.close(),
  };
}
