import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { ConnectionClosedError, HandshakeError, InvalidArgumentError, TimeoutError } from '../../../src/adapters/errors.js';
import { createNativeAdapter, type NativeAdapter } from '../../../src/adapters/native/index.js';
import { rejection, startConnectProxy, startRawServer, type ConnectProxy, type RawServer } from './helpers.js';

let server: RawServer | undefined;
let adapter: NativeAdapter | undefined;

afterEach(async () => {
  // The raw server never answers a close frame: do not wait for it.
  await adapter?.close(1000, '', { signal: AbortSignal.abort() }).catch(() => {});
  adapter = undefined;
  await server?.close();
  server = undefined;
});

function answer(lines: string[]): string {
  return ['HTTP/1.1 101 Switching Protocols', ...lines, '', ''].join('\r\n');
}

describe('opening handshake (RFC 6455 section 4.1)', () => {
  it('sends the upgrade request with a fresh key, version 13, protocols and custom headers', async () => {
    server = await startRawServer();
    adapter = createNativeAdapter();
    const [response, connection] = await Promise.all([
      adapter.dial(new URL('/path?q=1', server.url), { protocols: ['a', 'b'], headers: { 'X-Token': 'secret', 'X-Many': ['1', '2'] } }),
      server.accept(),
    ]);
    const h = connection.request.headers;
    expect(connection.request.url).toBe('/path?q=1');
    expect(h['upgrade']).toBe('websocket');
    expect(h['connection']).toMatch(/upgrade/i);
    expect(h['sec-websocket-version']).toBe('13');
    expect(Buffer.from(String(h['sec-websocket-key']), 'base64')).toHaveLength(16);
    expect(h['sec-websocket-protocol']).toBe('a, b');
    expect(h['sec-websocket-extensions']).toBeUndefined();
    expect(h['x-token']).toBe('secret');
    expect(h['x-many']).toBe('1, 2');
    expect(response.status).toBe(101);
    expect(response.protocol).toBe('');
  });

  const badAnswers: Array<[string, (accept: string) => string]> = [
    ['a wrong Sec-WebSocket-Accept', () => answer(['Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA='])],
    ['a missing Sec-WebSocket-Accept', () => answer(['Upgrade: websocket', 'Connection: Upgrade'])],
    ['an Upgrade that is not websocket', (a) => answer(['Upgrade: h2c', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${a}`])],
    ['a subprotocol that was not offered', (a) => answer(['Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${a}`, 'Sec-WebSocket-Protocol: c'])],
    ['an extension that was not offered', (a) => answer(['Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${a}`, 'Sec-WebSocket-Extensions: permessage-deflate'])],
  ];
  for (const [why, respond] of badAnswers) {
    it(`fails on ${why}`, async () => {
      server = await startRawServer((_req, accept) => respond(accept));
      adapter = createNativeAdapter();
      const error = await rejection(adapter.dial(server.url, { protocols: ['a', 'b'] }));
      expect(error).toBeInstanceOf(HandshakeError);
      expect((error as HandshakeError).status).toBe(101);
    });
  }

  it('reports a refusal with its status, headers and body', async () => {
    server = await startRawServer(() => 'HTTP/1.1 403 Forbidden\r\nX-Why: nope\r\nContent-Length: 6\r\nConnection: close\r\n\r\ndenied');
    adapter = createNativeAdapter();
    const error = (await rejection(adapter.dial(server.url))) as HandshakeError;
    expect(error).toBeInstanceOf(HandshakeError);
    expect(error.status).toBe(403);
    expect(error.headers['x-why']).toBe('nope');
    expect(error.body).toBe('denied');
  });

  it('does not follow redirects by default, and follows them when asked', async () => {
    const target = await startRawServer();
    server = await startRawServer(() => `HTTP/1.1 302 Found\r\nLocation: ${target.url.replace('ws:', 'http:')}next\r\nContent-Length: 0\r\n\r\n`);
    try {
      adapter = createNativeAdapter();
      const error = (await rejection(adapter.dial(server.url))) as HandshakeError;
      expect(error.status).toBe(302);
      const following = createNativeAdapter({ followRedirects: true });
      const [response, connection] = await Promise.all([following.dial(server.url), target.accept()]);
      expect(response.url).toBe(`${target.url}next`);
      expect(connection.request.url).toBe('/next');
      await following.close(1000, '', { signal: AbortSignal.abort() }).catch(() => {});
      const limited = createNativeAdapter({ followRedirects: true, maxRedirects: 0 });
      expect(await rejection(limited.dial(server.url))).toBeInstanceOf(HandshakeError);
    } finally {
      await target.close();
    }
  });

  it('refuses headers with CR or LF, reserved headers, and bad subprotocols before connecting', async () => {
    adapter = createNativeAdapter();
    const url = 'ws://127.0.0.1:9/';
    const bad: Array<Record<string, string>> = [{ 'X-A': 'a\r\nInjected: 1' }, { 'X-A': 'a\nb' }, { 'Bad Name': 'x' }, { 'Sec-WebSocket-Key': 'x' }, { Host: 'evil' }];
    for (const headers of bad) {
      expect(await rejection(adapter.dial(url, { headers })), JSON.stringify(headers)).toBeInstanceOf(InvalidArgumentError);
    }
    for (const protocols of [['a b'], ['a', 'a'], ['']]) {
      expect(await rejection(adapter.dial(url, { protocols })), JSON.stringify(protocols)).toBeInstanceOf(InvalidArgumentError);
    }
  });

  it('times out a server that never answers', async () => {
    server = await startRawServer(() => null);
    adapter = createNativeAdapter({ handshakeTimeout: 50 });
    expect(await rejection(adapter.dial(server.url))).toBeInstanceOf(TimeoutError);
  });

  it('aborts a handshake in progress with the signal reason', async () => {
    let requested!: () => void;
    const seen = new Promise<void>((resolve) => (requested = resolve));
    server = await startRawServer(() => {
      requested();
      return null;
    });
    adapter = createNativeAdapter();
    const controller = new AbortController();
    const dialled = adapter.dial(server.url, { signal: controller.signal });
    await seen;
    const reason = new Error('stop');
    controller.abort(reason);
    expect(await rejection(dialled)).toBe(reason);
  });

  it('reports a refused TCP connection as HandshakeError without a status', async () => {
    server = await startRawServer();
    const url = server.url;
    await server.close();
    server = undefined;
    adapter = createNativeAdapter();
    const error = (await rejection(adapter.dial(url))) as HandshakeError;
    expect(error).toBeInstanceOf(HandshakeError);
    expect(error.status).toBeUndefined();
  });

  it('validates options at construction, naming the option', () => {
    expect(() => createNativeAdapter({ maxFrameSize: -1 })).toThrow(/maxFrameSize/);
    expect(() => createNativeAdapter({ perMessageDeflate: { serverMaxWindowBits: 16 } })).toThrow(/serverMaxWindowBits/);
    expect(() => createNativeAdapter({ followRedirects: 'yes' as unknown as boolean })).toThrow(/followRedirects/);
  });
});

describe('wss: (TLS verification on by default)', () => {
  let dir: string;
  let cert: Buffer;
  let key: Buffer;
  let https: HttpsServer;
  let wss: WebSocketServer;
  let url: string;
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wsengine-tls-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=wsengine.test',
      '-addext', 'subjectAltName=DNS:wsengine.test', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    cert = readFileSync(join(dir, 'cert.pem'));
    key = readFileSync(join(dir, 'key.pem'));
    https = createHttpsServer({ cert, key });
    https.on('secureConnection', (s: Socket) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    wss = new WebSocketServer({ server: https });
    wss.on('connection', (ws) => ws.on('message', (data, binary) => ws.send(data, { binary })));
    await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
    url = `wss://127.0.0.1:${(https.address() as { port: number }).port}/`;
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    wss.close();
    await new Promise<void>((resolve) => https.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a certificate it cannot verify', async () => {
    adapter = createNativeAdapter();
    const error = (await rejection(adapter.dial(url))) as HandshakeError;
    expect(error).toBeInstanceOf(HandshakeError);
    expect(error.status).toBeUndefined();
  });

  it('refuses a trusted certificate for another name', async () => {
    adapter = createNativeAdapter({ tls: { ca: cert } });
    expect(await rejection(adapter.dial(url))).toBeInstanceOf(HandshakeError);
  });

  it('connects with the CA and the server name (SNI), and echoes', async () => {
    adapter = createNativeAdapter({ tls: { ca: cert, servername: 'wsengine.test' } });
    const response = await adapter.dial(url);
    expect(response.status).toBe(101);
    expect((adapter.underlying() as { encrypted?: boolean }).encrypted).toBe(true);
    await adapter.write(1, 'over tls');
    expect(await adapter.read()).toEqual({ type: 1, data: 'over tls' });
  });

  it('runs TLS inside a proxy tunnel, verifying the server name', async () => {
    const proxy = await startConnectProxy();
    try {
      adapter = createNativeAdapter({ tls: { ca: cert, servername: 'wsengine.test' }, proxy: proxy.url });
      await adapter.dial(url);
      expect(proxy.tunnels).toEqual([new URL(url).host]);
      await adapter.write(1, 'tls in a tunnel');
      expect(await adapter.read()).toEqual({ type: 1, data: 'tls in a tunnel' });
      await adapter.close();
      const wrongName = createNativeAdapter({ tls: { ca: cert }, proxy: proxy.url });
      expect(await rejection(wrongName.dial(url))).toBeInstanceOf(HandshakeError);
    } finally {
      await proxy.close();
    }
  });

  it('connects without verification only when told to', async () => {
    adapter = createNativeAdapter({ tls: { rejectUnauthorized: false } });
    await adapter.dial(url);
    await adapter.ping();
  });
});

describe('HTTP proxies (CONNECT tunnels)', () => {
  let proxy: ConnectProxy;
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    proxy = await startConnectProxy();
  });

  afterAll(async () => {
    process.env = savedEnv;
    await proxy.close();
  });

  afterEach(() => {
    proxy.tunnels.length = 0;
    process.env = { ...savedEnv };
  });

  it('tunnels the handshake and the connection through the proxy option', async () => {
    server = await startRawServer();
    adapter = createNativeAdapter({ proxy: proxy.url });
    const [response, connection] = await Promise.all([adapter.dial(server.url), server.accept()]);
    expect(response.status).toBe(101);
    expect(proxy.tunnels).toEqual([new URL(server.url).host]);
    connection.send(Buffer.from([0x81, 0x02, 0x68, 0x69]));
    expect(await adapter.read()).toEqual({ type: 1, data: 'hi' });
  });

  it('reports a proxy refusal with its status, and sends credentials from the proxy URL', async () => {
    server = await startRawServer();
    adapter = createNativeAdapter({ proxy: proxy.url });
    const refused = server.url.replace('127.0.0.1', '127.0.0.2');
    const error = (await rejection(adapter.dial(refused))) as HandshakeError;
    expect(error).toBeInstanceOf(HandshakeError);
    expect(error.status).toBe(407);
    const withCredentials = createNativeAdapter({ proxy: proxy.url.replace('http://', 'http://user:pass@') });
    await Promise.all([withCredentials.dial(refused), server.accept()]);
    await withCredentials.close(1000, '', { signal: AbortSignal.abort() });
  });

  it('takes the proxy from HTTP_PROXY when asked, and honours NO_PROXY', async () => {
    server = await startRawServer();
    process.env['HTTP_PROXY'] = proxy.url;
    process.env['NO_PROXY'] = 'example.com';
    adapter = createNativeAdapter({ proxyFromEnv: true });
    await Promise.all([adapter.dial(server.url), server.accept()]);
    expect(proxy.tunnels).toHaveLength(1);
    await adapter.close(1000, '', { signal: AbortSignal.abort() });

    process.env['NO_PROXY'] = 'localhost, 127.0.0.1';
    const direct = createNativeAdapter({ proxyFromEnv: true });
    await Promise.all([direct.dial(server.url), server.accept()]);
    expect(proxy.tunnels).toHaveLength(1);
    await direct.close(1000, '', { signal: AbortSignal.abort() });

    const ignoring = createNativeAdapter();
    await Promise.all([ignoring.dial(server.url), server.accept()]);
    expect(proxy.tunnels).toHaveLength(1);
    await ignoring.close(1000, '', { signal: AbortSignal.abort() });
  });
});

describe('close() during a dial', () => {
  it('cancels the dial: close() resolves, the dial rejects with ConnectionClosedError, and the adapter can dial again', async () => {
    let requested!: () => void;
    const seen = new Promise<void>((resolve) => (requested = resolve));
    let answer = false;
    server = await startRawServer(() => {
      requested();
      return answer ? undefined : null;
    });
    adapter = createNativeAdapter();
    const dialled = adapter.dial(server.url);
    await seen;
    await adapter.close();
    expect(await rejection(dialled)).toBeInstanceOf(ConnectionClosedError);
    answer = true;
    await Promise.all([adapter.dial(server.url), server.accept()]);
  });
});
