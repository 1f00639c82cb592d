/**
 * Base64 for the base64 channel protocols and the bearer-token subprotocol, without `Buffer` so
 * that it runs in browsers. Decoding is strict (RFC 4648 section 4, with padding, nothing else):
 * the server encodes with Go's `base64.StdEncoding`, so anything else is a broken frame, and
 * `atob` would accept missing padding and whitespace.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const PAD = 61; // '='

/** Character code -> 6-bit value, 255 for characters outside the alphabet. */
const DECODE = new Uint8Array(256).fill(255);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/** Characters are added to the output string in slices of this many, under argument-count limits. */
const CHUNK = 8192;

function encodeWith(alphabet: string, bytes: Uint8Array, pad: boolean): string {
  const codes: number[] = [];
  let out = '';
  const flush = (): void => {
    out += String.fromCharCode(...codes);
    codes.length = 0;
  };
  const table = Array.from(alphabet, (c) => c.charCodeAt(0));
  const whole = bytes.length - (bytes.length % 3);
  for (let i = 0; i < whole; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    codes.push(table[n >> 18]!, table[(n >> 12) & 63]!, table[(n >> 6) & 63]!, table[n & 63]!);
    if (codes.length >= CHUNK) flush();
  }
  const rest = bytes.length - whole;
  if (rest === 1) {
    const n = bytes[whole]! << 16;
    codes.push(table[n >> 18]!, table[(n >> 12) & 63]!);
    if (pad) codes.push(PAD, PAD);
  } else if (rest === 2) {
    const n = (bytes[whole]! << 16) | (bytes[whole + 1]! << 8);
    codes.push(table[n >> 18]!, table[(n >> 12) & 63]!, table[(n >> 6) & 63]!);
    if (pad) codes.push(PAD);
  }
  flush();
  return out;
}

/** Standard base64 with padding. */
export function encodeBase64(bytes: Uint8Array): string {
  return encodeWith(ALPHABET, bytes, true);
}

/** URL-safe base64 without padding (RFC 4648 section 5), as the bearer-token subprotocol wants. */
export function encodeBase64Url(bytes: Uint8Array): string {
  return encodeWith(URL_ALPHABET, bytes, false);
}

/**
 * Decode standard base64 with padding, from `start` in `text`. Returns `undefined` when the text
 * is not valid base64: a character outside the alphabet, a length that is not a multiple of 4,
 * padding anywhere but at the end, or non-zero bits in the last character before the padding.
 */
export function decodeBase64(text: string, start = 0): Uint8Array | undefined {
  const length = text.length - start;
  if (length % 4 !== 0) return undefined;
  if (length === 0) return new Uint8Array(0);
  let padding = 0;
  if (text.charCodeAt(text.length - 1) === PAD) padding = text.charCodeAt(text.length - 2) === PAD ? 2 : 1;
  const out = new Uint8Array((length / 4) * 3 - padding);
  const end = text.length - 4; // the last quantum is decoded on its own, with its padding
  let o = 0;
  for (let i = start; i < end; i += 4) {
    const a = DECODE[text.charCodeAt(i) & 0xff]!;
    const b = DECODE[text.charCodeAt(i + 1) & 0xff]!;
    const c = DECODE[text.charCodeAt(i + 2) & 0xff]!;
    const d = DECODE[text.charCodeAt(i + 3) & 0xff]!;
    // A character above 0xff masked into range could alias a valid one: check the codes too.
    if ((a | b | c | d) > 63 || !ascii(text, i)) return undefined;
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = n >> 16;
    out[o++] = (n >> 8) & 0xff;
    out[o++] = n & 0xff;
  }
  if (!ascii(text, end)) return undefined;
  const a = DECODE[text.charCodeAt(end)]!;
  const b = DECODE[text.charCodeAt(end + 1)]!;
  const c = padding === 2 ? 0 : DECODE[text.charCodeAt(end + 2)]!;
  const d = padding >= 1 ? 0 : DECODE[text.charCodeAt(end + 3)]!;
  if (a > 63 || b > 63 || c > 63 || d > 63) return undefined;
  // RFC 4648 section 3.5: the bits under the padding must be zero (Go's StdEncoding is strict too).
  if ((padding === 2 && (b & 15) !== 0) || (padding === 1 && (c & 3) !== 0)) return undefined;
  const n = (a << 18) | (b << 12) | (c << 6) | d;
  out[o++] = n >> 16;
  if (padding < 2) out[o++] = (n >> 8) & 0xff;
  if (padding < 1) out[o++] = n & 0xff;
  return out;
}

function ascii(text: string, i: number): boolean {
  return (text.charCodeAt(i) | text.charCodeAt(i + 1) | text.charCodeAt(i + 2) | text.charCodeAt(i + 3)) < 128;
}
