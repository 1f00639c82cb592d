import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameParser } from '../../../src/adapters/native/frame-parser.js';
import type { ProtocolError } from '../../../src/adapters/native/protocol-error.js';
import { SocketInput } from '../../../src/adapters/native/socket-input.js';
import { decodeUtf8 } from '../../../src/adapters/native/utf8.js';
import { serverFrame } from './helpers.js';

type Got = { type: 1 | 2; hash: string } | { error: number; at: number };

const sha1 = (data: Uint8Array): string => createHash('sha1').update(data).digest('hex');

/**
 * Plays the kernel under net.Socket's `onread`: asks the input for a buffer, writes the next
 * bytes of `stream` into it (as many as `readSizes` allows, never more than the buffer holds),
 * and reports the read, until the stream is consumed or the parser failed.
 */
function feed(stream: Buffer, readSizes: number[], limits = { maxFrameSize: 64 << 20, maxMessageSize: 64 << 20 }) {
  // Binary messages are views of the input: they are hashed only once the whole stream has been
  // read, so that a region written twice (a view overwritten by a later read) shows.
  const received: Array<{ type: 1 | 2; data: string | Buffer } | { error: number; at: number }> = [];
  let pos = 0;
  let pings = 0;
  const parser = new FrameParser(
    {
      onMessage: (type: 1 | 2, data: string | Buffer) => received.push({ type, data }),
      onPing: () => pings++,
      onPong: () => {},
      onClose: () => {},
      onError: (error: ProtocolError) => received.push({ error: error.closeCode, at: pos }),
    },
    limits,
  );
  const input = new SocketInput();
  input.bind({ read: () => null } as unknown as Socket);
  let buffer = input.onread.buffer();
  input.attach(parser, Buffer.alloc(0));
  for (let k = 0; pos < stream.length && !parser.stopped; k++) {
    expect(buffer.length).toBeGreaterThan(0);
    const n = Math.min(buffer.length, readSizes[k % readSizes.length]!, stream.length - pos);
    stream.copy(buffer, 0, pos, pos + n);
    pos += n;
    input.onread.callback(n, buffer);
    buffer = input.onread.buffer();
  }
  const got: Got[] = received.map((entry) =>
    'error' in entry ? entry : { type: entry.type, hash: sha1(typeof entry.data === 'string' ? Buffer.from(entry.data) : entry.data) },
  );
  return { got, pings, parser };
}

/** A SocketInput bound to no real socket, feeding a parser (returned too) (1 MiB limits) that hands messages to `onMessage`. */
function attachedInput(onMessage: (type: 1 | 2, data: string | Buffer) => unknown): { input: SocketInput; parser: FrameParser } {
  const parser = new FrameParser(
    { onMessage: (type: 1 | 2, data: string | Buffer) => void onMessage(type, data), onPing() {}, onPong() {}, onClose() {}, onError() {} },
    { maxFrameSize: 1 << 20, maxMessageSize: 1 << 20 },
  );
  const input = new SocketInput();
  input.bind({ read: () => null } as unknown as Socket);
  input.attach(parser, Buffer.alloc(0));
  return { input, parser };
}

/** Valid UTF-8 of exactly `size` bytes, mixing 1- to 4-byte characters. */
function textOf(size: number): Buffer {
  const characters = ['a', 'é', '€', '😀'];
  let text = '';
  let bytes = 0;
  for (let i = 0; bytes < size; i++) {
    const character = characters[i % 4]!;
    const length = Buffer.byteLength(character);
    if (bytes + length > size) {
      text += 'a'.repeat(size - bytes);
      break;
    }
    text += character;
    bytes += length;
  }
  return Buffer.from(text);
}

const payloadSize = fc.oneof(
  fc.integer({ min: 0, max: 130 }),
  fc.integer({ min: 60_000, max: 70_000 }),
  fc.integer({ min: 0, max: 300_000 }),
  fc.constantFrom(125, 126, 65_535, 65_536, 1 << 20, (1 << 20) + 7),
);

