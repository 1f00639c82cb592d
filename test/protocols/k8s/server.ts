/**
 * A loopback server for the Kubernetes channel protocols: the server side of exec, written from
 * the wsstream documentation, independently of the client's codec. It picks the first offered
 * subprotocol it supports (as wsstream does), then runs the command named by the `command`
 * query parameter:
 *
 *   echo [code=N] [until=S]  stdin -> stdout until the CLOSE signal (v5) or stdin holding S,
 *                      then exits with N (default 0)
 *   exit code=N        exits with N at once (after "out\n" on stdout, "err\n" on stderr)
 *   fail               a failure that is not an exit code (Status InternalError; text before v4)
 *   resize count=N     writes "resize WxH\n" on stdout for each resize event; exits after N
 *   ready              readiness frames (empty) on 1, 2 and 3, then "hello" on stdout, exit 0
 *   stream bytes=N     N bytes (byte i is i % 251) on stdout in 64 KiB messages, with backpressure
 *   bad kind=K         breaks the protocol: channel (byte 7), base64 (invalid), status (not
 *                      JSON), text (a text message on a binary protocol), binary (the reverse)
 *   closeout           v5: "a" on stdout, the CLOSE signal for stdout [255, 1], more on stdout
 *                      (to be ignored) and "b" on stderr, then exit 0
 *   env                the Authorization header, the offered subprotocols and the query, as JSON on stdout
 *   silent             nothing; the client closes
 *
 * Exit status: v4 and later as a JSON metav1.Status on channel 3, then a close with 1000; before
 * v4 a non-zero exit or a failure is plain text on channel 3, success is only the close.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';

export const ALL_PROTOCOLS = [
  'v5.channel.k8s.io',
  'v4.channel.k8s.io',
  'v4.base64.channel.k8s.io',
  'v3.channel.k8s.io',
  'v2.channel.k8s.io',
  'channel.k8s.io',
  'base64.channel.k8s.io',
] as const;

export interface ServerOptions {
  /** Subprotocols the server speaks. Default all. */
  readonly supported?: readonly string[];
  /** Refuse every upgrade with this status and body. */
  readonly refuse?: { readonly status: number; readonly body: string };
  /** Answer pings (default true). */
  readonly autoPong?: boolean;
}

/** One frame the server received, decoded by the server's own rules. */
export interface Received {
  readonly raw: Buffer | string;
  readonly channel: number;
  readonly payload: Buffer;
}

export interface Exchange {
  readonly protocol: string;
  readonly offered: readonly string[];
  readonly url: URL;
  readonly headers: IncomingMessage['headers'];
  readonly received: Received[];
  pings: number;
  /** Resolves once `n` pings have arrived. */
  pinged(n: number): Promise<void>;
  /** Resolves with the first frame received (earlier or later) that `test` accepts. */
  receivedWhere(test: (frame: Received) => boolean): Promise<Received>;
  /** Bytes handed to the socket by `stream`. */
  sent: number;
  closeCode: number | undefined;
  readonly closed: Promise<number>;
}

export interface K8sTestServer {
  readonly port: number;
  url(query: string): string;
  readonly exchanges: Exchange[];
  /** Resolves with the next exchange (or the n-th, counting from 0). */
  exchange(n?: number): Promise<Exchange>;
  close(): Promise<void>;
}

const STATUS_SUCCESS = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success' };

function exitStatus(code: number): object {
  if (code === 0) return STATUS_SUCCESS;
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [sh -c exit ${code}], exit code ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  };
}

const FAILURE = {
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message: 'container "main" not found in pod "web-0"',
  reason: 'InternalError',
  code: 500,
};

function versionOf(protocol: string): number {
  const match = /^v(\d)\./.exec(protocol);
  return match ? Number(match[1]) : 1;
}

