import { once } from 'node:events';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionClosedError, WebSocketCloseError } from '../../../src/adapters/errors.js';
import { createNativeAdapter, type NativeAdapter, type NativeAdapterOptions } from '../../../src/adapters/native/index.js';
import { MessageType } from '../../../src/adapters/types.js';
import { closePayload, rejection, serverFrame, startRawServer, type RawConnection, type RawServer } from './helpers.js';

let server: RawServer | undefined;
let adapter: NativeAdapter | undefined;

afterEach(async () => {
  await adapter?.close(1000, '', { signal: AbortSignal.abort() }).catch(() => {});
  adapter = undefined;
  await server?.close();
  server = undefined;
});

async function open(options: NativeAdapterOptions = {}): Promise<RawConnection> {
  server = await startRawServer();
  adapter = createNativeAdapter(options);
  const [, connection] = await Promise.all([adapter.dial(server.url), server.accept()]);
  return connection;
}

describe('failing the connection (RFC 6455 section 7.1.7)', () => {
  for (const [why, frame, code, options] of [
    ['a masked server frame', serverFrame(1, 'x', { mask: Buffer.from([1, 2, 3, 4]) }), 1002, {}],
    ['a reserved opcode', serverFrame(3, 'x'), 1002, {}],
    ['invalid UTF-8', serverFrame(1, Buffer.from([0xc3, 0x28])), 1007, {}],
    ['a message over maxPayload', serverFrame(2, Buffer.alloc(200)), 1009, { maxPayload: 100 }],
  ] as const) {
    it(`sends close ${code} on ${why}, reports it to read, and ends TCP`, async () => {
      const connection = await open(options);
      connection.send(serverFrame(1, 'before'));
      connection.send(frame);
      const close = await connection.frames.next();
      expect(close.opcode).toBe(8);
      expect(close.payload.readUInt16BE(0)).toBe(code);
      expect(close.masked).toBe(true);
      await once(connection.socket, 'end');
      expect(await adapter!.read()).toEqual({ type: MessageType.Text, data: 'before' });
      const error = (await rejection(adapter!.read())) as WebSocketCloseError;
      expect(error).toBeInstanceOf(WebSocketCloseError);
      expect(error.code).toBe(code);
      expect(await rejection(adapter!.write(MessageType.Text, 'late'))).toBeInstanceOf(ConnectionClosedError);
    });
  }

  it('a message over maxPayload is reported with the option the caller set, not an internal name', async () => {
    const connection = await open({ maxPayload: 100 });
    connection.send(serverFrame(2, Buffer.alloc(200)));
    await connection.frames.next();
    const error = (await rejection(adapter!.read())) as WebSocketCloseError;
    expect(error.code).toBe(1009);
    expect(error.message).toMatch(/maxPayload \(100 bytes\)/);
    expect(error.message).not.toMatch(/maxMessageSize/);
  });
});

describe('closing handshake (RFC 6455 section 7)', () => {
  it('answers the server close with the same code and reason, then ends TCP', async () => {
    const connection = await open();
    connection.send(serverFrame(8, closePayload(4001, 'going')));
    const answer = await connection.frames.next();
    expect(answer.opcode).toBe(8);
    expect(answer.payload.readUInt16BE(0)).toBe(4001);
    expect(answer.payload.subarray(2).toString()).toBe('going');
    await once(connection.socket, 'end');
    const error = (await rejection(adapter!.read())) as WebSocketCloseError;
    expect([error.code, error.reason, error.wasClean]).toEqual([4001, 'going', true]);
  });

  it('answers an empty close frame with an empty one and reports 1005', async () => {
    const connection = await open();
    connection.send(serverFrame(8));
    const answer = await connection.frames.next();
    expect([answer.opcode, answer.payload.length]).toEqual([8, 0]);
    expect(((await rejection(adapter!.read())) as WebSocketCloseError).code).toBe(1005);
  });

  it('waits for the server close after its own, then resolves when TCP closes', async () => {
    const connection = await open();
    const closing = adapter!.close(1000, 'done');
    const frame = await connection.frames.next();
    expect([frame.opcode, frame.payload.readUInt16BE(0), frame.payload.subarray(2).toString()]).toEqual([8, 1000, 'done']);
    // Messages the server sent before seeing our close are discarded (section 7.1.2).
    connection.send(serverFrame(1, 'ignored'));
    connection.send(serverFrame(8, closePayload(1000, 'done')));
    await once(connection.socket, 'end');
    connection.socket.end();
    await closing;
    expect(((await rejection(adapter!.read())) as WebSocketCloseError).code).toBe(1000);
    expect(adapter!.underlying()).toBeUndefined();
  });

  it('gives up on a server that never answers the close, after closeTimeout', async () => {
    const connection = await open({ closeTimeout: 30 });
    const closing = adapter!.close(1000);
    expect((await connection.frames.next()).opcode).toBe(8);
    await closing;
    expect(adapter!.underlying()).toBeUndefined();
    if (!connection.socket.readableEnded) await once(connection.socket, 'end');
    expect(await rejection(adapter!.close())).toBeInstanceOf(ConnectionClosedError);
  });

  it('reports 1006 when TCP is lost, and rejects pending pings', async () => {
    const connection = await open();
    const ping = adapter!.ping();
    expect((await connection.frames.next()).opcode).toBe(9);
    connection.socket.destroy();
    const error = (await rejection(adapter!.read())) as WebSocketCloseError;
    expect([error.code, error.wasClean]).toEqual([1006, false]);
    expect(await rejection(ping)).toBeInstanceOf(ConnectionClosedError);
  });
});

