/**
 * The fault matrix's parts: a sequence server (a `ws` server on 127.0.0.1 that writes numbered
 * messages on every connection), the engine under test behind the fault proxy, and the
 * bookkeeping that checks what arrived.
 *
 * Every message is `"<connection> <seq> <global>"`: the server's connection number, the message's
 * number within that connection (from 0), and its number across the server's life. Within one
 * connection the client must receive exactly 0, 1, 2, ... n-1 (once each, in order, no gap):
 * whatever it misses can only be the tail the fault cut off. Across a reconnect, the global
 * numbers show the gap: what the server wrote on the old connection that never arrived.
 */
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AdapterFactory } from '../../src/adapters/types.js';
import { createEngine, type Engine, type EngineEvents } from '../../src/engine/index.js';
import { FaultProxy } from '../../src/testing/fault-proxy.js';

/** Heartbeat of the engines under test: short, so the matrix stays fast. */
export const HEARTBEAT = { interval: 100, timeout: 100 } as const;
/**
 * Detection of a black hole is bounded by interval + timeout (the next probe goes out at most
 * `interval` after the path died, and is given up `timeout` later; in traffic mode silence for
 * interval + timeout is death) plus this margin for timer and event-loop scheduling on a
 * loaded 2-core machine.
 */
export const DETECTION_MARGIN_MS = 400;
/** How often the server writes a message on each connection, in ms. */
export const SEND_EVERY_MS = 5;

/** The server's numbering and what it wrote; shared by a server and its restarted successor. */
export class Ledger {
  connections = 0;
  global = 0;
  /** Messages written per server connection number. */
  readonly written = new Map<number, number>();
}

export interface SequenceServer {
  readonly port: number;
  readonly ledger: Ledger;
  /** Like a crash: every connection dropped without a close frame, the port freed. */
  stop(): Promise<void>;
}

export async function startSequenceServer(port = 0, ledger = new Ledger()): Promise<SequenceServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const sockets = new Set<WebSocket>();
  wss.on('connection', (ws) => {
    const id = ledger.connections++;
    let seq = 0;
    sockets.add(ws);
    ledger.written.set(id, 0);
    const timer = setInterval(() => {
      if (ws.readyState !== ws.OPEN) return;
      ws.send(`${id} ${seq++} ${ledger.global++}`);
      ledger.written.set(id, seq);
    }, SEND_EVERY_MS);
    ws.on('close', () => {
      clearInterval(timer);
      sockets.delete(ws);
    });
    ws.on('error', () => {});
  });
  let stopped: Promise<void> | undefined;
  return {
    port: (wss.address() as AddressInfo).port,
    ledger,
    stop: () =>
      (stopped ??= new Promise<void>((resolve) => {
        for (const ws of sockets) ws.terminate();
        wss.close(() => resolve());
      })),
  };
}

export interface Received {
  readonly connectionId: string;
  readonly server: number;
  readonly seq: number;
  readonly global: number;
}

/** The engine under test, recording what it delivered and when its events fired. */
export class Subject {
  readonly engine: Engine;
  readonly received: Received[] = [];
  readonly opens: Array<{ at: number; connectionId: string }> = [];
  readonly heartbeatTimeouts: number[] = [];
  readonly closes: Array<EngineEvents['close'][0]> = [];
  readonly errors: unknown[] = [];
  readonly #waiters: Array<{ test: () => boolean; resolve: () => void }> = [];

  constructor(url: string, adapter: AdapterFactory) {
    this.engine = createEngine({
      url,
      adapter,
      tracing: false,
      heartbeat: HEARTBEAT,
      closeTimeout: 200,
      reconnect: { minDelay: 20, maxDelay: 100, jitter: 0, minUptime: 0, retryOnStart: true },
    });
    this.engine.on('message', (message, connectionId) => {
      const [server, seq, global] = String(message.data).split(' ').map(Number) as [number, number, number];
      this.received.push({ connectionId, server, seq, global });
      this.#wake();
    });
    this.engine.on('open', ({ connectionId }) => {
      this.opens.push({ at: Date.now(), connectionId });
      this.#wake();
    });
    this.engine.on('heartbeat-timeout', () => {
      this.heartbeatTimeouts.push(Date.now());
      this.#wake();
    });
    this.engine.on('close', (info) => {
      this.closes.push(info);
      this.#wake();
    });
    this.engine.on('error', (error) => this.errors.push(error));
  }

  /** Resolves once `test` holds (checked after every event). */
  until(test: () => boolean): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ test, resolve }));
  }

  /** Resolves once `count` messages arrived on the current (latest) connection. */
  messagesOnLatest(count: number): Promise<void> {
    return this.until(() => {
      const latest = this.opens.at(-1)?.connectionId;
      return latest !== undefined && this.received.filter((r) => r.connectionId === latest).length >= count;
    });
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) {
      if (waiter.test()) {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  }
}

export interface DeliveryReport {
  /** Engine connections that delivered messages, in order. */
  readonly connections: number;
  /** For each reconnect: messages the server wrote on the old connection that never arrived. */
  readonly gaps: number[];
}

/**
 * Check what arrived: on each connection, exactly the server's messages 0..n-1 of one server
 * connection, in order; and compute the gap across each reconnect. Throws on a violation.
 */
export function checkDelivery(received: readonly Received[], written: ReadonlyMap<number, number>): DeliveryReport {
  const byConnection = new Map<string, Received[]>();
  for (const r of received) {
    const list = byConnection.get(r.connectionId) ?? [];
    list.push(r);
    byConnection.set(r.connectionId, list);
  }
  const gaps: number[] = [];
  const servers = new Set<number>();
  for (const [connectionId, list] of byConnection) {
    const server = list[0]!.server;
    if (servers.has(server)) throw new Error(`server connection ${server} delivered on two engine connections`);
    servers.add(server);
    list.forEach((r, index) => {
      if (r.server !== server || r.seq !== index) {
        throw new Error(
          `connection ${connectionId}: message ${index} is ${r.server}/${r.seq}, expected ${server}/${index} (a loss, duplicate or reorder)`,
        );
      }
    });
    const wrote = written.get(server) ?? 0;
    if (list.length > wrote) throw new Error(`connection ${connectionId}: ${list.length} messages, but the server wrote ${wrote}`);
    gaps.push(wrote - list.length);
  }
  // The last connection was ended by stop(): its unread tail is not a reconnect gap.
  gaps.pop();
  return { connections: byConnection.size, gaps };
}

/** The proxy and the server, with cleanups in order. */
export async function startPath(): Promise<{ server: SequenceServer; proxy: FaultProxy }> {
  const server = await startSequenceServer();
  const proxy = await FaultProxy.start({ targetPort: server.port });
  return { server, proxy };
}

export type { EngineEvents };
