/**
 * The engine API as a feed consumer meets it: sending from the open hook, hook contexts that
 * send, hook errors that are never lost, once/off, honest states in error messages, the open
 * event's reconnect flag and attempt, start() that rides out retryable failures, open hooks and
 * message filters for protocol layers. Against the mock server under fake timers.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  HandshakeError,
  InvalidArgumentError,
  MessageType,
  WebSocketCloseError,
  type Message,
} from '../../src/adapters/index.js';
import {
  NotConnectedError,
  OpenTimeoutError,
  createEngine,
  type HookContext,
  type OpenInfo,
  createOutbox,
  messages,
  addOpenHook,
  intercept,
} from '../../src/engine/index.js';
import { MockServer, type MockServerConnection } from '../../src/mocks/index.js';
import { cleanup, harness } from './helpers.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(cleanup);

/** The next `n` messages the server connection receives, as text. */
async function receivedTexts(conn: MockServerConnection, n: number): Promise<string[]> {
  const texts: string[] = [];
  for (let i = 0; i < n; i++) texts.push(String((await conn.received()).data));
  return texts;
}

describe('sending from the open hook', () => {
  it('engine.sendText() inside onOpen writes on the opening connection and is counted', async () => {
    const { engine, server } = harness({
      onOpen: () => engine.sendText('{"subscribe":"EURUSD"}'),
    });
    await engine.start();
    const conn = await server.accept();
    expect(await receivedTexts(conn, 1)).toEqual(['{"subscribe":"EURUSD"}']);
    expect(engine.metrics()).toMatchObject({ messagesOut: 1, bytesOut: 22 });
  });

  it('with outbox.queue, open-hook sends go before the queued messages, which go before later sends', async () => {
    const { engine, server } = harness({
      outbox: createOutbox(),
      onOpen: async () => {
        await engine.sendText('subscribe');
        await engine.sendBinary(new Uint8Array([1, 2, 3]));
      },
    });
    server.setDelays({ dial: 100 });
    const starting = engine.start();
    const queued = engine.sendText('queued');
    await vi.advanceTimersByTimeAsync(100);
    await starting;
    const later = engine.sendText('later');
    const conn = await server.accept();
    const got: Message[] = [];
    for (let i = 0; i < 4; i++) got.push(await conn.received());
    await Promise.all([queued, later]);
    expect(got.map((m) => (m.type === MessageType.Text ? m.data : [...(m.data as Uint8Array)]))).toEqual([
      'subscribe',
      [1, 2, 3],
      'queued',
      'later',
    ]);
    expect(engine.metrics().messagesOut).toBe(4);
  });

  it('sends on the opening connection again after a reconnect', async () => {
    const { engine, server } = harness({ onOpen: () => engine.sendText('hello') });
    await engine.start();
    const first = await server.accept();
    expect(await receivedTexts(first, 1)).toEqual(['hello']);
    first.drop();
    await vi.advanceTimersByTimeAsync(100);
    const second = await server.accept();
    expect(await receivedTexts(second, 1)).toEqual(['hello']);
    expect(engine.metrics().messagesOut).toBe(2);
  });
});

describe('the hook context sends', () => {
  it('ctx.send, ctx.sendText and ctx.sendBinary write on their connection, counted; after it ended they reject', async () => {
    let opened: HookContext | undefined;
    const { engine, server } = harness({
      onOpen: async (ctx) => {
        opened = ctx;
        await ctx.sendText('auth');
        await ctx.send(MessageType.Text, 'subscribe');
      },
      onMessage: (m, ctx) => ctx.sendBinary(new Uint8Array([m.data.length])),
    });
    await engine.start();
    const conn = await server.accept();
    await conn.sendText('tick');
    const got = [await conn.received(), await conn.received(), await conn.received()];
    expect(got.map((m) => m.type)).toEqual([MessageType.Text, MessageType.Text, MessageType.Binary]);
    expect(got.slice(0, 2).map((m) => m.data)).toEqual(['auth', 'subscribe']);
    expect([...(got[2]!.data as Uint8Array)]).toEqual([4]);
    expect(engine.metrics().messagesOut).toBe(3);
    conn.drop();
    await vi.advanceTimersByTimeAsync(0);
    const error = await opened!.sendText('too late').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotConnectedError);
    expect((error as Error).message).toContain('has ended');
  });
});

