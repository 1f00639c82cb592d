/**
 * Socket input read into memory the connection chooses, through `net.Socket`'s `onread` option,
 * instead of Node's default of a freshly allocated 64 KiB buffer and a stream 'data' event per
 * read:
 *
 * - Frames are read into large slabs, handed out one region after another and never written
 *   twice: the views the parser keeps (and the binary messages it delivers as views) stay valid,
 *   and there is one allocation per slab rather than one per read.
 * - When the parser is in the middle of a large frame payload, the socket reads straight into
 *   the payload's final buffer (at most up to the end of the frame), so the bytes are copied
 *   once, by the kernel, and never again.
 *
 * Until the connection attaches (during the HTTP upgrade), each region read is pushed into the
 * socket's readable side, where node:http's parser consumes it as it would any socket data.
 */
import type { Socket } from 'node:net';

/**
 * Slab sizes: a connection starts with a small slab and each new slab, needed only once the
 * previous one is used up, is twice as large, up to the maximum. The region handed to the socket
 * for its next read keeps its slab alive, so a connection holds one slab while idle: at most
 * MAX_SLAB, and FIRST_SLAB if it never received much. A message delivered as a view keeps its
 * slab alive as long as it is held (as a 'data' chunk of 64 KiB would): the price of not copying.
 */
const FIRST_SLAB = 16 * 1024;
const MAX_SLAB = 256 * 1024;
/**
 * The largest slab while no frame of LARGE_FRAME bytes or more has been seen. Slabs grow past
 * 64 KiB so that large frames stay in one view, or (up to FREE_SLAB) while the reads that fill
 * them leave nothing behind. A stream of small binary messages, which an application is more
 * likely to keep many of, pins at most 64 KiB per kept message, as ws's 64 KiB 'data' chunks
 * do: once something is kept, the next slab is at most this large again.
 */
const SMALL_TRAFFIC_SLAB = 64 * 1024;
/**
 * The largest slab for reads that keep nothing of it (text, control frames: all copied out): it
 * is read into again and again, and its reads of READ_SIZE (at 64 KiB, 43 KiB) take a stream of
 * small text messages with a third of the system calls.
 */
const FREE_SLAB = 256 * 1024;
/**
 * Most bytes asked for in one read after a read that brought pings. Every ping in a read is
 * answered in the same tick, and the pongs for a full read of pings (about 1,000 of 125 bytes
 * in 128 KiB) outgrow what a socket's send buffer takes at once: the pongs of the next reads
 * then pile up behind them, and a burst the peer does read would be taken for a flood (see
 * MAX_PENDING_PONGS). About 250 pings a read leave the pongs time to go out.
 */
const PING_READ_SIZE = 32 * 1024;
const LARGE_FRAME = 16 * 1024;
/**
 * Fresh reads stop this far (at most a third of the slab) before its end; the rest is kept for a
 * frame that began before that point to continue in, so that a frame of up to this size never
 * straddles two full-size slabs.
 */
const RESERVE = 80 * 1024;
/** Most bytes asked for in one fresh read. */
const READ_SIZE = 128 * 1024;
/** A new slab is taken when less than this (at most an eighth of the slab) is left for fresh reads. */
const MIN_REGION = 16 * 1024;
/**
 * A frame payload with at least this many bytes still to come, which cannot continue in the
 * slab right after its start, is read into its own buffer.
 */
const DIRECT_MIN = 16 * 1024;
/**
 * After a payload at least this large was read into its own buffer, the next read takes at most
 * one frame header (2 + 8 bytes, section 5.2), betting that the next frame is large as well:
 * its payload then goes straight into its own buffer too, instead of partly into the slab and
 * from there copied (one more read against up to READ_SIZE bytes of copying).
 */
const LARGE_PAYLOAD = 256 * 1024;
const MAX_HEADER = 10;

/** What the input feeds once attached: the frame parser. */
export interface InputSink {
  /** The next bytes of the stream. */
  push(chunk: Buffer): void;
  /** Bytes of the payload in progress still to come (0 between payloads). */
  readonly payloadRemaining: number;
  /** Whether input placed at `byteOffset` of `buffer` continues the payload in progress as one view. */
  continuesAt(buffer: ArrayBufferLike, byteOffset: number): boolean;
  /**
   * A buffer that is the exact rest of the payload in progress, to read into, if at least
   * `minimum` bytes of it are still to come; else undefined.
   */
  directTarget(minimum: number): Buffer | undefined;
  /** `length` bytes were read into the start of the buffer `directTarget` returned last. */
  pushDirect(length: number): void;
  /** Whether memory of the input pushed since the last call is still referenced; clears the flag. */
  takeRetained(): boolean;
  /** Whether a ping arrived in the input pushed since the last call; clears the flag. */
  takePinged(): boolean;
}

export interface OnRead {
  buffer: () => Buffer;
  callback: (length: number, buffer: Uint8Array) => boolean;
}