export async function startK8sServer(options: ServerOptions = {}): Promise<K8sTestServer> {
  const supported = options.supported ?? ALL_PROTOCOLS;
  const exchanges: Exchange[] = [];
  const waiting: Array<{ n: number; resolve: (e: Exchange) => void }> = [];
  const sockets = new Set<Socket>();
  const http: Server = createServer((_req, res) => res.writeHead(404).end());
  http.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const wss = new WebSocketServer({
    noServer: true,
    autoPong: options.autoPong ?? true,
    handleProtocols: (offered) => [...offered].find((p) => supported.includes(p)) ?? false,
  });
  http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if (options.refuse) {
      const body = Buffer.from(options.refuse.body);
      socket.end(
        `HTTP/1.1 ${options.refuse.status} Refused\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const offered = String(req.headers['sec-websocket-protocol'] ?? '')
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean);
      let resolveClosed!: (code: number) => void;
      const pingWaiters: Array<{ n: number; resolve: () => void }> = [];
      const frameWaiters: Array<{ test: (frame: Received) => boolean; resolve: (frame: Received) => void }> = [];
      const exchange: Exchange = {
        protocol: ws.protocol,
        offered,
        url: new URL(req.url ?? '/', 'http://127.0.0.1'),
        headers: req.headers,
        received: [],
        pings: 0,
        receivedWhere: (test) => {
          const found = exchange.received.find(test);
          return found ? Promise.resolve(found) : new Promise<Received>((resolve) => frameWaiters.push({ test, resolve }));
        },
        pinged: (n) =>
          exchange.pings >= n ? Promise.resolve() : new Promise<void>((resolve) => pingWaiters.push({ n, resolve })),
        sent: 0,
        closeCode: undefined,
        closed: new Promise<number>((resolve) => (resolveClosed = resolve)),
      };
      ws.on('close', (code) => {
        exchange.closeCode = code;
        resolveClosed(code);
      });
      ws.on('ping', () => {
        exchange.pings++;
        for (const w of pingWaiters.filter((w) => exchange.pings >= w.n)) {
          pingWaiters.splice(pingWaiters.indexOf(w), 1);
          w.resolve();
        }
      });
      exchanges.push(exchange);
      for (const w of [...waiting]) {
        if (exchanges.length > w.n) {
          waiting.splice(waiting.indexOf(w), 1);
          w.resolve(exchanges[w.n]!);
        }
      }
      run(ws, exchange, (frame) => {
        for (const w of frameWaiters.filter((w) => w.test(frame))) {
          frameWaiters.splice(frameWaiters.indexOf(w), 1);
          w.resolve(frame);
        }
      });
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const port = (http.address() as AddressInfo).port;
  return {
    port,
    url: (query) => `ws://127.0.0.1:${port}/api/v1/namespaces/default/pods/web-0/exec?${query}`,
    exchanges,
    exchange(n = exchanges.length) {
      if (exchanges.length > n) return Promise.resolve(exchanges[n]!);
      return new Promise((resolve) => waiting.push({ n, resolve }));
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        for (const socket of sockets) socket.destroy();
        wss.close();
        http.close(() => resolve());
      }),
  };
}

