import { afterEach, describe, expect, it } from 'vitest';
import { createNativeAdapter, type NativeAdapter } from '../../../src/adapters/native/index.js';
import { MessageType } from '../../../src/adapters/types.js';
import { startRawServer, type RawServer } from './helpers.js';

let server: RawServer | undefined;
let adapter: NativeAdapter | undefined;

afterEach(async () => {
  await adapter?.close(1000, '', { signal: AbortSignal.abort() }).catch(() => {});
  adapter = undefined;
  await server?.close();
  server = undefined;
});

/** A payload whose every byte depends on its message number, so that a mix-up shows. */
function payload(n: number, size: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 7 + n * 31 + (i >> 9)) & 0xff;
  return bytes;
}

describe('large sends (frames built in pooled memory)', () => {
  it('sends many large messages at once, each whole and in order, while the socket still holds earlier ones', async () => {
    server = await startRawServer();
    adapter = createNativeAdapter();
    const [, connection] = await Promise.all([adapter.dial(server.url), server.accept()]);
    const sizes = [64 * 1024, 16 * 1024, 200_000, 64 * 1024 + 3, 256 * 1024, 300_000, 40_000];
    const sent: Buffer[] = [];
    const writes: Promise<void>[] = [];
    for (let n = 0; n < 28; n++) {
      const data = payload(n, sizes[n % sizes.length]!);
      sent.push(data);
      // Text as well: it is encoded straight into the frame.
      writes.push(n % 5 === 4 ? adapter.write(MessageType.Text, data.toString('latin1').replace(/[^\x20-\x7e]/g, 'a')) : adapter.write(MessageType.Binary, data));
    }
    await Promise.all(writes);
    for (let n = 0; n < sent.length; n++) {
      const frame = await connection.frames.next();
      expect(frame.masked).toBe(true);
      if (n % 5 === 4) {
        expect(frame.opcode).toBe(1);
        expect(frame.payload.toString('latin1')).toBe(sent[n]!.toString('latin1').replace(/[^\x20-\x7e]/g, 'a'));
      } else {
        expect(frame.opcode).toBe(2);
        expect(frame.payload.equals(sent[n]!), `message ${n}`).toBe(true);
      }
    }
    // The caller's bytes are never changed by masking.
    for (let n = 0; n < sent.length; n++) {
      if (n % 5 !== 4) expect(sent[n]!.equals(payload(n, sizes[n % sizes.length]!))).toBe(true);
    }
  });
});
