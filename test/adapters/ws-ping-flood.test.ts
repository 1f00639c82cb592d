/**
 * The ws adapter and ping floods: ws answers pings itself and terminates the socket past
 * `maxPendingAutoPongs` pongs waiting unsent (60 by default in ws 8). The adapter sets the
 * limit to MAX_PENDING_PONGS, and reports a termination for it with a PingFloodError cause.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketCloseError } from '../../src/adapters/errors.js';
import { MAX_PENDING_PONGS, PingFloodError } from '../../src/adapters/flood-error.js';
import { MessageType } from '../../src/adapters/types.js';
import { createWsAdapter, type WsAdapter } from '../../src/adapters/ws.js';
import { rejection, serverFrame, startRawServer, type RawConnection, type RawServer } from './native/helpers.js';

let server: RawServer | undefined;
let adapter: WsAdapter | undefined;

afterEach(async () => {
  await adapter?.close(1000, '', { signal: AbortSignal.abort() }).catch(() => {});
  adapter = undefined;
  await server?.close();
  server = undefined;
});

async function open(): Promise<RawConnection> {
  server = await startRawServer();
  adapter = createWsAdapter({ closeTimeout: 200 });
  const [, connection] = await Promise.all([adapter.dial(server.url), server.accept()]);
  return connection;
}

const PING = serverFrame(9, Buffer.alloc(125, 0x61));

describe('ws adapter: ping floods', () => {
  it('answers a burst of 1,000 pings in one read and stays open', async () => {
    const connection = await open();
    connection.send(Buffer.concat([...Array.from({ length: 1000 }, () => PING), serverFrame(1, 'after')]));
    expect(await adapter!.read()).toEqual({ type: MessageType.Text, data: 'after' });
    for (let i = 0; i < 1000; i++) expect((await connection.frames.next()).opcode).toBe(0xa);
    await adapter!.write(MessageType.Text, 'still open');
    expect((await connection.frames.next()).payload.toString()).toBe('still open');
  });

  it('reports a PingFloodError naming the limit when the server pings and never reads', async () => {
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
    expect(error.code).toBe(1006);
    expect(error.cause).toBeInstanceOf(PingFloodError);
    expect((error.cause as PingFloodError).limit).toBe(MAX_PENDING_PONGS);
  }, 15_000);
});
