/**
 * What the browser adapter does beyond the shared contract: close-code mapping, backpressure
 * through bufferedAmount, binaryType, the bounded read queue, and refusing bad input. On Node
 * through undici's WHATWG WebSocket, against a real `ws` server on 127.0.0.1.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { WebSocket } from 'undici';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  BrowserAdapter,
  createBrowserAdapter,
  isBrowserSendableCode,
  mapCloseCode,
  type BrowserAdapterOptions,
  type WhatwgWebSocket,
} from '../../src/adapters/browser.js';
import {
  ConnectionClosedError,
  HandshakeError,
  InvalidArgumentError,
  InvalidOptionError,
  UnsupportedOperationError,
  WebSocketCloseError,
} from '../../src/adapters/errors.js';
import { MessageType } from '../../src/adapters/types.js';
import { createEngine, HeartbeatTimeoutError, type Engine } from '../../src/engine/index.js';
import { createWsPeer, type WsPeer, type WsPeerConnection } from '../../src/testing/ws-peer.js';
import { rejection } from '../../src/testing/rejection.js';

// undici's WHATWG WebSocket: the constructor a Node 20 user passes.
const UndiciWebSocket = WebSocket;

let peer: WsPeer;
let url: string;
const adapters: BrowserAdapter[] = [];
const servers: Server[] = [];
const engines: Engine[] = [];
const serverSockets: Socket[] = [];

function adapterWith(options: Omit<BrowserAdapterOptions, 'WebSocket'> = {}): BrowserAdapter {
  const adapter = createBrowserAdapter({ WebSocket: UndiciWebSocket, ...options });
  adapters.push(adapter);
  return adapter;
}

async function open(adapter: BrowserAdapter): Promise<WsPeerConnection> {
  const [, connection] = await Promise.all([adapter.dial(url), peer.accept()]);
  return connection;
}

/** A TCP server on loopback that accepts connections and never answers: a handshake that hangs. */
async function silentServer(): Promise<{ url: string; connected: Promise<Socket> }> {
  let onSocket!: (socket: Socket) => void;
  const connected = new Promise<Socket>((resolve) => (onSocket = resolve));
  const server = createServer((socket) => {
    socket.on('error', () => {});
    serverSockets.push(socket);
    onSocket(socket);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return { url: `ws://127.0.0.1:${address.port}/`, connected };
}

beforeEach(async () => {
  peer = createWsPeer();
  url = await peer.start();
});

afterEach(async () => {
  vi.unstubAllGlobals();
  for (const engine of engines.splice(0)) await engine.stop();
  for (const adapter of adapters.splice(0)) await adapter.close().catch(() => {});
  await peer.stop();
  for (const socket of serverSockets.splice(0)) socket.destroy();
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

describe('options', () => {
  it('refuses bad options at construction, naming the option', () => {
    const bad: Array<[BrowserAdapterOptions, string]> = [
      [{ writeHighWaterMark: -1 }, 'writeHighWaterMark'],
      [{ writeHighWaterMark: 1.5 }, 'writeHighWaterMark'],
      [{ drainPollInterval: 0 }, 'drainPollInterval'],
      [{ closeTimeout: Number.NaN }, 'closeTimeout'],
      [{ readQueue: { messages: 0 } }, 'readQueue.messages'],
      [{ readQueue: { bytes: -5 } }, 'readQueue.bytes'],
      [{ readQueue: { overflow: 'drop' as 'close' } }, 'readQueue.overflow'],
      [{ closeCodeMapping: 'drop' as 'offset' }, 'closeCodeMapping'],
      [{ requestHeaders: 'send' as 'reject' }, 'requestHeaders'],
    ];
    for (const [options, name] of bad) {
      expect(() => createBrowserAdapter({ WebSocket: UndiciWebSocket, ...options }), name).toThrow(InvalidOptionError);
      expect(() => createBrowserAdapter({ WebSocket: UndiciWebSocket, ...options }), name).toThrow(`option ${name}:`);
    }
  });

  it('needs a constructor where the runtime has no global WebSocket', () => {
    vi.stubGlobal('WebSocket', undefined);
    expect(() => createBrowserAdapter()).toThrow(/option WebSocket/);
  });

  it('uses globalThis.WebSocket by default', async () => {
    vi.stubGlobal('WebSocket', WebSocket);
    const adapter = createBrowserAdapter();
    adapters.push(adapter);
    const [answer] = await Promise.all([adapter.dial(url), peer.accept()]);
    expect(adapter.underlying()).toBeInstanceOf(WebSocket);
    expect(answer).toEqual({ url, status: undefined, headers: {}, protocol: '', extensions: '' });
  });
});

describe('close code mapping', () => {
  it('knows which codes a WHATWG WebSocket may send', () => {
    for (const code of [1000, 3000, 4001, 4999]) expect(isBrowserSendableCode(code), String(code)).toBe(true);
    for (const code of [1001, 1011, 2999, 5000, 4000.5]) expect(isBrowserSendableCode(code), String(code)).toBe(false);
    expect(mapCloseCode(1000)).toBe(1000);
    expect(mapCloseCode(3123)).toBe(3123);
    expect(mapCloseCode(1001)).toBe(4001);
    expect(mapCloseCode(1014)).toBe(4014);
    expect(mapCloseCode(1008, 'normal')).toBe(1000);
    expect(mapCloseCode(4500, 'normal')).toBe(4500);
  });

  it("sends 1001-1014 as 4001-4014 by default ('offset'), keeping the reason", async () => {
    const adapter = adapterWith();
    const connection = await open(adapter);
    await adapter.close(1001, 'page hidden');
    expect(await connection.closed).toEqual({ code: 4001, reason: 'page hidden' });
    // Local readers see the code that was asked for, not the wire code.
    const error = await rejection(adapter.read());
    expect(error).toBeInstanceOf(WebSocketCloseError);
    expect((error as WebSocketCloseError).code).toBe(1001);
  });

  it("sends them as 1000 with 'normal'", async () => {
    const adapter = adapterWith({ closeCodeMapping: 'normal' });
    const connection = await open(adapter);
    await adapter.close(1011, 'client bug');
    expect(await connection.closed).toEqual({ code: 1000, reason: 'client bug' });
  });

  it('sends what a mapping function returns', async () => {
    const adapter = adapterWith({ closeCodeMapping: (code) => 3000 + (code - 1000) });
    const connection = await open(adapter);
    await adapter.close(1008, 'policy');
    expect(await connection.closed).toEqual({ code: 3008, reason: 'policy' });
  });

  it('refuses a mapping function that returns a code the browser refuses, without closing', async () => {
    const adapter = adapterWith({ closeCodeMapping: (code) => code });
    const connection = await open(adapter);
    const error = await rejection(adapter.close(1002));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toMatch(/closeCodeMapping/);
    await adapter.write(MessageType.Text, 'still open');
    expect(await connection.receive()).toEqual({ type: MessageType.Text, data: 'still open' });
  });
});

describe('backpressure through bufferedAmount', () => {
  /** Records bufferedAmount at each send() of the underlying socket. */
  function recordSends(socket: WhatwgWebSocket): number[] {
    const seen: number[] = [];
    const send = socket.send.bind(socket);
    socket.send = (data) => {
      seen.push(socket.bufferedAmount);
      send(data);
    };
    return seen;
  }

  it('waits while bufferedAmount is above the high-water mark, and sends in call order', async () => {
    const highWaterMark = 64 * 1024;
    const adapter = adapterWith({ writeHighWaterMark: highWaterMark });
    const connection = await open(adapter);
    const socket = adapter.underlying()!;
    const seen = recordSends(socket);
    // The server stops reading: TCP fills up and bufferedAmount stays high.
    connection.ws.pause();
    const big = new Uint8Array(32 * 1024 * 1024).fill(7);
    await adapter.write(MessageType.Binary, big);
    expect(socket.bufferedAmount).toBeGreaterThan(highWaterMark);

    let secondDone = false;
    const second = adapter.write(MessageType.Text, 'second').then(() => (secondDone = true));
    const controller = new AbortController();
    const third = adapter.write(MessageType.Text, 'third (aborted)', { signal: controller.signal });
    const fourth = adapter.write(MessageType.Text, 'fourth');
    // Aborting a write that waits for the buffer to drain removes it: it is never sent.
    const reason = new Error('write aborted while waiting');
    controller.abort(reason);
    expect(await rejection(third)).toBe(reason);
    expect(secondDone).toBe(false);
    expect(seen).toHaveLength(1);

    connection.ws.resume();
    await Promise.all([second, fourth]);
    // Every send happened at or below the mark; the first found an empty buffer.
    expect(seen).toHaveLength(3);
    expect(seen[0]).toBe(0);
    for (const amount of seen) expect(amount).toBeLessThanOrEqual(highWaterMark);
    const received = await connection.receive();
    expect(received.type).toBe(MessageType.Binary);
    expect((received.data as Uint8Array).byteLength).toBe(big.byteLength);
    expect(await connection.receive()).toEqual({ type: MessageType.Text, data: 'second' });
    expect(await connection.receive()).toEqual({ type: MessageType.Text, data: 'fourth' });
  });

  it('keeps many waiting writes whole and in order with a zero high-water mark', async () => {
    const adapter = adapterWith({ writeHighWaterMark: 0, drainPollInterval: 1 });
    const connection = await open(adapter);
    const sent = Array.from({ length: 60 }, (_, i) =>
      i % 2 === 0 ? `text ${i} ${'x'.repeat(i * 500)}` : new Uint8Array(i * 700).fill(i),
    );
    await Promise.all(
      sent.map((data) => adapter.write(typeof data === 'string' ? MessageType.Text : MessageType.Binary, data)),
    );
    for (const data of sent) {
      const message = await connection.receive();
      if (typeof data === 'string') expect(message).toEqual({ type: MessageType.Text, data });
      else {
        expect(message.type).toBe(MessageType.Binary);
        expect(Buffer.from(message.data as Uint8Array).equals(Buffer.from(data))).toBe(true);
      }
    }
  });

  it('fails waiting writes with ConnectionClosedError when closed', async () => {
    const adapter = adapterWith({ writeHighWaterMark: 1024, closeTimeout: 1 });
    const connection = await open(adapter);
    connection.ws.pause();
    await adapter.write(MessageType.Binary, new Uint8Array(16 * 1024 * 1024));
    const waiting = adapter.write(MessageType.Text, 'never');
    const closed = adapter.close(1000, 'bye');
    expect(await rejection(waiting)).toBeInstanceOf(ConnectionClosedError);
    await closed;
    connection.ws.resume();
  });
});

describe('reads', () => {
  it("sets binaryType to 'arraybuffer' and returns binary messages as plain Uint8Array", async () => {
    const adapter = adapterWith();
    const connection = await open(adapter);
    expect(adapter.underlying()!.binaryType).toBe('arraybuffer');
    await connection.send(MessageType.Binary, new Uint8Array([1, 2, 3, 250]));
    const message = await adapter.read();
    expect(message.type).toBe(MessageType.Binary);
    expect(Object.getPrototypeOf(message.data)).toBe(Uint8Array.prototype);
    expect([...(message.data as Uint8Array)]).toEqual([1, 2, 3, 250]);
  });

  it('reports a close frame without a code as 1005', async () => {
    const adapter = adapterWith();
    const connection = await open(adapter);
    connection.ws.close();
    const error = await rejection(adapter.read());
    expect(error).toBeInstanceOf(WebSocketCloseError);
    expect((error as WebSocketCloseError).code).toBe(1005);
    expect((error as WebSocketCloseError).wasClean).toBe(true);
  });

  it("closes with 1009 when unread messages overflow the queue ('close'), after delivering what was queued", async () => {
    const adapter = adapterWith({ readQueue: { messages: 3 } });
    const connection = await open(adapter);
    for (let i = 0; i < 6; i++) await connection.send(MessageType.Text, `m${i}`);
    expect(await connection.closed).toEqual({ code: 4009, reason: 'read queue overflow' });
    for (let i = 0; i < 3; i++) expect(await adapter.read()).toEqual({ type: MessageType.Text, data: `m${i}` });
    const error = await rejection(adapter.read());
    expect(error).toBeInstanceOf(WebSocketCloseError);
    expect((error as WebSocketCloseError).code).toBe(1009);
  });

  it('closes an overflowing queue with 1000 when the mapping function refuses 1009', async () => {
    const adapter = adapterWith({ readQueue: { bytes: 8 }, closeCodeMapping: (code) => code });
    const connection = await open(adapter);
    await connection.send(MessageType.Binary, new Uint8Array(16));
    expect(await connection.closed).toEqual({ code: 1000, reason: 'read queue overflow' });
    expect((await adapter.read()).type).toBe(MessageType.Binary);
    expect(((await rejection(adapter.read())) as WebSocketCloseError).code).toBe(1009);
  });

  it("keeps queueing past the marks with overflow 'buffer'", async () => {
    const adapter = adapterWith({ readQueue: { messages: 3, bytes: 10, overflow: 'buffer' } });
    const connection = await open(adapter);
    for (let i = 0; i < 10; i++) await connection.send(MessageType.Text, `message ${i}`);
    for (let i = 0; i < 10; i++) expect(await adapter.read()).toEqual({ type: MessageType.Text, data: `message ${i}` });
    await adapter.write(MessageType.Text, 'still open');
    expect(await connection.receive()).toEqual({ type: MessageType.Text, data: 'still open' });
  });
});

describe('dial', () => {
  it('refuses request headers by default, since a WHATWG WebSocket cannot send them', async () => {
    const adapter = adapterWith();
    const error = await rejection(adapter.dial(url, { headers: { Authorization: 'Bearer t' } }));
    expect(error).toBeInstanceOf(UnsupportedOperationError);
    expect((error as Error).message).toMatch(/Authorization/);
    expect(adapter.underlying()).toBeUndefined();
    // An empty header set is not a request for headers.
    await Promise.all([adapter.dial(url, { headers: {} }), peer.accept()]);
  });

  it("dials without them with requestHeaders: 'ignore'", async () => {
    const adapter = adapterWith({ requestHeaders: 'ignore' });
    const [, connection] = await Promise.all([adapter.dial(url, { headers: { 'X-Token': 't' } }), peer.accept()]);
    expect(connection.requestHeaders['x-token']).toBeUndefined();
  });

  it('refuses subprotocols the WHATWG constructor refuses', async () => {
    const adapter = adapterWith();
    for (const protocols of [['has space'], ['dup', 'dup'], [''], [42 as unknown as string]]) {
      expect(await rejection(adapter.dial(url, { protocols })), JSON.stringify(protocols)).toBeInstanceOf(
        InvalidArgumentError,
      );
    }
  });

  it('rejects with HandshakeError, status unknown, when nothing listens', async () => {
    const { url: closedUrl } = await silentServer();
    const server = servers.pop()!;
    await new Promise((resolve) => server.close(resolve));
    const adapter = adapterWith();
    const error = await rejection(adapter.dial(closedUrl));
    expect(error).toBeInstanceOf(HandshakeError);
    expect((error as HandshakeError).status).toBeUndefined();
    expect(adapter.underlying()).toBeUndefined();
  });

  it('abandons a hanging handshake when the signal aborts', async () => {
    const silent = await silentServer();
    const adapter = adapterWith();
    const controller = new AbortController();
    const dialled = adapter.dial(silent.url, { signal: controller.signal });
    const socket = await silent.connected;
    const socketClosed = new Promise((resolve) => socket.once('close', resolve));
    const reason = new Error('dial aborted mid-handshake');
    controller.abort(reason);
    expect(await rejection(dialled)).toBe(reason);
    await socketClosed;
    expect(await rejection(adapter.read())).toBeInstanceOf(ConnectionClosedError);
  });

  it('abandons a pending dial when closed', async () => {
    const silent = await silentServer();
    const adapter = adapterWith();
    const dialled = adapter.dial(silent.url);
    await silent.connected;
    // The socket being dialled is already there for those who need it.
    expect(adapter.underlying()).toBeInstanceOf(WebSocket);
    await adapter.close();
    expect(await rejection(dialled)).toBeInstanceOf(ConnectionClosedError);
    // The adapter dials again normally afterwards.
    await open(adapter);
  });
});

describe('close', () => {
  it('resolves after closeTimeout when the server does not answer the close frame', async () => {
    const adapter = adapterWith({ closeTimeout: 20 });
    const connection = await open(adapter);
    connection.ws.pause();
    let serverSawClose = false;
    void connection.closed.then(() => (serverSawClose = true));
    await adapter.close(1000, 'timed out');
    expect(serverSawClose).toBe(false);
    expect(await rejection(adapter.close())).toBeInstanceOf(ConnectionClosedError);
    connection.ws.resume();
    expect(await connection.closed).toEqual({ code: 1000, reason: 'timed out' });
  });

  it('stops waiting for the closing handshake when the signal aborts, and still closes', async () => {
    const adapter = adapterWith({ closeTimeout: 60_000 });
    const connection = await open(adapter);
    connection.ws.pause();
    const controller = new AbortController();
    const closing = adapter.close(4100, 'x', { signal: controller.signal });
    controller.abort(new Error('no more waiting'));
    await closing;
    expect(await rejection(adapter.write(MessageType.Text, 'late'))).toBeInstanceOf(ConnectionClosedError);
    connection.ws.resume();
    expect(await connection.closed).toEqual({ code: 4100, reason: 'x' });
  });

  it('ping is unsupported in every state', async () => {
    const adapter = adapterWith();
    expect(await rejection(adapter.ping())).toBeInstanceOf(UnsupportedOperationError);
    await open(adapter);
    const error = await rejection(adapter.ping());
    expect(error).toBeInstanceOf(UnsupportedOperationError);
    expect((error as UnsupportedOperationError).code).toBe('ERR_UNSUPPORTED_OPERATION');
  });
});

describe('with the engine', () => {
  it('falls back to the application-level heartbeat, which detects a dead connection; the engine replaces it', async () => {
    const engine = createEngine({
      url,
      adapter: () => createBrowserAdapter({ WebSocket: UndiciWebSocket }),
      reconnect: { minDelay: 10, maxDelay: 50, jitter: 0 },
      // Mode 'auto': ping frames first; the adapter refuses them, so the engine sends 'hb' messages.
      heartbeat: {
        interval: 50,
        timeout: 1000,
        message: { type: MessageType.Text, data: 'hb' },
        isPong: (message) => message.data === 'hb',
      },
    });
    engines.push(engine);
    const timeouts: unknown[] = [];
    engine.on('heartbeat-timeout', (error) => timeouts.push(error));
    const started = engine.start();
    const first = await peer.accept();
    await started;

    // The server answers probes (by echoing them) until it goes silent; TCP stays up.
    let alive = true;
    const answered = new Promise((resolve) => engine.once('pong', resolve));
    void (async () => {
      while (alive) {
        const message = await first.receive().catch(() => undefined);
        if (!message || !alive) return;
        await first.send(message.type, message.data).catch(() => {});
      }
    })();
    await answered;
    const reopened = new Promise((resolve) => engine.once('open', resolve));
    alive = false;

    const second = await peer.accept();
    await reopened;
    expect(timeouts).toHaveLength(1);
    expect(timeouts[0]).toBeInstanceOf(HeartbeatTimeoutError);
    // The engine closes a dead connection with 1001, which this adapter sends as 4001.
    expect(await first.closed).toEqual({ code: 4001, reason: 'heartbeat timeout' });
    expect(engine.metrics().heartbeatTimeouts).toBe(1);
    await engine.stop();
    expect(await second.closed).toEqual({ code: 1000, reason: '' });
  });
});
