/**
 * The outbox: reject while disconnected by default; opt-in queueing with bounds and a TTL.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InvalidArgumentError, MessageType } from '../../src/adapters/index.js';
import {
  EngineStoppedError,
  MessageExpiredError,
  NotConnectedError,
  OutboxOverflowError,
  createOutbox,
  InvalidOptionError,
} from '../../src/engine/index.js';
import { cleanup, harness } from './helpers.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(cleanup);

describe('default: no queue', () => {
  it('send() before start rejects at once with NotConnectedError', async () => {
    const { engine } = harness();
    await expect(engine.sendText('order 1')).rejects.toBeInstanceOf(NotConnectedError);
  });

  it('send() while reconnecting rejects at once, and the message never goes out later', async () => {
    const { engine, server } = harness({ reconnect: { minUptime: 0 } });
    await engine.start();
    (await server.accept()).drop();
    await vi.advanceTimersByTimeAsync(0);
    expect(engine.state).toBe('reconnecting');
    await expect(engine.sendText('stale order')).rejects.toBeInstanceOf(NotConnectedError);
    await vi.advanceTimersByTimeAsync(1000);
    const conn = server.connections[1]!;
    expect(engine.state).toBe('open');
    expect(conn.messages).toEqual([]);
  });

  it('send() while open writes at once, in call order', async () => {
    const { engine, server } = harness();
    await engine.start();
    const conn = await server.accept();
    await Promise.all([engine.sendText('a'), engine.sendBinary(new Uint8Array([1, 2])), engine.sendText('c')]);
    expect(conn.messages.map((m) => (m.type === MessageType.Text ? m.data : [...m.data]))).toEqual(['a', [1, 2], 'c']);
    expect(engine.metrics()).toMatchObject({ messagesOut: 3, bytesOut: 4 });
  });
});

describe('queueing', () => {
  it('queues while disconnected and flushes in order after the open hook', async () => {
    const { engine, server } = harness({
      reconnect: { minUptime: 0 },
      outbox: createOutbox(),
      onOpen: async (ctx) => {
        await ctx.adapter.write(MessageType.Text, 'auth');
      },
    });
    const early = engine.sendText('q0');
    await engine.start();
    await early;
    (await server.accept()).drop();
    await vi.advanceTimersByTimeAsync(0);
    const sent = [engine.sendText('q1'), engine.sendText('q2')];
    expect(engine.metrics().queuedMessages).toBe(2);
    await vi.advanceTimersByTimeAsync(200);
    // A send made while the queue is being flushed goes after it.
    const late = engine.sendText('q3');
    await Promise.all([...sent, late]);
    expect(server.connections[0]!.messages.map((m) => m.data)).toEqual(['auth', 'q0']);
    expect(server.connections[1]!.messages.map((m) => m.data)).toEqual(['auth', 'q1', 'q2', 'q3']);
    expect(engine.metrics().queuedMessages).toBe(0);
  });

  it('a queued message whose write fails because the connection went keeps its place for the next one', async () => {
    let opens = 0;
    const { engine, server } = harness({
      reconnect: { minUptime: 0 },
      outbox: createOutbox(),
      onOpen: () => {
        // The first connection dies right after its open hook, before the outbox is flushed.
        if (++opens === 1) server.connections[0]!.drop();
      },
    });
    const sent = [engine.sendText('q1'), engine.sendText('q2')];
    await engine.start();
    await vi.advanceTimersByTimeAsync(100);
    await Promise.all(sent);
    expect(server.connections[0]!.messages).toEqual([]);
    expect(server.connections[1]!.messages.map((m) => m.data)).toEqual(['q1', 'q2']);
  });

  it('rejects expired messages to their callers and never sends them', async () => {
    const { engine, server } = harness({ reconnect: { minDelay: 1000, maxDelay: 1000, minUptime: 0 }, outbox: createOutbox({ ttl: 500 }) });
    await engine.start();
    (await server.accept()).drop();
    await vi.advanceTimersByTimeAsync(0);
    const expired = engine.sendText('too old');
    const outcome = expired.then(
      () => 'sent',
      (e: unknown) => e,
    );
    await vi.advanceTimersByTimeAsync(500);
    const error = await outcome;
    expect(error).toBeInstanceOf(MessageExpiredError);
    expect((error as MessageExpiredError).waitedMs).toBe(500);
    await vi.advanceTimersByTimeAsync(200);
    const fresh = engine.sendText('fresh');
    // The reconnect is due at 1000 ms (the second wait of the outage).
    await vi.advanceTimersByTimeAsync(300);
    await fresh;
    expect(server.connections[1]!.messages.map((m) => m.data)).toEqual(['fresh']);
  });

  it('a ttl longer than a timer can take (2^31 ms) waits, instead of re-arming its timer every millisecond', async () => {
    const { engine, server } = harness({ outbox: createOutbox({ ttl: 2 ** 32 }) });
    const queued = engine.sendText('patient');
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout');
    await vi.advanceTimersByTimeAsync(100);
    expect(setTimeoutSpy).not.toHaveBeenCalled();
    setTimeoutSpy.mockRestore();
    await engine.start();
    await queued;
    expect((await (await server.accept()).received()).data).toBe('patient');
  });

  it('stop() before start() rejects what was queued, leaving no timer behind', async () => {
    const { engine } = harness({ outbox: createOutbox() });
    const queued = engine.sendText('never');
    const failed = expect(queued).rejects.toBeInstanceOf(EngineStoppedError);
    await engine.stop();
    await failed;
    expect(engine.metrics().queuedMessages).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a per-send ttl overrides the outbox ttl', async () => {
    const { engine } = harness({ outbox: createOutbox({ ttl: 60_000 }) });
    const quick = engine.sendText('x', { ttl: 10 });
    const failed = expect(quick).rejects.toBeInstanceOf(MessageExpiredError);
    await vi.advanceTimersByTimeAsync(10);
    await failed;
  });

  it('refuses messages over the message bound or the byte bound', async () => {
    const { engine } = harness({ outbox: createOutbox({ maxMessages: 2, maxBytes: 10 }) });
    const kept = [engine.sendText('12345'), engine.sendText('é')];
    await expect(engine.sendText('x')).rejects.toBeInstanceOf(OutboxOverflowError);
    const { engine: other } = harness({ outbox: createOutbox({ maxMessages: 100, maxBytes: 10 }) });
    const fits = other.sendText('123456789');
    const error = await other.sendText('12').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutboxOverflowError);
    expect((error as OutboxOverflowError).queuedBytes).toBe(9);
    expect(engine.metrics().queuedBytes).toBe(7);
    // Clean up: these are rejected by stop(), not left pending.
    for (const p of [...kept, fits]) p.catch(() => {});
  });

  it('an aborted send leaves the queue', async () => {
    const { engine, server } = harness({ outbox: createOutbox() });
    const controller = new AbortController();
    const aborted = engine.sendText('cancel me', { signal: controller.signal });
    const kept = engine.sendText('keep me');
    controller.abort(new Error('user cancelled'));
    await expect(aborted).rejects.toThrow('user cancelled');
    await engine.start();
    await kept;
    expect(server.connections[0]!.messages.map((m) => m.data)).toEqual(['keep me']);
  });

  it('stop() rejects what is still queued', async () => {
    const { engine } = harness({ outbox: createOutbox() });
    const queued = engine.sendText('never');
    const starting = engine.start();
    const stopping = engine.stop();
    await expect(queued).rejects.toBeInstanceOf(EngineStoppedError);
    await starting.catch(() => {});
    await stopping;
  });

  it('invalid data is refused at send(), not at flush time', async () => {
    const { engine } = harness({ outbox: createOutbox() });
    await expect(engine.send(MessageType.Binary, 'text' as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(engine.metrics().queuedMessages).toBe(0);
  });
});

describe('createOutbox options', () => {
  it('are validated when the outbox is made, naming the option', () => {
    for (const [options, option] of [
      [{ maxMessages: 0 }, 'outbox.maxMessages'],
      [{ maxBytes: -1 }, 'outbox.maxBytes'],
      [{ ttl: Number.NaN }, 'outbox.ttl'],
      // A typo (from plain JavaScript) would otherwise change nothing.
      [{ maxMessage: 5 } as never, 'outbox.maxMessage'],
    ] as const) {
      expect(() => createOutbox(options)).toThrow(InvalidOptionError);
      expect(() => createOutbox(options)).toThrow(`Invalid option ${option}`);
    }
  });
});
