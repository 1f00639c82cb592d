/**
 * Bursts: messages that arrived together are taken through the adapter's `tryRead()`, without a
 * promise per message. The rules of delivery must hold inside such a burst exactly as they do
 * between awaited reads: order, a restart or a pause from the message hook taking effect at the
 * very next message. Each test runs twice: with the adapter's `listen` (while the engine listens,
 * messages arrive straight from ws's event, and a burst queues only while the reader is held), and
 * without it, as for an adapter that only has `read` and `tryRead` (then a read is in flight when a
 * burst comes, and an exclusive holder takes it over). Real `ws` adapter, real `ws` server on
 * 127.0.0.1.
 */
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
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

/** A ws adapter, without `listen` when `listens` is false. */
function wsAdapter(listens: boolean): WsAdapter {
  const adapter = createWsAdapter();
  if (!listens) (adapter as { listen?: unknown }).listen = undefined;
  return adapter;
}

/** ws adapters that count the messages their `tryRead()` handed out. */
function countingAdapters(listens: boolean): { factory: () => WsAdapter; hits: () => number } {
  let hits = 0;
  return {
    hits: () => hits,
    factory: () => {
      const adapter = wsAdapter(listens);
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

/** An open engine over a ws adapter whose message hook records the text it gets, and the server side. */
async function recordingEngine(listens: boolean): Promise<{ engine: Engine; ws: WebSocket; seen: string[] }> {
  const server = await startServer();
  const seen: string[] = [];
  const engine = startEngine({
    url: server.url,
    adapter: () => wsAdapter(listens),
    onMessage: (message) => void seen.push(message.data as string),
  });
  const accepted = server.next();
  await engine.start();
  return { engine, ws: await accepted, seen };
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

describe.each([
  ['listening', true],
  ['reading', false],
])('%s', (_mode, listens) => {
  it('delivers a queued burst in order, taking it through tryRead', async () => {
    const server = await startServer();
    const counting = countingAdapters(listens);
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
    // Listening, the hold stopped it and the whole burst queued; reading, the first message went
    // to the read in flight when the burst came, and the rest were queued.
    expect(counting.hits()).toBe(listens ? BURST : BURST - 1);
    expect(engine.metrics().messagesIn).toBe(BURST);
  });

  it('lets the hook add and remove message listeners mid-burst, effective from that very message', async () => {
    const server = await startServer();
    const heard: string[] = [];
    const heardOnce: string[] = [];
    const hear = (message: { data: unknown }): void => void heard.push(message.data as string);
    let all!: () => void;
    const delivered = new Promise<void>((resolve) => (all = resolve));
    let seen = 0;
    let off: (() => void) | undefined;
    const engine = startEngine({
      url: server.url,
      adapter: () => wsAdapter(listens),
      onMessage: () => {
        seen++;
        if (seen === 10) engine.on('message', hear);
        if (seen === 20) engine.off('message', hear);
        if (seen === 30) engine.once('message', (message) => void heardOnce.push(message.data as string));
        if (seen === 40) off = engine.on('message', hear);
        if (seen === 45) off?.();
        if (seen === BURST) all();
      },
    });
    const accepted = server.next();
    await engine.start();
    await queueBurst(engine, await accepted);
    await delivered;
    expect(heard).toEqual([...names('m', 9, 19), ...names('m', 39, 44)]);
    expect(heardOnce).toEqual(['m29']);
  });

  it('stops delivering the old connection at once when the hook restarts mid-burst', async () => {
    const server = await startServer();
    const counting = countingAdapters(listens);
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
      adapter: () => wsAdapter(listens),
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
      adapter: () => wsAdapter(listens),
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

  it('lets an exclusive holder drain a burst in order, a carried-over read first', async () => {
    const { engine, ws, seen } = await recordingEngine(listens);
    const drained = await exclusive(engine, async (adapter) => {
      for (let i = 0; i < BURST; i++) ws.send(`m${i}`);
      await adapter.ping();
      // Reading, m0 went to the engine's read in flight, which this holder took over: nothing
      // overtakes it. Listening, the hold stopped it first, so m0 waits in the queue.
      const first = adapter.tryRead!();
      if (listens) expect(first?.data).toBe('m0');
      else expect(first).toBeUndefined();
      const out = [((first ?? (await adapter.read())).data as string)];
      for (let message = adapter.tryRead!(); message !== undefined; message = adapter.tryRead!()) {
        out.push(message.data as string);
      }
      return out;
    });
    expect(drained).toEqual(names('m', 0, BURST));
    expect(seen).toEqual([]);
  });

  it('holds later messages while an async hook runs, then delivers them in order', async () => {
    const server = await startServer();
    const seen: string[] = [];
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const slowEntered = new Promise<void>((resolve) => (entered = resolve));
    let all!: () => void;
    const delivered = new Promise<void>((resolve) => (all = resolve));
    let current!: WsAdapter;
    const engine = startEngine({
      url: server.url,
      adapter: () => (current = wsAdapter(listens)),
      onMessage: (message) => {
        seen.push(message.data as string);
        if (seen.length === BURST + 1) all();
        if (message.data !== 'slow') return undefined;
        entered();
        return released;
      },
    });
    const accepted = server.next();
    await engine.start();
    const ws = await accepted;
    ws.send('slow');
    await slowEntered;
    for (let i = 0; i < BURST; i++) ws.send(`m${i}`);
    // The burst has arrived (the pong follows it) and waits in the adapter, not in the hook.
    await current.ping();
    expect(seen).toEqual(['slow']);
    release();
    await delivered;
    expect(seen).toEqual(['slow', ...names('m', 0, BURST)]);
  });

  it('notices at once that the connection was lost while paused with nothing in hand', async () => {
    const server = await startServer();
    const engine = startEngine({ url: server.url, adapter: () => wsAdapter(listens), reconnect: { retries: 0 } });
    const accepted = server.next();
    await engine.start();
    const ws = await accepted;
    engine.pause();
    const closed = new Promise<{ code: number }>((resolve) => engine.once('close', (info) => resolve(info)));
    // No heartbeat: only a read in flight can notice the loss while paused.
    ws.terminate();
    expect((await closed).code).toBe(1006);
  });

  it('gives a message that arrives after exclusive() was called to the holder', async () => {
    const { engine, ws, seen } = await recordingEngine(listens);
    let holding!: () => void;
    const held = new Promise<void>((resolve) => (holding = resolve));
    const got = exclusive(engine, async (adapter) => {
      holding();
      return (await adapter.read()).data;
    });
    ws.send('for the holder');
    await held;
    expect(await got).toBe('for the holder');
    ws.send('for the hook');
    const next = new Promise<string>((resolve) => engine.once('message', (m) => resolve(m.data as string)));
    expect(await next).toBe('for the hook');
    expect(seen).toEqual(['for the hook']);
  });
});

it('takes messages straight from the ws adapter while the hook keeps up: none passes its queue', async () => {
  const server = await startServer();
  let reads = 0;
  let tryReads = 0;
  let all!: () => void;
  const delivered = new Promise<void>((resolve) => (all = resolve));
  const seen: string[] = [];
  const engine = startEngine({
    url: server.url,
    adapter: () => {
      const adapter = createWsAdapter();
      const read = adapter.read.bind(adapter);
      const tryRead = adapter.tryRead.bind(adapter);
      adapter.read = (options) => {
        reads++;
        return read(options);
      };
      adapter.tryRead = () => {
        const message = tryRead();
        if (message !== undefined) tryReads++;
        return message;
      };
      return adapter;
    },
    onMessage: (message) => {
      seen.push(message.data as string);
      if (seen.length === BURST) all();
    },
  });
  const accepted = server.next();
  await engine.start();
  const ws = await accepted;
  for (let i = 0; i < BURST; i++) ws.send(`m${i}`);
  await delivered;
  expect(seen).toEqual(names('m', 0, BURST));
  expect([reads, tryReads]).toEqual([0, 0]);
  expect(engine.metrics().messagesIn).toBe(BURST);
});