/** The server side of one exec. */
function run(ws: WebSocket, exchange: Exchange, onFrame: (frame: Received) => void): void {
  const protocol = exchange.protocol;
  const version = versionOf(protocol);
  const base64 = protocol.includes('base64');
  const query = exchange.url.searchParams;
  const command = query.get('command') ?? 'silent';
  // `code=N`, or the command's first argument (`command=exit&command=42`, as kubectl sends argv).
  const code = Number(query.get('code') ?? query.getAll('command')[1] ?? '0');

  const send = (channel: number, data: Buffer | string, callback?: (error?: Error) => void): void => {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    if (base64) ws.send(`${channel}${bytes.toString('base64')}`, callback);
    else ws.send(Buffer.concat([Buffer.from([channel]), bytes]), callback);
  };
  const exit = (exitCode: number): void => {
    if (version >= 4) send(3, JSON.stringify(exitStatus(exitCode)));
    else if (exitCode !== 0) send(3, `command terminated with non-zero exit code: Error executing in Docker Container: ${exitCode}`);
    ws.close(1000);
  };
  const fail = (): void => {
    send(3, version >= 4 ? JSON.stringify(FAILURE) : FAILURE.message);
    ws.close(1000);
  };

  let resizes = 0;
  ws.on('message', (data: RawData, isBinary: boolean) => {
    const raw = isBinary ? (data as Buffer) : String(data);
    let channel: number;
    let payload: Buffer;
    if (typeof raw === 'string') {
      channel = raw.charCodeAt(0) - 48;
      payload = Buffer.from(raw.slice(1), 'base64');
    } else {
      channel = raw[0]!;
      payload = raw.subarray(1);
    }
    const frame = { raw, channel, payload };
    exchange.received.push(frame);
    onFrame(frame);
    if (channel === 255 && version === 5 && payload[0] === 0) {
      // The client closed stdin.
      if (command === 'echo') exit(code);
      return;
    }
    if (channel === 0 && command === 'echo') {
      send(1, payload);
      const until = query.get('until');
      if (until !== null && payload.includes(until)) exit(code);
    }
    if (channel === 4 && command === 'resize') {
      // Go's encoding/json matches field names without regard to case: {"width":..} works too.
      const size = Object.fromEntries(Object.entries(JSON.parse(payload.toString()) as object).map(([k, v]) => [k.toLowerCase(), v])) as {
        width: number;
        height: number;
      };
      send(1, `resize ${size.width}x${size.height}\n`);
      if (++resizes >= Number(query.get('count') ?? '1')) exit(0);
    }
  });

  switch (command) {
    case 'exit':
      send(1, 'out\n');
      send(2, 'err\n');
      exit(code);
      break;
    case 'fail':
      fail();
      break;
    case 'ready':
      send(1, Buffer.alloc(0));
      send(2, Buffer.alloc(0));
      send(3, Buffer.alloc(0));
      send(1, 'hello');
      exit(0);
      break;
    case 'stream':
      void stream(ws, exchange, Number(query.get('bytes')), send).then(() => exit(0));
      break;
    case 'bad': {
      const kind = query.get('kind');
      if (kind === 'channel') ws.send(Buffer.from([7, 1, 2]));
      else if (kind === 'base64') ws.send('1!!not base64!!');
      else if (kind === 'status') send(3, 'this is not JSON');
      else if (kind === 'text') ws.send('1aGVsbG8=');
      else if (kind === 'binary') ws.send(Buffer.from([1, 104, 105]));
      break;
    }
    case 'closeout':
      send(1, 'a');
      ws.send(Buffer.from([255, 1]));
      send(1, 'ignored');
      send(2, 'b');
      exit(0);
      break;
    case 'env':
      send(
        1,
        JSON.stringify({
          authorization: exchange.headers.authorization ?? null,
          offered: exchange.offered,
          query: Object.fromEntries(query),
        }),
      );
      exit(0);
      break;
    default:
      break;
  }
}

/** `bytes` bytes on stdout in 64 KiB messages, keeping at most 1 MiB queued in ws. */
async function stream(
  ws: WebSocket,
  exchange: Exchange,
  bytes: number,
  send: (channel: number, data: Buffer, callback?: (error?: Error) => void) => void,
): Promise<void> {
  const CHUNK = 64 * 1024;
  // 251 is prime and does not divide CHUNK: every chunk differs from its neighbours.
  const pattern = Buffer.alloc(CHUNK + 251);
  for (let i = 0; i < pattern.length; i++) pattern[i] = i % 251;
  let offset = 0;
  while (offset < bytes && ws.readyState === ws.OPEN) {
    const size = Math.min(CHUNK, bytes - offset);
    const start = offset % 251;
    const flushed = new Promise<void>((resolve) => send(1, pattern.subarray(start, start + size), () => resolve()));
    offset += size;
    exchange.sent = offset;
    if (ws.bufferedAmount >= 1024 * 1024) await flushed;
  }
}
