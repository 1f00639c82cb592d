import { deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameParser, type FrameParserHandlers } from '../../../src/adapters/native/frame-parser.js';
import { PerMessageDeflate } from '../../../src/adapters/native/permessage-deflate.js';
import type { ProtocolError } from '../../../src/adapters/native/protocol-error.js';
import { closePayload, serverFrame } from './helpers.js';

type Event =
  | ['text', string]
  | ['binary', string]
  | ['ping', string]
  | ['pong', string]
  | ['close', number, string]
  | ['error', number];

interface Harness {
  parser: FrameParser;
  events: Event[];
  maxBuffered: number;
  push(chunk: Buffer): void;
}

function harness(options: { maxFrameSize?: number; maxMessageSize?: number; deflate?: PerMessageDeflate } = {}): Harness {
  const events: Event[] = [];
  const handlers: FrameParserHandlers = {
    onMessage: (opcode: 1 | 2, data: string | Buffer) => {
      if (opcode === 1) events.push(['text', data as string]);
      else events.push(['binary', (data as Buffer).toString('hex')]);
    },
    onPing: (payload) => events.push(['ping', payload.toString('hex')]),
    onPong: (payload) => events.push(['pong', payload.toString('hex')]),
    onClose: (code, reason) => events.push(['close', code, reason]),
    onError: (error: ProtocolError) => events.push(['error', error.closeCode]),
  };
  const parser = new FrameParser(handlers, {
    maxFrameSize: options.maxFrameSize ?? 1 << 20,
    maxMessageSize: options.maxMessageSize ?? 1 << 20,
    deflate: options.deflate,
  });
  const h: Harness = {
    parser,
    events,
    maxBuffered: 0,
    push(chunk) {
      parser.push(chunk);
      h.maxBuffered = Math.max(h.maxBuffered, parser.bufferedBytes);
    },
  };
  return h;
}

function parseWhole(stream: Buffer): Event[] {
  const h = harness();
  h.push(stream);
  return h.events;
}

const hex = (s: string): string => Buffer.from(s).toString('hex');

/** A stream with every kind of frame a client accepts, and each length encoding. */
function sampleStream(): Buffer {
  return Buffer.concat([
    serverFrame(1, ''),
    serverFrame(1, 'héllo €'),
    serverFrame(2, Buffer.from([0, 1, 2, 255])),
    serverFrame(2, Buffer.alloc(126, 7)), // 16-bit length
    serverFrame(1, 'x'.repeat(3), { lengthBytes: 8 }), // 64-bit length
    serverFrame(1, 'frag-', { fin: false }),
    serverFrame(9, 'ping!'), // interleaved control frame
    serverFrame(0, '€', { fin: false }),
    serverFrame(10, 'pong'),
    serverFrame(0, '-end'),
    serverFrame(2, Buffer.from([9]), { fin: false }),
    serverFrame(0, Buffer.alloc(0), { fin: false }),
    serverFrame(0, Buffer.from([8])),
    serverFrame(9, ''),
    serverFrame(8, closePayload(1000, 'bye')),
  ]);
}

const SAMPLE_EVENTS: Event[] = [
  ['text', ''],
  ['text', 'héllo €'],
  ['binary', '000102ff'],
  ['binary', '07'.repeat(126)],
  ['text', 'xxx'],
  ['ping', hex('ping!')],
  ['pong', hex('pong')],
  ['text', 'frag-€-end'],
  ['binary', '0908'],
  ['ping', ''],
  ['close', 1000, 'bye'],
];

describe('FrameParser: splits', () => {
  it('parses the sample stream whole', () => {
    expect(parseWhole(sampleStream())).toEqual(SAMPLE_EVENTS);
  });

  it('gives the same events for every split of the stream into two chunks', () => {
    const stream = sampleStream();
    for (let k = 1; k < stream.length; k++) {
      const h = harness();
      h.push(stream.subarray(0, k));
      h.push(stream.subarray(k));
      expect(h.events, `split at ${k}`).toEqual(SAMPLE_EVENTS);
    }
  });

  it('gives the same events fed one byte at a time', () => {
    const stream = sampleStream();
    const h = harness();
    for (let i = 0; i < stream.length; i++) h.push(stream.subarray(i, i + 1));
    expect(h.events).toEqual(SAMPLE_EVENTS);
  });

  it('reads a 64-bit length frame of 65536 bytes split inside its header and payload', () => {
    const payload = Buffer.alloc(65536);
    for (let i = 0; i < payload.length; i++) payload[i] = i & 0xff;
    const stream = serverFrame(2, payload);
    expect(stream[1]).toBe(127);
    for (const k of [1, 2, 5, 9, 10, 11, 1000, 65535, stream.length - 1]) {
      const h = harness();
      h.push(stream.subarray(0, k));
      h.push(stream.subarray(k));
      expect(h.events, `split at ${k}`).toEqual([['binary', payload.toString('hex')]]);
    }
  });

  it('does not change binary bytes or copy a whole frame in one chunk', () => {
    const chunk = serverFrame(2, Buffer.from('abc'));
    let received: Buffer | undefined;
    const parser = new FrameParser(
      {
        onMessage: (_opcode: 1 | 2, data: string | Buffer) => {
          received = data as Buffer;
        },
        onPing: () => {},
        onPong: () => {},
        onClose: () => {},
        onError: () => {},
      },
      { maxFrameSize: 100, maxMessageSize: 100 },
    );
    parser.push(chunk);
    expect(received?.toString()).toBe('abc');
    expect(received?.buffer).toBe(chunk.buffer);
  });
});