describe('SocketInput: reads into slabs and straight into payloads', () => {
  it('delivers every message unchanged, whatever the read sizes, with nothing left buffered', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ text: fc.boolean(), size: payloadSize, fragments: fc.integer({ min: 1, max: 4 }), ping: fc.boolean() }), {
          minLength: 1,
          maxLength: 10,
        }),
        fc.array(fc.integer({ min: 1, max: 400_000 }), { minLength: 1, maxLength: 30 }),
        (messages, readSizes) => {
          const wire: Buffer[] = [];
          const expected: Got[] = [];
          for (const [i, m] of messages.entries()) {
            // Text of 1- to 4-byte characters, which the fragments cut anywhere.
            const data = m.text ? textOf(m.size) : Buffer.alloc(m.size, i);
            expected.push({ type: m.text ? 1 : 2, hash: sha1(data) });
            for (let f = 0; f < m.fragments; f++) {
              const part = data.subarray(Math.floor((data.length * f) / m.fragments), Math.floor((data.length * (f + 1)) / m.fragments));
              wire.push(serverFrame(f > 0 ? 0 : m.text ? 1 : 2, part, { fin: f === m.fragments - 1 }));
              if (m.ping && f === 0) wire.push(serverFrame(9, 'ping'));
            }
          }
          const { got, pings, parser } = feed(Buffer.concat(wire), readSizes);
          expect(got).toEqual(expected);
          expect(pings).toBe(messages.filter((m) => m.ping).length);
          expect(parser.bufferedBytes).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('fails with 1007 on the read that brings an invalid byte, even when read into the payload', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 600_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.integer({ min: 1, max: 300_000 }), { minLength: 1, maxLength: 20 }),
        (size, where, fragments, readSizes) => {
          const payload = Buffer.alloc(size, 0x61);
          const bad = Math.min(size - 1, Math.floor(where * size));
          payload[bad] = 0xff;
          const wire: Buffer[] = [];
          let badAt = -1;
          let length = 0;
          for (let f = 0; f < fragments; f++) {
            const from = Math.floor((size * f) / fragments);
            const to = Math.floor((size * (f + 1)) / fragments);
            const frame = serverFrame(f > 0 ? 0 : 1, payload.subarray(from, to), { fin: f === fragments - 1 });
            if (bad >= from && bad < to) badAt = length + frame.length - (to - from) + (bad - from);
            wire.push(frame);
            length += frame.length;
          }
          const { got } = feed(Buffer.concat(wire), readSizes);
          expect(got).toHaveLength(1);
          const failure = got[0] as { error: number; at: number };
          expect(failure.error).toBe(1007);
          // The read that failed was the first one to include the bad byte.
          expect(failure.at).toBeGreaterThan(badAt);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('refuses a frame over maxFrameSize at its header, before reading its payload', () => {
    const { got } = feed(serverFrame(2, Buffer.alloc(300_000)), [100_000], { maxFrameSize: 200_000, maxMessageSize: 1 << 20 });
    expect(got).toHaveLength(1);
    const failure = got[0] as { error: number; at: number };
    expect(failure.error).toBe(1009);
    // On the first read, whatever its size.
    expect(failure.at).toBeLessThanOrEqual(100_000);
  });

  it('during the upgrade pushes reads to the socket, then hands head, queued data and later reads to the parser in order', () => {
    const pushed: Buffer[] = [];
    const queued: Buffer[] = [];
    const socket = {
      push: (chunk: Buffer) => {
        pushed.push(Buffer.from(chunk));
        return pushed.length < 2;
      },
      read: () => queued.shift() ?? null,
    } as unknown as Socket;
    const input = new SocketInput();
    input.bind(socket);
    const read = (bytes: Buffer): boolean => {
      const buffer = input.onread.buffer();
      bytes.copy(buffer);
      return input.onread.callback(bytes.length, buffer);
    };
    expect(read(Buffer.from('HTTP/1.1 101'))).toBe(true);
    // The readable side is full: reading stops until the connection takes over.
    expect(read(Buffer.from(' Switching'))).toBe(false);
    expect(pushed.map(String)).toEqual(['HTTP/1.1 101', ' Switching']);

    const texts: string[] = [];
    const parser = new FrameParser(
      { onMessage: (_type: 1 | 2, data: string | Buffer) => texts.push(String(data)), onPing() {}, onPong() {}, onClose() {}, onError() {} },
      { maxFrameSize: 1 << 20, maxMessageSize: 1 << 20 },
    );
    queued.push(serverFrame(1, 'queued'));
    input.attach(parser, serverFrame(1, 'head'));
    expect(read(serverFrame(1, 'later'))).toBe(true);
    expect(texts).toEqual(['head', 'queued', 'later']);
    expect(pushed).toHaveLength(2);
  });
});

