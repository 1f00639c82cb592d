import { describe, expect, it } from 'vitest';
import { resolveOptions } from '../../../src/adapters/native/options.js';
import { acceptExtensions, deflateOffer, PerMessageDeflate } from '../../../src/adapters/native/permessage-deflate.js';

const defaults = resolveOptions({ perMessageDeflate: true }).perMessageDeflate!;

describe('permessage-deflate negotiation (RFC 7692 section 7.1)', () => {
  it('offers the configured parameters', () => {
    expect(deflateOffer(defaults)).toBe('permessage-deflate; client_max_window_bits');
    const all = resolveOptions({
      perMessageDeflate: { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 12 },
    }).perMessageDeflate!;
    expect(deflateOffer(all)).toBe(
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12',
    );
  });

  it('accepts what the server answers within the offer', () => {
    expect(acceptExtensions(undefined, defaults)).toBeUndefined();
    expect(acceptExtensions('permessage-deflate', defaults)).toEqual({
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 15,
    });
    expect(acceptExtensions('permessage-deflate; server_no_context_takeover; client_max_window_bits=10; server_max_window_bits="9"', defaults)).toEqual({
      serverNoContextTakeover: true,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 9,
      clientMaxWindowBits: 10,
    });
  });

  for (const [answer, why] of [
    ['x-webkit-deflate-frame', 'an extension that was not offered'],
    ['permessage-deflate, permessage-deflate', 'the extension twice'],
    ['permessage-deflate; foo', 'an unknown parameter'],
    ['permessage-deflate; server_no_context_takeover; server_no_context_takeover', 'a repeated parameter'],
    ['permessage-deflate; server_max_window_bits=16', 'window bits out of range'],
    ['permessage-deflate; server_max_window_bits', 'window bits without a value'],
    ['permessage-deflate; server_no_context_takeover=1', 'a value where none is allowed'],
  ] as const) {
    it(`refuses ${why}`, () => {
      expect(() => acceptExtensions(answer, defaults)).toThrow();
    });
  }

  it('refuses any extension when none was offered', () => {
    expect(() => acceptExtensions('permessage-deflate', undefined)).toThrow(/not offered/);
  });

  it('refuses client_max_window_bits when it was not offered, and answers that ignore our demands', () => {
    const noClientBits = resolveOptions({ perMessageDeflate: { clientMaxWindowBits: false, serverNoContextTakeover: true } }).perMessageDeflate!;
    expect(() => acceptExtensions('permessage-deflate; server_no_context_takeover; client_max_window_bits=10', noClientBits)).toThrow();
    expect(() => acceptExtensions('permessage-deflate', noClientBits)).toThrow(/server_no_context_takeover/);
    const limited = resolveOptions({ perMessageDeflate: { serverMaxWindowBits: 10 } }).perMessageDeflate!;
    expect(() => acceptExtensions('permessage-deflate; server_max_window_bits=12', limited)).toThrow(/larger/);
  });
});

describe('permessage-deflate codec', () => {
  for (const noContext of [false, true]) {
    it(`round-trips messages ${noContext ? 'without' : 'with'} context takeover`, async () => {
      const params = { serverNoContextTakeover: noContext, clientNoContextTakeover: noContext, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };
      const sender = new PerMessageDeflate(params, 0, 1);
      const receiver = new PerMessageDeflate(params, 0, 1);
      for (const text of ['hello hello hello', '', 'x'.repeat(100_000), 'hello hello hello']) {
        const compressed = await new Promise<Buffer>((resolve, reject) =>
          sender.compress(Buffer.from(text), (error, out) => (error ? reject(error) : resolve(out))),
        );
        const chunks: Buffer[] = [];
        await new Promise<void>((resolve, reject) =>
          receiver.decompress(
            compressed,
            true,
            (chunk) => {
              chunks.push(chunk);
              return null;
            },
            (error) => (error ? reject(error) : resolve()),
          ),
        );
        expect(Buffer.concat(chunks).toString()).toBe(text);
      }
      sender.close();
      receiver.close();
    });
  }
});
