/**
 * Where `wsengine connect` writes. Two screens with one interface:
 *
 * - {@link TerminalScreen}: stdin and stdout are a terminal. The readline prompt is the status
 *   line (state, last round-trip time, reconnects); messages and events print above it, and the
 *   line being typed is redrawn under them, as in wscat.
 * - {@link PlainScreen}: for scripts. stdout carries only the messages received, one line each;
 *   events and problems go to stderr. No prompt, no escape sequences.
 */
import { clearLine, cursorTo, type Interface } from 'node:readline';

export type BinaryFormat = 'hex' | 'base64';

/** What the status line shows. */
export interface ConnectStatus {
  readonly state: string;
  readonly rttMs: number | undefined;
  readonly reconnects: number;
}

export interface Screen {
  /** A text message received. */
  text(data: string): void;
  /** A binary message received. */
  binary(data: Uint8Array): void;
  /** Something happened to the connection. */
  event(text: string): void;
  /** Something went wrong that does not end the session (a failed send, a bad command). */
  problem(text: string): void;
  /** The status changed. */
  status(status: ConnectStatus): void;
  /** The session is over: take the prompt away. */
  close(): void;
}

export interface Writable {
  write(text: string): unknown;
}

export function formatBinary(data: Uint8Array, format: BinaryFormat): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString(format);
}

export function formatStatus(status: ConnectStatus): string {
  const rtt = status.rttMs === undefined ? 'rtt -' : `rtt ${Math.round(status.rttMs)} ms`;
  const reconnects = `${status.reconnects} reconnect${status.reconnects === 1 ? '' : 's'}`;
  return `[${status.state} | ${rtt} | ${reconnects}] > `;
}

export class PlainScreen implements Screen {
  readonly #out: Writable;
  readonly #err: Writable;
  readonly #binaryAs: BinaryFormat;
  readonly #quiet: boolean;

  constructor(out: Writable, err: Writable, binaryAs: BinaryFormat, quiet: boolean) {
    this.#out = out;
    this.#err = err;
    this.#binaryAs = binaryAs;
    this.#quiet = quiet;
  }

  text(data: string): void {
    this.#out.write(`${data}\n`);
  }

  binary(data: Uint8Array): void {
    this.#out.write(`${formatBinary(data, this.#binaryAs)}\n`);
  }

  event(text: string): void {
    if (!this.#quiet) this.#err.write(`${text}\n`);
  }

  problem(text: string): void {
    this.#err.write(`error: ${text}\n`);
  }

  status(): void {}

  close(): void {}
}

export class TerminalScreen implements Screen {
  readonly #rl: Interface;
  readonly #out: NodeJS.WritableStream;
  readonly #binaryAs: BinaryFormat;
  #closed = false;

  constructor(rl: Interface, out: NodeJS.WritableStream, binaryAs: BinaryFormat, initial: ConnectStatus) {
    this.#rl = rl;
    this.#out = out;
    this.#binaryAs = binaryAs;
    rl.setPrompt(formatStatus(initial));
    rl.prompt();
  }

  text(data: string): void {
    this.#print(`< ${data}`);
  }

  binary(data: Uint8Array): void {
    this.#print(`< [binary ${data.byteLength} bytes] ${formatBinary(data, this.#binaryAs)}`);
  }

  event(text: string): void {
    this.#print(`* ${text}`);
  }

  problem(text: string): void {
    this.#print(`! ${text}`);
  }

  status(status: ConnectStatus): void {
    const prompt = formatStatus(status);
    if (this.#closed || prompt === this.#rl.getPrompt()) return;
    this.#rl.setPrompt(prompt);
    this.#rl.prompt(true);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#erasePrompt();
  }

  /** Print above the prompt: erase it, write the line, draw the prompt and the typed text again. */
  #print(line: string): void {
    this.#erasePrompt();
    this.#out.write(`${line}\n`);
    if (!this.#closed) this.#rl.prompt(true);
  }

  #erasePrompt(): void {
    cursorTo(this.#out, 0);
    clearLine(this.#out, 0);
  }
}
