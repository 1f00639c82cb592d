/**
 * Staleness under a fake clock, with the mock adapter (the clock is the point here, not the
 * socket): a silent stream is reported and resubscribed exactly `staleAfter` ms after its last
 * message, and never while the connection is down.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createEngine, type Engine } from '../../../src/engine/index.js';
import { MockServer, type MockServerConnection } from '../../../src/mocks/index.js';
import { createSubscriptions, type Subscriptions } from '../../../src/protocols/subscriptions/index.js';

let server: MockServer;
let engine: Engine;
let subs: Subscriptions<{ stream: string }>;
let stale: Array<{ key: string; silentMs: number }>;

beforeEach(() => {
  vi.useFakeTimers();
  server = new MockServer();
  engine = createEngine({
    url: server.url,
    adapter: () => server.createAdapter(),
    heartbeat: false,
    reconnect: { minDelay: 60_000, maxDelay: 60_000, jitter: 0 },
  });
  subs = createSubscriptions<{ stream: string }>(engine, {
    keyOf: (m) => m.stream,
    subscribeMessage: (keys) => `sub ${keys.join(',')}`,
    unsubscribeMessage: (keys) => `unsub ${keys.join(',')}`,
    staleAfter: 1000,
  });
  stale = [];
  subs.on('stale', (info) => stale.push(info));
});

afterEach(async () => {
  subs.close();
  await engine.stop();
  server.stop();
  vi.useRealTimers();
});

async function open(): Promise<MockServerConnection> {
  const accepted = server.accept();
  await engine.start();
  return accepted;
}

const tick = (conn: MockServerConnection, stream: string) => conn.sendText(JSON.stringify({ stream }));

describe('staleness', () => {
  it('fires staleAfter ms after the last message, resubscribes, and counts from the resubscribe', async () => {
    const conn = await open();
    await subs.subscribe('a');
    await vi.advanceTimersByTimeAsync(0);
    expect(conn.messages.map((m) => m.data)).toEqual(['sub a']);
    await vi.advanceTimersByTimeAsync(500);
    await tick(conn, 'a');
    await vi.advanceTimersByTimeAsync(999);
    expect(stale).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(stale).toEqual([{ key: 'a', silentMs: 1000 }]);
    await vi.advanceTimersByTimeAsync(0);
    expect(conn.messages.map((m) => m.data)).toEqual(['sub a', 'unsub a', 'sub a']);
    // The next period counts from the resubscribe.
    await vi.advanceTimersByTimeAsync(999);
    expect(stale).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(stale).toHaveLength(2);
    expect(subs.list()[0]!.stale).toBe(2);
  });

  it('a stream that keeps talking is never stale, whatever the others do', async () => {
    const conn = await open();
    await Promise.all([subs.subscribe('busy'), subs.subscribe('idle', { staleAfter: false })]);
    for (let i = 0; i < 10; i++) {
      await vi.advanceTimersByTimeAsync(600);
      await tick(conn, 'busy');
    }
    expect(stale).toEqual([]);
  });

  it('is not stale while the connection is down; counts afresh after the replay', async () => {
    const conn = await open();
    await subs.subscribe('a');
    await vi.advanceTimersByTimeAsync(500);
    const closed = new Promise<void>((resolve) => engine.once('close', () => resolve()));
    conn.drop();
    await closed;
    await vi.advanceTimersByTimeAsync(30_000);
    expect(stale).toEqual([]);
    const next = server.accept();
    await vi.advanceTimersByTimeAsync(30_000);
    const again = await next;
    await vi.advanceTimersByTimeAsync(0);
    expect(again.messages.map((m) => m.data)).toEqual(['sub a']);
    await vi.advanceTimersByTimeAsync(999);
    expect(stale).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(stale).toEqual([{ key: 'a', silentMs: 1000 }]);
  });
});
