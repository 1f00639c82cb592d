/**
 * The body of a refused upgrade (RFC 6455 section 4.1: any status but 101 is handled "per HTTP
 * procedures"), kept for `HandshakeError.body`, with one cap on every adapter that can see it.
 */

/**
 * At most this many bytes of a refusal's body are kept: enough for an error document
 * (`{"error":"token expired"}`), bounded against a server that streams a large page.
 */
export const REFUSAL_BODY_LIMIT = 4096;

const decoder = new TextDecoder('utf-8');

/** Collects the first {@link REFUSAL_BODY_LIMIT} bytes of a body as it arrives. */
export class RefusalBody {
  private readonly chunks: Uint8Array[] = [];
  private size = 0;

  /** Whether the cap is reached: nothing more is kept, the caller may stop reading. */
  get full(): boolean {
    return this.size >= REFUSAL_BODY_LIMIT;
  }

  /** Keep what fits of `chunk`; returns {@link full}. */
  push(chunk: Uint8Array): boolean {
    if (this.full) return true;
    const room = REFUSAL_BODY_LIMIT - this.size;
    const kept = chunk.byteLength > room ? chunk.subarray(0, room) : chunk;
    this.chunks.push(kept);
    this.size += kept.byteLength;
    return this.full;
  }

  /**
   * The kept bytes as UTF-8 text, `undefined` when the body was empty. A character cut by the
   * cap is left out rather than shown as U+FFFD.
   */
  text(): string | undefined {
    if (this.size === 0) return undefined;
    const bytes = new Uint8Array(this.size);
    let offset = 0;
    for (const chunk of this.chunks) {
      bytes.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return decoder.decode(bytes.subarray(0, this.full ? completeUtf8Length(bytes) : bytes.byteLength));
  }
}

/** The length of `bytes` without a trailing, incomplete UTF-8 sequence. */
function completeUtf8Length(bytes: Uint8Array): number {
  let start = bytes.byteLength - 1;
  // Walk back over at most 3 continuation bytes (10xxxxxx) to the sequence's lead byte.
  while (start > 0 && bytes.byteLength - start < 4 && (bytes[start]! & 0xc0) === 0x80) start--;
  const lead = bytes[start]!;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return bytes.byteLength - start < need ? start : bytes.byteLength;
}

/** Cap a body given as text (the mock server's refusals) the same way. */
export function capRefusalBody(body: string | undefined): string | undefined {
  if (body === undefined || body === '') return undefined;
  const capture = new RefusalBody();
  capture.push(new TextEncoder().encode(body));
  return capture.text();
}
