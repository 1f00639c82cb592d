/**
 * `engine.trySend()`: a message handed to the connection at once, without a promise, or nothing
 * sent and `false`. It must count what it sends, write inside the open hooks on the connection
 * being opened, never overtake queued messages (the outbox being flushed, writes waiting in the
 * adapter), and refuse wrong data as `send()` does. Real `ws` adapter, real `ws` server on
 * 127.0.0.1.
 */
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { InvalidArgumentError } from '../../src/adapters/errors.js';
import { MessageType, type WebSocketConnectionAdapter } from '../../src/adapters/types.js';
import { createWsAdapter } from '../../src/adapters/ws.js';
import { createEngine, createOutbox, type Engine, type EngineOptions } from '../../src/engine/index.js';

const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

interface Server {
  readonly url: string;
  /** Every message the server received, in order (binary as its length, `#<bytes>`). */
  readonly received: string[];
  /** Resolves once the server holds `count` messages. */
  receivedCount(count: number): Promise<void>;
  /** Closes every connection (1006 for the client). */
  dropAll(): void;
}

async function startServer(): Promise<Server> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const received: string[] = [];
  const waiters: Array<() => void> = [];
  wss.on('connection', (ws) => {
    ws.on('message', (data, binary) => {
      received.push(binary ? `#${(data as Buffer).length}` : String(data));
      for (const wake of waiters.splice(0)) wake();
    });
  });
  cleanups.push(async () => {
    for (const ws of wss.clients) ws.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });
  const receivedCount = async (count: number): Promise<void> => {
    while (received.length < count) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`,
    received,
    receivedCount,
    dropAll: () => {
      for (const ws of wss.clients) ws.terminate();
    },
  };
}

function engineFor(url: string, options: Partial<EngineOptions> = {}): Engine {
  const engine = createEngine({
    url,
    adapter: () => createWsAdapter(),
    heartbeat: false,
    tracing: false,
    reconnect: { minDelay: 0, maxDelay: 0, jitter: 0, minUptime: 0 },
    ...options,
  });
  engine.on('error', () => {});
  cleanups.push(() => engine.stop());
  return engine;
}

describe('engine.trySend()', () => {
  it('returns false before start, while connecting and after stop; an open engine sends at once and counts it', async () => {
    const server = await startServer();
    const engine = engineFor(server.url);
    expect(engine.trySend(MessageType.Text, 'before start')).toBe(false);
    const started = engine.start();
    expect(engine.state).toBe('connecting');
    expect(engine.trySend(MessageType.Text, 'while connecting')).toBe(false);
    await started;
    expect(engine.trySend(MessageType.Text, 'one')).toBe(true);
    expect(engine.trySend(MessageType.Binary, new Uint8Array(5))).toBe(true);
    await server.receivedCount(2);
    expect(server.received).toEqual(['one', '#5']);
    const metrics = engine.metrics();
    expect(metrics.messagesOut).toBe(2);
    expect(metrics.bytesOut).toBe(3 + 5);
    await engine.stop();
    expect(engine.trySend(MessageType.Text, 'after stop')).toBe(false);
  });

  it('throws InvalidArgumentError for wrong data in every state, as send() rejects it', async () => {
    const server = await startServer();
    const engine = engineFor(server.url);
    expect(() => engine.trySend(MessageType.Binary, 'not bytes' as never)).toThrow(InvalidArgumentError);
    expect(() => engine.trySend(7 as MessageType, 'x')).toThrow(InvalidArgumentError);
    await engine.start();
    expect(() => engine.trySend(MessageType.Text, new Uint8Array([0xff]))).toThrow(InvalidArgumentError);
    expect(() => engine.trySend(MessageType.Text, 42 as never)).toThrow(InvalidArgumentError);
    expect(engine.trySend(MessageType.Text, 'fine')).toBe(true);
    await server.receivedCount(1);
    expect(server.received).toEqual(['fine']);
    expect(engine.metrics().messagesOut).toBe(1);
  });

  it('inside onOpen writes on the connection being opened, before the queued messages', async () => {
    const server = await startServer();
    let opens = 0;
    const engine = engineFor(server.url, {
      outbox: createOutbox(),
      onOpen: () => {
        opens++;
        expect(engine.trySend(MessageType.Text, `hello ${opens}`)).toBe(true);
      },
    });
    await engine.start();
    await server.receivedCount(1);
    // Dropped: what is sent meanwhile waits in the outbox, and goes after the next hello.
    const closed = new Promise((resolve) => engine.once('close', resolve));
    server.dropAll();
    await closed;
    const queued = [engine.sendText('queued 1'), engine.sendText('queued 2')];
    await Promise.all(queued);
    await server.receivedCount(4);
    expect(server.received).toEqual(['hello 1', 'hello 2', 'queued 1', 'queued 2']);
  });

  it('returns false while the outbox is flushed: send() then keeps the order', async () => {
    const server = await startServer();
    const engine = engineFor(server.url, { outbox: createOutbox() });
    const queued = [engine.sendText('queued 1'), engine.sendText('queued 2')];
    const tried: boolean[] = [];
    engine.once('open', () => {
      tried.push(engine.trySend(MessageType.Text, 'live'));
      void engine.sendText('live');
    });
    await engine.start();
    await Promise.all(queued);
    await server.receivedCount(3);
    expect(tried).toEqual([false]);
    expect(server.received).toEqual(['queued 1', 'queued 2', 'live']);
    expect(engine.trySend(MessageType.Text, 'after the flush')).toBe(true);
  });

  it('trySend, else send, keeps call order when the adapter pushes back', async () => {
    const server = await startServer();
    const engine = engineFor(server.url, { adapter: () => createWsAdapter({ writeHighWaterMark: 64 * 1024 }) });
    await engine.start();
    // 32 MiB at once, far more than the kernel and 64 KiB take: most of it waits.
    const COUNT = 2048;
    const payload = new Uint8Array(16 * 1024);
    let refused = 0;
    const waiting: Array<Promise<void>> = [];
    for (let i = 0; i < COUNT; i++) {
      const text = `${i}`;
      if (i % 64 === 0) {
        if (!engine.trySend(MessageType.Text, text)) {
          refused++;
          waiting.push(engine.sendText(text));
        }
      } else if (!engine.trySend(MessageType.Binary, payload)) {
        refused++;
        waiting.push(engine.sendBinary(payload));
      }
    }
    expect(refused).toBeGreaterThan(0);
    await Promise.all(waiting);
    await server.receivedCount(COUNT);
    const markers = server.received.filter((m) => !m.startsWith('#'));
    expect(markers).toEqual(Array.from({ length: COUNT / 64 }, (_, k) => `${k * 64}`));
    for (let i = 0; i < COUNT; i++) expect(server.received[i]).toBe(i % 64 === 0 ? `${i}` : `#${payload.length}`);
    expect(engine.metrics().messagesOut).toBe(COUNT);
  });

  it('returns false over an adapter without tryWrite; send() is the way there', async () => {
    const server = await startServer();
    const engine = engineFor(server.url, {
      adapter: (): WebSocketConnectionAdapter => {
        const adapter = createWsAdapter();
        (adapter as { tryWrite?: unknown }).tryWrite = undefined;
        return adapter;
      },
    });
    await engine.start();
    expect(engine.trySend(MessageType.Text, 'not at once')).toBe(false);
    expect(() => engine.trySend(MessageType.Binary, 'still checked' as never)).toThrow(InvalidArgumentError);
    await engine.sendText('by send');
    await server.receivedCount(1);
    expect(server.received).toEqual(['by send']);
  });
});
