/**
 * A protocol error fails the connection (RFC 6455 section 7.1.7) only after the messages that
 * preceded the bad frame were read and the reader had its chance to answer them: a reply
 * written in response goes out before the close frame, whether the bad frame came in the same
 * socket read or later, and whether the reader was already waiting or reads afterwards.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketCloseError } from '../../../src/adapters/errors.js';
import { createNativeAdapter, type NativeAdapter } from '../../../src/adapters/native/index.js';
import { MessageType } from '../../../src/adapters/types.js';
import { createEngine } from '../../../src/engine/index.js';
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
  server ??= await startRawServer();
  adapter = createNativeAdapter({ closeTimeout: 1000 });
  const [, connection] = await Promise.all([adapter.dial(server.url), server.accept()]);
  return connection;
}

/** What the client sent, in order, until its close frame: text payloads and the close code. */
async function clientFrames(connection: RawConnection): Promise<Array<string | number>> {
  const out: Array<string | number> = [];
  for (;;) {
    const frame = await connection.frames.next();
    if (frame.opcode === 8) {
      out.push(frame.payload.readUInt16BE(0));
      return out;
    }
    if (frame.opcode === 1) out.push(frame.payload.toString());
  }
}

const BAD_FRAMES: Array<[string, Buffer, number]> = [
  ['RSV2 set', serverFrame(1, 'bad', { rsv: 2 }), 1002],
  ['a reserved opcode', serverFrame(3, 'bad'), 1002],
  ['invalid UTF-8', serverFrame(1, Buffer.from([0xc3, 0x28])), 1007],
];

describe('native adapter: messages before a bad frame are answered, then the connection fails', () => {
  for (const [why, bad, code] of BAD_FRAMES) {
    it(`answers two messages that came in the same read as ${why}, then closes with ${code} (10 runs)`, async () => {
      for (let run = 0; run < 10; run++) {
        const connection = await open();
        // The reader is waiting before the bytes arrive.
        const first = adapter!.read();
        connection.send(Buffer.concat([serverFrame(1, 'one'), serverFrame(2, Buffer.from('two')), bad]));
        const sent = clientFrames(connection);
        const a = await first;
        expect(a).toEqual({ type: MessageType.Text, data: 'one' });
        await adapter!.write(MessageType.Text, 'reply one');
        const b = await adapter!.read();
        expect(b.type).toBe(MessageType.Binary);
        await adapter!.write(MessageType.Text, 'reply two');
        const error = (await rejection(adapter!.read())) as WebSocketCloseError;
        expect(error).toBeInstanceOf(WebSocketCloseError);
        expect(error.code).toBe(code);
        expect(error.wasClean).toBe(false);
        expect(await sent).toEqual(['reply one', 'reply two', code]);
        await adapter!.close(1000, '', { signal: AbortSignal.abort() }).catch(() => {});
      }
    });
  }

  it('answers a message read only after the bad frame arrived', async () => {
    const connection = await open();
    const sent = clientFrames(connection);
    connection.send(Buffer.concat([serverFrame(1, 'one'), serverFrame(1, 'bad', { rsv: 2 })]));
    // Wait (a bounded number of event-loop turns) until the client has parsed it all.
    let message = adapter!.tryRead();
    for (let turn = 0; turn < 10_000 && message === undefined; turn++) {
      await new Promise((resolve) => setImmediate(resolve));
      message = adapter!.tryRead();
    }
    expect(message).toEqual({ type: MessageType.Text, data: 'one' });
    await adapter!.write(MessageType.Text, 'reply');
    expect(((await rejection(adapter!.read())) as WebSocketCloseError).code).toBe(1002);
    expect(await sent).toEqual(['reply', 1002]);
  });

  it('fails at once when nothing preceded the bad frame', async () => {
    const connection = await open();
    const sent = clientFrames(connection);
    const read = rejection(adapter!.read());
    connection.send(serverFrame(1, 'bad', { rsv: 2 }));
    expect(((await read) as WebSocketCloseError).code).toBe(1002);
    expect(await sent).toEqual([1002]);
  });

  it('through the engine: a reply sent from onMessage goes out before the close frame', async () => {
    server = await startRawServer();
    const engine = createEngine({
      url: server.url,
      adapter: () => createNativeAdapter({ closeTimeout: 200 }),
      tracing: false,
      heartbeat: false,
      closeTimeout: 200,
      reconnect: false,
      onMessage: (message) => engine.sendText(`reply to ${String(message.data)}`),
    });
    const accepted = server.accept();
    await engine.start();
    const connection = await accepted;
    const sent = clientFrames(connection);
    const closed = new Promise<number>((resolve) => engine.once('close', ({ code }) => resolve(code)));
    connection.send(Buffer.concat([serverFrame(1, 'a'), serverFrame(1, 'b'), serverFrame(1, 'bad', { rsv: 2 })]));
    expect(await sent).toEqual(['reply to a', 'reply to b', 1002]);
    expect(await closed).toBe(1002);
    await engine.stop();
  });
});
