/**
 * The WebWire codec against the wire table of webwire-go v0.1.0-alpha1: exact bytes for each
 * layout, every rule a message can break, and fuzzing (random and corrupted bytes give only
 * typed errors).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeMessage,
  decodeReplyPayload,
  decodeSession,
  encodeCloseSession,
  encodeErrorReply,
  encodeRawReply,
  encodeReply,
  encodeRequest,
  encodeRestoreSession,
  encodeSessionClosed,
  encodeSessionCreated,
  encodeSignal,
  type WebWireMessage,
  type WebWirePayload,
} from '../../../src/protocols/webwire/codec.js';
import { WebWireProtocolError, type WebWireRule } from '../../../src/protocols/webwire/errors.js';

const ID = Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0);
const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);
const ascii = (text: string): number[] => [...text].map((c) => c.charCodeAt(0));

function ruleOf(fn: () => unknown): WebWireRule {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(WebWireProtocolError);
    return (error as WebWireProtocolError).rule;
  }
  throw new Error('expected a WebWireProtocolError');
}

describe('WebWire layouts, byte for byte', () => {
  it('signals: binary, UTF-8, UTF-16 with the padding byte only after an odd name', () => {
    expect(encodeSignal('ab', { encoding: 'binary', data: bytes(7) })).toEqual(bytes(63, 2, ...ascii('ab'), 7));
    expect(encodeSignal('', { encoding: 'utf8', data: 'é' })).toEqual(bytes(64, 0, 0xc3, 0xa9));
    expect(encodeSignal('abc', { encoding: 'utf16', data: 'A' })).toEqual(bytes(65, 3, ...ascii('abc'), 0, 0x41, 0));
    expect(encodeSignal('ab', { encoding: 'utf16', data: 'A' })).toEqual(bytes(65, 2, ...ascii('ab'), 0x41, 0));
  });

  it('requests carry the id after the type, and pad like signals', () => {
    expect(encodeRequest(ID, 'x', { encoding: 'utf16', data: '😀' })).toEqual(
      bytes(129, ...ID, 1, ...ascii('x'), 0, 0x3d, 0xd8, 0x00, 0xde),
    );
    expect(encodeRequest(ID, '', { encoding: 'utf8', data: 'hi' })).toEqual(bytes(128, ...ID, 0, ...ascii('hi')));
    expect(encodeRequest(ID, 'ab', { encoding: 'binary', data: bytes(0) })).toEqual(bytes(127, ...ID, 2, ...ascii('ab'), 0));
  });

  it('replies have no padding byte (also 193) and may be empty', () => {
    expect(encodeReply(ID, { encoding: 'utf16', data: 'A' })).toEqual(bytes(193, ...ID, 0x41, 0));
    expect(encodeReply(ID, { encoding: 'binary', data: new Uint8Array(0) })).toEqual(bytes(191, ...ID));
    const reply = decodeMessage(bytes(192, ...ID));
    expect(reply).toMatchObject({ kind: 'reply', type: 192, encoding: 'utf8', id: ID });
    expect(decodeReplyPayload(reply as Extract<WebWireMessage, { kind: 'reply' }>)).toBe('');
  });

  it('error replies, session messages, close and restore', () => {
    expect(encodeErrorReply(ID, 'E', 'm')).toEqual(bytes(0, ...ID, ...ascii('{"c":"E","m":"m"}')));
    expect(decodeMessage(bytes(0, ...ID, ...ascii('{"c":"NOPE"}')))).toEqual({
      kind: 'error-reply',
      type: 0,
      id: ID,
      code: 'NOPE',
      message: undefined,
    });
    expect(encodeSessionClosed()).toEqual(bytes(22));
    expect(encodeCloseSession(ID)).toEqual(bytes(31, ...ID));
    expect(encodeRestoreSession(ID, 'k-y_')).toEqual(bytes(32, ...ID, ...ascii('k-y_')));
    const created = decodeMessage(bytes(21, ...ascii('{"key":"abc","crt":"2018-03-03T12:00:00.123456789+01:00","inf":{"u":1}}')));
    expect(created).toEqual({
      kind: 'session-created',
      type: 21,
      session: { key: 'abc', created: new Date('2018-03-03T11:00:00.123Z'), info: { u: 1 } },
    });
  });

  it('a restore reply is type 193 with UTF-8 JSON, odd length included', () => {
    const json = new TextEncoder().encode('{"key":"abcdefg","crt":"2018-03-03T12:00:00Z","inf":null}');
    expect(json.length % 2).toBe(1);
    const reply = decodeMessage(encodeRawReply(193, ID, json));
    if (reply.kind !== 'reply') throw new Error(`expected a reply, got ${reply.kind}`);
    expect(decodeSession(reply.bytes).key).toBe('abcdefg');
    // Read as an ordinary UTF-16 reply, the same bytes break the even-length rule.
    expect(ruleOf(() => decodeReplyPayload(reply))).toBe('utf16-length');
  });

  it('UTF-16 round-trips surrogate pairs, lone surrogates and long strings', () => {
    const texts = ['😀 naïve 𝄞', '\ud800', 'x'.repeat(70_000) + '😀'];
    for (const data of texts) {
      for (const name of ['', 'a', 'ab']) {
        expect(decodeMessage(encodeSignal(name, { encoding: 'utf16', data }))).toMatchObject({ name, payload: { encoding: 'utf16', data } });
      }
      const reply = decodeMessage(encodeReply(ID, { encoding: 'utf16', data }));
      if (reply.kind !== 'reply') throw new Error('expected a reply');
      expect(decodeReplyPayload(reply)).toBe(data);
    }
  });

  it('names of 0 and 255 bytes', () => {
    const long = 'n'.repeat(255);
    expect(decodeMessage(encodeRequest(ID, long, { encoding: 'utf8', data: 'p' }))).toMatchObject({ name: long });
    expect(decodeMessage(encodeSignal('', { encoding: 'binary', data: bytes(1) }))).toMatchObject({ name: '' });
  });
});

describe('WebWire rules', () => {
  it.each<[string, Uint8Array, WebWireRule]>([
    ['no bytes', bytes(), 'empty'],
    ['an unknown type', bytes(99, 1, 2), 'unknown-type'],
    ['a request shorter than its id', bytes(128, 1, 2, 3), 'length'],
    ['a request without name length', bytes(128, ...ID), 'length'],
    ['a name longer than the message', bytes(64, 5, 65, 66), 'length'],
    ['session closed with a byte too many', bytes(22, 0), 'length'],
    ['close session of 10 bytes', bytes(31, ...ID, 0), 'length'],
    ['session created without JSON', bytes(21), 'length'],
    ['a name with a control byte', bytes(64, 2, 65, 10, 65), 'name'],
    ['a name with a byte over 126', bytes(63, 1, 127, 1), 'name'],
    ['a padding byte that is not 0', bytes(65, 1, 65, 1, 0x41, 0), 'padding'],
    ['a signal without payload', bytes(63, 1, 65), 'empty-payload'],
    ['a request without payload', bytes(127, ...ID, 0), 'empty-payload'],
    ['a UTF-16 signal of odd length', bytes(65, 0, 0x41, 0, 0x42), 'utf16-length'],
    ['a UTF-16 signal with only the padding byte', bytes(65, 1, 65, 0), 'empty-payload'],
    ['bad UTF-8 in a UTF-8 signal', bytes(64, 0, 0xc3, 0x28), 'utf8'],
    ['an error reply that is not JSON', bytes(0, ...ID, ...ascii('{c')), 'json'],
    ['an error reply without code', bytes(0, ...ID, ...ascii('{"m":"x"}')), 'json'],
    ['an error reply with a numeric message', bytes(0, ...ID, ...ascii('{"c":"E","m":1}')), 'json'],
    ['a session without key', bytes(21, ...ascii('{"crt":"2018-03-03T12:00:00Z"}')), 'session-key'],
    ['a session with a bad time', bytes(21, ...ascii('{"key":"k","crt":"yesterday"}')), 'json'],
    ['a restore without key', bytes(32, ...ID), 'session-key'],
    ['a session time that is not RFC 3339', bytes(21, ...ascii('{"key":"k","crt":"March 3, 2018"}')), 'json'],
  ])('%s', (_label, data, rule) => {
    expect(ruleOf(() => decodeMessage(data))).toBe(rule);
  });

  it('a broken reply or error reply still names its id', () => {
    try {
      decodeMessage(bytes(0, ...ID, 0xff));
      expect.unreachable();
    } catch (error) {
      expect((error as WebWireProtocolError).id).toEqual(ID);
      expect((error as WebWireProtocolError).messageType).toBe(0);
    }
  });

  it('encoders refuse what the server would refuse', () => {
    expect(ruleOf(() => encodeSignal('n'.repeat(256), { encoding: 'utf8', data: 'x' }))).toBe('name');
    expect(ruleOf(() => encodeSignal('tab\t', { encoding: 'utf8', data: 'x' }))).toBe('name');
    expect(ruleOf(() => encodeSignal('é', { encoding: 'utf8', data: 'x' }))).toBe('name');
    expect(ruleOf(() => encodeRequest(ID, 'a', { encoding: 'utf8', data: '' }))).toBe('empty-payload');
    expect(ruleOf(() => encodeRequest(ID, 'a', { encoding: 'utf16', data: '' }))).toBe('empty-payload');
    expect(ruleOf(() => encodeRequest(bytes(1, 2), 'a', { encoding: 'utf8', data: 'x' }))).toBe('length');
    expect(ruleOf(() => encodeRestoreSession(ID, ''))).toBe('session-key');
    expect(ruleOf(() => encodeSignal('a', { encoding: 'utf8', data: bytes(1) } as unknown as WebWirePayload))).toBe('empty-payload');
  });
});

const nameArb = fc.string({ unit: fc.integer({ min: 32, max: 126 }).map((c) => String.fromCharCode(c)), maxLength: 255 });
const payloadArb: fc.Arbitrary<WebWirePayload> = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map((data) => ({ encoding: 'binary' as const, data })),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 16 }).map((data) => ({ encoding: 'utf8' as const, data })),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 16 }).map((data) => ({ encoding: 'utf16' as const, data })),
);
const idArb = fc.uint8Array({ minLength: 8, maxLength: 8 });
const keyArb = fc.string({ unit: fc.integer({ min: 33, max: 126 }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 64 });
const encodedArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.tuple(nameArb, payloadArb).map(([name, payload]) => encodeSignal(name, payload)),
  fc.tuple(idArb, nameArb, payloadArb).map(([id, name, payload]) => encodeRequest(id, name, payload)),
  fc.tuple(idArb, payloadArb).map(([id, payload]) => encodeReply(id, payload)),
  fc.tuple(idArb, fc.string(), fc.option(fc.string(), { nil: undefined })).map(([id, c, m]) => encodeErrorReply(id, c, m)),
  fc.tuple(keyArb, fc.jsonValue()).map(([key, info]) => encodeSessionCreated({ key, created: new Date(0), info })),
  fc.constant(encodeSessionClosed()),
  idArb.map((id) => encodeCloseSession(id)),
  fc.tuple(idArb, keyArb).map(([id, key]) => encodeRestoreSession(id, key)),
);

function decodeOrRule(data: Uint8Array): WebWireMessage | WebWireRule {
  try {
    return decodeMessage(data);
  } catch (error) {
    if (error instanceof WebWireProtocolError) return error.rule;
    throw error;
  }
}

describe('WebWire parser fuzzing', () => {
  it('random bytes give a message or a WebWireProtocolError, nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (data) => {
        decodeOrRule(data);
      }),
      { numRuns: 3000 },
    );
  });

  it('random bytes after every type byte', () => {
    const types = [0, 21, 22, 31, 32, 63, 64, 65, 127, 128, 129, 191, 192, 193];
    fc.assert(
      fc.property(fc.constantFrom(...types), fc.uint8Array({ maxLength: 40 }), (type, rest) => {
        decodeOrRule(Uint8Array.of(type, ...rest));
      }),
      { numRuns: 3000 },
    );
  });

  it('valid messages round-trip', () => {
    fc.assert(
      fc.property(fc.tuple(nameArb, payloadArb, idArb), ([name, payload, id]) => {
        expect(decodeMessage(encodeSignal(name, payload))).toEqual({ kind: 'signal', type: expect.any(Number), name, payload });
        expect(decodeMessage(encodeRequest(id, name, payload))).toEqual({ kind: 'request', type: expect.any(Number), id, name, payload });
        const reply = decodeMessage(encodeReply(id, payload));
        if (reply.kind !== 'reply') throw new Error('expected a reply');
        expect(decodeReplyPayload(reply)).toEqual(payload.data);
      }),
      { numRuns: 500 },
    );
  });

  it('corrupted messages (flipped, truncated, extended) give only typed errors', () => {
    fc.assert(
      fc.property(
        encodedArb,
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.constantFrom('flip', 'truncate', 'extend', 'set'),
        (data, at, value, how) => {
          let corrupt: Uint8Array;
          const i = data.length === 0 ? 0 : at % data.length;
          if (how === 'truncate') corrupt = data.subarray(0, i);
          else if (how === 'extend') corrupt = Uint8Array.of(...data, value);
          else {
            corrupt = data.slice();
            corrupt[i] = how === 'flip' ? corrupt[i]! ^ (1 << (value % 8)) : value;
          }
          decodeOrRule(corrupt);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