describe('hook errors are never lost', () => {
  it('a throwing message hook is written to console.error when nobody listens to error', async () => {
    const server = new MockServer();
    const bad = new SyntaxError('Unexpected token');
    const engine = createEngine({
      url: server.url,
      adapter: () => server.createAdapter(),
      tracing: false,
      heartbeat: false,
      onMessage: () => {
        throw bad;
      },
    });
    engine.on('open', () => {}); // a listener, but not for error
    const logged: unknown[][] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void logged.push(args));
    try {
      await engine.start();
      await (await server.accept()).sendText('{oops');
      await vi.advanceTimersByTimeAsync(0);
      expect(logged.some((args) => args.includes(bad))).toBe(true);
      const stopping = engine.stop();
      await vi.runAllTimersAsync();
      await stopping;
    } finally {
      spy.mockRestore();
      await server.stop();
    }
  });

  it('with an error listener, the hook error goes to it and not to the console', async () => {
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const bad = new Error('close hook bug');
      const { engine, of } = harness({
        onClose: () => {
          throw bad;
        },
      });
      await engine.start();
      await engine.stop();
      expect(of('error').map(([e]) => e)).toEqual([bad]);
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });
});

describe('once and off', () => {
  it('off() removes a listener added with once() before it fires', async () => {
    const { engine } = harness();
    const calls: unknown[] = [];
    const listener = (info: OpenInfo): void => void calls.push(info);
    engine.once('open', listener);
    engine.off('open', listener);
    await engine.start();
    expect(calls).toEqual([]);
  });

  it('a once() listener still fires only once', async () => {
    const { engine, server } = harness();
    const calls: OpenInfo[] = [];
    engine.once('open', (info) => void calls.push(info));
    await engine.start();
    (await server.accept()).drop();
    await vi.advanceTimersByTimeAsync(100);
    expect(engine.metrics().connects).toBe(2);
    expect(calls).toHaveLength(1);
  });

  it('takes any event name a JavaScript caller passes, even an Object.prototype one, and the real events still fire', async () => {
    const { engine } = harness();
    const odd = ['toString', 'constructor', '__proto__', 'hasOwnProperty'];
    const calls: string[] = [];
    const offs = odd.map((name) => {
      const listener = (): void => void calls.push(name);
      const off = (engine.on as (event: string, listener: () => void) => () => void)(name, listener);
      (engine.off as (event: string, listener: () => void) => void)(name, listener);
      return off;
    });
    for (const off of offs) off();
    const opened: OpenInfo[] = [];
    engine.on('open', (info) => void opened.push(info));
    await engine.start();
    expect(opened).toHaveLength(1);
    expect(calls).toEqual([]);
  });
});

