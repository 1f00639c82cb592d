/**
 * Delivery: order, concurrency, async iteration, pause/resume, exclusive use of the adapter.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MessageType, type Message } from '../../src/adapters/index.js';
import { NotConnectedError, RetriesExhaustedError, exclusive, messages } from '../../src/engine/index.js';
import { cleanup, harness } from './helpers.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(cleanup);

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('order and concurrency', () => {
  it('delivers in order, each message after the previous hook settled', async () => {
    const log: string[] = [];
    const { engine, server } = harness({
      onMessage: async (m) => {
        log.push(`start ${m.data as string}`);
        await new Promise((r) => setTimeout(r, m.data === 'a' ? 300 : 100));
        log.push(`end ${m.data as string}`);
      },
    });
    await engine.start();
    const conn = await server.accept();
    for (const text of ['a', 'b', 'c']) await conn.sendText(text);
    await vi.advanceTimersByTimeAsync(500);
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });

  it('runs up to `concurrency` hooks at once, starting them in order', async () => {
    let running = 0;
    let peak = 0;
    const started: string[] = [];
    const gates = new Map<string, () => void>();
    const { engine, server } = harness({
      delivery: { concurrency: 3 },
      onMessage: async (m) => {
        started.push(m.data as string);
        running++;
        peak = Math.max(peak, running);
        await new Promise<void>((r) => gates.set(m.data as string, r));
        running--;
      },
    });
    await engine.start();
    const conn = await server.accept();
    for (let i = 0; i < 6; i++) await conn.sendText(`m${i}`);
    await vi.advanceTimersByTimeAsync(0);
    expect(started).toEqual(['m0', 'm1', 'm2']);
    gates.get('m1')!();
    await vi.advanceTimersByTimeAsync(0);
    expect(started).toEqual(['m0', 'm1', 'm2', 'm3']);
    for (const name of ['m0', 'm2', 'm3']) gates.get(name)!();
    await vi.advanceTimersByTimeAsync(0);
    for (const name of ['m4', 'm5']) gates.get(name)!();
    await vi.advanceTimersByTimeAsync(0);
    expect(started).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
    expect(peak).toBe(3);
  });
});

describe('async iteration', () => {
  it('for await yields messages in order and ends when the engine stops', async () => {
    const { engine, server } = harness();
    await engine.start();
    const conn = await server.accept();
    const seen: string[] = [];
    const loop = (async () => {
      for await (const m of messages(engine)) {
        seen.push(m.data as string);
        if (seen.length === 3) void engine.stop();
      }
    })();
    for (const text of ['x', 'y', 'z']) await conn.sendText(text);
    await vi.runAllTimersAsync();
    await loop;
    expect(seen).toEqual(['x', 'y', 'z']);
  });

  it('an iterator made before start() ends when stop() comes first; the engine goes idle -> stopped', async () => {
    const { engine, of } = harness();
    const iterator = messages(engine);
    const done = iterator.next();
    await engine.stop();
    expect(await done).toEqual({ value: undefined, done: true });
    expect(engine.state).toBe('stopped');
    expect(of('state')).toEqual([['stopped', 'idle']]);
    expect(of('stopped')).toEqual([[{ error: undefined }]]);
    // And it starts afresh from there.
    await engine.start();
    expect(engine.state).toBe('open');
  });

  it('throws the failure when the engine gives up', async () => {
    const { engine, server } = harness({ reconnect: { retries: 1, minUptime: 0 } });
    await engine.start();
    const iterator = messages(engine);
    const result = iterator.next().catch((e: unknown) => e);
    await server.stop();
    await vi.advanceTimersByTimeAsync(1000);
    expect(await result).toBeInstanceOf(RetriesExhaustedError);
  });

  it('a slow iterator holds the reads once its buffer is full', async () => {
    const { engine, server } = harness();
    await engine.start();
    const conn = await server.accept();
    const iterator = messages(engine, { buffer: 2 });
    for (let i = 0; i < 5; i++) void conn.sendText(`m${i}`);
    await vi.advanceTimersByTimeAsync(0);
    // Two wait in the iterator; the engine stopped reading after them.
    expect(engine.metrics().messagesIn).toBe(2);
    const got: string[] = [];
    for (let i = 0; i < 5; i++) got.push((await iterator.next()).value.data as string);
    expect(got).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    await iterator.return!();
  });
});

describe('pause, resume, exclusive', () => {
  it('pause() stops delivery until resume(); nothing is lost or reordered', async () => {
    const delivered: string[] = [];
    const { engine, server } = harness({ onMessage: (m) => void delivered.push(m.data as string) });
    await engine.start();
    const conn = await server.accept();
    await conn.sendText('1');
    await vi.advanceTimersByTimeAsync(0);
    engine.pause();
    expect(engine.paused).toBe(true);
    await conn.sendText('2');
    await conn.sendText('3');
    await vi.advanceTimersByTimeAsync(1000);
    expect(delivered).toEqual(['1']);
    engine.resume();
    await vi.advanceTimersByTimeAsync(0);
    expect(delivered).toEqual(['1', '2', '3']);
  });

  it('exclusive() hands the adapter over while the engine holds its reads', async () => {
    const delivered: string[] = [];
    const { engine, server } = harness({ onMessage: (m) => void delivered.push(m.data as string) });
    await engine.start();
    const conn = await server.accept();
    conn.on('message', (m) => {
      if (m.data === 'snapshot?') void conn.sendText('snapshot!');
    });
    await conn.sendText('before');
    await vi.advanceTimersByTimeAsync(0);
    const reply = await exclusive(engine, async (adapter) => {
      await adapter.write(MessageType.Text, 'snapshot?');
      return (await adapter.read()) as Message;
    });
    expect(reply.data).toBe('snapshot!');
    await conn.sendText('after');
    await vi.advanceTimersByTimeAsync(0);
    expect(delivered).toEqual(['before', 'after']);
  });

  it('exclusive() waits for the message being delivered, and calls run one at a time', async () => {
    const order: string[] = [];
    const gate = deferred();
    const { engine, server } = harness({
      onMessage: async (m) => {
        order.push(`hook ${m.data as string}`);
        await gate.promise;
        order.push(`hook done ${m.data as string}`);
      },
    });
    await engine.start();
    const conn = await server.accept();
    await conn.sendText('m');
    await vi.advanceTimersByTimeAsync(0);
    const a = exclusive(engine, async () => {
      order.push('a');
      await new Promise((r) => setTimeout(r, 10));
      order.push('a done');
    });
    const b = exclusive(engine, () => void order.push('b'));
    await vi.advanceTimersByTimeAsync(0);
    expect(order).toEqual(['hook m']);
    gate.resolve();
    await vi.advanceTimersByTimeAsync(10);
    await Promise.all([a, b]);
    expect(order).toEqual(['hook m', 'hook done m', 'a', 'a done', 'b']);
  });

  it('exclusive() without an open connection rejects with NotConnectedError', async () => {
    const { engine } = harness();
    await expect(exclusive(engine, () => 1)).rejects.toBeInstanceOf(NotConnectedError);
  });

  it('while paused, a read in flight still notices a lost connection at once', async () => {
    const { engine, server, of } = harness({ reconnect: { minUptime: 0 } });
    await engine.start();
    engine.pause();
    (await server.accept()).drop();
    await vi.advanceTimersByTimeAsync(0);
    expect(engine.state).toBe('reconnecting');
    expect(of('close')[0]![0]).toMatchObject({ initiator: 'remote', code: 1006 });
  });

  it('while paused with a message held, the heartbeat notices a closed connection; pause survives the reconnect', async () => {
    const delivered: string[] = [];
    const { engine, server, of } = harness({
      reconnect: { minUptime: 0 },
      heartbeat: { interval: 1000, timeout: 500 },
      onMessage: (m) => void delivered.push(m.data as string),
    });
    await engine.start();
    engine.pause();
    const first = await server.accept();
    // The read in flight takes this message and holds it: no read is pending any more.
    await first.sendText('held 1');
    first.drop();
    await vi.advanceTimersByTimeAsync(999);
    expect(engine.state).toBe('open');
    // The probe at 1000 ms finds the connection closed, at once (no need to wait for the timeout).
    await vi.advanceTimersByTimeAsync(1);
    expect(engine.state).toBe('reconnecting');
    expect(of('close')[0]![0]).toMatchObject({ initiator: 'remote', code: 1006 });
    await vi.advanceTimersByTimeAsync(100);
    const second = await server.accept();
    await second.sendText('held 2');
    await vi.advanceTimersByTimeAsync(0);
    expect(delivered).toEqual([]);
    engine.resume();
    await vi.advanceTimersByTimeAsync(0);
    expect(delivered).toEqual(['held 2']);
  });

  it('exclusive() takes over a read in flight: the holder gets the next message first', async () => {
    const delivered: string[] = [];
    const { engine, server } = harness({ onMessage: (m) => void delivered.push(m.data as string) });
    await engine.start();
    const conn = await server.accept();
    await vi.advanceTimersByTimeAsync(0);
    const got = exclusive(engine, async (adapter) => [(await adapter.read()).data, (await adapter.read()).data]);
    await conn.sendText('one');
    await conn.sendText('two');
    await conn.sendText('three');
    expect(await got).toEqual(['one', 'two']);
    await vi.advanceTimersByTimeAsync(0);
    expect(delivered).toEqual(['three']);
  });
});