describe('SocketInput: slab sizes', () => {
  /** Feed `stream` in reads as large as the input allows; returns the largest backing buffer it handed out. */
  function largestSlab(input: SocketInput, stream: Buffer): number {
    let largest = 0;
    for (let pos = 0; pos < stream.length; ) {
      const buffer = input.onread.buffer();
      largest = Math.max(largest, buffer.buffer.byteLength);
      const n = Math.min(buffer.length, stream.length - pos);
      stream.copy(buffer, 0, pos, pos + n);
      pos += n;
      input.onread.callback(n, buffer);
    }
    return largest;
  }

  it('keeps slabs at 64 KiB for small messages, so a kept message pins no more, and grows them for large frames', () => {
    const { input, parser } = attachedInput(() => {});
    const small = Buffer.concat(Array.from({ length: 20_000 }, (_, i) => serverFrame(2, Buffer.alloc(1 + (i % 1000), i))));
    expect(largestSlab(input, small)).toBe(64 * 1024);
    const large = Buffer.concat(Array.from({ length: 40 }, (_, i) => serverFrame(2, Buffer.alloc(20_000 + i * 1000, i))));
    expect(largestSlab(input, Buffer.concat([large, small]))).toBe(256 * 1024);
    expect(parser.stopped).toBe(false);
  });
});

describe('SocketInput: memory read into again', () => {
  it('reads a stream of text into the same memory, every message whole; a binary message (a view) moves it on', () => {
    const texts: string[] = [];
    const binaries: Buffer[] = [];
    const { input } = attachedInput((type, data) => (type === 1 ? texts.push(data as string) : binaries.push(data as Buffer)));
    // Text frames of 1000 bytes read 700 bytes at a time: most reads end inside a frame.
    const sent = Array.from({ length: 300 }, (_, i) => String(i % 10).repeat(1000));
    const stream = Buffer.concat(sent.map((text) => serverFrame(1, text)));
    const regions = new Set<number>();
    for (let pos = 0; pos < stream.length; ) {
      const buffer = input.onread.buffer();
      regions.add(buffer.byteOffset);
      const n = Math.min(buffer.length, 700, stream.length - pos);
      stream.copy(buffer, 0, pos, pos + n);
      pos += n;
      input.onread.callback(n, buffer);
    }
    expect(texts).toEqual(sent);
    expect(regions.size).toBe(1);
    // A binary message is delivered as a view of its read: the next read goes elsewhere.
    const first = input.onread.buffer();
    serverFrame(2, Buffer.from('kept')).copy(first);
    input.onread.callback(6, first);
    const second = input.onread.buffer();
    expect(second.byteOffset).not.toBe(first.byteOffset);
    serverFrame(1, 'x').copy(second);
    input.onread.callback(3, second);
    expect(binaries.map(String)).toEqual(['kept']);
    expect(texts.at(-1)).toBe('x');
  });

  it('grows the memory it reads text into while reads fill it, then keeps reading into the same', () => {
    const texts: string[] = [];
    const { input } = attachedInput((_type, data) => texts.push(data as string));
    const sent = Array.from({ length: 2000 }, (_, i) => String(i % 10).repeat(1000));
    const stream = Buffer.concat(sent.map((text) => serverFrame(1, text)));
    const offered: number[] = [];
    const memory = new Set<ArrayBufferLike>();
    for (let pos = 0; pos < stream.length; ) {
      const buffer = input.onread.buffer();
      offered.push(buffer.length);
      memory.add(buffer.buffer);
      const n = Math.min(buffer.length, stream.length - pos);
      stream.copy(buffer, 0, pos, pos + n);
      pos += n;
      input.onread.callback(n, buffer);
    }
    expect(texts).toEqual(sent);
    // 16 KiB, 32 KiB, 64 KiB, 128 KiB, then 256 KiB slabs (text keeps nothing of them), each
    // offered up to its reserve; then the same 256 KiB slab for every read, 128 KiB at a time.
    expect(Math.max(...offered)).toBe(128 * 1024);
    expect([...memory].map((buffer) => buffer.byteLength)).toEqual([16, 32, 64, 128, 256].map((k) => k * 1024));
    expect(offered.slice(-10).every((size) => size === offered.at(-1))).toBe(true);
  });

  it('takes slabs of at most 64 KiB again once small messages are kept as views', () => {
    const binaries: Buffer[] = [];
    const { input } = attachedInput((type, data) => {
      if (type === 2) binaries.push(data as Buffer);
    });
    const texts = Array.from({ length: 2000 }, (_, i) => serverFrame(1, String(i % 10).repeat(1000)));
    const small = Array.from({ length: 4000 }, (_, i) => serverFrame(2, Buffer.alloc(500, i)));
    const stream = Buffer.concat([...texts, ...small]);
    const slabs: ArrayBufferLike[] = [];
    for (let pos = 0; pos < stream.length; ) {
      const buffer = input.onread.buffer();
      if (slabs.at(-1) !== buffer.buffer) slabs.push(buffer.buffer);
      const n = Math.min(buffer.length, stream.length - pos);
      stream.copy(buffer, 0, pos, pos + n);
      pos += n;
      input.onread.callback(n, buffer);
    }
    expect(binaries).toHaveLength(4000);
    expect(binaries.every((data, i) => data.length === 500 && data[0] === (i & 0xff))).toBe(true);
    const sizes = slabs.map((buffer) => buffer.byteLength);
    expect(Math.max(...sizes)).toBe(256 * 1024);
    // The 256 KiB slab text was read into is used up by views, then 64 KiB slabs follow.
    const after = sizes.slice(sizes.lastIndexOf(256 * 1024) + 1);
    expect(after.length).toBeGreaterThan(5);
    expect(after.every((size) => size === 64 * 1024)).toBe(true);
  });

  it('asks for at most 32 KiB a read while pings arrive, so that their pongs go out between reads', () => {
    let pings = 0;
    const parser = new FrameParser(
      { onMessage() {}, onPing: () => pings++, onPong() {}, onClose() {}, onError() {} },
      { maxFrameSize: 1 << 20, maxMessageSize: 1 << 20 },
    );
    const input = new SocketInput();
    input.bind({ read: () => null } as unknown as Socket);
    input.attach(parser, Buffer.alloc(0));
    const feed = (stream: Buffer): number[] => {
      const offered: number[] = [];
      for (let pos = 0; pos < stream.length; ) {
        const buffer = input.onread.buffer();
        offered.push(buffer.length);
        const n = Math.min(buffer.length, stream.length - pos);
        stream.copy(buffer, 0, pos, pos + n);
        pos += n;
        input.onread.callback(n, buffer);
      }
      return offered;
    };
    const text = Buffer.concat(Array.from({ length: 2000 }, () => serverFrame(1, 'x'.repeat(1000))));
    expect(Math.max(...feed(text))).toBe(128 * 1024);
    const ping = serverFrame(9, Buffer.alloc(125, 1));
    const offered = feed(Buffer.concat(Array.from({ length: 4000 }, () => ping)));
    expect(pings).toBe(4000);
    // The first read brought pings: every later one asks for 32 KiB at most.
    expect(Math.max(...offered.slice(1))).toBe(32 * 1024);
    // Text again: back to full reads after the first read without pings.
    expect(feed(text).slice(2).every((size) => size === 128 * 1024)).toBe(true);
  });
});

