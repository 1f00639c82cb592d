/**
 * The outbound side of a connection: whole messages in call order, compressed and fragmented
 * as configured, with backpressure (a write resolves once the socket took it and its buffer is
 * below the high-water mark; later writes wait in order meanwhile).
 *
 * Frames written in the same tick are corked together and leave in one `writev`, so a burst of
 * small messages costs one system call instead of one each.
 */
import type { Socket } from 'node:net';
import { WriteQueue, type QueuedWrite } from '../core/write-queue.js';
import { WRITTEN } from '../signals.js';
import { isPooled, releaseFrame } from './frame-pool.js';
import { encodeFrame, encodeMessage, encodeTextFrame } from './frame-writer.js';
import type { PerMessageDeflate } from './permessage-deflate.js';

/** A message waiting in the core's write queue (one object per queued message, as before). */
interface Job extends QueuedWrite {
  readonly opcode: 1 | 2;
  readonly data: string | Uint8Array;
}

/**
 * A write resolves at once while the socket holds fewer unwritten bytes than this, and otherwise
 * once it has written them all ('drain'). Above the socket's own high-water mark (16 KiB, less
 * than one large message) so that a sender awaiting each write still keeps the kernel's buffer
 * fed: waiting for 'drain' after every 64 KiB message left the connection idle between them.
 */
const SEND_HIGH_WATER = 256 * 1024;

export class Sender {
  readonly #socket: Socket;
  readonly #fragmentSize: number;
  readonly #deflate: PerMessageDeflate | undefined;
  readonly #queue = new WriteQueue<Job>();
  /** A compression or a wait for 'drain' is in progress: new messages queue behind it. */
  #busy = false;
  #drainWaiter: { resolve: () => void; reject: (error: unknown) => void } | undefined;
  #error: unknown = undefined;
  #corked = false;
  readonly #uncork = (): void => {
    this.#corked = false;
    this.#socket.uncork();
  };
  readonly #onDrain = (): void => {
    const waiter = this.#drainWaiter;
    if (!waiter) return;
    this.#drainWaiter = undefined;
    this.#busy = false;
    waiter.resolve();
    this.#pump();
  };

  constructor(socket: Socket, fragmentSize: number, deflate: PerMessageDeflate | undefined) {
    this.#socket = socket;
    this.#fragmentSize = fragmentSize;
    this.#deflate = deflate;
    socket.on('drain', this.#onDrain);
  }

  /** Send one data message (opcode 1 or 2). */
  send(opcode: 1 | 2, data: string | Uint8Array, signal: AbortSignal | undefined): Promise<void> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (!this.#busy && this.#queue.length === 0 && !this.#compresses(data)) {
      this.#writeMessage(opcode, data, false);
      return this.#mustWait() ? this.#waitDrain() : WRITTEN;
    }
    return new Promise<void>((resolve, reject) => {
      // Aborted while queued, the message leaves the queue and is never sent.
      this.#queue.push({ opcode, data, resolve, reject, signal, onAbort: undefined });
      this.#pump();
    });
  }

  /**
   * Send one data message now if nothing waits, it needs no compression and the socket holds
   * less than the high-water mark; otherwise send nothing and return false.
   */
  trySend(opcode: 1 | 2, data: string | Uint8Array): boolean {
    if (this.#error !== undefined || this.#busy || this.#queue.length > 0 || this.#mustWait() || this.#compresses(data)) return false;
    this.#writeMessage(opcode, data, false);
    return true;
  }

  /**
   * Send a control frame at once (section 5.5: it may come between the fragments of a message).
   * `written` is called once the socket has handed the frame to the system (or failed to).
   * Returns false when the socket can no longer write (nothing was sent, `written` is not called).
   */
  sendControl(opcode: 0x8 | 0x9 | 0xa, payload: Uint8Array, written?: () => void): boolean {
    // Not refused after fail(): the close frame itself goes out after data sends are shut.
    if (this.#socket.destroyed || !this.#socket.writable) return false;
    this.#write(encodeFrame(opcode, true, false, payload), written);
    return true;
  }

  /** Refuse everything queued and every later message with `error`. */
  fail(error: unknown): void {
    if (this.#error !== undefined) return;
    this.#error = error;
    this.#socket.off('drain', this.#onDrain);
    const waiter = this.#drainWaiter;
    this.#drainWaiter = undefined;
    waiter?.reject(error);
    this.#queue.fail(error);
  }

  #compresses(data: string | Uint8Array): boolean {
    const deflate = this.#deflate;
    if (!deflate) return false;
    const length = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    return length >= deflate.threshold;
  }

  /** Whether the socket holds enough unwritten bytes for a write to wait for 'drain'. */
  #mustWait(): boolean {
    const socket = this.#socket;
    return socket.writableNeedDrain && socket.writableLength >= SEND_HIGH_WATER;
  }

  #waitDrain(): Promise<void> {
    this.#busy = true;
    return new Promise<void>((resolve, reject) => {
      this.#drainWaiter = { resolve, reject };
    });
  }

  #pump(): void {
    while (!this.#busy && this.#error === undefined && this.#queue.length > 0) {
      const job = this.#queue.shift()!;
      if (this.#compresses(job.data)) {
        this.#busy = true;
        const bytes = typeof job.data === 'string' ? Buffer.from(job.data) : job.data;
        this.#deflate!.compress(bytes, (error, payload) => {
          if (this.#error !== undefined) {
            job.reject(this.#error);
            return;
          }
          if (error) {
            this.#busy = false;
            job.reject(error);
            this.#pump();
            return;
          }
          this.#writeMessage(job.opcode, payload, true);
          this.#busy = false;
          this.#finish(job);
          this.#pump();
        });
        return;
      }
      this.#writeMessage(job.opcode, job.data, false);
      this.#finish(job);
    }
  }

  #finish(job: Job): void {
    if (this.#mustWait()) this.#waitDrain().then(job.resolve, job.reject);
    else job.resolve();
  }

  #writeMessage(opcode: 1 | 2, data: string | Uint8Array, compressed: boolean): void {
    const fragmentSize = this.#fragmentSize;
    if (typeof data === 'string') {
      const byteLength = Buffer.byteLength(data);
      if (fragmentSize === 0 || byteLength <= fragmentSize) {
        this.#write(encodeTextFrame(data, byteLength));
        return;
      }
      data = Buffer.from(data);
    }
    if (fragmentSize === 0 || data.length <= fragmentSize) {
      this.#write(encodeFrame(opcode, true, compressed, data));
      return;
    }
    for (const frame of encodeMessage(opcode, data, fragmentSize, compressed)) this.#write(frame);
  }

  #write(frame: Buffer, written?: () => void): void {
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      process.nextTick(this.#uncork);
    }
    if (!isPooled(frame)) {
      this.#socket.write(frame, written);
      return;
    }
    // A frame in pooled memory goes back to the pool once the socket is done with it.
    this.#socket.write(frame, () => {
      releaseFrame(frame);
      written?.();
    });
  }
}