describe('FrameParser: protocol errors fail with their close code', () => {
  const cases: Array<[string, Buffer, number, { maxFrameSize?: number; maxMessageSize?: number }?]> = [
    ['RSV1 without permessage-deflate', serverFrame(1, 'a', { rsv: 4 }), 1002],
    ['RSV2', serverFrame(1, 'a', { rsv: 2 }), 1002],
    ['RSV3', serverFrame(2, 'a', { rsv: 1 }), 1002],
    ...[3, 4, 5, 6, 7].map((op): [string, Buffer, number] => [`reserved data opcode ${op}`, serverFrame(op, 'a'), 1002]),
    ...[0xb, 0xc, 0xd, 0xe, 0xf].map((op): [string, Buffer, number] => [`reserved control opcode ${op}`, serverFrame(op, 'a'), 1002]),
    ['a masked server frame', serverFrame(1, 'a', { mask: Buffer.from([1, 2, 3, 4]) }), 1002],
    ['a ping over 125 bytes', serverFrame(9, Buffer.alloc(126)), 1002],
    ['a fragmented ping', serverFrame(9, 'a', { fin: false }), 1002],
    ['a fragmented close', serverFrame(8, closePayload(1000), { fin: false }), 1002],
    ['a 1-byte close payload', serverFrame(8, Buffer.from([3])), 1002],
    ...[0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535].map(
      (code): [string, Buffer, number] => [`close code ${code}`, serverFrame(8, closePayload(code)), 1002],
    ),
    ['a close reason that is not UTF-8', serverFrame(8, Buffer.concat([closePayload(1000), Buffer.from([0xff])])), 1007],
    ['a continuation without a message', serverFrame(0, 'a'), 1002],
    ['a text frame inside a fragmented message', Buffer.concat([serverFrame(1, 'a', { fin: false }), serverFrame(1, 'b')]), 1002],
    ['a binary frame inside a fragmented message', Buffer.concat([serverFrame(2, 'a', { fin: false }), serverFrame(2, 'b')]), 1002],
    ['a 64-bit length with the top bit set', Buffer.from([0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1]), 1002],
    ['a 64-bit length over 2^53', Buffer.from([0x82, 127, 0x00, 0x40, 0, 0, 0, 0, 0, 1]), 1009],
    ['invalid UTF-8 in a text frame', serverFrame(1, Buffer.from([0x61, 0xc0, 0x80])), 1007],
    ['a surrogate in a text frame', serverFrame(1, Buffer.from([0xed, 0xa0, 0x80])), 1007],
    ['a text message ending inside a code point', serverFrame(1, Buffer.from([0xe2, 0x82])), 1007],
    ['a frame over maxFrameSize', serverFrame(2, Buffer.alloc(101)), 1009, { maxFrameSize: 100 }],
    [
      'fragments over maxMessageSize',
      Buffer.concat([serverFrame(2, Buffer.alloc(60), { fin: false }), serverFrame(0, Buffer.alloc(60))]),
      1009,
      { maxMessageSize: 100 },
    ],
  ];
  for (const [name, stream, code, options] of cases) {
    it(`${name}: ${code}`, () => {
      const h = harness(options);
      h.push(stream);
      expect(h.events).toEqual([['error', code]]);
      expect(h.parser.stopped).toBe(true);
      // Nothing after the error is parsed.
      h.push(serverFrame(1, 'after'));
      expect(h.events).toHaveLength(1);
    });
  }

  it('refuses an oversized frame at its header, before the payload arrives', () => {
    const h = harness({ maxFrameSize: 1000 });
    h.push(serverFrame(2, Buffer.alloc(5000)).subarray(0, 4));
    expect(h.events).toEqual([['error', 1009]]);
  });

  for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]) {
    it(`accepts close code ${code}`, () => {
      expect(parseWhole(serverFrame(8, closePayload(code, 'r')))).toEqual([['close', code, 'r']]);
    });
  }

  it('reports 1005 for an empty close frame', () => {
    expect(parseWhole(serverFrame(8))).toEqual([['close', 1005, '']]);
  });
});

