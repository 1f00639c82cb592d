import { describe, expect, it } from 'vitest';
import { encodeFrame, encodeMessage, encodeTextFrame } from '../../../src/adapters/native/frame-writer.js';
import { maskInPlace } from '../../../src/adapters/native/mask.js';
import { ClientFrameReader } from './helpers.js';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';

/** Decode client frames with the test's own reader. */
async function decode(bytes: Buffer, count: number) {
  const fake = new EventEmitter() as unknown as Socket;
  const reader = new ClientFrameReader(fake, bytes);
  const frames = [];
  for (let i = 0; i < count; i++) frames.push(await reader.next());
  return frames;
}

describe('frame writer', () => {
  for (const [size, lengthByte] of [
    [0, 0],
    [125, 125],
    [126, 126],
    [65535, 126],
    [65536, 127],
    [200_000, 127],
  ] as const) {
    it(`encodes a ${size}-byte payload with the ${lengthByte < 126 ? '7' : lengthByte === 126 ? '16' : '64'}-bit length`, async () => {
      const payload = Buffer.alloc(size);
      for (let i = 0; i < size; i++) payload[i] = (i * 7) & 0xff;
      const copy = Buffer.from(payload);
      const frame = encodeFrame(2, true, false, payload);
      expect(frame[1]! & 0x80).toBe(0x80); // masked (RFC 6455 section 5.3)
      expect(frame[1]! & 0x7f).toBe(lengthByte);
      const [decoded] = await decode(frame, 1);
      expect(decoded!.payload.equals(payload)).toBe(true);
      expect(payload.equals(copy)).toBe(true); // the caller's bytes are untouched
    });
  }

  it('picks a fresh mask for every frame', async () => {
    const keys = new Set<string>();
    for (let i = 0; i < 500; i++) keys.add(encodeFrame(1, true, false, Buffer.from('x')).subarray(2, 6).toString('hex'));
    expect(keys.size).toBeGreaterThan(495);
  });

  it('masks at every alignment and length the same as byte by byte', () => {
    const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
    const backing = Buffer.alloc(300);
    for (let i = 0; i < backing.length; i++) backing[i] = i & 0xff;
    for (let start = 0; start < 8; start++) {
      for (const length of [0, 1, 3, 63, 64, 65, 67, 200]) {
        const data = Buffer.from(backing);
        maskInPlace(data, start, start + length, key, 0);
        for (let i = 0; i < backing.length; i++) {
          const expected = i >= start && i < start + length ? backing[i]! ^ key[(i - start) & 3]! : backing[i]!;
          expect(data[i], `start ${start} length ${length} byte ${i}`).toBe(expected);
        }
      }
    }
  });

  it('encodes text straight from a string', async () => {
    const text = 'prix: 12,50 € — 値段 — 🚀'.repeat(10);
    const [frame] = await decode(encodeTextFrame(text, Buffer.byteLength(text)), 1);
    expect(frame!.opcode).toBe(1);
    expect(frame!.fin).toBe(true);
    expect(frame!.payload.toString()).toBe(text);
  });

  it('fragments a message: opcode and RSV1 on the first frame, FIN on the last', async () => {
    const payload = Buffer.from('abcdefghij');
    const frames = encodeMessage(2, payload, 4, true);
    expect(frames).toHaveLength(3);
    const decoded = await decode(Buffer.concat(frames), 3);
    expect(decoded.map((f) => [f.opcode, f.fin, f.rsv, f.payload.toString()])).toEqual([
      [2, false, 4, 'abcd'],
      [0, false, 0, 'efgh'],
      [0, true, 0, 'ij'],
    ]);
  });
});