describe('FrameParser: empty first fragments', () => {
  it('keeps a text message whose first fragments are empty a text message, and validates its UTF-8', () => {
    const events: unknown[] = [];
    const parser = new FrameParser(
      {
        onMessage: (type: 1 | 2, data: string | Buffer) => events.push([type, String(data)]),
        onPing() {},
        onPong() {},
        onClose() {},
        onError: (error: ProtocolError) => events.push(['error', error.closeCode]),
      },
      { maxFrameSize: 1 << 20, maxMessageSize: 1 << 20 },
    );
    parser.push(Buffer.concat([serverFrame(1, '', { fin: false }), serverFrame(0, '', { fin: false }), serverFrame(0, 'é')]));
    parser.push(Buffer.concat([serverFrame(1, '', { fin: false }), serverFrame(0, Buffer.from([0xc3, 0x28]))]));
    expect(events).toEqual([[1, 'é'], ['error', 1007]]);
  });
});

describe('decodeUtf8', () => {
  it('agrees with a fatal TextDecoder on any bytes, at any offset', () => {
    const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.string({ unit: 'grapheme', maxLength: 80 }).map((s) => new Uint8Array(Buffer.from(s))),
    );
    fc.assert(
      fc.property(bytes, fc.nat(5), fc.nat(5), (data, before, after) => {
        const buffer = Buffer.concat([Buffer.alloc(before, 0xff), data, Buffer.alloc(after, 0xfe)]);
        let expected: string | undefined;
        try {
          expected = decoder.decode(data);
        } catch {
          expected = undefined;
        }
        expect(decodeUtf8(buffer, before, before + data.length)).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });
});