export class SocketInput {
  #socket: Socket | undefined;
  #sink: InputSink | undefined;
  #slab: Buffer | undefined;
  #offset = 0;
  /** Where fresh reads stop in the current slab, and the least room worth a fresh read. */
  #softEnd = 0;
  #minRegion = 0;
  /** Whether the buffer handed to the socket for its next read is a direct payload target. */
  #direct = false;
  /** Bytes read into the current payload's own buffer so far. */
  #directBytes = 0;
  /** The largest slab to take: SMALL_TRAFFIC_SLAB until a large frame shows up. */
  #maxSlab = SMALL_TRAFFIC_SLAB;
  /** Whether the next slab may grow to FREE_SLAB: the last one was filled and nothing of it kept. */
  #growFree = false;
  /** The most bytes a fresh read asks for: READ_SIZE, or PING_READ_SIZE after pings. */
  #readSize = READ_SIZE;

  /** The `onread` option for `net.connect`. */
  readonly onread: OnRead = {
    buffer: () => this.#next(),
    callback: (length, buffer) => this.#read(length, buffer as Buffer),
  };

  /** The socket created with {@link onread}. */
  bind(socket: Socket): void {
    this.#socket = socket;
  }

  get socket(): Socket | undefined {
    return this.#socket;
  }

  /**
   * Hand the stream over to `sink`: first `head` (what node:http read past the response), then
   * whatever waits in the socket's readable buffer, then every later read. Call it before any
   * 'data' listener is added: `socket.read()` emits 'data' too.
   */
  attach(sink: InputSink, head: Buffer): void {
    if (head.length > 0) sink.push(head);
    const socket = this.#socket;
    if (socket) {
      for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) {
        sink.push(chunk);
      }
    }
    this.#sink = sink;
  }

  #next(): Buffer {
    const slab = this.#slab;
    const offset = this.#offset;
    const sink = this.#sink;
    const remaining = sink === undefined ? 0 : sink.payloadRemaining;
    if (remaining > 0) {
      if (remaining >= LARGE_FRAME) this.#maxSlab = MAX_SLAB;
      if (
        slab !== undefined &&
        slab.length - offset >= remaining &&
        sink!.continuesAt(slab.buffer, slab.byteOffset + offset)
      ) {
        // The rest of the payload fits in the slab right after its start: it stays one view.
        this.#direct = false;
        this.#directBytes = 0;
        // Past the soft end, read no further than the frame's end.
        return slab.subarray(offset, Math.max(offset + remaining, Math.min(this.#softEnd, offset + this.#readSize)));
      }
      if (remaining >= DIRECT_MIN) {
        // Else a large rest goes straight into the payload's own buffer.
        const target = sink!.directTarget(DIRECT_MIN);
        if (target !== undefined) {
          this.#direct = true;
          return target;
        }
      }
    }
    const afterLarge = this.#direct && this.#directBytes >= LARGE_PAYLOAD;
    this.#direct = false;
    this.#directBytes = 0;
    const size = afterLarge ? MAX_HEADER : this.#readSize;
    if (slab === undefined || this.#softEnd - offset < this.#minRegion) {
      const next = this.#newSlab(slab === undefined ? FIRST_SLAB : Math.min(this.#growFree ? Math.max(FREE_SLAB, this.#maxSlab) : this.#maxSlab, slab.length * 2));
      this.#growFree = false;
      return next.subarray(0, Math.min(this.#softEnd, size));
    }
    return slab.subarray(offset, Math.min(this.#softEnd, offset + size));
  }

  #newSlab(size: number): Buffer {
    const slab = Buffer.allocUnsafeSlow(size);
    this.#slab = slab;
    this.#offset = 0;
    this.#softEnd = size - Math.min(RESERVE, Math.floor(size / 3));
    this.#minRegion = Math.min(MIN_REGION, size / 8);
    return slab;
  }

  /** Returns false to stop reading (the readable side is full during the upgrade). */
  #read(length: number, buffer: Buffer): boolean {
    if (this.#direct) {
      this.#directBytes += length;
      this.#sink!.pushDirect(length);
      return true;
    }
    const chunk = buffer.subarray(0, length);
    const sink = this.#sink;
    if (sink !== undefined) {
      sink.push(chunk);
      this.#readSize = sink.takePinged() ? PING_READ_SIZE : READ_SIZE;
      // A region the parser keeps something of is never handed out again: views of it stay
      // valid. One it kept nothing of (text, control frames: all copied out) is read into
      // again, the way a socket reading into one reused buffer does: no new memory, and the
      // bytes land in memory that is already in cache.
      if (sink.takeRetained()) {
        this.#offset += length;
        this.#growFree = false;
      } else if (length === buffer.length && this.#slab!.length < Math.max(FREE_SLAB, this.#maxSlab)) {
        // The read filled all it was offered: take a larger slab (the reads into the same
        // memory would otherwise stay as small as the first slab's).
        this.#offset = this.#softEnd;
        this.#growFree = true;
      }
      return true;
    }
    this.#offset += length;
    return this.#socket!.push(chunk);
  }
}