describe('error messages name the actual state', () => {
  it('after restart(), the engine is closing, send says so, and sends work again once reopened', async () => {
    const { engine, server } = harness();
    await engine.start();
    const first = await server.accept();
    engine.restart();
    expect(engine.state).toBe('closing');
    const error = await engine.sendText('x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotConnectedError);
    expect((error as Error).message).toBe('Cannot send: the engine is closing');
    const second = await server.accept();
    expect(await first.closed).toEqual({ code: 1000, reason: 'restart' });
    await vi.advanceTimersByTimeAsync(0);
    expect(engine.state).toBe('open');
    await engine.sendText('y');
    expect(await receivedTexts(second, 1)).toEqual(['y']);
  });

  it('after restart() with outbox.queue, a send waits for the new connection', async () => {
    const { engine, server } = harness({ outbox: createOutbox() });
    await engine.start();
    await server.accept();
    engine.restart();
    const sent = engine.sendText('after restart');
    const second = await server.accept();
    await sent;
    expect(await receivedTexts(second, 1)).toEqual(['after restart']);
  });

  it('a lost connection leaves open at once: state closing, then reconnecting', async () => {
    const { engine, server, of } = harness();
    await engine.start();
    (await server.accept()).drop();
    await vi.advanceTimersByTimeAsync(0);
    expect(of('state').map(([to]) => to)).toEqual(['connecting', 'open', 'closing', 'reconnecting']);
    await expect(engine.sendText('x')).rejects.toThrow('Cannot send: the engine is reconnecting');
  });

  it('while stopping, send says the engine is stopping', async () => {
    const { engine, server } = harness();
    server.setDelays({ dial: 1000 });
    const starting = engine.start().catch(() => {});
    await vi.advanceTimersByTimeAsync(10);
    const stopping = engine.stop();
    await expect(engine.sendText('x')).rejects.toThrow('Cannot send: the engine is stopping');
    await stopping;
    await starting;
  });
});

describe('the open event', () => {
  it('says whether it is a reconnect and which attempt of the current outage opened it', async () => {
    const { engine, server, of } = harness();
    await engine.start();
    (await server.accept()).drop();
    await vi.advanceTimersByTimeAsync(100);
    await server.accept();
    // A long-lived connection, then an outage with two refusals.
    await vi.advanceTimersByTimeAsync(10_000);
    server.refuseNext({ status: 503 });
    server.refuseNext({ status: 503 });
    server.connections.at(-1)!.drop();
    await vi.advanceTimersByTimeAsync(100 + 200 + 400);
    expect(of('open').map(([o]) => [o.reconnect, o.attempt])).toEqual([
      [false, 1],
      [true, 1],
      [true, 3],
    ]);
  });

  it('the hook context carries the same reconnect flag', async () => {
    const flags: boolean[] = [];
    const { engine, server } = harness({ onOpen: (ctx) => void flags.push(ctx.reconnect) });
    await engine.start();
    (await server.accept()).drop();
    await vi.advanceTimersByTimeAsync(100);
    expect(flags).toEqual([false, true]);
  });
});

describe('start() retries by default', () => {
  it('rides out 5xx refusals with backoff', async () => {
    const { engine, server, of } = harness();
    server.refuseNext({ status: 503 });
    server.refuseNext({ status: 502 });
    const starting = engine.start();
    await vi.advanceTimersByTimeAsync(100 + 200);
    await starting;
    expect(server.requests).toHaveLength(3);
    expect(of('open')[0]![0]).toMatchObject({ attempt: 3, reconnect: false });
  });

  it('waits for Retry-After on 429', async () => {
    const { engine, server } = harness();
    server.refuseNext({ status: 429, headers: { 'retry-after': '3' } });
    let open = false;
    const starting = engine.start().then(() => (open = true));
    await vi.advanceTimersByTimeAsync(2999);
    expect(open).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await starting;
    expect(server.requests).toHaveLength(2);
  });

  it('retries network errors and a 1006 during the open hook', async () => {
    const server = new MockServer();
    let dials = 0;
    const { engine } = harness({
      adapter: () => {
        const adapter = server.createAdapter();
        if (++dials === 1) adapter.dial = () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:1'));
        return adapter;
      },
      onOpen: async (ctx) => {
        // The second dial's connection drops while the hook waits for the server's greeting.
        if (dials === 2) await ctx.adapter.read();
      },
    });
    server.on('connection', (conn) => {
      if (dials === 2) conn.drop();
    });
    const failures: unknown[] = [];
    engine.on('attempt-failed', (error) => void failures.push(error));
    const starting = engine.start();
    await vi.advanceTimersByTimeAsync(100 + 200);
    await starting;
    expect(dials).toBe(3);
    expect((failures[0] as Error).message).toContain('ECONNREFUSED');
    expect(failures[1]).toBeInstanceOf(WebSocketCloseError);
    expect((failures[1] as WebSocketCloseError).code).toBe(1006);
    await server.stop();
  });

  for (const status of [400, 401, 403, 404]) {
    it(`fails fast on ${status}`, async () => {
      const { engine, server } = harness();
      server.refuseNext({ status });
      const error = await engine.start().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HandshakeError);
      expect((error as HandshakeError).status).toBe(status);
      expect(server.requests).toHaveLength(1);
      expect(engine.state).toBe('stopped');
    });
  }

  it('fails fast on a bad URL', async () => {
    const { engine, server } = harness({ url: () => 'ftp://feed.invalid/' });
    const error = await engine.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(server.requests).toHaveLength(0);
  });

  it('start({ signal }) bounds the retries: the engine stops and start() rejects with the reason', async () => {
    const { engine, server } = harness();
    server.onDial(() => ({ refuse: { status: 503 } }));
    const controller = new AbortController();
    const reason = new Error('gave up waiting');
    const starting = engine.start({ signal: controller.signal });
    const failed = starting.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(100 + 200 + 400);
    const made = server.requests.length;
    expect(made).toBe(4);
    controller.abort(reason);
    expect(await failed).toBe(reason);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(engine.state).toBe('stopped');
    expect(server.requests).toHaveLength(made);
  });

  it('start({ signal }) with an aborted signal does not start', async () => {
    const { engine, server } = harness();
    const controller = new AbortController();
    controller.abort(new Error('no'));
    await expect(engine.start({ signal: controller.signal })).rejects.toThrow('no');
    expect(engine.state).toBe('idle');
    expect(server.requests).toHaveLength(0);
  });

  it('a signal aborted by an open listener, once the first connection is open, changes nothing', async () => {
    const { engine } = harness();
    const controller = new AbortController();
    engine.once('open', () => controller.abort());
    await engine.start({ signal: controller.signal });
    await vi.advanceTimersByTimeAsync(0);
    expect(engine.state).toBe('open');
  });

  it('a signal that aborts after the open changes nothing', async () => {
    const { engine } = harness();
    const controller = new AbortController();
    await engine.start({ signal: controller.signal });
    controller.abort();
    await vi.advanceTimersByTimeAsync(0);
    expect(engine.state).toBe('open');
  });
});