describe('FrameParser: UTF-8 fails fast', () => {
  it('fails on the fragment with the bad byte, before the message ends', () => {
    const h = harness();
    h.push(serverFrame(1, 'κόσμε', { fin: false }));
    expect(h.events).toEqual([]);
    h.push(serverFrame(0, Buffer.from([0xce, 0xba, 0xf4, 0x90, 0x80, 0x80]), { fin: false }));
    expect(h.events).toEqual([['error', 1007]]);
  });

  it('fails inside a frame that is still arriving, at the chunk with the bad byte', () => {
    const frame = serverFrame(1, Buffer.concat([Buffer.from('a'.repeat(200)), Buffer.from([0xf4]), Buffer.from([0x90]), Buffer.from('b'.repeat(200))]));
    const h = harness();
    const badAt = frame.indexOf(0x90);
    h.push(frame.subarray(0, badAt));
    expect(h.events).toEqual([]);
    h.push(frame.subarray(badAt, badAt + 1));
    expect(h.events).toEqual([['error', 1007]]);
  });

  it('accepts a code point split across fragments', () => {
    const euro = Buffer.from('€');
    const h = harness();
    h.push(serverFrame(1, euro.subarray(0, 1), { fin: false }));
    h.push(serverFrame(0, euro.subarray(1, 2), { fin: false }));
    h.push(serverFrame(0, euro.subarray(2)));
    expect(h.events).toEqual([['text', '€']]);
  });
});

function compress(data: Buffer): Buffer {
  const out = deflateRawSync(data, { finishFlush: 2 /* Z_SYNC_FLUSH */ });
  return out.subarray(0, out.length - 4);
}

function deflateCodec(): PerMessageDeflate {
  return new PerMessageDeflate({ serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 15, clientMaxWindowBits: 15 }, 0, 1);
}

async function settle(h: Harness, until: (events: Event[]) => boolean): Promise<void> {
  // Decompression runs on the libuv thread pool; wait for the parser's events, not for time.
  while (!until(h.events)) await new Promise((resolve) => setImmediate(resolve));
}

describe('FrameParser: permessage-deflate', () => {
  it('inflates compressed messages, fragmented or not, in order with control frames', async () => {
    const codec = deflateCodec();
    const h = harness({ deflate: codec });
    const big = Buffer.from('abc'.repeat(5000));
    const compressed = compress(big);
    h.push(
      Buffer.concat([
        serverFrame(1, compress(Buffer.from('hello')), { rsv: 4 }),
        serverFrame(9, 'p'),
        serverFrame(2, compressed.subarray(0, 10), { rsv: 4, fin: false }),
        serverFrame(0, compressed.subarray(10)),
        serverFrame(1, 'plain'),
      ]),
    );
    await settle(h, (e) => e.length >= 4);
    expect(h.events).toEqual([
      ['text', 'hello'],
      ['ping', hex('p')],
      ['binary', big.toString('hex')],
      ['text', 'plain'],
    ]);
    codec.close();
  });

  it('fails a decompression bomb with 1009 and holds no more than the cap', async () => {
    const codec = deflateCodec();
    const h = harness({ deflate: codec, maxMessageSize: 64 * 1024 });
    const bomb = compress(Buffer.alloc(32 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(64 * 1024);
    h.push(serverFrame(2, bomb, { rsv: 4 }));
    await settle(h, (e) => e.length >= 1);
    expect(h.events).toEqual([['error', 1009]]);
    expect(h.maxBuffered).toBeLessThan(256 * 1024);
    codec.close();
  });

  it('fails invalid UTF-8 inside compressed text with 1007', async () => {
    const codec = deflateCodec();
    const h = harness({ deflate: codec });
    h.push(serverFrame(1, compress(Buffer.from([0x61, 0xff, 0x62])), { rsv: 4 }));
    await settle(h, (e) => e.length >= 1);
    expect(h.events).toEqual([['error', 1007]]);
    codec.close();
  });

  it('refuses RSV1 on a continuation frame', () => {
    const codec = deflateCodec();
    const h = harness({ deflate: codec });
    h.push(Buffer.concat([serverFrame(1, 'a', { fin: false }), serverFrame(0, 'b', { rsv: 4 })]));
    expect(h.events).toEqual([['error', 1002]]);
    codec.close();
  });

  it('fails garbage that is not deflate data', async () => {
    const codec = deflateCodec();
    const h = harness({ deflate: codec });
    h.push(serverFrame(2, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff]), { rsv: 4 }));
    await settle(h, (e) => e.length >= 1);
    expect(h.events).toHaveLength(1);
    expect(h.events[0]![0]).toBe('error');
    codec.close();
  });
});

