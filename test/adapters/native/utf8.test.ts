import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isValidUtf8, Utf8Validator } from '../../../src/adapters/native/utf8.js';

const fatal = new TextDecoder('utf-8', { fatal: true });
function reference(bytes: Uint8Array): boolean {
  try {
    fatal.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Index of the first byte after which the input can no longer be valid, or -1. */
function failsAt(bytes: number[]): number {
  const v = new Utf8Validator();
  for (let i = 0; i < bytes.length; i++) if (!v.write(Uint8Array.of(bytes[i]!))) return i;
  return -1;
}

describe('Utf8Validator', () => {
  it('fails at the first byte that rules the input out', () => {
    expect(failsAt([0x61, 0xf4, 0x90, 0x80, 0x80])).toBe(2); // above U+10FFFF
    expect(failsAt([0xed, 0xa0, 0x80])).toBe(1); // surrogate
    expect(failsAt([0xe0, 0x80, 0x80])).toBe(1); // overlong 3-byte
    expect(failsAt([0xf0, 0x80])).toBe(1); // overlong 4-byte
    expect(failsAt([0xc0, 0x80])).toBe(0); // overlong 2-byte lead
    expect(failsAt([0xf5])).toBe(0);
    expect(failsAt([0x80])).toBe(0); // lone continuation
    expect(failsAt([0xe2, 0x82, 0x41])).toBe(2); // sequence cut short
    expect(failsAt([0xce, 0xba, 0xe1, 0xbd, 0xb9])).toBe(-1);
  });

  it('reports an unfinished code point as incomplete', () => {
    const v = new Utf8Validator();
    expect(v.write(Uint8Array.of(0xe2, 0x82))).toBe(true);
    expect(v.complete).toBe(false);
    expect(v.write(Uint8Array.of(0xac))).toBe(true);
    expect(v.complete).toBe(true);
  });

  it('agrees with a fatal TextDecoder on any bytes in any chunking', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 400 }),
          fc.string({ unit: 'binary', maxLength: 200 }).map((s) => new TextEncoder().encode(s)),
        ),
        fc.array(fc.nat(), { maxLength: 6 }),
        (bytes, cuts) => {
          const v = new Utf8Validator();
          const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
          let last = 0;
          let ok = true;
          for (const p of [...points, bytes.length]) {
            ok = ok && v.write(bytes, last, Math.max(last, p));
            last = Math.max(last, p);
          }
          expect(ok && v.complete).toBe(reference(bytes));
          expect(isValidUtf8(Buffer.from(bytes), 0, bytes.length)).toBe(reference(bytes));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('agrees on long text with a corrupted byte (the native fast path)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 100, maxLength: 400 }), fc.nat(), fc.integer({ min: 0, max: 255 }), (text, at, value) => {
        const bytes = new TextEncoder().encode(text);
        bytes[at % bytes.length] = value;
        const v = new Utf8Validator();
        expect(v.write(bytes) && v.complete).toBe(reference(bytes));
      }),
      { numRuns: 1000 },
    );
  });
});
