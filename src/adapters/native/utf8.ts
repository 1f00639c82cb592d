/**
 * UTF-8 validation for text messages and close reasons (RFC 6455 sections 5.6 and 8.1).
 *
 * Whole messages in one frame are checked by `buffer.isUtf8` (native). Messages that arrive in
 * pieces (fragments, partial frames, inflated output) go through {@link Utf8Validator}, which
 * keeps the state of an unfinished code point between pieces and reports failure at the first
 * byte after which the input can no longer be valid UTF-8 (the "fail fast" of Autobahn case 6.4).
 */
import { isAscii, isUtf8 } from 'node:buffer';

/** Whether `data[start, end)` is valid UTF-8. */
export function isValidUtf8(data: Buffer, start: number, end: number): boolean {
  // Short ASCII payloads (the common case of small text messages) need no view.
  if (end - start <= 32) {
    let i = start;
    while (i < end && data[i] < 0x80) i++;
    if (i === end) return true;
  }
  // A plain Uint8Array view costs less to make than Buffer#subarray, and isUtf8 takes it.
  return isUtf8(start === 0 && end === data.length ? data : new Uint8Array(data.buffer, data.byteOffset + start, end - start));
}

type Slice = (this: Buffer, start: number, end: number) => string;
/**
 * Buffer's own decoders, which `toString` calls after checking its arguments and choosing by
 * encoding name (a fifth of the cost of decoding 1 KiB); `toString` where a runtime lacks them.
 */
const latin1Slice: Slice =
  (Buffer.prototype as unknown as { latin1Slice?: Slice }).latin1Slice ??
  function (this: Buffer, start: number, end: number): string {
    return this.toString('latin1', start, end);
  };
const utf8Slice: Slice =
  (Buffer.prototype as unknown as { utf8Slice?: Slice }).utf8Slice ??
  function (this: Buffer, start: number, end: number): string {
    return this.toString('utf8', start, end);
  };

/**
 * The text of `data[start, end)`, or undefined when it is not valid UTF-8. ASCII, the common
 * case, is recognised first and decoded as Latin-1 (the same characters, and a cheaper decoder
 * than UTF-8's, which would check the bytes again). `arrayBuffer` and `byteOffset` are
 * `data.buffer` and `data.byteOffset`, for a caller that has them at hand (the `buffer`
 * getter is not free).
 */
export function decodeUtf8(
  data: Buffer,
  start: number,
  end: number,
  arrayBuffer: ArrayBufferLike = data.buffer,
  byteOffset: number = data.byteOffset,
): string | undefined {
  const length = end - start;
  if (length > 32) {
    const view = new Uint8Array(arrayBuffer, byteOffset + start, length);
    if (isAscii(view)) return latin1Slice.call(data, start, end);
    return isUtf8(view) ? utf8Slice.call(data, start, end) : undefined;
  }
  let i = start;
  while (i < end && data[i] < 0x80) i++;
  if (i === end) return latin1Slice.call(data, start, end);
  return isValidUtf8(data, i, end) ? utf8Slice.call(data, start, end) : undefined;
}

/** Below this many bytes, the byte loop beats creating a view for `isUtf8`. */
const NATIVE_THRESHOLD = 64;

/**
 * An incremental UTF-8 validator. The byte rules are those of the WHATWG decoder (Unicode
 * table 3-7, well-formed byte sequences): overlong forms, surrogates and code points above
 * U+10FFFF are refused at the first byte that rules them out.
 */
export class Utf8Validator {
  /** Continuation bytes still expected for the current code point. */
  #needed = 0;
  /** Allowed range of the next continuation byte (narrower right after E0, ED, F0, F4). */
  #lower = 0x80;
  #upper = 0xbf;

  /** Forget any unfinished code point (start of a new message). */
  reset(): void {
    this.#needed = 0;
    this.#lower = 0x80;
    this.#upper = 0xbf;
  }

  /** Whether the input so far ends on a code point boundary. */
  get complete(): boolean {
    return this.#needed === 0;
  }

  /** Feed `data[start, end)`; false as soon as the input cannot be valid UTF-8. */
  write(data: Uint8Array, start = 0, end = data.length): boolean {
    let i = start;
    // Finish a code point left open by the previous piece.
    while (this.#needed > 0 && i < end) {
      if (!this.#step(data[i])) return false;
      i++;
    }
    if (end - i >= NATIVE_THRESHOLD) {
      // Check the longest prefix that ends on a code point boundary natively, then the tail
      // (at most 3 bytes of an unfinished code point) byte by byte.
      let cut = end;
      for (let back = 1; back <= 3 && end - back >= i; back++) {
        const b = data[end - back];
        if (b >= 0xc0) {
          const length = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
          if (length > back) cut = end - back;
          break;
        }
        if (b < 0x80) break;
      }
      if (!isUtf8(data.subarray(i, cut))) return false;
      i = cut;
    }
    for (; i < end; i++) {
      if (!this.#step(data[i])) return false;
    }
    return true;
  }

  #step(b: number): boolean {
    if (this.#needed === 0) {
      if (b < 0x80) return true;
      if (b >= 0xc2 && b <= 0xdf) {
        this.#needed = 1;
      } else if (b >= 0xe0 && b <= 0xef) {
        if (b === 0xe0) this.#lower = 0xa0; // no overlong 3-byte forms
        else if (b === 0xed) this.#upper = 0x9f; // no UTF-16 surrogates
        this.#needed = 2;
      } else if (b >= 0xf0 && b <= 0xf4) {
        if (b === 0xf0) this.#lower = 0x90; // no overlong 4-byte forms
        else if (b === 0xf4) this.#upper = 0x8f; // nothing above U+10FFFF
        this.#needed = 3;
      } else {
        return false;
      }
      return true;
    }
    if (b < this.#lower || b > this.#upper) return false;
    this.#lower = 0x80;
    this.#upper = 0xbf;
    this.#needed--;
    return true;
  }
}
