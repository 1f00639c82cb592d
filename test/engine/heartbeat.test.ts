/**
 * Liveness: ping frames, application-level pings, traffic, and the fallback from ping frames.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MessageType, UnsupportedOperationError, type Message } from '../../src/adapters/index.js';
import { HeartbeatTimeoutError } from '../../src/engine/index.js';
import { MockServer, type MockServerConnection } from '../../src/mocks/index.js';
import { cleanup, harness } from './helpers.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(cleanup);

function noPingAdapter(server: MockServer) {
  return () => {
    const adapter = server.createAdapter();
    adapter.ping = () => Promise.reject(new UnsupportedOperationError('no ping frames here'));
    return adapter;
  };
}

describe('ping frames', () => {
  it('an interval longer than a timer can take (2^31 ms) does not probe every millisecond', async () => {
    const { engine, server } = harness({ heartbeat: { interval: 2 ** 32, timeout: 2 ** 32 } });
    await engine.start();
    const conn = await server.accept();
    await vi.advanceTimersByTimeAsync(100);
    expect(conn.pings).toBe(0);
  });

  it('pings every interval and records the round trip', async () => {
    const { engine, server, of } = harness({ heartbeat: { interval: 1000, timeout: 500 } });
    await engine.start();
    const conn = await server.accept();
    conn.setDelays({ pong: 30 });
    await vi.advanceTimersByTimeAsync(999);
    expect(conn.pings).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(conn.pings).toBe(1);
    await vi.advanceTimersByTimeAsync(30);
    expect(engine.metrics().lastRttMs).toBe(30);
    expect(of('pong')).toEqual([[30]]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(conn.pings).toBe(2);
    expect(of('heartbeat-timeout')).toEqual([]);
  });

  it('declares a silent connection dead within interval + timeout and replaces it', async () => {
    const { engine, server, of } = harness({ heartbeat: { interval: 1000, timeout: 500 }, reconnect: { minUptime: 0 } });
    await engine.start();
    const conn = await server.accept();
    conn.ignorePings();
    await vi.advanceTimersByTimeAsync(1499);
    expect(of('heartbeat-timeout')).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(of('heartbeat-timeout')).toHaveLength(1);
    const [error, connectionId] = of('heartbeat-timeout')[0]!;
    expect(error).toBeInstanceOf(HeartbeatTimeoutError);
    expect(connectionId).toBe(of('open')[0]![0].connectionId);
    expect(await conn.closed).toEqual({ code: 1001, reason: 'heartbeat timeout' });
    expect(of('close')[0]![0]).toMatchObject({ initiator: 'local', code: 1001 });
    await vi.advanceTimersByTimeAsync(1000);
    expect(engine.state).toBe('open');
    expect(server.connections).toHaveLength(2);
    expect(engine.metrics().heartbeatTimeouts).toBe(1);
  });

  it('heartbeat: false sends no pings', async () => {
    const { engine, server } = harness({ heartbeat: false });
    await engine.start();
    const conn = await server.accept();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(conn.pings).toBe(0);
  });
});

describe('application-level heartbeat', () => {
  function answerPings(conn: MockServerConnection): void {
    conn.on('message', (m) => {
      if (m.data === 'ping') void conn.sendText('pong').catch(() => {});
    });
  }

  it('sends the ping message and accepts the matching pong, which is not delivered', async () => {
    const delivered: Message[] = [];
    const { engine, server, of } = harness({
      heartbeat: {
        mode: 'message',
        interval: 1000,
        timeout: 500,
        message: { type: MessageType.Text, data: 'ping' },
        isPong: (m) => m.data === 'pong',
      },
      onMessage: (m) => void delivered.push(m),
    });
    server.on('connection', answerPings);
    await engine.start();
    const conn = await server.accept();
    await vi.advanceTimersByTimeAsync(5000);
    expect(conn.messages.map((m) => m.data)).toEqual(['ping', 'ping', 'ping', 'ping', 'ping']);
    expect(of('pong')).toHaveLength(5);
    expect(delivered).toEqual([]);
    expect(of('heartbeat-timeout')).toEqual([]);
  });

  it('times out when the pong stops coming', async () => {
    const { engine, server, of } = harness({
      heartbeat: {
        mode: 'message',
        interval: 1000,
        timeout: 500,
        message: () => ({ type: MessageType.Text, data: 'ping' }),
        isPong: (m) => m.data === 'pong',
      },
    });
    await engine.start();
    const conn = await server.accept();
    // Other messages do not count as pongs.
    await conn.sendText('tick');
    await vi.advanceTimersByTimeAsync(1500);
    expect(of('heartbeat-timeout')).toHaveLength(1);
  });

  it('traffic mode: any inbound message is a sign of life; silence for interval + timeout is not', async () => {
    const { engine, server, of } = harness({ heartbeat: { mode: 'traffic', interval: 1000, timeout: 500 } });
    await engine.start();
    const conn = await server.accept();
    for (let i = 0; i < 5; i++) {
      await vi.advanceTimersByTimeAsync(1400);
      await conn.sendText(`tick ${i}`);
    }
    expect(of('heartbeat-timeout')).toEqual([]);
    expect(conn.pings).toBe(0);
    await vi.advanceTimersByTimeAsync(1499);
    expect(of('heartbeat-timeout')).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(of('heartbeat-timeout')).toHaveLength(1);
  });

  it('auto mode falls back to the ping message when the adapter cannot send ping frames', async () => {
    const server = new MockServer();
    server.on('connection', answerPings);
    const { engine, of } = harness({
      adapter: noPingAdapter(server),
      heartbeat: { interval: 1000, timeout: 500, message: { type: MessageType.Text, data: 'ping' }, isPong: (m) => m.data === 'pong' },
    });
    await engine.start();
    const conn = await server.accept();
    await vi.advanceTimersByTimeAsync(3000);
    expect(conn.messages.map((m) => m.data)).toEqual(['ping', 'ping', 'ping']);
    expect(of('heartbeat-timeout')).toEqual([]);
    await server.stop();
  });

  it('auto mode without a ping message falls back to traffic', async () => {
    const server = new MockServer();
    const { engine, of } = harness({ adapter: noPingAdapter(server), heartbeat: { interval: 1000, timeout: 500 } });
    await engine.start();
    await server.accept();
    await vi.advanceTimersByTimeAsync(1000 + 1000 + 500 - 1);
    expect(of('heartbeat-timeout')).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(of('heartbeat-timeout')).toHaveLength(1);
    await server.stop();
  });
});
