/**
 * The wire codec and the status decoding on their own: the examples of the wsstream
 * documentation, strict base64, every refusal.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MessageType } from '../../../src/adapters/types.js';
import {
  decodeBase64,
  decodeServerMessage,
  decodeStatus,
  encodeBase64,
  encodeBase64Url,
  encodeClientMessage,
  encodeCloseSignal,
  encodeResize,
  ExecStatusError,
  K8sProtocolError,
  protocolSpec,
  type ProtocolSpec,
} from '../../../src/protocols/k8s/index.js';
import { bearerProtocol } from '../../../src/protocols/k8s/browser.js';

const spec = (name: string): ProtocolSpec => protocolSpec(name)!;
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('base64', () => {
  it('matches Buffer for any bytes, both ways', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (data) => {
        const encoded = encodeBase64(data);
        expect(encoded).toBe(Buffer.from(data).toString('base64'));
        expect(decodeBase64(encoded)).toEqual(data);
        expect(encodeBase64Url(data)).toBe(Buffer.from(data).toString('base64url'));
      }),
    );
  });

  it.each(['Zm9', 'Zm9v=', 'Zm==Zm9v', 'Zm9v Zm9v', 'Zm9\u00e9', 'Zh==', 'Zm9=', 'Z===', '====', 'Zm-_'])('refuses %j', (text) => {
    expect(decodeBase64(text)).toBeUndefined();
  });

  it('decodes from an offset, and the empty string', () => {
    expect(decodeBase64('1Zm9vCg==', 1)).toEqual(bytes('foo\n'));
    expect(decodeBase64('')).toEqual(new Uint8Array(0));
  });
});

describe('codec', () => {
  it('the wsstream examples: channel.k8s.io and base64.channel.k8s.io', () => {
    expect(encodeClientMessage(spec('channel.k8s.io'), 0, bytes('foo\n'))).toEqual({
      type: MessageType.Binary,
      data: Uint8Array.of(0, 102, 111, 111, 10),
    });
    expect(decodeServerMessage(spec('channel.k8s.io'), { type: MessageType.Binary, data: Uint8Array.of(1, 10) })).toEqual({
      kind: 'data',
      channel: 1,
      payload: Uint8Array.of(10),
    });
    // The documentation's base64 example writes "Zm9vCgo=" for "foo\n"; that is "foo\n\n". The
    // codec writes the standard encoding, "Zm9vCg==".
    expect(encodeClientMessage(spec('base64.channel.k8s.io'), 0, bytes('foo\n'))).toEqual({ type: MessageType.Text, data: '0Zm9vCg==' });
    expect(decodeServerMessage(spec('base64.channel.k8s.io'), { type: MessageType.Text, data: '1Cg==' })).toEqual({
      kind: 'data',
      channel: 1,
      payload: Uint8Array.of(10),
    });
  });

  it('v5: the CLOSE signal both ways; resize JSON on channel 4', () => {
    expect(encodeCloseSignal(spec('v5.channel.k8s.io'), 0)).toEqual({ type: MessageType.Binary, data: Uint8Array.of(255, 0) });
    expect(() => encodeCloseSignal(spec('v4.channel.k8s.io'), 0)).toThrow(K8sProtocolError);
    expect(decodeServerMessage(spec('v5.channel.k8s.io'), { type: MessageType.Binary, data: Uint8Array.of(255, 1) })).toEqual({ kind: 'close', channel: 1 });
    expect(() => decodeServerMessage(spec('v4.channel.k8s.io'), { type: MessageType.Binary, data: Uint8Array.of(255, 1) })).toThrow(/unknown channel 255/);
    expect(() => decodeServerMessage(spec('v5.channel.k8s.io'), { type: MessageType.Binary, data: Uint8Array.of(255, 1, 2) })).toThrow(K8sProtocolError);
    const resize = encodeResize(spec('v4.base64.channel.k8s.io'), 80, 24);
    expect(resize).toEqual({ type: MessageType.Text, data: `4${Buffer.from('{"Width":80,"Height":24}').toString('base64')}` });
  });

  it('readiness and empty messages', () => {
    expect(decodeServerMessage(spec('v4.channel.k8s.io'), { type: MessageType.Binary, data: Uint8Array.of(2) })).toEqual({
      kind: 'data',
      channel: 2,
      payload: new Uint8Array(0),
    });
    expect(decodeServerMessage(spec('v4.channel.k8s.io'), { type: MessageType.Binary, data: new Uint8Array(0) })).toEqual({ kind: 'empty' });
    expect(decodeServerMessage(spec('base64.channel.k8s.io'), { type: MessageType.Text, data: '' })).toEqual({ kind: 'empty' });
  });

  it.each([
    ['v4.channel.k8s.io', { type: MessageType.Binary, data: Uint8Array.of(0, 1) }, /unknown channel 0/],
    ['v4.channel.k8s.io', { type: MessageType.Binary, data: Uint8Array.of(4, 1) }, /unknown channel 4/],
    ['v4.channel.k8s.io', { type: MessageType.Text, data: '1aGk=' }, /text message/],
    ['v4.base64.channel.k8s.io', { type: MessageType.Binary, data: Uint8Array.of(1) }, /binary message/],
    ['v4.base64.channel.k8s.io', { type: MessageType.Text, data: 'xaGk=' }, /unknown channel "x"/],
    ['v4.base64.channel.k8s.io', { type: MessageType.Text, data: '1aGk' }, /Invalid base64/],
  ] as const)('%s refuses %j', (name, message, error) => {
    expect(() => decodeServerMessage(spec(name), message)).toThrow(error);
  });

  it('knows the protocols; the empty subprotocol is channel.k8s.io', () => {
    expect(protocolSpec('')?.name).toBe('channel.k8s.io');
    expect(protocolSpec('v6.channel.k8s.io')).toBeUndefined();
    expect(spec('v3.channel.k8s.io')).toMatchObject({ version: 3, resize: true, status: false, closeSignal: false });
    expect(spec('v4.base64.channel.k8s.io')).toMatchObject({ version: 4, base64: true, status: true });
  });

  it('the bearer token subprotocol is URL-safe base64 without padding', () => {
    expect(bearerProtocol('a?b>')).toBe('base64url.bearer.authorization.k8s.io.YT9iPg');
  });
});

describe('status', () => {
  const json = (value: unknown): Uint8Array => bytes(JSON.stringify(value));

  it('Success is 0; NonZeroExitCode carries the ExitCode cause', () => {
    expect(decodeStatus(json({ status: 'Success' }))).toEqual({ exitCode: 0 });
    expect(
      decodeStatus(
        json({
          status: 'Failure',
          reason: 'NonZeroExitCode',
          details: { causes: [{ reason: 'Other', message: '9' }, { reason: 'ExitCode', message: '42' }] },
        }),
      ),
    ).toEqual({ exitCode: 42 });
  });

  it('other failures, and a NonZeroExitCode without a usable code, carry the Status', () => {
    const status = { status: 'Failure', reason: 'NonZeroExitCode', message: 'exit code unknown', details: { causes: [{ reason: 'ExitCode', message: 'many' }] } };
    const outcome = decodeStatus(json(status));
    expect('error' in outcome && outcome.error).toBeInstanceOf(ExecStatusError);
    expect('error' in outcome && outcome.error.status).toEqual(status);
    expect('error' in outcome && outcome.error.message).toBe('exit code unknown');
  });

  it.each(['not json', '[1]', '"Success"', '{"reason":"x"}', 'null'])('refuses %j with K8sProtocolError', (text) => {
    expect(() => decodeStatus(bytes(text))).toThrow(K8sProtocolError);
  });

  it('refuses invalid UTF-8', () => {
    expect(() => decodeStatus(Uint8Array.of(0xff, 0xfe))).toThrow(/UTF-8/);
  });
});
