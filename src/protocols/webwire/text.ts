/**
 * Payload text encodings. WebWire's UTF-16 is UTF-16LE code units, two bytes each: a JavaScript
 * string is already a sequence of UTF-16 code units, so encoding and decoding copy code units
 * and every string (surrogate pairs included, even a lone surrogate) round-trips exactly.
 * UTF-8 goes through `TextEncoder` and a fatal `TextDecoder` (WHATWG Encoding), so bad bytes
 * are an error, not U+FFFD.
 */
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function encodeUtf8(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}

/** Throws a `TypeError` on invalid UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string {
  return utf8Decoder.decode(bytes);
}

/** Bytes `text` takes in UTF-16 (two per code unit). */
export function utf16ByteLength(text: string): number {
  return text.length * 2;
}

/** Write `text` as UTF-16LE into `target` at `offset`. */
export function writeUtf16le(text: string, target: Uint8Array, offset: number): void {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    target[offset + 2 * i] = unit & 0xff;
    target[offset + 2 * i + 1] = unit >>> 8;
  }
}

/** Decode UTF-16LE; the caller checked that the length is even. */
export function decodeUtf16le(bytes: Uint8Array): string {
  const units = bytes.length >>> 1;
  // fromCharCode takes its code units as arguments: decode in slices well under any engine's
  // argument limit.
  const CHUNK = 8192;
  const slice = new Array<number>(Math.min(units, CHUNK));
  let out = '';
  for (let start = 0; start < units; start += CHUNK) {
    const end = Math.min(units, start + CHUNK);
    slice.length = end - start;
    for (let i = start; i < end; i++) slice[i - start] = bytes[2 * i]! | (bytes[2 * i + 1]! << 8);
    out += String.fromCharCode(...slice);
  }
  return out;
}
