/**
 * The fault proxy itself, over a plain TCP echo server on 127.0.0.1.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FaultProxy } from './fault-proxy.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

async function echoServer(): Promise<{ port: number; sockets: Set<net.Socket> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as net.AddressInfo).port, sockets };
}

async function proxyTo(port: number): Promise<FaultProxy> {
  const proxy = await FaultProxy.start({ targetPort: port });
  cleanups.push(() => proxy.close());
  return proxy;
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.once('error', reject);
    cleanups.push(() => void socket.destroy());
  });
}

function readBytes(socket: net.Socket, count: number): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      if (text.length >= count) {
        socket.off('data', onData);
        resolve(text);
      }
    };
    socket.on('data', onData);
  });
}

describe('FaultProxy', () => {
  it('forwards both ways, and keeps order with a delay', async () => {
    const { port } = await echoServer();
    const proxy = await proxyTo(port);
    const socket = await connect(proxy.port);
    socket.write('hello');
    expect(await readBytes(socket, 5)).toBe('hello');
    proxy.setDelay(20);
    const reply = readBytes(socket, 6);
    socket.write('abc');
    socket.write('def');
    expect(await reply).toBe('abcdef');
    expect(proxy.accepted).toBe(1);
  });

  it('reset() aborts the connection with RST on both sides', async () => {
    const { port, sockets } = await echoServer();
    const proxy = await proxyTo(port);
    const socket = await connect(proxy.port);
    socket.write('x');
    await readBytes(socket, 1);
    const upstream = [...sockets][0]!;
    const clientError = new Promise<NodeJS.ErrnoException>((resolve) => socket.once('error', resolve));
    const upstreamClosed = new Promise<void>((resolve) => upstream.once('close', () => resolve()));
    proxy.reset();
    expect((await clientError).code).toBe('ECONNRESET');
    await upstreamClosed;
  });

  it('blackhole() stops forwarding without closing anything', async () => {
    const { port, sockets } = await echoServer();
    const proxy = await proxyTo(port);
    const socket = await connect(proxy.port);
    socket.write('x');
    await readBytes(socket, 1);
    proxy.blackhole();
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    // A round trip on a second, healthy connection shows the proxy is alive and has moved on.
    socket.write('lost');
    const other = await connect(proxy.port);
    other.write('ok');
    expect(await readBytes(other, 2)).toBe('ok');
    expect(received).toBe('');
    expect(socket.destroyed).toBe(false);
    expect([...sockets].every((s) => !s.destroyed)).toBe(true);
    expect(proxy.connections).toBe(2);
  });

  it('refuse() makes connects fail with ECONNREFUSED until listen() reopens the same port', async () => {
    const { port } = await echoServer();
    const proxy = await proxyTo(port);
    const proxyPort = proxy.port;
    await proxy.refuse();
    await expect(connect(proxyPort)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await proxy.listen();
    expect(proxy.port).toBe(proxyPort);
    const socket = await connect(proxyPort);
    socket.write('back');
    expect(await readBytes(socket, 4)).toBe('back');
  });
});
