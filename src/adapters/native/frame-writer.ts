/**
 * The sending half of the frame codec (RFC 6455 section 5.2): header, fresh masking key, and
 * masked payload, laid out in one buffer so that a frame is one socket write.
 */
import { allocFrame } from './frame-pool.js';
import { maskInPlace, maskInto, writeMaskKey } from './mask.js';

/** Length of a client frame header (masking key included) for a payload of `length` bytes. */
export function headerLength(length: number): number {
  return length < 126 ? 6 : length < 0x10000 ? 8 : 14;
}

/** Write the header; returns the offset of the masking key. */
function writeHeader(target: Buffer, opcode: number, fin: boolean, rsv1: boolean, length: number): number {
  target[0] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  // Section 5.2: the shortest length encoding; the MASK bit is always set by a client (5.3).
  if (length < 126) {
    target[1] = 0x80 | length;
    return 2;
  }
  if (length < 0x10000) {
    target[1] = 0x80 | 126;
    target.writeUInt16BE(length, 2);
    return 4;
  }
  target[1] = 0x80 | 127;
  target.writeUInt32BE(Math.floor(length / 0x100000000), 2);
  target.writeUInt32BE(length >>> 0, 6);
  return 10;
}

/**
 * Encode a frame whose payload is `payload[start, end)`. The caller's bytes are never changed:
 * they are masked on their way into the frame.
 */
export function encodeFrame(opcode: number, fin: boolean, rsv1: boolean, payload: Uint8Array, start = 0, end = payload.length): Buffer {
  const length = end - start;
  const headerSize = headerLength(length);
  // Large frames in pooled memory: the writer gives it back once written (see frame-pool.ts).
  const frame = allocFrame(headerSize + length);
  const keyOffset = writeHeader(frame, opcode, fin, rsv1, length);
  writeMaskKey(frame, keyOffset);
  // Copied and masked in one pass where the length makes it worth it (see mask.ts).
  if (length > 0) maskInto(payload, start, frame, headerSize, length, frame, keyOffset);
  return frame;
}

/**
 * Encode a one-frame text message straight from a string: the UTF-8 bytes are written into the
 * frame and masked in place, with no intermediate buffer. `byteLength` is `Buffer.byteLength(text)`.
 */
export function encodeTextFrame(text: string, byteLength: number, opcode = 1, fin = true): Buffer {
  const headerSize = headerLength(byteLength);
  const frame = allocFrame(headerSize + byteLength);
  const keyOffset = writeHeader(frame, opcode, fin, false, byteLength);
  writeMaskKey(frame, keyOffset);
  if (byteLength > 0) {
    frame.write(text, headerSize, 'utf8');
    maskInPlace(frame, headerSize, headerSize + byteLength, frame, keyOffset);
  }
  return frame;
}

/**
 * Encode a message as one frame, or as several of at most `fragmentSize` payload bytes
 * (section 5.4; 0 never splits). Only the first frame carries the opcode and RSV1.
 */
export function encodeMessage(opcode: number, payload: Uint8Array, fragmentSize: number, rsv1 = false): Buffer[] {
  const length = payload.length;
  if (fragmentSize === 0 || length <= fragmentSize) return [encodeFrame(opcode, true, rsv1, payload)];
  const frames: Buffer[] = [];
  for (let start = 0; start < length; start += fragmentSize) {
    const end = Math.min(length, start + fragmentSize);
    frames.push(encodeFrame(start === 0 ? opcode : 0, end === length, start === 0 && rsv1, payload, start, end));
  }
  return frames;
}
