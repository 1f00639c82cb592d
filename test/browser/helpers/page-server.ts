/**
 * One loopback HTTP server for the browser tests: it serves the test page and its bundled
 * script, and answers WebSocket upgrades on /ws with a scripted `ws` server that echoes
 * messages and obeys a few commands, recording what each connection saw.
 *
 * Commands (text messages from the client):
 * - `drop`: the server drops the TCP connection without a close frame (the client sees 1006).
 * - `mute`: the server stops answering (reads nothing more, sends nothing): a dead connection.
 * - `close <code> <reason>`: the server closes with that code and reason.
 * Anything else is echoed with the same type. Upgrades on /refuse are answered with 403.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';

export interface RecordedMessage {
  readonly binary: boolean;
  readonly data: string | readonly number[];
}

/** What the server saw on one WebSocket connection. */
export interface RecordedConnection {
  readonly path: string;
  readonly protocol: string;
  readonly received: RecordedMessage[];
  /** The close frame the client sent (code, reason), or 1006 when the connection just ended. */
  readonly closed: Promise<{ code: number; reason: string }>;
}

export interface PageServer {
  /** http://127.0.0.1:PORT */
  readonly origin: string;
  /** ws://127.0.0.1:PORT/ws */
  readonly wsUrl: string;
  readonly connections: RecordedConnection[];
  /** Resolves with the connection number `index` (0-based) once it is accepted. */
  connection(index: number): Promise<RecordedConnection>;
  close(): Promise<void>;
}

function toRecorded(data: RawData, binary: boolean): RecordedMessage {
  const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
  return binary ? { binary, data: [...bytes] } : { binary, data: bytes.toString('utf8') };
}

/** Start the server; `script` is the bundled page script, served as /app.js. */
export async function startPageServer(script: string): Promise<PageServer> {
  const html =
    '<!doctype html><html><head><meta charset="utf-8"><title>wsengine browser test</title></head>' +
    '<body><script type="module" src="/app.js"></script></body></html>';
  const sockets = new Set<Duplex>();
  const connections: RecordedConnection[] = [];
  const waiting = new Map<number, (connection: RecordedConnection) => void>();
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    handleProtocols: (offered) => (offered.has('wsengine.test') ? 'wsengine.test' : false),
  });

  const server: Server = createServer((req, res) => {
    if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(html);
    } else if (req.url === '/app.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' }).end(script);
    } else if (req.url === '/favicon.ico') {
      res.writeHead(204).end();
    } else {
      res.writeHead(404).end();
    }
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    if (req.url === '/refuse') {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, socket, req));
  });

  function accept(ws: WebSocket, socket: Duplex, req: IncomingMessage): void {
    const received: RecordedMessage[] = [];
    let muted = false;
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      ws.once('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') })),
    );
    ws.on('error', () => {});
    ws.on('message', (data, binary) => {
      if (muted) return;
      const message = toRecorded(data, binary);
      received.push(message);
      if (binary || typeof message.data !== 'string') {
        ws.send(data, { binary: true });
        return;
      }
      const text = message.data;
      if (text === 'drop') {
        (socket as Socket).resetAndDestroy();
      } else if (text === 'mute') {
        // A dead peer: no more reading, no more answers, the TCP connection stays up.
        muted = true;
        ws.pause();
      } else if (text.startsWith('close ')) {
        const [, code, ...reason] = text.split(' ');
        ws.close(Number(code), reason.join(' '));
      } else {
        ws.send(text);
      }
    });
    const connection: RecordedConnection = { path: req.url ?? '', protocol: ws.protocol, received, closed };
    connections.push(connection);
    waiting.get(connections.length - 1)?.(connection);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('The page server has no TCP address');
  const origin = `http://127.0.0.1:${address.port}`;
  return {
    origin,
    wsUrl: `ws://127.0.0.1:${address.port}/ws`,
    connections,
    connection(index) {
      const existing = connections[index];
      if (existing) return Promise.resolve(existing);
      return new Promise((resolve) => waiting.set(index, resolve));
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
