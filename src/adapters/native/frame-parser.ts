/**
 * The receiving half of the frame codec (RFC 6455 section 5): a small state machine fed with
 * whatever chunks the socket delivers, in any split. It checks every rule a client must enforce
 * on server frames, joins fragments, decompresses (RFC 7692), validates UTF-8 as early as the
 * bytes allow, and hands out whole messages and control frames.
 *
 * Memory: it holds the current frame's payload (at most `maxFrameSize`: a view of the input
 * while its parts lie next to each other in memory, else one buffer of the payload's length,
 * filled in place), the fragments of the current message (at most `maxMessageSize`) and a
 * 14-byte header buffer; anything larger is refused at the frame header, before its payload
 * arrives.
 *
 * Input comes either as chunks ({@link FrameParser.push}) or, for the rest of a large payload,
 * read by the socket straight into the payload's buffer ({@link FrameParser.directTarget} and
 * {@link FrameParser.pushDirect}): the bytes are then never copied by us at all.
 */
import { isSendableStatusCode } from '../status-codes.js';
import type { PerMessageDeflate } from './permessage-deflate.js';
import { ProtocolError } from './protocol-error.js';
import { decodeUtf8, isValidUtf8, Utf8Validator } from './utf8.js';

/** Opcodes of RFC 6455 section 5.2 (%x3-7 and %xB-F are reserved). */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

export interface FrameParserHandlers {
  /** A whole message: a string for text (already validated), bytes for binary. */
  onMessage(opcode: 1, data: string): void;
  onMessage(opcode: 2, data: Buffer): void;
  onMessage(opcode: 1 | 2, data: string | Buffer): void;
  onPing(payload: Buffer): void;
  onPong(payload: Buffer): void;
  /** The server's close frame: its code (1005 when it had none) and reason. Parsing stops. */
  onClose(code: number, reason: string): void;
  /** The server broke the protocol or a limit; the connection must be failed with `error.closeCode`. Parsing stops. */
  onError(error: ProtocolError): void;
  /** Called while a backlog of unparsed chunks waits on decompression, so the socket can pause. */
  onBacklog?(paused: boolean): void;
}

export interface FrameParserOptions {
  readonly maxFrameSize: number;
  readonly maxMessageSize: number;
  /** The negotiated permessage-deflate codec, if any: RSV1 is then allowed on first data frames. */
  readonly deflate?: PerMessageDeflate | undefined;
}

const HEADER = 0;
const PAYLOAD = 1;
const INFLATING = 2;
const STOPPED = 3;

const EMPTY = Buffer.alloc(0);

/**
 * The class Node's Buffer methods construct their results with (`subarray` goes through it),
 * reached by the standard `Symbol.species` hook: `new BufferView(arrayBuffer, offset, length)`
 * makes the same Buffer as `subarray`, without its argument handling (a third of the cost, for
 * the view made per small binary message).
 */
type BufferViewClass = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => Buffer;
const BufferView: BufferViewClass = (() => {
  const species = (Buffer as unknown as Record<symbol, unknown>)[Symbol.species];
  if (typeof species === 'function') {
    const probe = new (species as BufferViewClass)(new ArrayBuffer(2), 1, 1);
    if (Buffer.isBuffer(probe) && probe.byteOffset === 1 && probe.length === 1) return species as BufferViewClass;
  }
  return function view(buffer: ArrayBufferLike, byteOffset: number, length: number): Buffer {
    return Buffer.from(buffer, byteOffset, length);
  } as unknown as BufferViewClass;
})();
/**
 * A payload at least this large that begins at the end of one chunk continues as a view of the
 * input (the socket input reads its rest right after it); a smaller one is copied into its own
 * buffer, so that the chunk's memory can be read into again.
 */
const VIEW_MIN = 16 * 1024;
/**
 * A payload buffer at least this large is followed by a small allocation kept until the next
 * one (see #ownTarget).
 */
const PIN_AFTER = 128 * 1024;
const PIN_SIZE = 4096;
/** Pause the socket when this many bytes wait for decompression to finish. */
const BACKLOG_HIGH_WATER = 1024 * 1024;

export class FrameParser {
  readonly #handlers: FrameParserHandlers;
  readonly #maxFrameSize: number;
  readonly #maxMessageSize: number;
  /** The largest payload the fast path takes: within both limits and a 16-bit length. */
  readonly #fastLimit: number;
  readonly #deflate: PerMessageDeflate | undefined;