describe('addOpenHook', () => {
  it('runs after onOpen in registration order; its sends go before the outbox; the remover removes it', async () => {
    const order: string[] = [];
    const { engine, server } = harness({
      outbox: createOutbox(),
      onOpen: () => void order.push('onOpen'),
    });
    addOpenHook(engine, async (ctx) => {
      order.push(`a${ctx.reconnect ? '+' : ''}`);
      await engine.sendText('from a');
    });
    const removeB = addOpenHook(engine, (ctx) => {
      order.push('b');
      return ctx.sendText('from b');
    });
    server.setDelays({ dial: 50 });
    const starting = engine.start();
    const queued = engine.sendText('queued');
    await vi.advanceTimersByTimeAsync(50);
    await starting;
    await queued;
    const first = await server.accept();
    expect(await receivedTexts(first, 3)).toEqual(['from a', 'from b', 'queued']);
    removeB();
    first.drop();
    await vi.advanceTimersByTimeAsync(100 + 50);
    const second = await server.accept();
    expect(await receivedTexts(second, 1)).toEqual(['from a']);
    expect(order).toEqual(['onOpen', 'a', 'b', 'onOpen', 'a+']);
  });

  it('a throwing open hook fails the attempt, which is retried', async () => {
    let calls = 0;
    const { engine, server, of } = harness();
    addOpenHook(engine, () => {
      if (++calls === 1) throw new Error('resubscribe refused');
    });
    const starting = engine.start();
    await vi.advanceTimersByTimeAsync(100);
    await starting;
    expect(calls).toBe(2);
    expect((of('attempt-failed')[0]![0] as Error).message).toBe('resubscribe refused');
    expect(server.connections[0]!.state).toBe('closed');
  });

  it('takes an engine and a function', () => {
    const { engine } = harness();
    expect(() => addOpenHook(engine, 'hook' as never)).toThrow(/addOpenHook expects a function, got string/);
    expect(() => intercept(engine, undefined as never)).toThrow(/intercept expects a function, got undefined/);
    expect(() => addOpenHook({} as never, () => {})).toThrow(/an engine made by createEngine/);
  });

  it('is bounded by openTimeout', async () => {
    const { engine } = harness({ reconnect: { openTimeout: 300, retryOnStart: false } });
    addOpenHook(engine, () => new Promise<void>(() => {}));
    const failed = expect(engine.start()).rejects.toBeInstanceOf(OpenTimeoutError);
    await vi.advanceTimersByTimeAsync(300);
    await failed;
  });
});

describe('intercept', () => {
  it('filters see every message in order; a consumed message reaches no hook, event or iterator', async () => {
    const seen: string[] = [];
    const delivered: string[] = [];
    const { engine, server, of } = harness({ onMessage: (m) => void delivered.push(m.data as string) });
    const removeA = intercept(engine, (m) => {
      seen.push(`a:${m.data as string}`);
      return (m.data as string).startsWith('rpc:');
    });
    intercept(engine, (m, ctx) => {
      seen.push(`b:${m.data as string}@${ctx.connectionId}`);
      return m.data === 'mine';
    });
    await engine.start();
    const iterator = messages(engine);
    const conn = await server.accept();
    for (const text of ['tick 1', 'rpc:reply', 'mine', 'tick 2']) await conn.sendText(text);
    await vi.advanceTimersByTimeAsync(0);
    const id = engine.connectionId!;
    expect(seen).toEqual(['a:tick 1', `b:tick 1@${id}`, 'a:rpc:reply', 'a:mine', `b:mine@${id}`, 'a:tick 2', `b:tick 2@${id}`]);
    expect(delivered).toEqual(['tick 1', 'tick 2']);
    expect(of('message').map(([m]) => m.data)).toEqual(['tick 1', 'tick 2']);
    expect((await iterator.next()).value?.data).toBe('tick 1');
    expect((await iterator.next()).value?.data).toBe('tick 2');
    removeA();
    await conn.sendText('rpc:now delivered');
    await vi.advanceTimersByTimeAsync(0);
    expect(delivered).toEqual(['tick 1', 'tick 2', 'rpc:now delivered']);
    expect(engine.metrics().messagesIn).toBe(5);
  });

  it('a throwing filter is reported and the message is delivered', async () => {
    const delivered: string[] = [];
    const { engine, server, of } = harness({ onMessage: (m) => void delivered.push(m.data as string) });
    const bug = new Error('filter bug');
    intercept(engine, () => {
      throw bug;
    });
    await engine.start();
    await (await server.accept()).sendText('x');
    await vi.advanceTimersByTimeAsync(0);
    expect(delivered).toEqual(['x']);
    expect(of('error').map(([e]) => e)).toEqual([bug]);
  });
});
