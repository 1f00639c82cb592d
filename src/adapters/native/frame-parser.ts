/**
 * The receiving half of the frame codec (RFC 6455 section 5): a small state machine fed with
 * whatever chunks the socket delivers, in any split. It checks every rule a client must enforce
 * on server frames, joins fragments, decompresses (RFC 7692), validates UTF-8 as early as the
 * bytes allow, and hands out whole messages and control frames.
 *
 * Memory: it holds the current frame's payload (at most `maxFrameSize`, as views of the socket
 * chunks, which pin at most one chunk beyond it at each end), the fragments of the current
 * message (copies, at most `maxMessageSize`) and a 14-byte header buffer; anything larger is
 * refused at the frame header, before its payload arrives.
 */
import { isSendableStatusCode } from '../status-codes.js';
import type { PerMessageDeflate } from './permessage-deflate.js';
import { ProtocolError } from './protocol-error.js';
import { isValidUtf8, Utf8Validator } from './utf8.js';

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
/** Pause the socket when this many bytes wait for decompression to finish. */
const BACKLOG_HIGH_WATER = 1024 * 1024;

export class FrameParser {
  readonly #handlers: FrameParserHandlers;
  readonly #maxFrameSize: number;
  readonly #maxMessageSize: number;
  readonly #deflate: PerMessageDeflate | undefined;

  #state = HEADER;
  // Header bytes that arrived split across chunks (2 + 8 at most: server frames carry no mask).
  readonly #header = Buffer.alloc(14);
  #headerLength = 0;

  // The frame being read.
  #fin = false;
  #opcode = 0;
  #payloadLength = 0;
  /** Views of the socket chunks holding the current frame's payload so far. */
  #parts: Buffer[] = [];
  #filled = 0;

  // The message being read (fragments of RFC 6455 section 5.4).
  #messageOpcode = 0;
  #compressed = false;
  #fragments: Buffer[] = [];
  #messageLength = 0;
  readonly #utf8 = new Utf8Validator();

  // Chunks that arrived while a decompression was running.
  #backlog: Buffer[] = [];
  #backlogBytes = 0;
  #backlogPaused = false;

  constructor(handlers: FrameParserHandlers, options: FrameParserOptions) {
    this.#handlers = handlers;
    this.#maxFrameSize = options.maxFrameSize;
    this.#maxMessageSize = options.maxMessageSize;
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

  /** Feed the next chunk from the socket. */
  push(chunk: Buffer): void {
    if (this.#state === STOPPED) return;
    if (this.#state === INFLATING) {
      this.#queue(chunk);
      return;
    }
    this.#process(chunk, 0);
  }

  #queue(chunk: Buffer): void {
    this.#backlog.push(chunk);
    this.#backlogBytes += chunk.length;
    if (!this.#backlogPaused && this.#backlogBytes >= BACKLOG_HIGH_WATER) {
      this.#backlogPaused = true;
      this.#handlers.onBacklog?.(true);
    }
  }

  #process(chunk: Buffer, pos: number): void {
    const end = chunk.length;
    const handlers = this.#handlers;
    while (pos < end) {
      if (this.#state === HEADER) {
        // Fast path for the common frame: a whole unfragmented text or binary message with a
        // 7-bit length, entirely in this chunk, no extension bits (every check of #parseHeader
        // holds for it by construction).
        const b0 = chunk[pos];
        if ((b0 === 0x82 || b0 === 0x81) && this.#headerLength === 0 && this.#messageOpcode === 0 && pos + 1 < end) {
          const length = chunk[pos + 1];
          const start = pos + 2;
          if (length < 126 && start + length <= end && length <= this.#maxFrameSize && length <= this.#maxMessageSize) {
            pos = start + length;
            if (b0 === 0x82) {
              handlers.onMessage(2, chunk.subarray(start, pos));
            } else if (isValidUtf8(chunk, start, pos)) {
              handlers.onMessage(1, chunk.toString('utf8', start, pos));
            } else {
              this.#fail(1007, 'invalid UTF-8 in a text message');
              return;
            }
            continue;
          }
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
          if (!this.#frame(EMPTY, 0, 0)) {
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
        if (!this.#frame(chunk, start, pos)) {
          this.#suspend(chunk, pos);
          return;
        }
        continue;
      }
      // Part of the payload: keep views of the chunks, joined once the frame is complete (one
      // copy of the payload, made while it is still in cache for the last chunks).
      const take = Math.min(available, length - this.#filled);
      const part = chunk.subarray(pos, pos + take);
      if (this.#streamsUtf8()) {
        // Validate text as it arrives, so a bad byte fails the connection without waiting for
        // the rest of the frame (Autobahn 6.4.3 and 6.4.4).
        if (!this.#utf8.write(part)) {
          this.#fail(1007, 'invalid UTF-8 in a text message');
          return;
        }
      }
      this.#parts.push(part);
      this.#filled += take;
      pos += take;
      if (this.#filled === length) {
        const parts = this.#parts;
        const payload = parts.length === 1 ? parts[0]! : Buffer.concat(parts, length);
        this.#parts = [];
        this.#filled = 0;
        this.#state = HEADER;
        if (!this.#frame(payload, 0, length, this.#opcode < 8 && this.#messageOpcode === Opcode.Text && !this.#compressed)) {
          this.#suspend(chunk, pos);
          return;
        }
      }
    }
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
        return this.#fail(1009, `message over maxMessageSize (${this.#maxMessageSize} bytes)`);
      }
    }
    this.#fin = fin;
    this.#opcode = opcode;
    this.#payloadLength = length;
    return used;
  }

  /**
   * A whole frame's payload is `src[start, end)`. Returns false when the parser must wait
   * (decompression running) or stopped.
   */
  #frame(src: Buffer, start: number, end: number, validated = false): boolean {
    const opcode = this.#opcode;
    if (opcode >= 8) return this.#control(opcode, src, start, end);
    if (this.#compressed) return this.#inflate(src.subarray(start, end));
    const fin = this.#fin;
    if (fin && this.#fragments.length === 0) {
      // An unfragmented message: the fast path.
      this.#messageOpcode = 0;
      if (opcode === Opcode.Text) {
        if (validated ? !this.#utf8.complete : !isValidUtf8(src, start, end)) {
          return this.#reject(1007, 'invalid UTF-8 in a text message');
        }
        this.#handlers.onMessage(1, src.toString('utf8', start, end));
      } else {
        this.#handlers.onMessage(2, start === 0 && end === src.length ? src : src.subarray(start, end));
      }
      return this.#state !== STOPPED;
    }
    if (this.#messageOpcode === Opcode.Text && !validated) {
      // Section 8.1 / Autobahn 6.4: fail on the fragment where the text goes wrong.
      if (!this.#utf8.write(src, start, end)) return this.#reject(1007, 'invalid UTF-8 in a text message');
    }
    if (end > start) {
      // Copy: a view would keep the whole socket chunk alive while the message is gathered.
      const fragment = Buffer.allocUnsafe(end - start);
      src.copy(fragment, 0, start, end);
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
          return new ProtocolError(1009, `inflated message over maxMessageSize (${this.#maxMessageSize} bytes)`);
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
    if (opcode === Opcode.Ping) this.#handlers.onPing(payload);
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
    this.#fragments = [];
    this.#parts = [];
    this.#filled = 0;
    this.#backlog = [];
    this.#backlogBytes = 0;
  }
}
