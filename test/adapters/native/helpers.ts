/**
 * Test helpers for the native adapter: a scripted raw WebSocket server on loopback (it answers
 * the upgrade, then lets a test write any bytes and read the client's frames), and frame
 * builders that do what a real server does, or deliberately not.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export function acceptFor(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

/** A server frame (unmasked unless a mask is given). */
export function serverFrame(
  opcode: number,
  payload: Uint8Array | string = new Uint8Array(0),
  options: { fin?: boolean; rsv?: number; mask?: Uint8Array; lengthBytes?: 0 | 2 | 8 } = {},
): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload);
  const fin = options.fin ?? true;
  const length = data.length;
  const lengthBytes = options.lengthBytes ?? (length < 126 ? 0 : length < 65536 ? 2 : 8);
  const header = Buffer.alloc(2 + lengthBytes + (options.mask ? 4 : 0));
  header[0] = (fin ? 0x80 : 0) | ((options.rsv ?? 0) << 4) | opcode;
  if (lengthBytes === 0) header[1] = length;
  else if (lengthBytes === 2) {
    header[1] = 126;
    header.writeUInt16BE(length, 2);
  } else {
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  if (options.mask) {
    header[1] |= 0x80;
    header.set(options.mask, 2 + lengthBytes);
    for (let i = 0; i < data.length; i++) data[i] ^= options.mask[i & 3]!;
  }
  return Buffer.concat([header, data]);
}

export function closePayload(code: number, reason = ''): Buffer {
  const out = Buffer.alloc(2 + Buffer.byteLength(reason));
  out.writeUInt16BE(code, 0);
  out.write(reason, 2);
  return out;
}

export interface ClientFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  key: Buffer;
  payload: Buffer;
}

/** Reads the client's (masked) frames from a server socket. */
export class ClientFrameReader {
  #buffer = Buffer.alloc(0);
  #frames: ClientFrame[] = [];
  #waiters: Array<() => void> = [];
  ended = false;

  constructor(socket: Socket, head?: Buffer) {
    if (head && head.length > 0) this.#push(head);
    socket.on('data', (chunk: Buffer) => this.#push(chunk));
    socket.on('close', () => {
      this.ended = true;
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  #push(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      const b = this.#buffer;
      if (b.length < 2) break;
      let length = b[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (b.length < 4) break;
        length = b.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (b.length < 10) break;
        length = Number(b.readBigUInt64BE(2));
        offset = 10;
      }
      const masked = (b[1]! & 0x80) !== 0;
      const key = masked ? b.subarray(offset, offset + 4) : Buffer.alloc(4);
      if (masked) offset += 4;
      if (b.length < offset + length) break;
      const payload = Buffer.from(b.subarray(offset, offset + length));
      for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3]!;
      this.#frames.push({ fin: (b[0]! & 0x80) !== 0, rsv: (b[0]! >> 4) & 7, opcode: b[0]! & 0xf, masked, key: Buffer.from(key), payload });
      this.#buffer = b.subarray(offset + length);
    }
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** The next frame; rejects if the connection ends first. */
  async next(): Promise<ClientFrame> {
    while (this.#frames.length === 0) {
      if (this.ended) throw new Error('the client connection ended before another frame came');
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    return this.#frames.shift()!;
  }

  /** The next frame that is not a pong. */
  async nextNonPong(): Promise<ClientFrame> {
    for (;;) {
      const frame = await this.next();
      if (frame.opcode !== 0xa) return frame;
    }
  }
}

export interface RawConnection {
  readonly socket: Socket;
  readonly request: IncomingMessage;
  readonly frames: ClientFrameReader;
  send(bytes: Uint8Array): void;
}

export interface RawServer {
  readonly url: string;
  /** The next upgraded connection. */
  accept(): Promise<RawConnection>;
  close(): Promise<void>;
}

/**
 * A WebSocket server that does the handshake (or what `respond` returns instead; `null` never
 * answers, `undefined` answers normally) and nothing else:
 * the test drives the bytes.
 */
export async function startRawServer(
  respond?: (request: IncomingMessage, accept: string) => string | null | undefined,
): Promise<RawServer> {
  const sockets = new Set<Socket>();
  const connections: RawConnection[] = [];
  const waiters: Array<(c: RawConnection) => void> = [];
  const server: Server = createServer((_req, res) => {
    res.statusCode = 426;
    res.end();
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (request: IncomingMessage, socket: Socket, head: Buffer) => {
    const key = String(request.headers['sec-websocket-key'] ?? '');
    const custom = respond?.(request, acceptFor(key));
    if (custom === null) return; // never answer
    const answer =
      custom ??
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`;
    socket.write(answer);
    const connection: RawConnection = {
      socket,
      request,
      frames: new ClientFrameReader(socket, head),
      send: (bytes) => {
        socket.write(bytes);
      },
    };
    const waiter = waiters.shift();
    if (waiter) waiter(connection);
    else connections.push(connection);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${port}/`,
    accept: () => {
      const ready = connections.shift();
      return ready ? Promise.resolve(ready) : new Promise((resolve) => waiters.push(resolve));
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export { rejection } from '../../../src/testing/rejection.js';

export interface ConnectProxy {
  readonly url: string;
  /** The `host:port` of every CONNECT request, in order. */
  readonly tunnels: string[];
  close(): Promise<void>;
}

/**
 * A minimal HTTP CONNECT proxy on loopback. Targets on 127.0.0.2 are refused with 407 unless a
 * Proxy-Authorization header came (and are then tunnelled to 127.0.0.1).
 */
export async function startConnectProxy(): Promise<ConnectProxy> {
  const { createServer: createHttp } = await import('node:http');
  const { connect } = await import('node:net');
  const sockets = new Set<Socket>();
  const tunnels: string[] = [];
  const proxy = createHttp((_req, res) => {
    res.statusCode = 405;
    res.end();
  });
  proxy.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    const target = String(req.url);
    tunnels.push(target);
    sockets.add(client);
    if (req.headers['proxy-authorization'] === undefined && target.startsWith('127.0.0.2')) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n');
      return;
    }
    const [host, port] = target.split(':') as [string, string];
    const upstream = connect(Number(port), host === '127.0.0.2' ? '127.0.0.1' : host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(proxy.address() as { port: number }).port}`,
    tunnels,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}
