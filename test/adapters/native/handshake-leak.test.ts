/**
 * A refused or invalid upgrade must not leave the TCP connection open: a server may answer with
 * a keep-alive response (HTTP/1.1 default) and wait for the next request; the socket is ours to
 * close (RFC 6455 section 4.1: on a failed handshake the client fails the WebSocket connection).
 */
import { once } from 'node:events';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HandshakeError } from '../../../src/adapters/errors.js';
import { createNativeAdapter } from '../../../src/adapters/native/index.js';
import { rejection } from './helpers.js';

let server: net.Server | undefined;
const sockets = new Set<net.Socket>();

afterEach(async () => {
  for (const socket of sockets) socket.destroy();
  sockets.clear();
  if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
  server = undefined;
});

/** A server that answers every request with `answer` and keeps the connection open. */
async function keepAliveServer(answer: string): Promise<{ url: string; closed: Promise<void>[] }> {
  const closed: Promise<void>[] = [];
  server = net.createServer((socket) => {
    sockets.add(socket);
    closed.push(once(socket, 'close').then(() => undefined));
    socket.on('error', () => {});
    socket.once('data', () => socket.write(answer));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return { url: `ws://127.0.0.1:${port}/`, closed };
}

const answers: Array<[string, string, number]> = [
  ['401 with a body', 'HTTP/1.1 401 Unauthorized\r\nContent-Length: 6\r\n\r\ndenied', 401],
  ['503', 'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n', 503],
  ['200', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', 200],
  ['204', 'HTTP/1.1 204 No Content\r\n\r\n', 204],
  ['101 without Upgrade', 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n', 101],
  ['101 without Connection', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n', 101],
];

describe('native handshake: refused upgrades with keep-alive', () => {
  for (const [name, answer, status] of answers) {
    it(`closes the socket after a keep-alive ${name}`, async () => {
      const { url, closed } = await keepAliveServer(answer);
      const adapter = createNativeAdapter({ handshakeTimeout: 5_000 });
      const error = (await rejection(adapter.dial(url))) as HandshakeError;
      expect(error).toBeInstanceOf(HandshakeError);
      if (status !== 101) expect(error.status).toBe(status);
      expect(closed).toHaveLength(1);
      // The server sees the client close the connection; before the fix it stayed open.
      await closed[0];
    }, 4_000);
  }
});
