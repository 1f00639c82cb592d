/**
 * A WebWire server on loopback, written straight from the wire table of webwire-go
 * v0.1.0-alpha1 (protocol "1.1") with its own byte handling, independent of our codec, so the
 * two cannot share a mistake.
 *
 * Request names and what they do:
 * - `echo` (and the empty name): the payload back, in a reply of the same encoding
 * - a name of 255 bytes: its length back as UTF-8 text
 * - `empty`: an empty binary reply
 * - `fail`: error reply `{"c":"APP_ERROR","m":"it failed"}`; `fail-bare`: `{"c":"BARE"}`
 * - `slow`: no reply until `releaseSlow()`
 * - `login`: creates a session (info = the payload as UTF-8), `[21]` before the reply
 * - `whoami`: the session key of this connection (or "") as UTF-8
 * - `signal-me`: three server signals (`bin`, `u8`, `u16`), then an empty reply
 * - `cut`: closes the TCP connection without a close frame, no reply
 * - `send-malformed`, `send-unknown-id`, `send-unknown-type`, `send-text`, `send-request`: that
 *   first, then the reply "after"
 * - `odd-utf16`: a UTF-16 reply of odd length
 * - `signal-flood`: twenty signals `flood` with payloads "0".."19", then an empty reply
 * Anything it cannot parse closes the TCP connection without a close frame, as webwire-go does.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

export interface StoredSession {
  key: string;
  crt: string;
  inf: unknown;
}

interface Conn {
  ws: WebSocket;
  socket: Duplex;
  session: string | undefined;
}

const ENC = ['binary', 'utf8', 'utf16'] as const;
export type Enc = (typeof ENC)[number];

export interface ReceivedSignal {
  name: string;
  encoding: Enc;
  payload: Buffer;
}

export class WebWireTestServer extends EventEmitter {
  readonly sessions = new Map<string, StoredSession>();
  readonly signals: ReceivedSignal[] = [];
  /** Answer this many restores with `SESSION_ACTIVE` before serving them. */
  activeRefusals = 0;
  /** Leave this many restores unanswered. */
  ignoreRestores = 0;
  /** Answer every restore with `SESSIONS_DISABLED`. */
  sessionsDisabled = false;
  /** Requests received, by name, in order. */
  readonly requests: string[] = [];
  restores = 0;
  /** HTTP requests with method `WEBWIRE` answered. */
  versionRequests = 0;
  readonly #conns = new Set<Conn>();
  readonly #slow: Array<() => void> = [];
  readonly #net: NetServer;
  readonly #http: HttpServer;
  readonly #wss: WebSocketServer;
  readonly #sockets = new Set<Socket>();
  #port = 0;

  constructor() {
    super();
    this.#wss = new WebSocketServer({ noServer: true });
    this.#http = createHttpServer((_req, res) => {
      res.writeHead(404).end();
    });
    this.#http.on('upgrade', (req: IncomingMessage, socket, head) => {
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, socket));
    });
    // Node's HTTP parser knows only standard methods: answer `WEBWIRE` before it sees the bytes.
    this.#net = createNetServer((socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
      socket.once('data', (chunk) => {
        if (chunk.subarray(0, 8).toString('latin1') === 'WEBWIRE ') {
          this.versionRequests++;
          const body = '{"protocol-version":"1.1"}';
          socket.end(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
          return;
        }
        socket.pause();
        socket.unshift(chunk);
        this.#http.emit('connection', socket);
        socket.resume();
      });
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#net.listen(0, '127.0.0.1', resolve));
    this.#port = (this.#net.address() as AddressInfo).port;
    return this.url;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.#port}/`;
  }

  /** Open WebSocket connections. */
  get connections(): number {
    return this.#conns.size;
  }

  async close(): Promise<void> {
    for (const conn of this.#conns) conn.ws.terminate();
    for (const socket of this.#sockets) socket.destroy();
    this.#wss.close();
    await new Promise<void>((resolve) => this.#net.close(() => resolve()));
  }

  /** Drop every connection without a close frame (a connection cut). */
  cutAll(): void {
    for (const conn of this.#conns) conn.ws.terminate();
  }

  /** Stop reading and answering on every connection (a silent server: no pongs, no replies). */
  silence(): void {
    for (const conn of this.#conns) conn.socket.pause();
  }

  /** Send a message as is to every connection. */
  sendRaw(data: Buffer | string): void {
    for (const conn of this.#conns) conn.ws.send(data);
  }

  /** A server signal to every connection. */
  signalAll(name: string, encoding: Enc, payload: Buffer): void {
    for (const conn of this.#conns) conn.ws.send(signal(name, encoding, payload));
  }

  /** Answer every `slow` request held so far. */
  releaseSlow(): void {
    for (const reply of this.#slow.splice(0)) reply();
  }

  get slowWaiting(): number {
    return this.#slow.length;
  }

  #accept(ws: WebSocket, socket: Duplex): void {
    const conn: Conn = { ws, socket, session: undefined };
    this.#conns.add(conn);
    ws.on('close', () => {
      this.#conns.delete(conn);
      this.emit('disconnected');
    });
    ws.on('error', () => {});
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary || !this.#handle(conn, data)) {
        // webwire-go closes the TCP connection on any message it cannot parse, without a close frame.
        ws.terminate();
        this.emit('malformed');
      }
    });
    this.emit('connection');
  }

  /** Returns false for a message it cannot parse. */
  #handle(conn: Conn, m: Buffer): boolean {
    if (m.length === 0) return false;
    const t = m[0]!;
    if (t >= 63 && t <= 65) {
      const parsed = named(m, 1, t - 63);
      if (!parsed) return false;
      this.signals.push({ name: parsed.name, encoding: ENC[t - 63]!, payload: parsed.payload });
      this.emit('signal');
      return true;
    }
    if (t >= 127 && t <= 129) {
      if (m.length < 9) return false;
      const id = m.subarray(1, 9);
      const parsed = named(m, 9, t - 127);
      if (!parsed) return false;
      this.requests.push(parsed.name);
      this.emit('request', parsed.name);
      this.#request(conn, Buffer.from(id), parsed.name, t - 127, parsed.payload);
      return true;
    }
    if (t === 31) {
      if (m.length !== 9) return false;
      const id = Buffer.from(m.subarray(1, 9));
      if (conn.session !== undefined) {
        this.sessions.delete(conn.session);
        conn.session = undefined;
        conn.ws.send(Buffer.of(22));
      }
      conn.ws.send(Buffer.concat([Buffer.of(191), id]));
      return true;
    }
    if (t === 32) {
      if (m.length < 10) return false;
      this.#restore(conn, Buffer.from(m.subarray(1, 9)), m.subarray(9).toString('latin1'));
      return true;
    }
    return false;
  }

  #restore(conn: Conn, id: Buffer, key: string): void {
    this.restores++;
    this.emit('restore', key);
    if (this.ignoreRestores > 0) {
      this.ignoreRestores--;
      return;
    }
    const refuse = (code: string): void => void conn.ws.send(errorReply(id, code, `restore refused: ${code}`));
    if (this.sessionsDisabled) return refuse('SESSIONS_DISABLED');
    const session = this.sessions.get(key);
    if (!session) return refuse('SESSION_NOT_FOUND');
    const held = [...this.#conns].some((other) => other !== conn && other.session === key);
    if (held || this.activeRefusals > 0) {
      if (this.activeRefusals > 0) this.activeRefusals--;
      return refuse('SESSION_ACTIVE');
    }
    conn.session = key;
    // The restore reply is type 193 but carries the session JSON in UTF-8.
    conn.ws.send(Buffer.concat([Buffer.of(193), id, Buffer.from(JSON.stringify(session))]));
  }

  #request(conn: Conn, id: Buffer, name: string, enc: number, payload: Buffer): void {
    const reply = (e: number, data: Buffer): void => void conn.ws.send(Buffer.concat([Buffer.of(191 + e), id, data]));
    const after = (): void => reply(1, Buffer.from('after'));
    if (name.length === 255) return reply(1, Buffer.from(String(name.length)));
    switch (name) {
      case '':
      case 'echo':
        return reply(enc, payload);
      case 'empty':
        return reply(0, Buffer.alloc(0));
      case 'fail':
        return void conn.ws.send(errorReply(id, 'APP_ERROR', 'it failed'));
      case 'fail-bare':
        return void conn.ws.send(Buffer.concat([Buffer.of(0), id, Buffer.from('{"c":"BARE"}')]));
      case 'slow':
        this.#slow.push(() => reply(1, Buffer.from('finally')));
        this.emit('slow');
        return;
      case 'login': {
        const key = randomBytes(48).toString('base64url');
        const session: StoredSession = { key, crt: new Date().toISOString(), inf: payload.toString('utf8') };
        this.sessions.set(key, session);
        conn.session = key;
        conn.ws.send(Buffer.concat([Buffer.of(21), Buffer.from(JSON.stringify(session))]));
        return reply(0, Buffer.alloc(0));
      }
      case 'whoami':
        return reply(1, Buffer.from(conn.session ?? ''));
      case 'signal-me':
        conn.ws.send(signal('bin', 'binary', Buffer.of(1, 2, 3)));
        conn.ws.send(signal('u8', 'utf8', Buffer.from('héllo')));
        conn.ws.send(signal('u16', 'utf16', Buffer.from('😀 x', 'utf16le')));
        return reply(0, Buffer.alloc(0));
      case 'cut':
        conn.ws.terminate();
        return;
      case 'send-malformed':
        conn.ws.send(Buffer.of(64, 9, 65)); // a name of 9 bytes, one present
        return after();
      case 'send-unknown-id':
        conn.ws.send(Buffer.concat([Buffer.of(192), Buffer.from([0, 0, 0, 0, 0, 0, 0, 0x7f]), Buffer.from('stray')]));
        return after();
      case 'send-unknown-type':
        conn.ws.send(Buffer.of(99, 1, 2, 3));
        return after();
      case 'send-request':
        conn.ws.send(Buffer.concat([Buffer.of(128), id, Buffer.of(0), Buffer.from('to the client?')]));
        return after();
      case 'odd-utf16':
        return reply(2, Buffer.of(0x41, 0, 0x42));
      case 'signal-flood':
        for (let i = 0; i < 20; i++) conn.ws.send(signal('flood', 'utf8', Buffer.from(String(i))));
        return reply(0, Buffer.alloc(0));
      case 'send-text':
        conn.ws.send('a text message');
        return after();
      default:
        return void conn.ws.send(errorReply(id, 'UNKNOWN_NAME', name));
    }
  }
}

/** `[N][name][pad][payload]` from `at`; undefined when malformed (the table's rules). */
function named(m: Buffer, at: number, enc: number): { name: string; payload: Buffer } | undefined {
  if (m.length < at + 1) return undefined;
  const n = m[at]!;
  let p = at + 1 + n;
  if (m.length < p) return undefined;
  const nameBytes = m.subarray(at + 1, p);
  if (nameBytes.some((c) => c < 32 || c > 126)) return undefined;
  if (enc === 2) {
    if (m.length % 2 !== 0) return undefined;
    if (n % 2 === 1) {
      if (m[p] !== 0) return undefined;
      p++;
    }
  }
  if (m.length - p < (enc === 2 ? 2 : 1)) return undefined;
  return { name: nameBytes.toString('latin1'), payload: Buffer.from(m.subarray(p)) };
}

function signal(name: string, encoding: Enc, payload: Buffer): Buffer {
  const e = ENC.indexOf(encoding);
  const pad = e === 2 && name.length % 2 === 1 ? [0] : [];
  return Buffer.concat([Buffer.of(63 + e, name.length), Buffer.from(name, 'latin1'), Buffer.from(pad), payload]);
}

function errorReply(id: Buffer, code: string, message: string): Buffer {
  return Buffer.concat([Buffer.of(0), id, Buffer.from(JSON.stringify({ c: code, m: message }))]);
}
