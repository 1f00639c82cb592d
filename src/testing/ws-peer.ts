/**
 * A contract peer over a real `ws` WebSocketServer on 127.0.0.1 (port chosen by the system):
 * the server side the contract suite drives when it checks a real adapter.
 *
 * ```ts
 * describeAdapterContract({ name: 'ws', createAdapter: () => createWsAdapter(), createPeer: () => createWsPeer() });
 * ```
 */
import { STATUS_CODES, createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type PerMessageDeflateOptions, type WebSocket } from 'ws';
import { MessageType, type Message } from '../adapters/types.js';
import type { ContractPeer, PeerConnection, PeerRefusal } from './peer.js';

export interface WsPeerOptions {
  /** Serve `wss:` with this key and certificate (PEM). Default: plain `ws:`. */
  readonly tls?: { readonly key: string | Buffer; readonly cert: string | Buffer };
  /** Accept permessage-deflate when a client offers it. Default false. */
  readonly perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** Largest message the server accepts, in bytes. Default 100 MiB (as `ws`). */
  readonly maxPayload?: number;
}

/** A server-side connection of {@link WsPeer}; `ws` and `socket` are there for tests that need them. */
export interface WsPeerConnection extends PeerConnection {
  /** The server-side `ws` WebSocket. */
  readonly ws: WebSocket;
  /** The TCP (or TLS) socket under it. */
  readonly socket: Duplex;
}

/** A {@link ContractPeer} over a real `ws` server. */
export interface WsPeer extends ContractPeer {
  accept(): Promise<WsPeerConnection>;
  /** The URL to dial, once started. */
  readonly url: string | undefined;
}

/** A FIFO that hands items to waiters, or keeps them until asked for. */
class Inbox<T> {
  readonly #items: T[] = [];
  readonly #waiters: Array<{ resolve: (item: T) => void; reject: (error: unknown) => void }> = [];
  #error: unknown;

  push(item: T): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter.resolve(item);
    else this.#items.push(item);
  }

  take(): Promise<T> {
    if (this.#items.length > 0) return Promise.resolve(this.#items.shift()!);
    if (this.#error !== undefined) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  end(error: unknown): void {
    this.#error ??= error;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
  }
}

function headersOf(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!.toLowerCase();
    const value = req.rawHeaders[i + 1]!;
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return headers;
}

function checkHeaderText(text: string): string {
  if (/[\r\n]/.test(text)) throw new Error(`A refusal header must not contain CR or LF: ${JSON.stringify(text)}`);
  return text;
}

/** An HTTP response written straight onto the socket, so any status (even 200) can answer an upgrade. */
function rawResponse(refusal: PeerRefusal): Buffer {
  const body = Buffer.from(refusal.body ?? '', 'utf8');
  const lines = [`HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status] ?? 'Unknown'}`];
  for (const [name, value] of Object.entries(refusal.headers ?? {})) {
    lines.push(`${checkHeaderText(name)}: ${checkHeaderText(value)}`);
  }
  lines.push('Content-Type: text/plain; charset=utf-8', `Content-Length: ${body.byteLength}`, 'Connection: close');
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body]);
}

class WsPeerConnectionImpl implements WsPeerConnection {
  readonly requestHeaders: Readonly<Record<string, string>>;
  readonly protocol: string;
  readonly ws: WebSocket;
  readonly socket: Duplex;
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly #inbox = new Inbox<Message>();
  #ignorePings = false;

  constructor(ws: WebSocket, socket: Duplex, req: IncomingMessage) {
    this.ws = ws;
    this.socket = socket;
    this.requestHeaders = headersOf(req);
    this.protocol = ws.protocol;
    ws.on('message', (data, isBinary) => {
      const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      this.#inbox.push(
        isBinary ? { type: MessageType.Binary, data: bytes } : { type: MessageType.Text, data: bytes.toString('utf8') },
      );
    });
    // autoPong is off on the server, so that pings can be left unanswered (RFC 6455 section
    // 5.5.3 says a pong echoes the ping's data; that is what we do when answering).
    ws.on('ping', (data) => {
      if (!this.#ignorePings && ws.readyState === ws.OPEN) ws.pong(data);
    });
    // A client protocol error is reported here and followed by 'close'; nothing to throw.
    ws.on('error', () => {});
    this.closed = new Promise((resolve) => {
      ws.once('close', (code, reason) => {
        this.#inbox.end(new Error(`The connection closed (${code}) before another message arrived`));
        resolve({ code, reason: reason.toString('utf8') });
      });
    });
  }

