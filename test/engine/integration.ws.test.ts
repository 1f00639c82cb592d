/**
 * The engine with the real `ws` adapter against a real `ws` server on 127.0.0.1, through the
 * fault proxy: restarts, resets, half-open connections, refusals, 401, expiring queued sends,
 * and a stop() that leaves no handle behind.
 */
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { HandshakeError } from '../../src/adapters/errors.js';
import { createWsAdapter } from '../../src/adapters/ws.js';
import {
  createEngine,
  EngineStoppedError,
  MessageExpiredError,
  type Engine,
  type EngineEvents,
  type EngineOptions,
  createOutbox,
} from '../../src/engine/index.js';
import { FaultProxy } from '../../src/testing/fault-proxy.js';

interface Server {
  readonly wss: WebSocketServer;
  readonly port: number;
  readonly sockets: Set<WebSocket>;
  readonly received: string[];
  /** Resolves with the next connection. */
  nextConnection(): Promise<WebSocket>;
  stop(): Promise<void>;
}

const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

async function startServer(port = 0, options: { refuseWith?: () => number | undefined } = {}): Promise<Server> {
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port,
    verifyClient: (_info, done) => {
      const status = options.refuseWith?.();
      if (status) done(false, status);
      else done(true);
    },
  });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const sockets = new Set<WebSocket>();
  const received: string[] = [];
  let waiting: Array<(ws: WebSocket) => void> = [];
  wss.on('connection', (ws) => {
    sockets.add(ws);
    ws.on('message', (data) => {
      received.push(String(data));
      wss.emit('message-seen');
    });
    ws.on('close', () => sockets.delete(ws));
    for (const wake of waiting.splice(0)) wake(ws);
  });
  let stopped = false;
  const server: Server = {
    wss,
    port: (wss.address() as AddressInfo).port,
    sockets,
    received,
    nextConnection: () => new Promise((resolve) => waiting.push(resolve)),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      waiting = [];
      for (const ws of sockets) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
  cleanups.push(() => server.stop());
  return server;
}

/** Resolves once the server has received `text`. */
function receivedBy(server: Server, text: string): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (server.received.includes(text)) {
        server.wss.off('message-seen', check);
        resolve();
      }
    };
    server.wss.on('message-seen', check);
    check();
  });
}

async function startProxy(targetPort: number): Promise<FaultProxy> {
  const proxy = await FaultProxy.start({ targetPort });
  cleanups.push(() => proxy.close());
  return proxy;
}

function engineFor(url: string, options: Partial<EngineOptions> = {}): Engine {
  const engine = createEngine({
    url,
    adapter: () => createWsAdapter({ closeTimeout: 1000 }),
    tracing: false,
    heartbeat: false,
    closeTimeout: 1000,
    ...options,
    reconnect: { minDelay: 20, maxDelay: 200, jitter: 0, minUptime: 0, ...(options.reconnect || {}) },
  });
  cleanups.push(() => engine.stop());
  return engine;
}

function next<E extends keyof EngineEvents>(engine: Engine, name: E, where?: (...args: EngineEvents[E]) => boolean) {
  return new Promise<EngineEvents[E]>((resolve) => {
    const off = engine.on(name, ((...args: EngineEvents[E]) => {
      if (where && !where(...args)) return;
      off();
      resolve(args);
    }) as never);
  });
}

