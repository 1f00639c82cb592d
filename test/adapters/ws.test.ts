/**
 * What the ws adapter does beyond the shared contract suite: its options, timeouts, TLS,
 * backpressure both ways, redirects, and bad input. Real servers on 127.0.0.1, port 0.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ConnectionClosedError,
  HandshakeError,
  InvalidArgumentError,
  InvalidOptionError,
  InvalidStateError,
  TimeoutError,
  WebSocketCloseError,
} from '../../src/adapters/errors.js';
import { MessageType } from '../../src/adapters/types.js';
import { WsAdapter, createWsAdapter, type WsAdapterOptions } from '../../src/adapters/ws.js';
import { createWsPeer, type WsPeer, type WsPeerConnection } from '../../src/testing/ws-peer.js';
import { rejection } from '../../src/testing/rejection.js';

/** One turn of the event loop: pending I/O callbacks get their chance to run. */
function ioTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function once<T>(emitter: NodeJS.EventEmitter, event: string): Promise<T> {
  return new Promise((resolve) => emitter.once(event, (value: T) => resolve(value)));
}

/** Cleanups registered by a test, run in afterEach (last registered first). */
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Unhandled rejections seen while a test ran: every test here must leave none. */
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
beforeEach(() => {
  unhandled.length = 0;
  process.on('unhandledRejection', onUnhandled);
});
afterEach(async () => {
  await ioTurn();
  process.off('unhandledRejection', onUnhandled);
  expect(unhandled).toEqual([]);
});

function adapterFor(options?: WsAdapterOptions): WsAdapter {
  const adapter = createWsAdapter(options);
  cleanups.push(() => adapter.close().catch(() => {}));
  return adapter;
}

async function startPeer(options?: Parameters<typeof createWsPeer>[0]): Promise<{ peer: WsPeer; url: string }> {
  const peer = createWsPeer(options);
  const url = await peer.start();
  cleanups.push(() => peer.stop());
  return { peer, url };
}

async function openPair(
  options?: WsAdapterOptions,
): Promise<{ adapter: WsAdapter; peer: WsPeer; connection: WsPeerConnection; url: string }> {
  const { peer, url } = await startPeer();
  const adapter = adapterFor(options);
  const [, connection] = await Promise.all([adapter.dial(url), peer.accept()]);
  return { adapter, peer, connection, url };
}

/**
 * A TCP server on loopback; `onSocket` decides what it does with each connection. By default it
 * reads and discards what comes (so it sees the client hang up) and never answers.
 */
async function startTcpServer(onSocket: (socket: Socket) => void = (socket) => socket.resume()): Promise<{ server: NetServer; port: number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createNetServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return { server, port: address.port, sockets };
}

/**
 * A server that completes the opening handshake by hand (RFC 6455 section 4.2.2), records every
 * byte the client sends afterwards, and otherwise does only what the test tells it: by default
 * it never answers (no pong, no close frame).
 */
async function startRawWebSocketServer(
  options: {
    extraHeaders?: string[];
    afterUpgrade?: (socket: Socket) => void;
    onData?: (received: Buffer, socket: Socket) => void;
  } = {},
): Promise<{ port: number; received: () => Buffer; sockets: Socket[] }> {
  const chunks: Buffer[] = [];
  const received = (): Buffer => Buffer.concat(chunks);
  const { port, sockets } = await startTcpServer((socket) => {
    let head = Buffer.alloc(0);
    let upgraded = false;
    socket.on('data', (chunk: Buffer) => {
      if (upgraded) {
        chunks.push(chunk);
        options.onData?.(received(), socket);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      const key = /sec-websocket-key:\s*(\S+)/i.exec(head.subarray(0, end).toString('latin1'))?.[1] ?? '';
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      const lines = [
        'HTTP/1.1 101 Switching Protocols',
        'Upgrade: websocket',
        'Connection: Upgrade',
        `Sec-WebSocket-Accept: ${accept}`,
        ...(options.extraHeaders ?? []),
      ];
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      upgraded = true;
      if (head.byteLength > end + 4) chunks.push(head.subarray(end + 4));
      options.afterUpgrade?.(socket);
    });
  });
  return { port, received, sockets };
}

/** An unmasked server frame (RFC 6455 section 5.2), payload under 126 bytes. */
function serverFrame(opcode: number, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x80 | opcode, payload.byteLength]), payload]);
}

