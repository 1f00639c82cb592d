/**
 * Client-to-server masking (RFC 6455 section 5.3): every frame a client sends carries a fresh,
 * unpredictable 32-bit masking key, and its payload is XORed with that key.
 */
import { randomFillSync } from 'node:crypto';
import { endianness } from 'node:os';

const POOL_SIZE = 8 * 1024;
// Random bytes are drawn from the CSPRNG in bulk: one randomFillSync per 2048 frames instead of
// one per frame. Each key is used once (section 5.3: "MUST pick a fresh masking key").
const pool = Buffer.allocUnsafe(POOL_SIZE);
let poolOffset = POOL_SIZE;

/** Write a fresh random 4-byte masking key into `target` at `offset`. */
export function writeMaskKey(target: Uint8Array, offset: number): void {
  if (poolOffset === POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  target[offset] = pool[poolOffset];
  target[offset + 1] = pool[poolOffset + 1];
  target[offset + 2] = pool[poolOffset + 2];
  target[offset + 3] = pool[poolOffset + 3];
  poolOffset += 4;
}

const LITTLE_ENDIAN = endianness() === 'LE';
/** Below this length the word loop's setup costs more than it saves. */
const WORD_THRESHOLD = 64;

/**
 * XOR `data[start, end)` in place with the 4-byte key at `key[keyOffset]`; byte `start` gets
 * key byte 0. Works 32 bits at a time over the 4-byte-aligned middle of the range.
 */
export function maskInPlace(data: Uint8Array, start: number, end: number, key: Uint8Array, keyOffset: number): void {
  const k0 = key[keyOffset];
  const k1 = key[keyOffset + 1];
  const k2 = key[keyOffset + 2];
  const k3 = key[keyOffset + 3];
  let i = start;
  if (end - start >= WORD_THRESHOLD && LITTLE_ENDIAN) {
    // Bytes before the first 4-byte-aligned address, one at a time.
    const misalign = (data.byteOffset + start) & 3;
    const head = misalign === 0 ? 0 : 4 - misalign;
    for (let j = 0; j < head; j++, i++) {
      data[i] ^= j === 0 ? k0 : j === 1 ? k1 : k2;
    }
    // The key as seen from an aligned word that starts `head` bytes into the payload.
    const r = head & 3;
    const b0 = r === 0 ? k0 : r === 1 ? k1 : r === 2 ? k2 : k3;
    const b1 = r === 0 ? k1 : r === 1 ? k2 : r === 2 ? k3 : k0;
    const b2 = r === 0 ? k2 : r === 1 ? k3 : r === 2 ? k0 : k1;
    const b3 = r === 0 ? k3 : r === 1 ? k0 : r === 2 ? k1 : k2;
    const word = (b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)) | 0;
    const words = (end - i) >>> 2;
    const view = new Int32Array(data.buffer, data.byteOffset + i, words);
    for (let w = 0; w < words; w++) view[w] ^= word;
    i += words << 2;
  }
  for (; i < end; i++) {
    const j = (i - start) & 3;
    data[i] ^= j === 0 ? k0 : j === 1 ? k1 : j === 2 ? k2 : k3;
  }
}
