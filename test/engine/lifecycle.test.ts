/**
 * Lifecycle and hooks of the engine, against the mock server under fake timers.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HandshakeError, MessageType, WebSocketCloseError, type Message } from '../../src/adapters/index.js';
import {
  EngineStoppedError,
  InvalidOptionError,
  OpenTimeoutError,
  createEngine,
  createOutbox,
  type EngineOptions,
  type HookContext,
} from '../../src/engine/index.js';
import { MockServer } from '../../src/mocks/index.js';
import { cleanup, harness, next } from './helpers.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(cleanup);

describe('start and stop', () => {
  it('goes idle -> connecting -> open, and start() resolves once open', async () => {
    const { engine, of } = harness();
    expect(engine.state).toBe('idle');
    await engine.start();
    expect(engine.state).toBe('open');
    expect(of('state')).toEqual([
      ['connecting', 'idle'],
      ['open', 'connecting'],
    ]);
    expect(of('connecting')).toEqual([[{ attempt: 1 }]]);
    expect(of('open')[0]![0]).toMatchObject({ attempt: 1, connectionId: engine.connectionId });
  });

  it('stop() closes with 1000, waits for the closing handshake, and ends in stopped', async () => {
    const { engine, server, of, names } = harness();
    await engine.start();
    const conn = await server.accept();
    await engine.stop();
    expect(await conn.closed).toEqual({ code: 1000, reason: '' });
    expect(engine.state).toBe('stopped');
    expect(of('state').map(([to]) => to)).toEqual(['connecting', 'open', 'closing', 'stopped']);
    expect(of('close')[0]![0]).toMatchObject({ code: 1000, initiator: 'local', error: undefined });
    expect(names().at(-1)).toBe('stopped');
    expect(of('stopped')).toEqual([[{ error: undefined }]]);
  });

  it('stop() gives up waiting for the server close frame after closeTimeout', async () => {
    const { engine, server } = harness({ closeTimeout: 300 });
    await engine.start();
    const conn = await server.accept();
    conn.setDelays({ close: 10_000 });
    let stopped = false;
    const stopping = engine.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(299);
    expect(stopped).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await stopping;
    expect(stopped).toBe(true);
    expect(engine.state).toBe('stopped');
  });

  it('stop() before the first connection opens rejects start() with EngineStoppedError', async () => {
    const { engine, server } = harness();
    server.setDelays({ dial: 1000 });
    const starting = engine.start();
    const failed = expect(starting).rejects.toBeInstanceOf(EngineStoppedError);
    await vi.advanceTimersByTimeAsync(10);
    await engine.stop();
    await failed;
    expect(engine.state).toBe('stopped');
  });

  it('start() again after stop() connects afresh', async () => {
    const { engine, server } = harness();
    await engine.start();
    await engine.stop();
    await engine.start();
    expect(engine.state).toBe('open');
    expect(server.connections).toHaveLength(2);
    expect(engine.metrics().connects).toBe(2);
  });

  it('with retryOnStart: false, a refused first dial rejects start() with the HandshakeError at once', async () => {
    const { engine, server, of } = harness({ reconnect: { retryOnStart: false } });
    server.refuseNext({ status: 503 });
    const error = await engine.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HandshakeError);
    expect((error as HandshakeError).status).toBe(503);
    expect(engine.state).toBe('stopped');
    expect(server.requests).toHaveLength(1);
    expect(of('attempt-failed')).toHaveLength(1);
  });

  it('with retryOnStart, the first connection is retried with backoff', async () => {
    const { engine, server, of } = harness({ reconnect: { retryOnStart: true } });
    server.refuseNext({ status: 502 });
    server.refuseNext({ status: 502 });
    const starting = engine.start();
    await vi.advanceTimersByTimeAsync(100 + 200);
    await starting;
    expect(of('retry').map(([r]) => [r.attempt, r.delayMs])).toEqual([
      [2, 100],
      [3, 200],
    ]);
    expect(server.requests).toHaveLength(3);
  });

  it('the open timeout covers dial plus open hook', async () => {
    const { engine } = harness({
      reconnect: { openTimeout: 500, retryOnStart: false },
      onOpen: () => new Promise<void>(() => {}),
    });
    const failed = expect(engine.start()).rejects.toBeInstanceOf(OpenTimeoutError);
    await vi.advanceTimersByTimeAsync(500);
    await failed;
  });
});

describe('hooks', () => {
  it('the open hook talks to the server before any message is delivered', async () => {
    const delivered: string[] = [];
    const server = new MockServer();
    server.on('connection', (conn) => {
      // The server speaks first, before the client said anything.
      void conn.sendText('welcome');
      void conn.received().then(async (m) => {
        if (m.data === 'auth secret') await conn.sendText('auth ok');
        await conn.sendText('tick 1');
      });
    });
    const opened: string[] = [];
    const { engine } = harness({
      adapter: () => server.createAdapter(),
      onOpen: async (ctx) => {
        opened.push((await ctx.adapter.read()).data as string);
        await ctx.adapter.write(MessageType.Text, 'auth secret');
        opened.push((await ctx.adapter.read()).data as string);
      },
      onMessage: (m) => {
        delivered.push(m.data as string);
      },
    });
    await engine.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(opened).toEqual(['welcome', 'auth ok']);
    expect(delivered).toEqual(['tick 1']);
    await server.stop();
  });

  it('an open hook failure fails start() with its error (retryOnStart: false)', async () => {
    const boom = new Error('auth refused');
    const { engine, server } = harness({
      reconnect: { retryOnStart: false },
      onOpen: () => {
        throw boom;
      },
    });
    await expect(engine.start()).rejects.toBe(boom);
    const conn = server.connections[0]!;
    // The dialled connection is closed, not leaked.
    expect(conn.state).toBe('closed');
  });

  it('an open hook failure while reconnecting counts as a failed attempt and is retried', async () => {
    let calls = 0;
    const restartErrors: Array<[unknown, number]> = [];
    const { engine, server, of } = harness({
      onOpen: (ctx) => {
        calls++;
        if (ctx.reconnect && calls === 2) throw new Error('not yet');
      },
      onRestartError: (error, ctx) => {
        restartErrors.push([error, ctx.attempt]);
      },
    });
    await engine.start();
    (await server.accept()).drop();
    await vi.advanceTimersByTimeAsync(100 + 200);
    expect(engine.state).toBe('open');
    expect(calls).toBe(3);
    expect(restartErrors.map(([e, n]) => [(e as Error).message, n])).toEqual([['not yet', 1]]);
    expect(of('open').map(([o]) => o.attempt)).toEqual([1, 2]);
  });

  it('hooks receive the adapter, the connection id, restart() and exit()', async () => {
    const seen: HookContext[] = [];
    const { engine } = harness({ onOpen: (ctx) => void seen.push(ctx) });
    await engine.start();
    const ctx = seen[0]!;
    expect(ctx.connectionId).toBe(engine.connectionId);
    expect(ctx.reconnect).toBe(false);
    expect(ctx.handshake.status).toBe(101);
    expect(typeof ctx.adapter.read).toBe('function');
    expect(typeof ctx.restart).toBe('function');
    expect(typeof ctx.exit).toBe('function');
  });

  it('the close hook chooses the close code and reason of a local close', async () => {
    const { engine, server } = harness({ onClose: () => ({ code: 4000, reason: 'bye' }) });
    await engine.start();
    const conn = await server.accept();
    await engine.stop();
    expect(await conn.closed).toEqual({ code: 4000, reason: 'bye' });
  });

  it('the close hook sees a remote close with its code and reason', async () => {
    const infos: unknown[] = [];
    const { engine, server } = harness({ onClose: (info) => void infos.push(info) });
    await engine.start();
    const conn = await server.accept();
    await conn.close(1012, 'restarting');
    await vi.advanceTimersByTimeAsync(0);
    expect(infos[0]).toMatchObject({ code: 1012, reason: 'restarting', initiator: 'remote' });
    expect((infos[0] as { error: unknown }).error).toBeInstanceOf(WebSocketCloseError);
  });

  it('an invalid close code from the hook is reported to onCloseError and the close goes out with 1000', async () => {
    const closeErrors: unknown[] = [];
    const { engine, server } = harness({
      onClose: () => ({ code: 1006 }),
      onCloseError: (e) => void closeErrors.push(e),
    });
    await engine.start();
    const conn = await server.accept();
    await engine.stop();
    expect(await conn.closed).toEqual({ code: 1000, reason: '' });
    expect(closeErrors).toHaveLength(1);
  });

  it('restart() from the message hook replaces the connection at once', async () => {
    const { engine, server, of } = harness({
      onMessage: (m, ctx) => {
        if (m.data === 'restart please') ctx.restart();
      },
    });
    await engine.start();
    const first = await server.accept();
    await first.sendText('restart please');
    const second = await server.accept();
    expect(await first.closed).toEqual({ code: 1000, reason: 'restart' });
    expect(second.id).toBe(2);
    await vi.advanceTimersByTimeAsync(0);
    expect(engine.state).toBe('open');
    expect(of('retry')).toEqual([]);
    expect(engine.metrics().reconnects).toBe(1);
  });

  it('exit() from a hook stops the engine', async () => {
    const { engine, server, of } = harness({
      onMessage: (m, ctx) => {
        if (m.data === 'exit') ctx.exit();
      },
    });
    await engine.start();
    const conn = await server.accept();
    await conn.sendText('exit');
    expect(await conn.closed).toEqual({ code: 1000, reason: '' });
    await vi.advanceTimersByTimeAsync(0);
    expect(engine.state).toBe('stopped');
    expect(of('stopped')).toHaveLength(1);
  });

  it('a read error that is not a close goes to onReadError, and reading goes on', async () => {
    const server = new MockServer();
    let failOnce = true;
    const readErrors: unknown[] = [];
    const delivered: Message[] = [];
    const { engine } = harness({
      adapter: () => {
        const adapter = server.createAdapter();
        // Read errors come from `read`: an adapter that only reads (no `listen`), as custom ones may.
        (adapter as { listen?: unknown }).listen = undefined;
        const read = adapter.read.bind(adapter);
        adapter.read = (options) => {
          if (failOnce) {
            failOnce = false;
            return Promise.reject(new Error('decoder hiccup'));
          }
          return read(options);
        };
        return adapter;
      },
      onReadError: (error) => void readErrors.push(error),
      onMessage: (m) => void delivered.push(m),
    });
    await engine.start();
    const conn = await server.accept();
    await conn.sendText('after');
    await vi.advanceTimersByTimeAsync(0);
    expect((readErrors[0] as Error).message).toBe('decoder hiccup');
    expect(delivered.map((m) => m.data)).toEqual(['after']);
    expect(engine.metrics().connects).toBe(1);
    await server.stop();
  });

  it('a throwing message hook is reported as an error event and delivery goes on', async () => {
    const delivered: string[] = [];
    const { engine, server, of } = harness({
      onMessage: (m) => {
        delivered.push(m.data as string);
        if (m.data === 'bad') throw new Error('handler failed');
      },
    });
    await engine.start();
    const conn = await server.accept();
    await conn.sendText('bad');
    await conn.sendText('good');
    await vi.advanceTimersByTimeAsync(0);
    expect(delivered).toEqual(['bad', 'good']);
    expect((of('error')[0]![0] as Error).message).toBe('handler failed');
  });
});

describe('options', () => {
  it('are validated at construction, naming the option', () => {
    const server = new MockServer();
    const adapter = () => server.createAdapter();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ url: 'ftp://x/' }, 'url'],
      [{ url: 42 }, 'url'],
      [{ adapter: 'ws' }, 'adapter'],
      [{ onMessage: 1 }, 'onMessage'],
      [{ reconnect: { minDelay: -1 } }, 'reconnect.minDelay'],
      [{ reconnect: { minDelay: 100, maxDelay: 10 } }, 'reconnect.maxDelay'],
      [{ reconnect: { retries: 1.5 } }, 'reconnect.retries'],
      [{ reconnect: { jitter: 2 } }, 'reconnect.jitter'],
      [{ heartbeat: { interval: 0 } }, 'heartbeat.interval'],
      [{ heartbeat: { mode: 'message' } }, 'heartbeat.message'],
      [{ outbox: { queue: true } }, 'outbox'],
      [{ tracing: true }, 'tracing'],
      [{ delivery: { concurrency: 0 } }, 'delivery.concurrency'],
      [{ closeTimeout: -5 }, 'closeTimeout'],
      // Names of other clients (partysocket, socket.io) or typos would otherwise change nothing.
      [{ reconnect: { maxRetries: 3 } }, 'reconnect.maxRetries'],
      [{ heartbeat: { intervalMs: 1000 } }, 'heartbeat.intervalMs'],
      // The same at the top level: a misspelt hook would never run, another client's option never apply.
      [{ onmessage: () => {} }, 'onmessage'],
      [{ maxRetries: 3 }, 'maxRetries'],
      [{ pingInterval: 1000 }, 'pingInterval'],
      // Longer than a timer can take (setTimeout would fire after 1 ms).
      [{ reconnect: { openTimeout: 2 ** 32 } }, 'reconnect.openTimeout'],
      [{ reconnect: { maxDelay: 2 ** 32 } }, 'reconnect.maxDelay'],
      [{ closeTimeout: 2 ** 32 }, 'closeTimeout'],
    ];
    for (const [patch, option] of cases) {
      const make = () => createEngine({ url: server.url, adapter, ...patch } as never);
      expect(make).toThrow(InvalidOptionError);
      expect(make).toThrow(`Invalid option ${option}`);
    }
    // Every documented option is still accepted.
    createEngine({
      url: server.url,
      adapter,
      reconnect: {
        retries: 3,
        minDelay: 10,
        maxDelay: 20,
        factor: 2,
        jitter: 0,
        minUptime: 0,
        openTimeout: 100,
        retryOnStart: true,
        maxRetryAfter: 1000,
        shouldRetry: () => true,
      },
      heartbeat: { mode: 'message', interval: 10, timeout: 10, message: { type: MessageType.Text, data: 'ping' }, isPong: () => true, deliverPongs: true },
      delivery: { concurrency: 2 },
    });
    // And every top-level option at once.
    createEngine({
      url: server.url,
      adapter,
      headers: {},
      protocols: [],
      onOpen: () => {},
      onMessage: () => {},
      onReadError: () => {},
      onClose: () => {},
      onCloseError: () => {},
      onRestartError: () => {},
      reconnect: false,
      heartbeat: false,
      outbox: createOutbox(),
      delivery: {},
      closeTimeout: 10,
      tracing: false,
    } satisfies Required<EngineOptions>);
  });

  it('the url and headers functions are called for every attempt (fresh tokens)', async () => {
    let token = 0;
    const { engine, server } = harness({
      url: () => `ws://feed.invalid/stream?n=${token + 1}`,
      headers: async () => ({ authorization: `Bearer t${++token}` }),
    });
    await engine.start();
    (await server.accept()).drop();
    await vi.advanceTimersByTimeAsync(200);
    await server.accept();
    expect(server.requests.map((r) => [r.url, r.headers.authorization])).toEqual([
      ['ws://feed.invalid/stream?n=1', 'Bearer t1'],
      ['ws://feed.invalid/stream?n=2', 'Bearer t2'],
    ]);
  });

  it('offers the configured subprotocols', async () => {
    const { engine, server } = harness({ protocols: ['v2.feed', 'v1.feed'] });
    await engine.start();
    expect(server.requests[0]!.protocols).toEqual(['v2.feed', 'v1.feed']);
  });
});

describe('events', () => {
  it('a throwing listener is reported as an error event, not thrown into the engine', async () => {
    const { engine, of } = harness();
    engine.on('open', () => {
      throw new Error('listener bug');
    });
    await engine.start();
    expect(engine.state).toBe('open');
    expect((of('error')[0]![0] as Error).message).toBe('listener bug');
  });

  it('next() helper resolves on events', async () => {
    const { engine } = harness();
    const opened = next(engine, 'open');
    await engine.start();
    const [info] = await opened;
    expect(info.attempt).toBe(1);
  });
});

describe('defaults', () => {
  it('with default options (heartbeat on, tracing on, 1 s +-20% first wait) under fake timers', async () => {
    const server = new MockServer();
    const engine = createEngine({ url: server.url, adapter: () => server.createAdapter() });
    try {
      await engine.start();
      const conn = await server.accept();
      await vi.advanceTimersByTimeAsync(15_000);
      expect(conn.pings).toBe(1);
      conn.drop();
      await vi.advanceTimersByTimeAsync(799);
      expect(engine.state).toBe('reconnecting');
      await vi.advanceTimersByTimeAsync(401);
      expect(engine.state).toBe('open');
      await expect(engine.sendText('x')).resolves.toBeUndefined();
    } finally {
      const stopping = engine.stop();
      await vi.runAllTimersAsync();
      await stopping;
      await server.stop();
    }
  });
});
