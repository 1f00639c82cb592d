/**
 * Bursts: messages that arrived together are taken through the adapter's `tryRead()`, without a
 * promise per message. The rules of delivery must hold inside such a burst exactly as they do
 * between awaited reads: order, a restart or a pause from the message hook taking effect at the
 * very next message. Real `ws` adapter, real `ws` server on 127.0.0.1.
 */
import type { AddressInfo } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { createWsAdapter, type WsAdapter } from '../../src/adapters/ws.js';
import { createEngine, exclusive, type Engine, type EngineOptions } from '../../src/engine/index.js';

const BURST = 50;
const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

async function startServer(): Promise<{ url: string; connections: WebSocket[]; next(): Promise<WebSocket> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const connections: WebSocket[] = [];
  const waiting: Array<(ws: WebSocket) => void> = [];
  wss.on('connection', (ws) => {
    connections.push(ws);
    waiting.shift()?.(ws);
  });
  cleanups.push(async () => {
    for (const ws of wss.clients) ws.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`,
    connections,
    next: () => new Promise((resolve) => waiting.push(resolve)),
  };
}

/** ws adapters that count the messages their `tryRead()` handed out. */
function countingAdapters(): { factory: () => WsAdapter; hits: () => number } {
  let hits = 0;
  return {
    hits: () => hits,
    factory: () => {
      const adapter = createWsAdapter();
      const tryRead = adapter.tryRead.bind(adapter);
      adapter.tryRead = () => {
        const message = tryRead();
        if (message !== undefined) hits++;
        return message;
      };
      return adapter;
    },
  };
}

function startEngine(options: EngineOptions): Engine {
  const engine = createEngine({ heartbeat: false, ...options });
  cleanups.push(() => engine.stop());
  return engine;
}

/**
 * Send a burst from the server while the engine's reads are held, and return once all of it has
 * arrived (the pong follows it on the same stream): the engine then finds it queued.
 */
async function queueBurst(engine: Engine, ws: WebSocket, tag = 'm'): Promise<void> {
  await exclusive(engine, async (adapter) => {
    for (let i = 0; i < BURST; i++) ws.send(`${tag}${i}`);
    await adapter.ping();
  });
}

const names = (tag: string, from: number, to: number): string[] =>
  Array.from({ length: to - from }, (_, i) => `${tag}${from + i}`);

it('delivers a queued burst in order, taking it through tryRead', async () => {
  const server = await startServer();
  const counting = countingAdapters();
  const seen: string[] = [];
  let all!: () => void;
  const delivered = new Promise<void>((resolve) => (all = resolve));
  const engine = startEngine({
    url: server.url,
    adapter: counting.factory,
    onMessage: (message) => {
      seen.push(message.data as string);
      if (seen.length === BURST) all();
    },
  });
  const accepted = server.next();
  await engine.start();
  await queueBurst(engine, await accepted);
  await delivered;
  expect(seen).toEqual(names('m', 0, BURST));
  // The first message went to the read in flight when the burst came; the rest were queued.
  expect(counting.hits()).toBe(BURST - 1);
  expect(engine.metrics().messagesIn).toBe(BURST);
});

it('stops delivering the old connection at once when the hook restarts mid-burst', async () => {
  const server = await startServer();
  const counting = countingAdapters();
  const seen: Array<[string, string]> = [];
  let firstId = '';
  const engine = startEngine({
    url: server.url,
    adapter: counting.factory,
    onMessage: (message, ctx) => {
      seen.push([ctx.connectionId, message.data as string]);
      if (message.data === 'm10') ctx.restart();
    },
  });
  const accepted = server.next();
  await engine.start();
  firstId = engine.connectionId!;
  const reopened = new Promise<string>((resolve) => engine.once('open', (info) => resolve(info.connectionId)));
  await queueBurst(engine, await accepted);
  const secondId = await reopened;
  expect(secondId).not.toBe(firstId);
  expect(seen).toEqual(names('m', 0, 11).map((name) => [firstId, name]));
  // The new connection delivers what its server sends.
  const ws = server.connections[1]!;
  const next = new Promise<string>((resolve) => engine.once('message', (m) => resolve(m.data as string)));
  ws.send('after restart');
  expect(await next).toBe('after restart');
});

it('holds the rest of a burst when the hook pauses mid-burst, and delivers it on resume', async () => {
  const server = await startServer();
  const seen: string[] = [];
  let all!: () => void;
  const delivered = new Promise<void>((resolve) => (all = resolve));
  const engine = startEngine({
    url: server.url,
    adapter: () => createWsAdapter(),
    onMessage: (message) => {
      seen.push(message.data as string);
      if (message.data === 'm10') engine.pause();
      if (seen.length === BURST) all();
    },
  });
  const accepted = server.next();
  await engine.start();
  await queueBurst(engine, await accepted);
  // An exclusive hold starts only once the paused reader has parked: nothing more came through.
  await exclusive(engine, () => undefined);
  expect(seen).toEqual(names('m', 0, 11));
  expect(engine.paused).toBe(true);
  engine.resume();
  await delivered;
  expect(seen).toEqual(names('m', 0, BURST));
});

it('delivers nothing more once the hook stops the engine mid-burst', async () => {
  const server = await startServer();
  const seen: string[] = [];
  const engine = startEngine({
    url: server.url,
    adapter: () => createWsAdapter(),
    onMessage: (message, ctx) => {
      seen.push(message.data as string);
      if (message.data === 'm10') ctx.exit();
    },
  });
  const accepted = server.next();
  await engine.start();
  const stopped = new Promise<void>((resolve) => engine.once('stopped', () => resolve()));
  await queueBurst(engine, await accepted);
  await stopped;
  expect(seen).toEqual(names('m', 0, 11));
});

it('lets an exclusive holder drain a burst in order, the carried-over read first', async () => {
  const server = await startServer();
  const seen: string[] = [];
  const engine = startEngine({
    url: server.url,
    adapter: () => createWsAdapter(),
    onMessage: (message) => void seen.push(message.data as string),
  });
  const accepted = server.next();
  await engine.start();
  const ws = await accepted;
  const drained = await exclusive(engine, async (adapter) => {
    for (let i = 0; i < BURST; i++) ws.send(`m${i}`);
    await adapter.ping();
    // m0 went to the engine's read in flight, which this holder took over: nothing overtakes it.
    expect(adapter.tryRead!()).toBeUndefined();
    const out = [(await adapter.read()).data as string];
    for (let message = adapter.tryRead!(); message !== undefined; message = adapter.tryRead!()) {
      out.push(message.data as string);
    }
    return out;
  });
  expect(drained).toEqual(names('m', 0, BURST));
  expect(seen).toEqual([]);
});
