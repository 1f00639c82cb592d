import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConnectionClosedError, HandshakeError, MessageType } from '../../src/adapters/index.js';
import { MockAdapter, MockServer } from '../../src/mocks/index.js';

// The mock was imported before the fake clock is installed (in beforeEach): its delays must
// still follow the fake clock, because it looks setTimeout up at call time.
let server: MockServer;

beforeEach(() => {
  vi.useFakeTimers();
  server = new MockServer();
});

afterEach(async () => {
  await server.stop();
  expect(vi.getTimerCount()).toBe(0);
  vi.useRealTimers();
});

/** Whether `promise` has settled, checked without waiting on any timer. */
function track(promise: Promise<unknown>): { settled: () => boolean } {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  return { settled: () => done };
}

describe('mock delays under fake timers', () => {
  it('settles everything on microtasks when there are no delays: no timer is ever started', async () => {
    const adapter = server.createAdapter();
    const [, connection] = await Promise.all([adapter.dial(server.url), server.accept()]);
    await adapter.ping();
    await connection.sendText('x');
    await adapter.read();
    await adapter.close(1000, '');
    expect(vi.getTimerCount()).toBe(0);
    expect(connection.state).toBe('closed');
  });

  it('answers a dial after delays.dial', async () => {
    server.setDelays({ dial: 100 });
    const adapter = server.createAdapter();
    const dial = track(adapter.dial(server.url));
    await vi.advanceTimersByTimeAsync(99);
    expect(dial.settled()).toBe(false);
    expect(adapter.state).toBe('connecting');
    expect(server.connections).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(dial.settled()).toBe(true);
    expect(adapter.state).toBe('open');
    expect(server.connections).toHaveLength(1);
  });

  it('delays refusals too', async () => {
    server.setDelays({ dial: 50 });
    server.refuseNext({ status: 429, headers: { 'retry-after': '1' } });
    const dial = server.createAdapter().dial(server.url);
    const caught = dial.catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(49);
    expect(track(caught).settled()).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await caught).toMatchObject({ status: 429, headers: { 'retry-after': '1' } });
  });

  it('cancels a delayed dial when its signal aborts: no connection, no timer left', async () => {
    server.setDelays({ dial: 1000 });
    const adapter = server.createAdapter();
    const controller = new AbortController();
    const reason = new Error('too slow');
    const dial = adapter.dial(server.url, { signal: controller.signal });
    const caught = dial.catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(10);
    controller.abort(reason);
    expect(await caught).toBe(reason);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(2000);
    expect(server.connections).toHaveLength(0);
    expect(adapter.state).toBe('closed');
  });

  it('fails a delayed dial when the server stops during it', async () => {
    server.setDelays({ dial: 1000 });
    const caught = server
      .createAdapter()
      .dial(server.url)
      .catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(10);
    await server.stop();
    expect(await caught).toBeInstanceOf(HandshakeError);
  });

  it('answers pings after delays.pong, per connection', async () => {
    server.setDelays({ pong: 30 });
    const adapter = server.createAdapter();
    await adapter.dial(server.url);
    const connection = await server.accept();
    const first = track(adapter.ping());
    await vi.advanceTimersByTimeAsync(29);
    expect(first.settled()).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(first.settled()).toBe(true);
    connection.setDelays({ pong: 5 });
    expect(connection.delays.pong).toBe(5);
    const second = track(adapter.ping());
    await vi.advanceTimersByTimeAsync(5);
    expect(second.settled()).toBe(true);
  });

  it('lets a heartbeat-style ping timeout fire against a server that answers late', async () => {
    server.setDelays({ pong: 5000 });
    const adapter = server.createAdapter();
    await adapter.dial(server.url);
    // A heartbeat's own timeout, on the same (fake) clock.
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('no pong within 1000 ms')), 1000);
    const caught = adapter.ping({ signal: controller.signal }).catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(999);
    expect(adapter.callsOf('ping')[0]!.result).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect(await caught).toMatchObject({ message: 'no pong within 1000 ms' });
    // The late pong, when it comes, is ignored.
    await vi.advanceTimersByTimeAsync(5000);
    expect(adapter.callsOf('ping')[0]!.result).toBe('rejected');
  });

  it('answers the client close after delays.close, and the client waits for it', async () => {
    server.setDelays({ close: 200 });
    const adapter = server.createAdapter();
    await adapter.dial(server.url);
    const connection = await server.accept();
    const close = track(adapter.close(1000, 'bye'));
    await vi.advanceTimersByTimeAsync(0);
    expect(connection.clientClose).toEqual({ code: 1000, reason: 'bye' });
    expect(connection.state).toBe('closing');
    expect(adapter.state).toBe('closing');
    await vi.advanceTimersByTimeAsync(199);
    expect(close.settled()).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(close.settled()).toBe(true);
    expect(adapter.state).toBe('closed');
    expect(connection.state).toBe('closed');
  });

  it('gives up on a close answer after closeTimeout: close resolves, the server sees the transport go', async () => {
    server.setDelays({ close: 60_000 });
    const adapter = new MockAdapter(server, { closeTimeout: 500 });
    await adapter.dial(server.url);
    const connection = await server.accept();
    const close = track(adapter.close(4000, 'late server'));
    await vi.advanceTimersByTimeAsync(499);
    expect(close.settled()).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(close.settled()).toBe(true);
    expect(adapter.callsOf('close')[0]!.result).toBe('resolved');
    expect(connection.state).toBe('closed');
    expect(await connection.closed).toEqual({ code: 4000, reason: 'late server' });
  });

  it('stops waiting for the close answer when the signal aborts: the connection is closed and close resolves', async () => {
    server.setDelays({ close: 60_000 });
    const adapter = server.createAdapter();
    await adapter.dial(server.url);
    const connection = await server.accept();
    const controller = new AbortController();
    const close = track(adapter.close(1001, '', { signal: controller.signal }));
    await vi.advanceTimersByTimeAsync(100);
    expect(close.settled()).toBe(false);
    controller.abort(new Error('shutdown deadline'));
    await vi.advanceTimersByTimeAsync(0);
    expect(close.settled()).toBe(true);
    expect(adapter.callsOf('close')[0]!.result).toBe('resolved');
    expect(adapter.state).toBe('closed');
    expect(connection.state).toBe('closed');
    expect(await adapter.write(MessageType.Text, 'x').catch((error: unknown) => error)).toBeInstanceOf(
      ConnectionClosedError,
    );
  });

  it('cancels a delayed dial when close() is called during it', async () => {
    server.setDelays({ dial: 1000 });
    const adapter = server.createAdapter();
    const dial = adapter.dial(server.url).catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(10);
    await adapter.close(1000, '');
    expect(await dial).toBeInstanceOf(ConnectionClosedError);
    await vi.advanceTimersByTimeAsync(2000);
    expect(server.connections).toHaveLength(0);
    expect(adapter.callsOf('close')[0]!.result).toBe('resolved');
  });

  it('lets the server answer a waiting client close early with its own code', async () => {
    server.setDelays({ close: 10_000 });
    const adapter = server.createAdapter();
    await adapter.dial(server.url);
    const connection = await server.accept();
    const close = track(adapter.close(1000, ''));
    await vi.advanceTimersByTimeAsync(0);
    await connection.close(1001, 'also leaving');
    await vi.advanceTimersByTimeAsync(0);
    expect(close.settled()).toBe(true);
    expect(connection.state).toBe('closed');
  });
});