  #state = HEADER;
  // Header bytes that arrived split across chunks (2 + 8 at most: server frames carry no mask).
  readonly #header = Buffer.alloc(14);
  #headerLength = 0;

  // The frame being read.
  #fin = false;
  #opcode = 0;
  #payloadLength = 0;
  /**
   * The current frame's payload once it spans chunks, `#filled` bytes so far: a view of the
   * input while each chunk continued the previous one in memory (`#pending`), else a buffer of
   * the payload's full length (`#target`). At most one of them is set.
   */
  #pending: Buffer | undefined = undefined;
  #target: Buffer | undefined = undefined;
  #filled = 0;
  /** The small allocation made after the last large payload buffer (see #ownTarget). */
  // eslint-disable-next-line no-unused-private-class-members -- held, never read: its place in memory is its use
  #pin: Buffer | undefined = undefined;

  // The message being read (fragments of RFC 6455 section 5.4).
  #messageOpcode = 0;
  #compressed = false;
  #fragments: Buffer[] = [];
  #messageLength = 0;
  readonly #utf8 = new Utf8Validator();

  /**
   * Whether memory of the input pushed since the last {@link takeRetained} is still referenced
   * (a binary message delivered as a view, a partial payload kept as one, a chunk kept for
   * later): the socket input may read into that memory again only when it is not.
   */
  #retained = false;
  /** Whether a ping arrived since the last {@link takePinged}. */
  #pinged = false;

  // Chunks that arrived while a decompression was running.
  #backlog: Buffer[] = [];
  #backlogBytes = 0;
  #backlogPaused = false;

  constructor(handlers: FrameParserHandlers, options: FrameParserOptions) {
    this.#handlers = handlers;
    this.#maxFrameSize = options.maxFrameSize;
    this.#maxMessageSize = options.maxMessageSize;
    this.#fastLimit = Math.min(options.maxFrameSize, options.maxMessageSize, 0xffff);
    this.#deflate = options.deflate;
  }

  /** Whether the parser stopped (after a close frame or an error): further input is ignored. */
  get stopped(): boolean {
    return this.#state === STOPPED;
  }

  /**
   * Bytes held for the frame and message in progress and the decompression backlog: never more
   * than maxFrameSize + maxMessageSize + the backlog's high-water mark and one socket chunk.
   */
  get bufferedBytes(): number {
    return this.#headerLength + this.#filled + this.#messageLength + this.#backlogBytes;
  }

  /** Stop parsing; later input is ignored. */
  stop(): void {
    this.#state = STOPPED;
    this.#release();
  }

  /**
   * Whether the input pushed since the last call is still referenced; clears the flag. Text,
   * control frames and headers are copied out, so a stream of text leaves nothing behind and
   * the socket can read every chunk into the same memory (see socket-input.ts).
   */
  takeRetained(): boolean {
    const retained = this.#retained;
    this.#retained = false;
    return retained;
  }

  /** Whether a ping arrived in the input pushed since the last call; clears the flag. */
  takePinged(): boolean {
    const pinged = this.#pinged;
    this.#pinged = false;
    return pinged;
  }