  send(type: MessageType, data: string | Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws.send(data, { binary: type === MessageType.Binary }, (error) => (error ? reject(error) : resolve()));
    });
  }

  receive(): Promise<Message> {
    return this.#inbox.take();
  }

  close(code: number, reason: string): Promise<void> {
    try {
      this.ws.close(code, reason);
    } catch (error) {
      // ws refuses codes that may not be sent and reasons over 123 bytes.
      return Promise.reject(error);
    }
    return Promise.resolve();
  }

  drop(): void {
    // A TCP reset where the socket supports it (plain TCP); a TLS socket is destroyed instead.
    const socket = this.socket as Socket;
    try {
      if (typeof socket.resetAndDestroy === 'function') {
        socket.resetAndDestroy();
        return;
      }
    } catch {
      // not a TCP handle: fall through to destroy()
    }
    socket.destroy();
  }

  ignorePings(ignore: boolean): void {
    this.#ignorePings = ignore;
  }
}

class WsPeerImpl implements WsPeer {
  readonly #options: WsPeerOptions;
  #server: Server | undefined;
  #wss: WebSocketServer | undefined;
  #url: string | undefined;
  readonly #sockets = new Set<Duplex>();
  readonly #connections = new Set<WsPeerConnectionImpl>();
  readonly #accepted = new Inbox<WsPeerConnectionImpl>();
  readonly #refusals: PeerRefusal[] = [];
  readonly #hangs: Array<() => void> = [];
  #choose: (offered: readonly string[]) => string | false = (offered) => offered[0] ?? false;

  constructor(options: WsPeerOptions) {
    this.#options = options;
  }

  get url(): string | undefined {
    return this.#url;
  }

  async start(): Promise<string> {
    if (this.#url) return this.#url;
    const tls = this.#options.tls;
    const server = tls ? createHttpsServer({ key: tls.key, cert: tls.cert }) : createHttpServer();
    const wss = new WebSocketServer({
      noServer: true,
      autoPong: false,
      clientTracking: false,
      perMessageDeflate: this.#options.perMessageDeflate ?? false,
      ...(this.#options.maxPayload === undefined ? {} : { maxPayload: this.#options.maxPayload }),
      handleProtocols: (offered) => this.#choose([...offered]),
    });
    this.#server = server;
    this.#wss = wss;
    server.on(tls ? 'secureConnection' : 'connection', (socket: Duplex) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    server.on('request', (_req, res) => {
      res.writeHead(426, { connection: 'close', upgrade: 'websocket' }).end('WebSocket only');
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#onUpgrade(req, socket, head));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('The peer server has no TCP address');
    this.#url = `${tls ? 'wss' : 'ws'}://127.0.0.1:${address.port}/`;
    return this.#url;
  }

  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {});
    const hung = this.#hangs.shift();
    if (hung) {
      // No answer: the socket stays open (and tracked) until the client gives up or stop().
      hung();
      return;
    }
    const refusal = this.#refusals.shift();
    if (refusal) {
      socket.end(rawResponse(refusal));
      return;
    }
    this.#wss!.handleUpgrade(req, socket, head, (ws) => {
      const connection = new WsPeerConnectionImpl(ws, socket, req);
      this.#connections.add(connection);
      void connection.closed.then(() => this.#connections.delete(connection));
      this.#accepted.push(connection);
    });
  }

  accept(): Promise<WsPeerConnection> {
    return this.#accepted.take();
  }

  refuseNext(refusal: PeerRefusal): void {
    this.#refusals.push(refusal);
  }

  selectProtocol(choose: (offered: readonly string[]) => string | false): void {
    this.#choose = choose;
  }

  hangNext(): Promise<void> {
    return new Promise((resolve) => this.#hangs.push(resolve));
  }

  async stop(): Promise<void> {
    this.#accepted.end(new Error('The peer was stopped'));
    for (const connection of this.#connections) connection.ws.terminate();
    for (const socket of this.#sockets) socket.destroy();
    const server = this.#server;
    const wss = this.#wss;
    this.#server = undefined;
    this.#wss = undefined;
    if (wss) await new Promise<void>((resolve) => wss.close(() => resolve()));
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }
}

/** A contract peer over a `ws` server on 127.0.0.1, on a port the system picks. */
export function createWsPeer(options: WsPeerOptions = {}): WsPeer {
  return new WsPeerImpl(options);
}
