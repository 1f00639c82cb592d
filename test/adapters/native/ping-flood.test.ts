/**
 * Outbound control frames are bounded (RFC 6455 section 5.5.2 requires a pong per ping, but a
 * peer that pings without reading would make them pile up in memory): the native adapter
 * answers bursts, and fails the connection with 1008 once too many pongs wait unsent.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketCloseError } from '../../../src/adapters/errors.js';
import { createNativeAdapter, type NativeAdapter } from '../../../src/adapters/native/index.js';
import { MAX_PENDING_PONGS, PingFloodError } from '../../../src/adapters/flood-error.js';
import { MessageType } from '../../../src/adapters/types.js';
import { rejection, serverFrame, startRawServer, type RawConnection, type RawServer } from './helpers.js';

let server: RawServer | undefined;
let adapter: NativeAdapter | undefined;

afterEach(async () => {
  await adapter?.close(1000, '', { signal: AbortSignal.abort() }).catch(() => {});
  adapter = undefined;
  await server?.close();
  server = undefined;
});

async function open(): Promise<RawConnection> {
  server = await startRawServer();
  adapter = createNativeAdapter({ closeTimeout: 200 });
  const [, connection] = await Promise.all([adapter.dial(server.url), server.accept()]);
  return connection;
}

const PING = serverFrame(9, Buffer.alloc(125, 0x61));

describe('native adapter: ping floods', () => {
  it('answers a burst of 5,000 pings when the server reads', async () => {
    const connection = await open();
    connection.send(Buffer.concat([...Array.from({ length: 5000 }, () => PING), serverFrame(1, 'after')]));
    expect(await adapter!.read()).toEqual({ type: MessageType.Text, data: 'after' });
    for (let i = 0; i < 5000; i++) {
      const frame = await connection.frames.next();
      expect(frame.opcode).toBe(0xa);
    }
  });

  it('fails with 1008 and a PingFloodError naming the limit when the server pings and never reads', async () => {
    const connection = await open();
    connection.socket.pause();
    const batch = Buffer.concat(Array.from({ length: 500 }, () => PING));
    let stop = false;
    const failure = rejection(adapter!.read()).finally(() => {
      stop = true;
    });
    // At most 200,000 pings (25 MB), in batches; the client must give up long before.
    void (async () => {
      for (let i = 0; i < 400 && !stop && !connection.socket.destroyed; i++) {
        connection.send(batch);
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const error = (await failure) as WebSocketCloseError;
    expect(error).toBeInstanceOf(WebSocketCloseError);
    expect(error.code).toBe(1008);
    expect(error.cause).toBeInstanceOf(PingFloodError);
    expect((error.cause as PingFloodError).limit).toBe(MAX_PENDING_PONGS);
    expect((error.cause as PingFloodError).message).toContain(String(MAX_PENDING_PONGS));
  }, 15_000);
});