  /** Feed the next chunk from the socket. */
  push(chunk: Buffer): void {
    if (this.#state === STOPPED) return;
    if (this.#state === INFLATING) {
      this.#queue(chunk);
      return;
    }
    this.#process(chunk, 0);
  }

  /**
   * Where the socket may read the rest of the current frame's payload, when at least `minimum`
   * bytes of it are still to come: exactly the unfilled end of the payload's buffer (a read
   * into it can never run past the frame). Undefined otherwise; then input comes by push().
   */
  directTarget(minimum: number): Buffer | undefined {
    if (this.#state !== PAYLOAD) return undefined;
    const length = this.#payloadLength;
    if (length - this.#filled < minimum) return undefined;
    return this.#ownTarget().subarray(this.#filled);
  }

  /** Bytes of the current frame's payload still to come (0 between payloads). */
  get payloadRemaining(): number {
    return this.#state === PAYLOAD ? this.#payloadLength - this.#filled : 0;
  }

  /**
   * Whether input placed at `byteOffset` of `buffer` would continue the current payload in
   * memory, so that it stays one view with no copy: nothing of the payload came yet, or what
   * came is still a view that ends right there.
   */
  continuesAt(buffer: ArrayBufferLike, byteOffset: number): boolean {
    if (this.#state !== PAYLOAD || this.#target !== undefined) return false;
    return this.#pending === undefined || this.#continues(buffer, byteOffset);
  }

  /**
   * The payload's own buffer, with what came so far copied in.
   *
   * After a large one, a small buffer is allocated and kept until the next large one. Large
   * payload buffers come from the top of the C heap (glibc's malloc, past its first frees) and
   * die in batches, at the garbage collection that external memory pressure triggers every few
   * dozen of them; freed together at the top, they are handed back to the system (the heap
   * shrinks), and the next ones are fresh pages that the kernel faults in and zeroes one by one
   * while it copies the socket's bytes into them: about a quarter of the time a stream of
   * 1 MiB messages took. With a live allocation above them, freed payload buffers stay with the
   * allocator and are handed out again, as the 64 KiB read buffers of a 'data' socket are. The
   * price: that memory stays with the process until the connection is gone.
   */
  #ownTarget(): Buffer {
    let target = this.#target;
    if (target === undefined) {
      target = this.#target = Buffer.allocUnsafe(this.#payloadLength);
      if (target.length >= PIN_AFTER) this.#pin = Buffer.allocUnsafeSlow(PIN_SIZE);
      if (this.#pending !== undefined) {
        this.#pending.copy(target, 0);
        this.#pending = undefined;
      }
    }
    return target;
  }

  /** `length` bytes were read into the start of the buffer {@link directTarget} returned last. */
  pushDirect(length: number): void {
    // Stopped in the meantime (the connection closed or failed): drop them.
    if (this.#state !== PAYLOAD || this.#target === undefined) return;
    this.#received(length);
  }

  #queue(chunk: Buffer): void {
    this.#retained = true;
    this.#backlog.push(chunk);
    this.#backlogBytes += chunk.length;
    if (!this.#backlogPaused && this.#backlogBytes >= BACKLOG_HIGH_WATER) {
      this.#backlogPaused = true;
      this.#handlers.onBacklog?.(true);
    }
  }

  /**
   * The common frames, in a tight loop: whole unfragmented text or binary messages with a 7- or
   * 16-bit length, no extension bits, unmasked, within the limits, entirely in `chunk` (every
   * check of #parseHeader holds for them by construction). Returns where it stopped: at the
   * first other frame, at the end of the chunk, or -1 after failing or being stopped.
   */
  #fastFrames(chunk: Buffer, pos: number, end: number): number {
    const handlers = this.#handlers;
    const limit = this.#fastLimit;
    const arrayBuffer = chunk.buffer;
    const base = chunk.byteOffset;
    while (pos + 1 < end) {
      const b0 = chunk[pos];
      if (b0 !== 0x82 && b0 !== 0x81) break;
      let length = chunk[pos + 1];
      let start = pos + 2;
      if (length === 126) {
        if (pos + 3 >= end) break;
        length = (chunk[pos + 2] << 8) | chunk[pos + 3];
        start = pos + 4;
      } else if (length > 126) {
        break;
      }
      const stop = start + length;
      if (stop > end || length > limit) break;
      pos = stop;
      if (b0 === 0x82) {
        this.#retained = true;
        handlers.onMessage(2, new BufferView(arrayBuffer, base + start, length));
      } else {
        const text = decodeUtf8(chunk, start, stop, arrayBuffer, base);
        if (text === undefined) {
          this.#fail(1007, 'invalid UTF-8 in a text message');
          return -1;
        }
        handlers.onMessage(1, text);
      }
      // A handler may have stopped the parser.
      if (this.#state !== HEADER) return -1;
    }
    return pos;
  }

  #process(chunk: Buffer, pos: number): void {
    const end = chunk.length;
    while (pos < end) {
      if (this.#state === HEADER) {
        if (this.#headerLength === 0 && this.#messageOpcode === 0) {
          pos = this.#fastFrames(chunk, pos, end);
          if (pos < 0 || pos === end) return;
        }
        if (this.#headerLength > 0) {
          // Complete a header split across chunks.
          const take = Math.min(14 - this.#headerLength, end - pos);
          chunk.copy(this.#header, this.#headerLength, pos, pos + take);
          const available = this.#headerLength + take;
          const used = this.#parseHeader(this.#header, 0, available);
          if (used < 0) return;
          if (used === 0) {
            this.#headerLength = available;
            return;
          }
          pos += used - this.#headerLength;
          this.#headerLength = 0;
        } else {
          const used = this.#parseHeader(chunk, pos, end - pos);
          if (used < 0) return;
          if (used === 0) {
            chunk.copy(this.#header, 0, pos, end);
            this.#headerLength = end - pos;
            return;
          }
          pos += used;
        }
        if (this.#payloadLength === 0) {
          if (!this.#frame(EMPTY, 0, 0, false, false)) {
            this.#suspend(chunk, pos);
            return;
          }
          continue;
        }
        this.#state = PAYLOAD;
      }
      if (this.#state !== PAYLOAD) return;
      const length = this.#payloadLength;
      const available = end - pos;
      if (available === 0) return;
      if (this.#filled === 0 && available >= length) {
        // The whole payload is in this chunk: no copy.
        const start = pos;
        pos += length;
        this.#state = HEADER;
        this.#target = undefined;
        this.#pending = undefined;
        if (!this.#frame(chunk, start, pos, false, false)) {
          this.#suspend(chunk, pos);
          return;
        }
        continue;
      }
      // Part of the payload. While the parts lie next to each other in memory (the socket
      // input reads the rest of a payload right after its start when it can), it stays a view;
      // otherwise it is copied into a buffer of the payload's full length, allocated once (no
      // join at the end; the bytes are still in cache from the socket read).
      const filled = this.#filled;
      const take = Math.min(available, length - filled);
      const start = chunk.byteOffset + pos;
      if (
        this.#target === undefined &&
        (filled === 0 ? this.#retained || length >= VIEW_MIN : this.#continues(chunk.buffer, start))
      ) {
        // A small payload begun at the end of a chunk nothing else is kept of is copied instead
        // (below): a view would keep the chunk's memory from being read into again.
        this.#retained = true;
        this.#pending = new BufferView(chunk.buffer, start - filled, filled + take);
      } else {
        chunk.copy(this.#ownTarget(), filled, pos, pos + take);
      }
      pos += take;
      if (!this.#received(take)) {
        this.#suspend(chunk, pos);
        return;
      }
    }
  }

  #continues(buffer: ArrayBufferLike, byteOffset: number): boolean {
    const pending = this.#pending;
    return pending !== undefined && pending.buffer === buffer && pending.byteOffset + pending.length === byteOffset;
  }

  /**
   * `count` more bytes of the current payload are in #pending or #target. Returns false when
   * parsing must pause (decompression running) or stopped.
   */
  #received(count: number): boolean {
    const target = (this.#target ?? this.#pending)!;
    const owned = this.#target !== undefined;
    const from = this.#filled;
    const filled = from + count;
    this.#filled = filled;
    const text = this.#streamsUtf8();
    // Validate text as it arrives, so a bad byte fails the connection without waiting for the
    // rest of the frame (RFC 6455 section 8.1; Autobahn 6.4.3 and 6.4.4).
    if (text && !this.#utf8.write(target, from, filled)) {
      this.#fail(1007, 'invalid UTF-8 in a text message');
      return false;
    }
    if (filled < this.#payloadLength) return true;
    this.#target = undefined;
    this.#pending = undefined;
    this.#filled = 0;
    this.#state = HEADER;
    return this.#frame(target, 0, filled, owned, text);
  }

  /** Whether the current frame's payload is text to validate as it streams in. */
  #streamsUtf8(): boolean {
    return this.#opcode < 8 && this.#messageOpcode === Opcode.Text && !this.#compressed;
  }

  /**
   * Read a frame header from `src[off, off + available)`. Returns its length, 0 when more bytes
   * are needed, -1 after failing the connection.
   */
  #parseHeader(src: Buffer, off: number, available: number): number {
    if (available < 2) return 0;
    const b0 = src[off];
    const b1 = src[off + 1];
    const fin = (b0 & 0x80) !== 0;
    const rsv1 = (b0 & 0x40) !== 0;
    const opcode = b0 & 0x0f;
    // Section 5.2: RSV bits must be 0 unless an extension gives them a meaning; RFC 7692
    // section 6 gives RSV1 to permessage-deflate, on the first frame of a data message only.
    if ((b0 & 0x30) !== 0) return this.#fail(1002, 'RSV2 or RSV3 set without a negotiated extension');
    // Section 5.1: a client must fail on a masked frame from the server.
    if ((b1 & 0x80) !== 0) return this.#fail(1002, 'the server sent a masked frame');
    let length = b1 & 0x7f;
    if (opcode >= 8) {
      // Section 5.5: control frames are never fragmented and carry at most 125 bytes.
      if (opcode > Opcode.Pong) return this.#fail(1002, `reserved control opcode 0x${opcode.toString(16)}`);
      if (!fin) return this.#fail(1002, 'fragmented control frame');
      if (length > 125) return this.#fail(1002, 'control frame payload over 125 bytes');
      if (rsv1) return this.#fail(1002, 'RSV1 set on a control frame');
    } else if (opcode === Opcode.Continuation) {
      if (this.#messageOpcode === 0) return this.#fail(1002, 'continuation frame without a message in progress');
      if (rsv1) return this.#fail(1002, 'RSV1 set on a continuation frame');
    } else if (opcode === Opcode.Text || opcode === Opcode.Binary) {
      if (this.#messageOpcode !== 0) return this.#fail(1002, 'new data frame while a fragmented message is in progress');
      if (rsv1 && !this.#deflate) return this.#fail(1002, 'RSV1 set without permessage-deflate');
    } else {
      return this.#fail(1002, `reserved data opcode 0x${opcode.toString(16)}`);
    }
    let used = 2;
    if (length === 126) {
      if (available < 4) return 0;
      length = src.readUInt16BE(off + 2);
      used = 4;
    } else if (length === 127) {
      if (available < 10) return 0;
      const high = src.readUInt32BE(off + 2);
      // Section 5.2: the most significant bit of a 64-bit length must be 0.
      if (high >= 0x80000000) return this.#fail(1002, 'the most significant bit of a 64-bit length is set');
      if (high > 0x1fffff) return this.#fail(1009, 'frame payload length over 2^53 bytes');
      length = high * 0x100000000 + src.readUInt32BE(off + 6);
      used = 10;
    }
    if (opcode < 8) {
      if (length > this.#maxFrameSize) return this.#fail(1009, `frame of ${length} bytes is over maxFrameSize (${this.#maxFrameSize})`);
      if (opcode !== Opcode.Continuation) {
        this.#messageOpcode = opcode;
        this.#compressed = rsv1;
        this.#messageLength = 0;
        if (opcode === Opcode.Text) this.#utf8.reset();
      }
      // Compressed sizes are checked again after inflation, against the inflated length.
      if (this.#messageLength + length > this.#maxMessageSize) {
        return this.#fail(1009, `message over maxPayload (${this.#maxMessageSize} bytes)`);
      }
    }
    this.#fin = fin;
    this.#opcode = opcode;
    this.#payloadLength = length;
    return used;
  }

  /**
   * A whole frame's payload is `src[start, end)`; `owned` when it is all of `src` and `src` is
   * ours (not a view of a socket chunk), `validated` when its UTF-8 was checked as it arrived.
   * Returns false when the parser must wait (decompression running) or stopped.
   */
  #frame(src: Buffer, start: number, end: number, owned: boolean, validated: boolean): boolean {
    const opcode = this.#opcode;
    if (opcode >= 8) return this.#control(opcode, src, start, end);
    if (this.#compressed) return this.#inflate(src.subarray(start, end));
    const fin = this.#fin;
    if (fin && opcode !== Opcode.Continuation) {
      // An unfragmented message: the fast path. (Not "no fragments kept yet": the first
      // fragments of a message may be empty, and its last one must still be handled as part of
      // it, with the message's type and UTF-8 state, section 5.4.)
      this.#messageOpcode = 0;
      if (opcode === Opcode.Text) {
        const text = validated ? (this.#utf8.complete ? src.toString('utf8', start, end) : undefined) : decodeUtf8(src, start, end);
        if (text === undefined) return this.#reject(1007, 'invalid UTF-8 in a text message');
        this.#handlers.onMessage(1, text);
      } else {
        if (!owned) this.#retained = true;
        this.#handlers.onMessage(2, start === 0 && end === src.length ? src : new BufferView(src.buffer, src.byteOffset + start, end - start));
      }
      return this.#state !== STOPPED;
    }
    if (this.#messageOpcode === Opcode.Text && !validated) {
      // Section 8.1 / Autobahn 6.4: fail on the fragment where the text goes wrong.
      if (!this.#utf8.write(src, start, end)) return this.#reject(1007, 'invalid UTF-8 in a text message');
    }
    if (end > start) {
      // A view of a socket chunk is copied: it would keep the whole chunk alive while the
      // message is gathered.
      let fragment = src;
      if (!owned) {
        fragment = Buffer.allocUnsafe(end - start);
        src.copy(fragment, 0, start, end);
      }
      this.#fragments.push(fragment);
      this.#messageLength += end - start;
    }
    if (fin) this.#deliver();
    return this.#state !== STOPPED;
  }

  #deliver(): void {
    const fragments = this.#fragments;
    const data = fragments.length === 1 ? fragments[0]! : Buffer.concat(fragments, this.#messageLength);
    const opcode = this.#messageOpcode;
    this.#fragments = [];
    this.#messageLength = 0;
    this.#messageOpcode = 0;
    this.#compressed = false;
    if (opcode === Opcode.Text) {
      if (!this.#utf8.complete) {
        this.#fail(1007, 'a text message ends inside a UTF-8 sequence');
        return;
      }
      this.#handlers.onMessage(1, data.toString('utf8'));
    } else {
      this.#handlers.onMessage(2, data);
    }
  }

  #inflate(payload: Buffer): boolean {
    // The compressed payload may be read after this call returns.
    this.#retained = true;
    const deflate = this.#deflate!;
    const fin = this.#fin;
    const text = this.#messageOpcode === Opcode.Text;
    this.#state = INFLATING;
    deflate.decompress(
      payload,
      fin,
      (chunk) => {
        this.#messageLength += chunk.length;
        // RFC 7692 section 8.1 leaves bomb defence to the implementation: cap the inflated size.
        if (this.#messageLength > this.#maxMessageSize) {
          return new ProtocolError(1009, `inflated message over maxPayload (${this.#maxMessageSize} bytes)`);
        }
        if (text && !this.#utf8.write(chunk)) return new ProtocolError(1007, 'invalid UTF-8 in a text message');
        this.#fragments.push(chunk);
        return null;
      },
      (error) => {
        if (this.#state === STOPPED) return;
        if (error) {
          this.#fail(error.closeCode, error.message);
          return;
        }
        this.#state = HEADER;
        if (fin) this.#deliver();
        this.#resume();
      },
    );
    return false;
  }

  /** Keep what is left of `chunk` until the decompression finishes. */
  #suspend(chunk: Buffer, pos: number): void {
    if (this.#state !== INFLATING || pos >= chunk.length) return;
    this.#retained = true;
    this.#backlog.unshift(pos === 0 ? chunk : chunk.subarray(pos));
    this.#backlogBytes += chunk.length - pos;
  }

  #resume(): void {
    while (this.#backlog.length > 0 && (this.#state === HEADER || this.#state === PAYLOAD)) {
      const chunk = this.#backlog.shift()!;
      this.#backlogBytes -= chunk.length;
      this.#process(chunk, 0);
    }
    if (this.#backlogPaused && this.#backlogBytes < BACKLOG_HIGH_WATER / 2) {
      this.#backlogPaused = false;
      if (this.#state !== STOPPED) this.#handlers.onBacklog?.(false);
    }
  }

  #control(opcode: number, src: Buffer, start: number, end: number): boolean {
    if (opcode === Opcode.Close) {
      const length = end - start;
      // Section 5.5.1: a close payload is empty, or a 2-byte code and a UTF-8 reason.
      if (length === 1) return this.#reject(1002, 'close frame with a 1-byte payload');
      let code = 1005;
      let reason = '';
      if (length >= 2) {
        code = src.readUInt16BE(start);
        // Section 7.4: codes that may not appear on the wire are a protocol error.
        if (!isSendableStatusCode(code)) return this.#reject(1002, `invalid close code ${code}`);
        if (!isValidUtf8(src, start + 2, end)) return this.#reject(1007, 'invalid UTF-8 in the close reason');
        reason = src.toString('utf8', start + 2, end);
      }
      this.#state = STOPPED;
      this.#release();
      this.#handlers.onClose(code, reason);
      return false;
    }
    // Copy: a control payload is at most 125 bytes, and must not pin the socket chunk.
    const payload = Buffer.from(src.subarray(start, end));
    if (opcode === Opcode.Ping) {
      this.#pinged = true;
      this.#handlers.onPing(payload);
    }
    else this.#handlers.onPong(payload);
    return this.#state !== STOPPED;
  }

  /** Fail the connection and tell #process to stop. */
  #reject(code: 1002 | 1007 | 1009, message: string): false {
    this.#fail(code, message);
    return false;
  }

  /** Fail the connection (section 7.1.7); always returns -1 for #parseHeader's callers. */
  #fail(code: 1002 | 1007 | 1009, message: string): -1 {
    if (this.#state === STOPPED) return -1;
    this.#state = STOPPED;
    this.#release();
    this.#handlers.onError(new ProtocolError(code, message));
    return -1;
  }

  #release(): void {
    this.#pin = undefined;
    this.#fragments = [];
    this.#target = undefined;
    this.#pending = undefined;
    this.#filled = 0;
    this.#backlog = [];
    this.#backlogBytes = 0;
  }
}