describe('control frames', () => {
  it('answers a ping with a pong of the same payload, with nobody reading', async () => {
    const connection = await open();
    connection.send(serverFrame(9, 'are you there'));
    const pong = await connection.frames.next();
    expect([pong.opcode, pong.payload.toString()]).toEqual([10, 'are you there']);
  });

  it('resolves a ping on its pong, and earlier pings with it (section 5.5.3)', async () => {
    const connection = await open();
    const first = adapter!.ping();
    const second = adapter!.ping();
    const a = await connection.frames.next();
    const b = await connection.frames.next();
    expect([a.opcode, b.opcode]).toEqual([9, 9]);
    expect(a.payload.equals(b.payload)).toBe(false);
    connection.send(serverFrame(10, 'unsolicited'));
    connection.send(serverFrame(10, b.payload));
    await Promise.all([first, second]);
  });

  it('reads a fragmented message with a ping between its fragments', async () => {
    const connection = await open();
    connection.send(Buffer.concat([serverFrame(1, 'hel', { fin: false }), serverFrame(9, 'p'), serverFrame(0, 'lo')]));
    expect(await adapter!.read()).toEqual({ type: MessageType.Text, data: 'hello' });
    expect((await connection.frames.next()).opcode).toBe(10);
  });
});

describe('writing', () => {
  it('fragments at fragmentSize, each frame masked with its own key', async () => {
    const connection = await open({ fragmentSize: 4 });
    await adapter!.write(MessageType.Text, 'abcdefghij');
    const frames = [await connection.frames.next(), await connection.frames.next(), await connection.frames.next()];
    expect(frames.map((f) => [f.opcode, f.fin, f.payload.toString()])).toEqual([
      [1, false, 'abcd'],
      [0, false, 'efgh'],
      [0, true, 'ij'],
    ]);
    expect(new Set(frames.map((f) => f.key.toString('hex'))).size).toBe(3);
  });

  it('holds writes while the socket is full and sends them all, in order, once it drains', async () => {
    const connection = await open();
    connection.socket.pause();
    const socket = adapter!.underlying() as Socket;
    const payload = Buffer.alloc(256 * 1024, 1);
    const writes: Array<Promise<void>> = [];
    for (let i = 0; i < 40; i++) {
      payload[0] = i;
      writes.push(adapter!.write(MessageType.Binary, Buffer.from(payload)));
      // Only one message beyond the high-water mark is ever handed to the socket.
      expect(socket.writableLength).toBeLessThanOrEqual(socket.writableHighWaterMark + payload.length + 14);
    }
    connection.socket.resume();
    await Promise.all(writes);
    for (let i = 0; i < 40; i++) {
      const frame = await connection.frames.next();
      expect([frame.opcode, frame.payload.length, frame.payload[0]]).toEqual([2, payload.length, i]);
    }
  });

  it('pauses the socket when unread messages reach the high-water mark, and resumes as they are read', async () => {
    const connection = await open({ readQueue: { messages: 8 } });
    const socket = adapter!.underlying() as Socket;
    const paused = once(socket, 'pause');
    for (let i = 0; i < 40; i++) connection.send(serverFrame(1, `m${i}`));
    await paused;
    expect(socket.isPaused()).toBe(true);
    const resumed = once(socket, 'resume');
    for (let i = 0; i < 40; i++) expect(await adapter!.read()).toEqual({ type: MessageType.Text, data: `m${i}` });
    await resumed;
  });
});

describe('permessage-deflate on the wire (RFC 7692)', () => {
  async function openDeflate(options: NativeAdapterOptions): Promise<RawConnection> {
    server = await startRawServer(
      (request, accept) =>
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n` +
        `Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n\r\n`,
    );
    adapter = createNativeAdapter(options);
    const [response, connection] = await Promise.all([adapter.dial(server.url), server.accept()]);
    expect(response.extensions).toMatch(/^permessage-deflate/);
    expect(connection.request.headers['sec-websocket-extensions']).toMatch(/^permessage-deflate/);
    return connection;
  }

  it('sends messages under the threshold uncompressed and larger ones compressed (RSV1)', async () => {
    const connection = await openDeflate({ perMessageDeflate: { threshold: 100 } });
    await adapter!.write(MessageType.Text, 'short');
    await adapter!.write(MessageType.Text, 'long '.repeat(100));
    const short = await connection.frames.next();
    const long = await connection.frames.next();
    expect([short.rsv, short.payload.toString()]).toEqual([0, 'short']);
    expect(long.rsv).toBe(4);
    expect(long.payload.length).toBeLessThan(100);
    const { inflateRawSync } = await import('node:zlib');
    expect(inflateRawSync(Buffer.concat([long.payload, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: 2 }).toString()).toBe('long '.repeat(100));
  });

  it('fails a decompression bomb with close 1009 instead of inflating it', async () => {
    const connection = await openDeflate({ perMessageDeflate: true, maxPayload: 1024 * 1024 });
    const { deflateRawSync } = await import('node:zlib');
    const bomb = deflateRawSync(Buffer.alloc(64 * 1024 * 1024), { finishFlush: 2 });
    connection.send(serverFrame(2, bomb.subarray(0, bomb.length - 4), { rsv: 4 }));
    const close = await connection.frames.next();
    expect([close.opcode, close.payload.readUInt16BE(0)]).toEqual([8, 1009]);
    const error = (await rejection(adapter!.read())) as WebSocketCloseError;
    expect(error.code).toBe(1009);
    expect(error.message).toMatch(/inflated message over maxPayload/);
  });
});
