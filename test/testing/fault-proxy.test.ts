/**
 * The fault proxy itself, over a plain TCP echo server on 127.0.0.1.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError, InvalidOptionError } from '../../src/adapters/errors.js';
import { FaultProxy } from '../../src/testing/fault-proxy.js';

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

function connect(port: number, allowHalfOpen = false): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen }, () => resolve(socket));
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

  it('setSegmentSize(1) forwards one byte per write, in order', async () => {
    const { port } = await echoServer();
    const proxy = await proxyTo(port);
    const socket = await connect(proxy.port);
    proxy.setSegmentSize(1);
    const chunks: number[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk.length));
    const reply = readBytes(socket, 26);
    socket.write('abcdefghijklmnopqrstuvwxyz');
    expect(await reply).toBe('abcdefghijklmnopqrstuvwxyz');
    // The echo server answers every byte on its own, so the client reads many small chunks.
    expect(chunks.length).toBeGreaterThan(1);
    expect(Math.max(...chunks)).toBeLessThan(26);
  });

  it('setBandwidth() spreads a transfer over several ticks, keeping every byte and their order', async () => {
    const { port } = await echoServer();
    const proxy = await proxyTo(port);
    const socket = await connect(proxy.port);
    proxy.setBandwidth(100_000); // 1,000 bytes per 10 ms tick
    const payload = Buffer.alloc(5_000);
    for (let i = 0; i < payload.length; i++) payload[i] = i % 251;
    const chunks: Buffer[] = [];
    const done = new Promise<void>((resolve) => {
      let total = 0;
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        total += chunk.length;
        if (total >= payload.length) resolve();
      });
    });
    socket.write(payload);
    await done;
    expect(Buffer.concat(chunks).equals(payload)).toBe(true);
    expect(Math.max(...chunks.map((c) => c.length))).toBeLessThanOrEqual(1_000);
    proxy.heal();
    const again = readBytes(socket, 2);
    socket.write('ok');
    expect(await again).toBe('ok');
  });

  it('halfClose() ends the client side and drops what the target sends; the client may still write', async () => {
    const { port, sockets } = await echoServer();
    const proxy = await proxyTo(port);
    const socket = await connect(proxy.port, true);
    socket.write('x');
    await readBytes(socket, 1);
    const upstream = [...sockets][0]!;
    const ended = new Promise<void>((resolve) => socket.once('end', () => resolve()));
    const reached = readBytes(upstream, 5);
    proxy.halfClose();
    await ended;
    let echoed = '';
    socket.on('data', (chunk: Buffer) => (echoed += chunk.toString()));
    socket.write('after');
    expect(await reached).toBe('after');
    expect(echoed).toBe('');
  });

  it('clientsClosed() resolves once every client closed its socket, even behind a black hole', async () => {
    const { port } = await echoServer();
    const proxy = await proxyTo(port);
    const socket = await connect(proxy.port);
    socket.write('x');
    await readBytes(socket, 1);
    proxy.blackhole();
    expect(proxy.connections).toBe(1);
    socket.destroy();
    await proxy.clientsClosed();
    expect(proxy.connections).toBe(0);
  });
});

describe('bad input', () => {
  it('start() refuses a target or listening port that is not a port, naming the option', async () => {
    for (const options of [{ targetPort: 'x' }, { targetPort: -1 }, { targetPort: 0 }, {}, { targetPort: 70_000 }]) {
      const error = await FaultProxy.start(options as { targetPort: number }).then(
        async (proxy) => {
          await proxy.close();
          return undefined;
        },
        (e: unknown) => e,
      );
      expect(error, JSON.stringify(options)).toBeInstanceOf(InvalidOptionError);
      expect((error as InvalidOptionError).option).toBe('targetPort');
    }
    const error = await FaultProxy.start({ targetPort: 80, port: 1.5 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).option).toBe('port');
  });

  it('the fault calls refuse values that would stall or spin the proxy, and keep the last good one', async () => {
    const { port } = await echoServer();
    const proxy = await FaultProxy.start({ targetPort: port });
    cleanups.push(() => proxy.close());
    // A fraction of a byte per segment would write empty slices forever; NaN would hold every chunk.
    expect(() => proxy.setSegmentSize(0.5)).toThrow(InvalidArgumentError);
    expect(() => proxy.setSegmentSize(-1)).toThrow('setSegmentSize');
    expect(() => proxy.setBandwidth(Number.NaN)).toThrow('setBandwidth');
    expect(() => proxy.setBandwidth(-5)).toThrow(InvalidArgumentError);
    expect(() => proxy.setDelay(Infinity)).toThrow('setDelay');
    expect(() => proxy.setDelay(-1)).toThrow(InvalidArgumentError);
    expect(() => proxy.retarget(Number('abc'))).toThrow('retarget');
    // The proxy still passes bytes through.
    const client = net.connect(proxy.port, '127.0.0.1');
    cleanups.push(() => void client.destroy());
    client.write('still here');
    const echoed = await new Promise<string>((resolve) => client.once('data', (d: Buffer) => resolve(String(d))));
    expect(echoed).toBe('still here');
  });
});
