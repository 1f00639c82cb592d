/**
 * The requester's rules under a fake clock, with the mock adapter where a real socket cannot be
 * made to hold a write: a request still being handed to the socket when the connection drops was
 * not sent; default and per-request timeouts; the in-flight cap releasing slots in order.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createEngine, InvalidOptionError, type Engine } from '../../../src/engine/index.js';
import { MockServer, type MockServerConnection } from '../../../src/mocks/index.js';
import {
  createRequester,
  RequestNotSentError,
  RequestTimeoutError,
  type Requester,
} from '../../../src/protocols/rpc/index.js';

let server: MockServer;
let engine: Engine;
let requester: Requester<string, string>;

beforeEach(() => {
  vi.useFakeTimers();
  server = new MockServer();
  engine = createEngine({
    url: server.url,
    adapter: () => server.createAdapter(),
    heartbeat: false,
    reconnect: { minDelay: 60_000, maxDelay: 60_000, jitter: 0 },
  });
  requester = createRequester<string, string>(
    engine,
    {
      encode: (request, id) => `${id}:${request}`,
      decode: (message) => {
        const text = message.data as string;
        const colon = text.indexOf(':');
        return colon < 0 ? undefined : { id: Number(text.slice(0, colon)), result: text.slice(colon + 1) };
      },
    },
    { timeout: 1000, maxInFlight: 2 },
  );
});

afterEach(async () => {
  requester.close();
  await engine.stop();
  server.stop();
  vi.useRealTimers();
});

async function open(): Promise<MockServerConnection> {
  const accepted = server.accept();
  await engine.start();
  return accepted;
}

describe('requester rules', () => {
  it('a request still being handed to the socket when the connection drops fails with RequestNotSentError', async () => {
    const conn = await open();
    conn.pauseReading(); // the server stops reading: the write stays pending, not handed over
    const pending = requester.request('buy').catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(0);
    conn.drop();
    const error = await pending;
    expect(error).toBeInstanceOf(RequestNotSentError);
    expect(conn.messages).toEqual([]);
  });

  it('times out after the requester\'s default or the request\'s own timeout, whichever applies', async () => {
    await open();
    const byDefault = requester.request('a').catch((e: unknown) => e);
    const own = requester.request('b', { timeout: 300 }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(299);
    expect(requester.inFlight).toBe(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(await own).toMatchObject({ timeoutMs: 300 });
    await vi.advanceTimersByTimeAsync(700);
    expect(await byDefault).toBeInstanceOf(RequestTimeoutError);
    expect(requester.inFlight).toBe(0);
  });

  it('a timeout longer than a timer can take is refused, naming it, instead of firing after 1 ms', async () => {
    await open();
    const huge = requester.request('c', { timeout: 2 ** 32 }).catch((e: unknown) => e);
    const forever = requester.request('d', { timeout: Infinity }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(5);
    const error = await huge;
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).option).toBe('timeout');
    expect(requester.inFlight).toBe(1); // the Infinity one waits
    const codec = { encode: (r: string) => r, decode: () => undefined };
    expect(() => createRequester(engine, codec, { timeout: 2 ** 31 })).toThrow(/timeout/);
    requester.close();
    expect(await forever).toBeDefined();
  });

  it('the in-flight cap releases slots in call order as replies come', async () => {
    const conn = await open();
    const results = ['r1', 'r2', 'r3', 'r4'].map((r) => requester.request(r, { timeout: 60_000 }));
    await vi.advanceTimersByTimeAsync(0);
    expect(conn.messages.map((m) => m.data)).toEqual(['1:r1', '2:r2']);
    expect(requester.queued).toBe(2);
    await conn.sendText('2:two');
    await vi.advanceTimersByTimeAsync(0);
    expect(conn.messages.map((m) => m.data)).toEqual(['1:r1', '2:r2', '3:r3']);
    await conn.sendText('1:one');
    await conn.sendText('3:three');
    await vi.advanceTimersByTimeAsync(0);
    await conn.sendText('4:four');
    expect(await Promise.all(results)).toEqual(['one', 'two', 'three', 'four']);
  });

  it('a request waiting for a slot past its deadline was never sent', async () => {
    await open();
    requester.request('x', { timeout: 60_000 }).catch(() => {});
    requester.request('y', { timeout: 60_000 }).catch(() => {});
    const third = requester.request('z', { timeout: 100 }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(100);
    const error = await third;
    expect(error).toBeInstanceOf(RequestNotSentError);
    expect((error as Error).cause).toBeInstanceOf(RequestTimeoutError);
  });

  it('each request times out at its own deadline, also after the requests before it were answered', async () => {
    const conn = await open();
    const first = requester.request('a');
    await vi.advanceTimersByTimeAsync(400);
    const second = requester.request('b').catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(100);
    await conn.sendText('1:one');
    expect(await first).toBe('one');
    await vi.advanceTimersByTimeAsync(899); // t = 1399
    expect(requester.inFlight).toBe(1);
    await vi.advanceTimersByTimeAsync(1); // t = 1400
    expect(await second).toBeInstanceOf(RequestTimeoutError);
    expect(requester.inFlight).toBe(0);
  });

  it('a later request with a shorter timeout expires first; those due together expire in call order', async () => {
    await open();
    const order: string[] = [];
    const track = (name: string, promise: Promise<string>): void => {
      promise.catch(() => order.push(name));
    };
    track('a', requester.request('a', { timeout: 1000 })); // due at 1000
    await vi.advanceTimersByTimeAsync(500);
    track('b', requester.request('b', { timeout: 200 })); // due at 700
    track('c', requester.request('c', { timeout: 500 })); // due at 1000, queued (cap of 2)
    await vi.advanceTimersByTimeAsync(199);
    expect(order).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(order).toEqual(['b']);
    await vi.advanceTimersByTimeAsync(299);
    expect(order).toEqual(['b']);
    await vi.advanceTimersByTimeAsync(1);
    expect(order).toEqual(['b', 'a', 'c']);
  });

  it('answered, failed and aborted requests leave no timer and nothing pending behind', async () => {
    const conn = await open();
    requester.close(); // it would take the replies
    const idle = vi.getTimerCount();
    const wide = createRequester<string, string>(engine, {
      encode: (request, id) => `${id}:${request}`,
      decode: (message) => {
        const text = message.data as string;
        const colon = text.indexOf(':');
        return colon < 0 ? undefined : { id: Number(text.slice(0, colon)), result: text.slice(colon + 1) };
      },
    }, { timeout: 1000, maxInFlight: 10_000 });
    try {
      const controller = new AbortController();
      const aborted = wide.request('x', { signal: controller.signal }).catch((e: unknown) => e);
      const answered: Array<Promise<string>> = [];
      for (let i = 0; i < 1000; i++) answered.push(wide.request(`r${i}`, { timeout: 1000 + (i % 7) }));
      // One timer for all of them, not one each.
      expect(vi.getTimerCount()).toBe(idle + 1);
      await vi.advanceTimersByTimeAsync(0);
      controller.abort(new Error('gone'));
      expect(await aborted).toMatchObject({ message: 'gone' });
      for (let i = 0; i < 1000; i++) await conn.sendText(`${i + 2}:ok`);
      expect(await Promise.all(answered)).toHaveLength(1000);
      expect(wide.inFlight).toBe(0);
      expect(vi.getTimerCount()).toBe(idle);
    } finally {
      wide.close();
    }
  });
});