/** Decode client frames (masked, payloads under 126 bytes: control frames), RFC 6455 section 5.2. */
function controlFrames(bytes: Buffer): Array<{ opcode: number; payload: Buffer }> {
  const frames: Array<{ opcode: number; payload: Buffer }> = [];
  let offset = 0;
  while (offset + 6 <= bytes.byteLength) {
    const opcode = bytes[offset]! & 0x0f;
    const length = bytes[offset + 1]! & 0x7f;
    if (length > 125) throw new Error('not a control frame');
    const mask = bytes.subarray(offset + 2, offset + 6);
    const payload = Buffer.from(bytes.subarray(offset + 6, offset + 6 + length));
    for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!;
    frames.push({ opcode, payload });
    offset += 6 + length;
  }
  return frames;
}

describe('ws adapter options', () => {
  it('has working defaults', () => {
    expect(createWsAdapter()).toBeInstanceOf(WsAdapter);
    expect(new WsAdapter({ perMessageDeflate: { threshold: 1024 } })).toBeInstanceOf(WsAdapter);
  });

  it('refuses invalid options at construction, naming the option', () => {
    const bad: Array<[WsAdapterOptions, string]> = [
      [{ handshakeTimeout: 0 }, 'handshakeTimeout'],
      [{ handshakeTimeout: Number.NaN }, 'handshakeTimeout'],
      [{ closeTimeout: -1 }, 'closeTimeout'],
      [{ maxPayload: 1.5 }, 'maxPayload'],
      [{ perMessageDeflate: 'yes' as unknown as boolean }, 'perMessageDeflate'],
      [{ tls: { ca: 42 as unknown as string } }, 'tls.ca'],
      [{ tls: { cert: [Buffer.alloc(1), 1] as unknown as string[] } }, 'tls.cert'],
      [{ tls: { key: {} as unknown as string } }, 'tls.key'],
      [{ tls: { rejectUnauthorized: 'no' as unknown as boolean } }, 'tls.rejectUnauthorized'],
      [{ tls: { servername: 7 as unknown as string } }, 'tls.servername'],
      [{ readQueue: { messages: 0 } }, 'readQueue.messages'],
      [{ readQueue: { bytes: -5 } }, 'readQueue.bytes'],
      [{ writeHighWaterMark: Infinity }, 'writeHighWaterMark'],
      [{ followRedirects: 1 as unknown as boolean }, 'followRedirects'],
    ];
    for (const [options, name] of bad) {
      let error: unknown;
      try {
        createWsAdapter(options);
      } catch (caught) {
        error = caught;
      }
      expect(error, name).toBeInstanceOf(InvalidOptionError);
      expect((error as InvalidOptionError).option, name).toBe(name);
      expect((error as Error).message, name).toContain(name);
    }
  });
});

