import { describe, expect, it } from 'vitest';
import { allocFrame, isPooled, releaseFrame } from '../../../src/adapters/native/frame-pool.js';
import { maskInPlace, maskInto, usesSimdKernel } from '../../../src/adapters/native/mask.js';

/** Byte-by-byte reference of RFC 6455 section 5.3: octet i XOR key octet (i MOD 4). */
function reference(src: Uint8Array, start: number, length: number, key: Uint8Array): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = src[start + i]! ^ key[i & 3]!;
  return out;
}

describe('masking', () => {
  const key = Buffer.from([0x9d, 0x07, 0xe2, 0x51]);
  // Around the word loop's and the kernel's thresholds, its 32-byte blocks and its 16 KiB slices.
  const lengths = [0, 1, 3, 31, 32, 33, 63, 64, 65, 95, 127, 128, 129, 1000, 16 * 1024 - 1, 16 * 1024 + 33, 70_001];

  it('uses the WebAssembly SIMD kernel on Node (20 and later have it)', () => {
    expect(usesSimdKernel()).toBe(true);
  });

  it('copies and masks at every length and source or target alignment', () => {
    const backing = Buffer.alloc(70_010);
    for (let i = 0; i < backing.length; i++) backing[i] = (i * 31 + (i >> 8)) & 0xff;
    for (const length of lengths) {
      for (const [srcStart, dstStart] of [
        [0, 0],
        [1, 6],
        [3, 8],
        [5, 14],
      ] as const) {
        const src = Buffer.from(backing);
        const dst = Buffer.alloc(length + dstStart + 3, 0xaa);
        maskInto(src, srcStart, dst, dstStart, length, key, 0);
        const where = `length ${length}, from ${srcStart} to ${dstStart}`;
        expect(dst.subarray(dstStart, dstStart + length).equals(reference(backing, srcStart, length, key)), where).toBe(true);
        // Nothing outside the target range is written, and the source is untouched.
        expect(dst.subarray(0, dstStart).every((b) => b === 0xaa), where).toBe(true);
        expect(dst.subarray(dstStart + length).every((b) => b === 0xaa), where).toBe(true);
        expect(src.equals(backing), where).toBe(true);
      }
    }
  });

  it('masks in place at every length and alignment, with the key read from the same buffer', () => {
    for (const length of lengths) {
      for (const start of [4, 5, 7]) {
        const data = Buffer.alloc(start + length);
        for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
        key.copy(data, start - 4);
        const expected = reference(data, start, length, key);
        maskInPlace(data, start, start + length, data, start - 4);
        expect(data.subarray(start).equals(expected), `length ${length}, start ${start}`).toBe(true);
        expect(data.subarray(start - 4, start).equals(key)).toBe(true);
      }
    }
  });

  it('masking twice gives the bytes back (XOR is its own inverse)', () => {
    const data = Buffer.alloc(100_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 13) & 0xff;
    const copy = Buffer.from(data);
    maskInPlace(data, 0, data.length, key, 0);
    expect(data.equals(copy)).toBe(false);
    maskInPlace(data, 0, data.length, key, 0);
    expect(data.equals(copy)).toBe(true);
  });
});

describe('frame pool', () => {
  it('builds small and huge frames in fresh memory, large ones in pooled memory it reuses once released', () => {
    expect(isPooled(allocFrame(100))).toBe(false);
    expect(isPooled(allocFrame(2 * 1024 * 1024))).toBe(false);
    const first = allocFrame(64 * 1024 + 8);
    expect(first.length).toBe(64 * 1024 + 8);
    expect(isPooled(first)).toBe(true);
    // Not released: the next frame gets other memory.
    const second = allocFrame(64 * 1024 + 8);
    expect(second.buffer).not.toBe(first.buffer);
    releaseFrame(second);
    expect(allocFrame(20_000).buffer).toBe(second.buffer);
  });
});