/** Split `bytes` at the given cut points (any order, duplicates and out-of-range ignored). */
function chunked(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let last = 0;
  for (const p of points) {
    if (p > last) out.push(bytes.subarray(last, p));
    last = Math.max(last, p);
  }
  if (last < bytes.length) out.push(bytes.subarray(last));
  return out;
}

const messageArb = fc.oneof(
  fc.record({ kind: fc.constant('text' as const), text: fc.string({ unit: 'grapheme', maxLength: 300 }), fragments: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('binary' as const), bytes: fc.uint8Array({ maxLength: 300 }), fragments: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('ping' as const), bytes: fc.uint8Array({ maxLength: 125 }) }),
);

type ArbMessage = typeof messageArb extends fc.Arbitrary<infer T> ? T : never;

function encodeArb(messages: ArbMessage[]): { stream: Buffer; expected: Event[] } {
  const frames: Buffer[] = [];
  const expected: Event[] = [];
  for (const m of messages) {
    if (m.kind === 'ping') {
      frames.push(serverFrame(9, m.bytes));
      expected.push(['ping', Buffer.from(m.bytes).toString('hex')]);
      continue;
    }
    const data = m.kind === 'text' ? Buffer.from(m.text) : Buffer.from(m.bytes);
    const size = Math.ceil(data.length / m.fragments) || 1;
    const parts = m.fragments === 1 || data.length === 0 ? [data] : chunked(data, Array.from({ length: m.fragments - 1 }, (_, i) => (i + 1) * size));
    parts.forEach((part, i) => {
      frames.push(serverFrame(i === 0 ? (m.kind === 'text' ? 1 : 2) : 0, part, { fin: i === parts.length - 1 }));
    });
    expected.push(m.kind === 'text' ? ['text', m.text] : ['binary', data.toString('hex')]);
  }
  return { stream: Buffer.concat(frames), expected };
}

describe('FrameParser: properties', () => {
  it('parses any valid stream in any chunking into the messages sent', () => {
    fc.assert(
      fc.property(fc.array(messageArb, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 20 }), (messages, cuts) => {
        const { stream, expected } = encodeArb(messages);
        const h = harness();
        for (const chunk of chunked(stream, cuts)) h.push(chunk);
        expect(h.events).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('meets random bytes in random chunkings only through its error path, with bounded memory', () => {
    const limit = 4096;
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 2000 }), fc.array(fc.nat(), { maxLength: 30 }), (bytes, cuts) => {
        const h = harness({ maxFrameSize: limit, maxMessageSize: limit });
        // Must return (a hang would time the test out) and never throw.
        for (const chunk of chunked(Buffer.from(bytes), cuts)) h.push(chunk);
        const errors = h.events.filter((e) => e[0] === 'error');
        expect(errors.length).toBeLessThanOrEqual(1);
        if (errors.length === 1) {
          expect([1002, 1007, 1009]).toContain(errors[0]![1]);
          expect(h.events.at(-1)![0]).toBe('error');
        }
        expect(h.maxBuffered).toBeLessThanOrEqual(2 * limit + 14);
      }),
      { numRuns: 1000 },
    );
  });

  it('meets corrupted valid streams only through its error path, delivering only valid messages', () => {
    fc.assert(
      fc.property(
        fc.array(messageArb, { minLength: 1, maxLength: 8 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (messages, flips, cuts) => {
          const { stream } = encodeArb(messages);
          const corrupted = Buffer.from(stream);
          for (const [at, value] of flips) corrupted[at % corrupted.length] = value;
          const h = harness({ maxFrameSize: 8192, maxMessageSize: 8192 });
          for (const chunk of chunked(corrupted, cuts)) h.push(chunk);
          for (const event of h.events) {
            if (event[0] === 'text') expect(Buffer.from(event[1]).toString()).toBe(event[1]);
            if (event[0] === 'error') expect([1002, 1007, 1009]).toContain(event[1]);
          }
          expect(h.maxBuffered).toBeLessThanOrEqual(2 * 8192 + 14);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