describe('the engine over ws, through the fault proxy', () => {
  it('rides out a server restart on the same port', async () => {
    let server = await startServer();
    const proxy = await startProxy(server.port);
    const engine = engineFor(proxy.url());
    const messages: string[] = [];
    engine.on('message', (m) => messages.push(m.data as string));
    const first = server.nextConnection();
    await engine.start();
    (await first).send('before restart');
    await next(engine, 'message');
    const port = server.port;
    const lost = next(engine, 'close');
    const failed = next(engine, 'attempt-failed');
    await server.stop();
    expect((await lost)[0]).toMatchObject({ initiator: 'remote', code: 1006 });
    // While the server is down, attempts fail (the proxy's upstream connect is refused).
    await failed;
    server = await startServer(port);
    const reopened = next(engine, 'open');
    const second = server.nextConnection();
    await reopened;
    (await second).send('after restart');
    await next(engine, 'message');
    expect(messages).toEqual(['before restart', 'after restart']);
    expect(engine.metrics().reconnects).toBe(1);
  });

  it('reconnects after a connection reset', async () => {
    const server = await startServer();
    const proxy = await startProxy(server.port);
    const engine = engineFor(proxy.url());
    await engine.start();
    const firstId = engine.connectionId;
    const lost = next(engine, 'close');
    const reopened = next(engine, 'open');
    proxy.reset();
    const [info] = await lost;
    expect(info).toMatchObject({ initiator: 'remote', code: 1006 });
    const [open] = await reopened;
    expect(open.connectionId).not.toBe(firstId);
    expect(engine.state).toBe('open');
  });

  it('detects a half-open (blackholed) connection with the heartbeat and replaces it', async () => {
    const server = await startServer();
    const proxy = await startProxy(server.port);
    const engine = engineFor(proxy.url(), { heartbeat: { interval: 100, timeout: 100 } });
    const serverSide = server.nextConnection();
    await engine.start();
    // A few answered pings first: the connection is healthy.
    await next(engine, 'pong');
    const ws = await serverSide;
    let serverSawClose = false;
    ws.on('close', () => (serverSawClose = true));
    const timedOut = next(engine, 'heartbeat-timeout');
    const reopened = next(engine, 'open');
    proxy.blackhole();
    await timedOut;
    const [open] = await reopened;
    expect(open.attempt).toBeGreaterThanOrEqual(1);
    // No FIN or RST reached the server: only the heartbeat could tell.
    expect(serverSawClose).toBe(false);
    expect(engine.metrics().heartbeatTimeouts).toBe(1);
  });

  it('retries refused connections with the configured growing delays, then connects', async () => {
    const server = await startServer();
    const proxy = await startProxy(server.port);
    const engine = engineFor(proxy.url(), { reconnect: { minDelay: 20, maxDelay: 1000 } });
    await engine.start();
    const delays: number[] = [];
    const failures: unknown[] = [];
    engine.on('retry', (info) => delays.push(info.delayMs));
    engine.on('attempt-failed', (error) => failures.push(error));
    await proxy.refuse();
    const fourFailures = new Promise<void>((resolve) => {
      const off = engine.on('attempt-failed', () => {
        if (failures.length >= 4) {
          off();
          resolve();
        }
      });
    });
    proxy.reset();
    await fourFailures;
    const reopened = next(engine, 'open');
    await proxy.listen();
    await reopened;
    expect(delays.slice(0, 5)).toEqual([20, 40, 80, 160, 320]);
    for (const error of failures) {
      expect(error).toBeInstanceOf(HandshakeError);
      expect(((error as HandshakeError).cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    }
  });

  it('does not retry a reconnect refused with 401', async () => {
    let refuse = false;
    const server = await startServer(0, { refuseWith: () => (refuse ? 401 : undefined) });
    const proxy = await startProxy(server.port);
    const engine = engineFor(proxy.url());
    await engine.start();
    const stopped = next(engine, 'stopped');
    refuse = true;
    proxy.reset();
    const [{ error }] = await stopped;
    expect(error).toBeInstanceOf(HandshakeError);
    expect((error as HandshakeError).status).toBe(401);
    expect(engine.state).toBe('stopped');
    expect(proxy.accepted).toBe(2);
  });

  it('rejects queued messages that expire while disconnected; they are never sent', async () => {
    const server = await startServer();
    const proxy = await startProxy(server.port);
    const engine = engineFor(proxy.url(), { outbox: createOutbox({ ttl: 150 }), reconnect: { maxDelay: 50 } });
    await engine.start();
    await engine.sendText('while open');
    await receivedBy(server, 'while open');
    await proxy.refuse();
    const lost = next(engine, 'close');
    proxy.reset();
    await lost;
    const late = engine.sendText('stale order');
    await expect(late).rejects.toBeInstanceOf(MessageExpiredError);
    const fresh = engine.sendText('fresh order', { ttl: 60_000 });
    const reopened = next(engine, 'open');
    const connection = server.nextConnection();
    await proxy.listen();
    await reopened;
    await fresh;
    await connection;
    await receivedBy(server, 'fresh order');
    expect(server.received).toEqual(['while open', 'fresh order']);
  });
});

describe('start() while a stop() is under way', () => {
  it('rejects with EngineStoppedError instead of resolving for an engine that ends stopped', async () => {
    const server = await startServer();
    const engine = engineFor(`ws://127.0.0.1:${server.port}/`);
    await engine.start();
    const stopping = engine.stop();
    const error = await engine.start().then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(EngineStoppedError);
    expect((error as Error).message).toMatch(/stopping/);
    await stopping;
    expect(engine.state).toBe('stopped');
    // Once the stop has finished, start() starts afresh.
    await engine.start();
    expect(engine.state).toBe('open');
  });

  it('after an aborted start(), a new start() made during the stop says the engine is stopping', async () => {
    const server = await startServer();
    const port = server.port;
    await server.stop(); // nothing listens: attempts fail and are retried
    const engine = engineFor(`ws://127.0.0.1:${port}/`);
    const controller = new AbortController();
    const first = engine.start({ signal: controller.signal });
    await next(engine, 'attempt-failed');
    const stopped = next(engine, 'stopped');
    controller.abort(new Error('gave up'));
    // The abort stops the engine; a start() right away (a retry button) comes during that stop.
    const second = engine.start();
    await expect(first).rejects.toThrow('gave up');
    await expect(second).rejects.toBeInstanceOf(EngineStoppedError);
    await expect(second).rejects.toThrow(/stopping/);
    await stopped;
    expect(engine.state).toBe('stopped');
  });
});