describe('ws adapter: opening handshake', () => {
  it('rejects with TimeoutError when the server accepts TCP and never answers', async () => {
    const { port, sockets } = await startTcpServer();
    const adapter = adapterFor({ handshakeTimeout: 150 });
    const error = await rejection(adapter.dial(`ws://127.0.0.1:${port}/`));
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).code).toBe('ERR_TIMEOUT');
    expect((error as Error).message).toContain('150 ms');
    // The attempt was torn down: the server sees its socket close.
    const socket = sockets[0]!;
    if (!socket.destroyed) await once(socket, 'close');
    expect(adapter.underlying()).toBeUndefined();
    expect(await rejection(adapter.read())).toBeInstanceOf(ConnectionClosedError);
  });

  it('aborts a handshake in progress with the signal reason and tears the attempt down', async () => {
    const { server, sockets, port } = await startTcpServer();
    const adapter = adapterFor();
    const controller = new AbortController();
    const connected = once(server, 'connection');
    const dialled = adapter.dial(`ws://127.0.0.1:${port}/`, { signal: controller.signal });
    await connected;
    const reason = new Error('stop dialling');
    controller.abort(reason);
    expect(await rejection(dialled)).toBe(reason);
    const socket = sockets[0]!;
    if (!socket.destroyed) await once(socket, 'close');
    expect(socket.destroyed).toBe(true);
  });

  it('cancels a dial in progress when closed, and then counts as closed', async () => {
    const { port } = await startTcpServer();
    const adapter = adapterFor();
    const dialled = adapter.dial(`ws://127.0.0.1:${port}/`);
    const dialError = rejection(dialled);
    await adapter.close();
    expect(await dialError).toBeInstanceOf(ConnectionClosedError);
    expect(await rejection(adapter.close())).toBeInstanceOf(ConnectionClosedError);
  });

  it('reports a refusal with its status, headers and body', async () => {
    const { peer, url } = await startPeer();
    const adapter = adapterFor();
    peer.refuseNext({ status: 401, headers: { 'WWW-Authenticate': 'Bearer realm="feed"' }, body: 'token expired' });
    const error = (await rejection(adapter.dial(url))) as HandshakeError;
    expect(error).toBeInstanceOf(HandshakeError);
    expect(error.status).toBe(401);
    expect(error.headers['www-authenticate']).toBe('Bearer realm="feed"');
    expect(error.body).toBe('token expired');
    expect(error.message).toContain('401');
  });

  it('reports a refused TCP connection as HandshakeError with the cause', async () => {
    const { server, port } = await startTcpServer();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const adapter = adapterFor();
    const error = (await rejection(adapter.dial(`ws://127.0.0.1:${port}/`))) as HandshakeError;
    expect(error).toBeInstanceOf(HandshakeError);
    expect(error.status).toBeUndefined();
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
  });

  it('sends custom headers, repeated ones as several lines', async () => {
    const { peer, url } = await startPeer();
    const adapter = adapterFor();
    const [answer, connection] = await Promise.all([
      adapter.dial(url, { headers: { Authorization: 'Bearer abc', 'X-Feed': ['eur', 'usd'] } }),
      peer.accept(),
    ]);
    expect(connection.requestHeaders['authorization']).toBe('Bearer abc');
    expect(connection.requestHeaders['x-feed']).toBe('eur, usd');
    expect(answer.status).toBe(101);
    expect(answer.headers['connection']?.toLowerCase()).toBe('upgrade');
  });

  it('maps http: to ws: and negotiates permessage-deflate when asked', async () => {
    const { peer, url } = await startPeer({ perMessageDeflate: true });
    const adapter = adapterFor({ perMessageDeflate: true });
    const [answer, connection] = await Promise.all([adapter.dial(url.replace('ws:', 'http:')), peer.accept()]);
    expect(answer.url.startsWith('ws:')).toBe(true);
    expect(answer.extensions).toContain('permessage-deflate');
    const text = 'compressible '.repeat(5000);
    await adapter.write(MessageType.Text, text);
    expect((await connection.receive()).data).toBe(text);
  });

  it('follows redirects only when asked', async () => {
    const { peer, url } = await startPeer();
    const redirector: HttpServer = createHttpServer((_req, res) => {
      res.writeHead(302, { location: url }).end();
    });
    redirector.on('upgrade', (_req, socket) => {
      socket.end(`HTTP/1.1 302 Found\r\nLocation: ${url}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    });
    await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => redirector.close(() => resolve())));
    const from = `ws://127.0.0.1:${(redirector.address() as { port: number }).port}/`;

    const refused = (await rejection(adapterFor().dial(from))) as HandshakeError;
    expect(refused).toBeInstanceOf(HandshakeError);
    expect(refused.status).toBe(302);
    expect(refused.headers['location']).toBe(url);

    const following = adapterFor({ followRedirects: true });
    const [answer] = await Promise.all([following.dial(from), peer.accept()]);
    expect(answer.url).toBe(url);
    expect(answer.status).toBe(101);
  });
});

describe('ws adapter: backpressure', () => {
  it('makes write wait while more than writeHighWaterMark bytes are buffered', async () => {
    const highWater = 64 * 1024;
    const { adapter, connection } = await openPair({ writeHighWaterMark: highWater });
    const ws = adapter.underlying()!;
    // The server stops reading: its kernel buffer fills, then ours, then ws buffers in memory.
    connection.ws.pause();
    const chunk = new Uint8Array(256 * 1024).fill(7);
    let sent = 0;
    while (ws.bufferedAmount <= highWater) {
      await adapter.write(MessageType.Binary, chunk);
      sent++;
      expect(sent, 'the socket never filled up').toBeLessThan(400);
    }
    const buffered = ws.bufferedAmount;
    let resolved = false;
    const blocked = adapter.write(MessageType.Binary, chunk).then(() => {
      resolved = true;
    });
    const controller = new AbortController();
    const abandoned = adapter.write(MessageType.Text, 'never sent', { signal: controller.signal });
    await ioTurn();
    // Neither write was handed to ws: nothing was added to what is buffered.
    expect(resolved).toBe(false);
    expect(ws.bufferedAmount).toBeLessThanOrEqual(buffered);
    const reason = new Error('gave up waiting');
    controller.abort(reason);
    expect(await rejection(abandoned)).toBe(reason);

    connection.ws.resume();
    await blocked;
    expect(resolved).toBe(true);
    await adapter.write(MessageType.Text, 'last');
    for (let i = 0; i < sent + 1; i++) {
      const message = await connection.receive();
      expect(message.type).toBe(MessageType.Binary);
      expect((message.data as Uint8Array).byteLength).toBe(chunk.byteLength);
    }
    // The aborted write never went out: the next message is the one written after it.
    expect(await connection.receive()).toEqual({ type: MessageType.Text, data: 'last' });
  });

  it('pauses the socket when unread messages pile up, and resumes as they are read', async () => {
    const { adapter, connection } = await openPair({ readQueue: { messages: 8 } });
    const ws = adapter.underlying()!;
    const total = 64;
    const size = 64 * 1024;
    let arrived = 0;
    let arrivedWhenPaused = -1;
    const paused = new Promise<void>((resolve) => {
      ws.on('message', () => {
        arrived++;
        if (ws.isPaused && arrivedWhenPaused < 0) {
          arrivedWhenPaused = arrived;
          resolve();
        }
      });
    });
    // 4 MiB in all: more than the loopback buffers take at once, so the server must wait for us.
    const sends = Array.from({ length: total }, (_, i) =>
      connection.send(MessageType.Binary, new Uint8Array(size).fill(i & 0xff)),
    );
    await paused;
    expect(arrivedWhenPaused).toBe(8);
    await ioTurn();
    // Paused means the socket is not read: at most the rest of the chunk being parsed (64 KiB
    // reads) arrives after the mark, instead of all 64 messages.
    expect(ws.isPaused).toBe(true);
    expect(arrived).toBeLessThanOrEqual(10);
    for (let i = 0; i < total; i++) {
      const message = await adapter.read();
      expect(message.type).toBe(MessageType.Binary);
      expect((message.data as Uint8Array)[0]).toBe(i & 0xff);
      expect((message.data as Uint8Array).byteLength).toBe(size);
    }
    await Promise.all(sends);
    expect(arrived).toBe(total);
    expect(ws.isPaused).toBe(false);
  });

  it('pauses on the byte mark too', async () => {
    const { adapter, connection } = await openPair({ readQueue: { bytes: 100_000 } });
    const ws = adapter.underlying()!;
    const paused = new Promise<void>((resolve) => {
      ws.on('message', () => {
        if (ws.isPaused) resolve();
      });
    });
    const sends = Array.from({ length: 40 }, () => connection.send(MessageType.Binary, new Uint8Array(60_000)));
    await paused;
    expect(ws.isPaused).toBe(true);
    for (let i = 0; i < 40; i++) await adapter.read();
    await Promise.all(sends);
    expect(ws.isPaused).toBe(false);
  });
});

describe('ws adapter: ping, close and limits', () => {
  it('resolves pings with their pongs while messages queue unread', async () => {
    const { adapter, connection } = await openPair();
    await connection.send(MessageType.Text, 'unread');
    await Promise.all([adapter.ping(), adapter.ping()]);
    expect(await adapter.read()).toEqual({ type: MessageType.Text, data: 'unread' });
  });

  it('terminates after closeTimeout when the server never answers the close frame', async () => {
    const mute = await startRawWebSocketServer();
    const adapter = adapterFor({ closeTimeout: 100 });
    await adapter.dial(`ws://127.0.0.1:${mute.port}/`);
    const pending = rejection(adapter.ping());
    await adapter.close(4100, 'bye');
    const socket = mute.sockets[0]!;
    if (!socket.destroyed) await once(socket, 'close');
    // Our close frame went out (RFC 6455 section 5.5.1: 2-byte code, then the reason).
    const frames = controlFrames(mute.received());
    expect(frames.map((f) => f.opcode)).toEqual([0x9, 0x8]);
    const frame = frames[1]!;
    expect(frame.payload.readUInt16BE(0)).toBe(4100);
    expect(frame.payload.subarray(2).toString()).toBe('bye');
    expect(await pending).toBeInstanceOf(ConnectionClosedError);
    const readError = (await rejection(adapter.read())) as WebSocketCloseError;
    expect(readError).toBeInstanceOf(WebSocketCloseError);
    expect(readError.code).toBe(4100);
    expect(adapter.underlying()).toBeUndefined();
  });

  it('takes a pong for the latest ping as the answer to earlier ones too (RFC 6455 section 5.5.3)', async () => {
    let answered = false;
    const raw = await startRawWebSocketServer({
      onData: (received, socket) => {
        const pings = controlFrames(received).filter((frame) => frame.opcode === 0x9);
        if (pings.length === 2 && !answered) {
          answered = true;
          socket.write(serverFrame(0xa, pings[1]!.payload));
        }
      },
    });
    const adapter = adapterFor({ closeTimeout: 100 });
    await adapter.dial(`ws://127.0.0.1:${raw.port}/`);
    await Promise.all([adapter.ping(), adapter.ping()]);
    const payloads = controlFrames(raw.received()).map((frame) => frame.payload.toString('hex'));
    // Each ping carried its own payload.
    expect(new Set(payloads).size).toBe(2);
  });

  it('reports the handshake headers with lower-case names, repeated ones joined', async () => {
    const raw = await startRawWebSocketServer({ extraHeaders: ['X-Dup: a', 'X-Dup: b', 'X-Case: Value'] });
    const adapter = adapterFor({ closeTimeout: 100 });
    const answer = await adapter.dial(`ws://127.0.0.1:${raw.port}/`);
    expect(answer.headers['x-dup']).toBe('a, b');
    expect(answer.headers['x-case']).toBe('Value');
    expect(answer.headers['sec-websocket-accept']).toBeDefined();
    expect(answer.protocol).toBe('');
    expect(answer.extensions).toBe('');
  });

  it('closes with 1007 when a text message is not UTF-8', async () => {
    const raw = await startRawWebSocketServer({
      afterUpgrade: (socket) => socket.write(serverFrame(0x1, Buffer.from([0x68, 0xff, 0xfe]))),
    });
    const adapter = adapterFor({ closeTimeout: 100 });
    await adapter.dial(`ws://127.0.0.1:${raw.port}/`);
    const error = (await rejection(adapter.read())) as WebSocketCloseError;
    expect(error).toBeInstanceOf(WebSocketCloseError);
    expect(error.code).toBe(1007);
    expect(error.wasClean).toBe(false);
  });

  it('bounds a closing handshake the server started but never finished by closeTimeout', async () => {
    const reason = Buffer.from('server leaving');
    const raw = await startRawWebSocketServer({
      // A close frame, then silence: the TCP connection is never closed from the server side.
      afterUpgrade: (socket) =>
        socket.write(serverFrame(0x8, Buffer.concat([Buffer.from([0x0f, 0xa0]), reason]))),
    });
    const adapter = adapterFor({ closeTimeout: 100 });
    await adapter.dial(`ws://127.0.0.1:${raw.port}/`);
    const error = (await rejection(adapter.read())) as WebSocketCloseError;
    expect(error.code).toBe(4000);
    expect(error.reason).toBe('server leaving');
    // The client echoed the close frame (RFC 6455 section 5.5.1) before giving up on the TCP close.
    const echoed = controlFrames(raw.received()).find((frame) => frame.opcode === 0x8);
    expect(echoed?.payload.readUInt16BE(0)).toBe(4000);
  });

  it('stops waiting for the close frame when the close signal aborts, then terminates', async () => {
    const raw = await startRawWebSocketServer();
    // A close timeout far beyond the test timeout: only the signal can end the wait.
    const adapter = adapterFor({ closeTimeout: 600_000 });
    await adapter.dial(`ws://127.0.0.1:${raw.port}/`);
    const controller = new AbortController();
    const closing = adapter.close(1000, 'enough', { signal: controller.signal });
    controller.abort(new Error('shutting down'));
    await closing;
    const socket = raw.sockets[0]!;
    if (!socket.destroyed) await once(socket, 'close');
    expect(controlFrames(raw.received())[0]?.opcode).toBe(0x8);
    expect(adapter.underlying()).toBeUndefined();
    expect(await rejection(adapter.close())).toBeInstanceOf(ConnectionClosedError);
  });

  it('drops unread messages on a local close, and rejects the reads pending then', async () => {
    const { adapter, connection } = await openPair();
    await connection.send(MessageType.Text, 'one');
    await connection.send(MessageType.Text, 'two');
    expect(await adapter.read()).toEqual({ type: MessageType.Text, data: 'one' });
    await adapter.ping(); // 'two' has arrived and waits unread
    const closed = adapter.close(4001, 'local');
    // A read made while closing does not get 'two': it rejects once the close completed.
    const during = rejection(adapter.read());
    await closed;
    for (const error of [await during, await rejection(adapter.read())] as WebSocketCloseError[]) {
      expect(error).toBeInstanceOf(WebSocketCloseError);
      expect([error.code, error.reason]).toEqual([4001, 'local']);
    }
  });

  it('rejects a pending ping with ConnectionClosedError when closed locally', async () => {
    const { adapter, connection } = await openPair();
    connection.ignorePings(true);
    const pending = rejection(adapter.ping());
    await adapter.close(1000, '');
    expect(await pending).toBeInstanceOf(ConnectionClosedError);
  });

  it('closes with 1009 when a message exceeds maxPayload', async () => {
    const { adapter, connection } = await openPair({ maxPayload: 1024 });
    await connection.send(MessageType.Binary, new Uint8Array(2048));
    const error = (await rejection(adapter.read())) as WebSocketCloseError;
    expect(error).toBeInstanceOf(WebSocketCloseError);
    expect(error.code).toBe(1009);
    expect(error.wasClean).toBe(false);
    expect((error.cause as { code?: string }).code).toBe('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
    // The server got our close frame with 1009 (RFC 6455 section 7.4.1).
    expect((await connection.closed).code).toBe(1009);
  });

  it('reports 1005 when the close frame carries no code', async () => {
    const { adapter, connection } = await openPair();
    connection.ws.close();
    const error = (await rejection(adapter.read())) as WebSocketCloseError;
    expect(error.code).toBe(1005);
    expect(error.reason).toBe('');
    expect(((await rejection(adapter.read())) as WebSocketCloseError).code).toBe(1005);
  });

  it('closes the previous connection with 1000 when dialled again', async () => {
    const { adapter, peer, connection, url } = await openPair();
    const [, second] = await Promise.all([adapter.dial(url), peer.accept()]);
    expect(await connection.closed).toEqual({ code: 1000, reason: '' });
    await second.send(MessageType.Text, 'second');
    expect(await adapter.read()).toEqual({ type: MessageType.Text, data: 'second' });
  });
});

describe('ws adapter: wss with a self-signed certificate', () => {
  let dir: string;
  let cert: string;
  let key: string;

  beforeAll(() => {
    // The TLS tests need openssl to make a certificate; without it they fail, never skip.
    execFileSync('openssl', ['version'], { stdio: 'pipe' });
    dir = mkdtempSync(join(tmpdir(), 'wsengine-tls-'));
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
        '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ],
      { stdio: 'pipe' },
    );
    cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    key = readFileSync(join(dir, 'key.pem'), 'utf8');
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('connects when the certificate is trusted through ca', async () => {
    const { peer, url } = await startPeer({ tls: { key, cert } });
    expect(url.startsWith('wss://127.0.0.1:')).toBe(true);
    const adapter = adapterFor({ tls: { ca: cert } });
    const [answer, connection] = await Promise.all([adapter.dial(url), peer.accept()]);
    expect(answer.status).toBe(101);
    await adapter.write(MessageType.Text, 'over tls');
    expect(await connection.receive()).toEqual({ type: MessageType.Text, data: 'over tls' });
    await connection.send(MessageType.Binary, new Uint8Array([1, 2, 3]));
    const message = await adapter.read();
    expect([...(message.data as Uint8Array)]).toEqual([1, 2, 3]);
    await adapter.ping();
    await adapter.close(1000, 'done');
    expect(await connection.closed).toEqual({ code: 1000, reason: 'done' });
  });

  it('checks the name against servername', async () => {
    const { peer, url } = await startPeer({ tls: { key, cert } });
    const good = adapterFor({ tls: { ca: cert, servername: 'localhost' } });
    await Promise.all([good.dial(url), peer.accept()]);
    const wrong = adapterFor({ tls: { ca: cert, servername: 'feed.example' } });
    const error = (await rejection(wrong.dial(url))) as HandshakeError;
    expect(error).toBeInstanceOf(HandshakeError);
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('refuses an untrusted certificate with HandshakeError, unless rejectUnauthorized is off', async () => {
    const { peer, url } = await startPeer({ tls: { key, cert } });
    const strict = adapterFor();
    const error = (await rejection(strict.dial(url))) as HandshakeError;
    expect(error).toBeInstanceOf(HandshakeError);
    expect(error.status).toBeUndefined();
    expect((error.cause as NodeJS.ErrnoException).code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    const lax = adapterFor({ tls: { rejectUnauthorized: false } });
    const [answer] = await Promise.all([lax.dial(url), peer.accept()]);
    expect(answer.status).toBe(101);
  });

  it('reports 1006 when a TLS connection drops', async () => {
    const { peer, url } = await startPeer({ tls: { key, cert } });
    const adapter = adapterFor({ tls: { ca: cert } });
    const [, connection] = await Promise.all([adapter.dial(url), peer.accept()]);
    const pending = rejection(adapter.read());
    connection.drop();
    const error = (await pending) as WebSocketCloseError;
    expect(error.code).toBe(1006);
    expect(error.wasClean).toBe(false);
  });
});

describe('ws adapter: bad input', () => {
  it('refuses URLs with bad schemes or syntax', async () => {
    const adapter = adapterFor();
    for (const bad of ['ftp://127.0.0.1/', 'file:///etc/passwd', 'javascript:alert(1)', '', 'ws://', '127.0.0.1:80', 'ws://127.0.0.1/#x']) {
      const error = await rejection(adapter.dial(bad));
      expect(error, bad).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).code).toBe('ERR_INVALID_ARGUMENT');
    }
  });

  it('refuses bad subprotocols and header values before connecting', async () => {
    const { url } = await startPeer();
    const adapter = adapterFor();
    const badProtocols = [['a b'], ['dup', 'dup'], ['']];
    for (const protocols of badProtocols) {
      expect(await rejection(adapter.dial(url, { protocols })), protocols.join()).toBeInstanceOf(InvalidArgumentError);
    }
    expect(await rejection(adapter.dial(url, { headers: { 'x-bad': 'a\r\nb' } }))).toBeInstanceOf(InvalidArgumentError);
    expect(await rejection(adapter.dial(url, { headers: { 'bad name': 'x' } }))).toBeInstanceOf(InvalidArgumentError);
  });

  it('refuses invalid close codes and long reasons, and stays open', async () => {
    const { adapter, connection } = await openPair();
    for (const code of [0, 999, 1005, 1006, 1015, 5000]) {
      const error = await rejection(adapter.close(code));
      expect(error, String(code)).toBeInstanceOf(InvalidArgumentError);
      expect((error as Error).message, String(code)).toContain(String(code));
    }
    const long = await rejection(adapter.close(1000, 'é'.repeat(62)));
    expect(long).toBeInstanceOf(InvalidArgumentError);
    expect((long as Error).message).toContain('124');
    await adapter.write(MessageType.Text, 'still open');
    expect(await connection.receive()).toEqual({ type: MessageType.Text, data: 'still open' });
  });

  it('refuses writes of a number, an object, null, or a bad type', async () => {
    const { adapter, connection } = await openPair();
    const bad: Array<[unknown, unknown]> = [
      [MessageType.Text, 42],
      [MessageType.Binary, { bytes: [1] }],
      [MessageType.Binary, null],
      [MessageType.Text, undefined],
      [9, 'text'],
    ];
    for (const [type, data] of bad) {
      const error = await rejection(adapter.write(type as MessageType, data as string));
      expect(error, `${String(type)}/${String(data)}`).toBeInstanceOf(InvalidArgumentError);
    }
    await adapter.write(MessageType.Text, 'fine');
    expect(await connection.receive()).toEqual({ type: MessageType.Text, data: 'fine' });
  });

  it('refuses a dial while dialling with InvalidStateError', async () => {
    const { peer, url } = await startPeer();
    const adapter = adapterFor();
    const first = adapter.dial(url);
    const second = await rejection(adapter.dial(url));
    expect(second).toBeInstanceOf(InvalidStateError);
    expect((second as InvalidStateError).code).toBe('ERR_INVALID_STATE');
    await Promise.all([first, peer.accept()]);
  });

  it('rejects every operation after a remote close, with no unhandled rejection', async () => {
    const { adapter, connection } = await openPair();
    await connection.close(4000, 'server done');
    const error = (await rejection(adapter.read())) as WebSocketCloseError;
    expect(error.code).toBe(4000);
    expect(await rejection(adapter.write(MessageType.Text, 'x'))).toBeInstanceOf(ConnectionClosedError);
    expect(await rejection(adapter.ping())).toBeInstanceOf(ConnectionClosedError);
    expect(await rejection(adapter.close())).toBeInstanceOf(ConnectionClosedError);
    expect(adapter.underlying()).toBeUndefined();
  });
});
