/**
 * Reconnection: backoff, limits, the per-failure decision, Retry-After, the attempt-count reset.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HandshakeError, InvalidArgumentError, UnsupportedOperationError, WebSocketCloseError } from '../../src/adapters/index.js';
import {
  ReconnectPolicy,
  RetriesExhaustedError,
  defaultShouldRetry,
  retryAfterMs,
} from '../../src/engine/index.js';
import { cleanup, harness } from './helpers.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(cleanup);

describe('ReconnectPolicy', () => {
  it('grows delays exponentially from minDelay and caps them at maxDelay', () => {
    const policy = new ReconnectPolicy({ minDelay: 100, maxDelay: 1000, factor: 2, jitter: 0 });
    expect([1, 2, 3, 4, 5, 6].map((n) => policy.delayFor(n))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('spreads delays by the jitter fraction, within the bounds', () => {
    const low = new ReconnectPolicy({ minDelay: 100, maxDelay: 10_000, jitter: 0.5 }, () => 0);
    const high = new ReconnectPolicy({ minDelay: 100, maxDelay: 10_000, jitter: 0.5 }, () => 0.999999);
    expect(low.delayFor(3)).toBe(200);
    expect(high.delayFor(3)).toBe(600);
    expect(low.delayFor(1)).toBe(100); // never below minDelay
    expect(high.delayFor(20)).toBe(10_000); // never above maxDelay
  });

  it('by default refuses 400/401/403/404 and 1002/1003/1007/1008, and retries the rest', () => {
    for (const status of [400, 401, 403, 404]) expect(defaultShouldRetry(new HandshakeError('x', { status }))).toBe(false);
    for (const status of [429, 500, 502, 503]) expect(defaultShouldRetry(new HandshakeError('x', { status }))).toBe(true);
    expect(defaultShouldRetry(new HandshakeError('ECONNREFUSED'))).toBe(true);
    for (const code of [1002, 1003, 1007, 1008]) expect(defaultShouldRetry(new WebSocketCloseError(code))).toBe(false);
    for (const code of [1000, 1001, 1006, 1011, 1012, 1013, 1014]) {
      expect(defaultShouldRetry(new WebSocketCloseError(code))).toBe(true);
    }
    expect(defaultShouldRetry(new TypeError('fetch failed'))).toBe(true);
    // Configuration errors never pass on a retry (e.g. headers given to the browser adapter).
    expect(defaultShouldRetry(new UnsupportedOperationError('no headers in a browser'))).toBe(false);
    expect(defaultShouldRetry(new InvalidArgumentError('bad url'))).toBe(false);
  });

  it('reads Retry-After as seconds or as an HTTP date, on 429 and 503 only', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs(new HandshakeError('x', { status: 429, headers: { 'retry-after': '7' } }), now)).toBe(7000);
    expect(
      retryAfterMs(new HandshakeError('x', { status: 503, headers: { 'retry-after': 'Thu, 01 Jan 2026 00:00:30 GMT' } }), now),
    ).toBe(30_000);
    expect(retryAfterMs(new HandshakeError('x', { status: 500, headers: { 'retry-after': '7' } }), now)).toBeUndefined();
    expect(retryAfterMs(new HandshakeError('x', { status: 503, headers: { 'retry-after': 'soon' } }), now)).toBeUndefined();
  });
});

describe('the engine reconnecting', () => {
  it('after a drop, waits and reconnects; refused attempts wait longer each time', async () => {
    const { engine, server, of } = harness({ reconnect: { minDelay: 100, maxDelay: 1000, minUptime: 0 } });
    await engine.start();
    for (let i = 0; i < 4; i++) server.refuseNext({ status: 503 });
    (await server.accept()).drop();
    await vi.advanceTimersByTimeAsync(100 + 200 + 400 + 800 + 1000);
    expect(engine.state).toBe('open');
    expect(of('retry').map(([r]) => r.delayMs)).toEqual([100, 200, 400, 800, 1000]);
    expect(of('connecting').map(([c]) => c.attempt)).toEqual([1, 1, 2, 3, 4, 5]);
    expect(engine.metrics()).toMatchObject({ connects: 2, reconnects: 1, failedAttempts: 4 });
  });

  it('does not reconnect before the delay has passed', async () => {
    const { engine, server } = harness({ reconnect: { minDelay: 500, minUptime: 0 } });
    await engine.start();
    (await server.accept()).drop();
    await vi.advanceTimersByTimeAsync(499);
    expect(engine.state).toBe('reconnecting');
    expect(server.requests).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(engine.state).toBe('open');
  });

  it('gives up after the retry limit with RetriesExhaustedError', async () => {
    const { engine, server, of } = harness({ reconnect: { retries: 2, minUptime: 0 } });
    await engine.start();
    await server.stop();
    await vi.advanceTimersByTimeAsync(100 + 200 + 400);
    expect(engine.state).toBe('stopped');
    const [{ error }] = of('stopped')[0]!;
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect((error as RetriesExhaustedError).attempts).toBe(2);
    expect((error as RetriesExhaustedError).cause).toBeInstanceOf(HandshakeError);
    expect(server.requests).toHaveLength(1);
  });

  it('does not retry a reconnect refused with 401', async () => {
    const { engine, server, of } = harness({ reconnect: { minUptime: 0 } });
    await engine.start();
    server.refuseNext({ status: 401 });
    (await server.accept()).drop();
    await vi.advanceTimersByTimeAsync(100);
    expect(engine.state).toBe('stopped');
    const [{ error }] = of('stopped')[0]!;
    expect(error).toBeInstanceOf(HandshakeError);
    expect((error as HandshakeError).status).toBe(401);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(server.requests).toHaveLength(2);
  });

  it('does not reconnect after a close with 1008', async () => {
    const { engine, server, of } = harness();
    await engine.start();
    await (await server.accept()).close(1008, 'policy');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(engine.state).toBe('stopped');
    expect((of('stopped')[0]![0].error as WebSocketCloseError).code).toBe(1008);
    expect(server.requests).toHaveLength(1);
  });

  it.each([1001, 1011, 1012, 1013, 1014])('reconnects after a close with %i', async (code) => {
    const { engine, server } = harness();
    await engine.start();
    await (await server.accept()).close(code, '');
    await vi.advanceTimersByTimeAsync(1000);
    expect(engine.state).toBe('open');
    expect(server.connections).toHaveLength(2);
  });

  it('honours Retry-After on 429', async () => {
    const { engine, server, of } = harness({ reconnect: { minUptime: 0 } });
    await engine.start();
    server.refuseNext({ status: 429, headers: { 'Retry-After': '3' } });
    (await server.accept()).drop();
    await vi.advanceTimersByTimeAsync(100);
    expect(of('retry').map(([r]) => r.delayMs)).toEqual([100, 3000]);
    await vi.advanceTimersByTimeAsync(2999);
    expect(server.requests).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(server.requests).toHaveLength(3);
    expect(engine.state).toBe('open');
  });

  it('a user decision overrides the defaults', async () => {
    const decisions: unknown[] = [];
    const { engine, server } = harness({
      reconnect: {
        minUptime: 0,
        shouldRetry: (error, ctx) => {
          decisions.push([ctx.phase, (error as { status?: number; code?: number }).status ?? (error as WebSocketCloseError).code, ctx.defaultDecision]);
          return true;
        },
      },
    });
    await engine.start();
    server.refuseNext({ status: 401 });
    (await server.accept()).drop();
    await vi.advanceTimersByTimeAsync(100 + 200);
    expect(engine.state).toBe('open');
    expect(decisions).toEqual([
      ['lost', 1006, true],
      ['connect', 401, false],
    ]);
  });

  it('a connection that stayed up for minUptime resets the attempt count; a shorter one does not', async () => {
    const { engine, server, of } = harness({ reconnect: { minDelay: 100, maxDelay: 10_000, minUptime: 1000 } });
    await engine.start();
    // The first loss starts at minDelay.
    (await server.accept()).drop();
    await vi.advanceTimersByTimeAsync(100);
    expect(engine.state).toBe('open');
    // Up for less than minUptime: the count goes on (the next wait is the second one).
    (await server.accept()).drop();
    await vi.advanceTimersByTimeAsync(200);
    expect(engine.state).toBe('open');
    // Up long enough: the count starts again from minDelay.
    await vi.advanceTimersByTimeAsync(1000);
    (await server.accept()).drop();
    await vi.advanceTimersByTimeAsync(100);
    expect(engine.state).toBe('open');
    expect(of('retry').map(([r]) => r.delayMs)).toEqual([100, 200, 100]);
    expect(of('connecting').map(([c]) => c.attempt)).toEqual([1, 1, 2, 1]);
  });

  it('restart() during the wait dials at once', async () => {
    const { engine, server } = harness({ reconnect: { minDelay: 5000, maxDelay: 10_000, minUptime: 0 } });
    await engine.start();
    (await server.accept()).drop();
    await vi.advanceTimersByTimeAsync(10);
    expect(engine.state).toBe('reconnecting');
    engine.restart();
    await vi.advanceTimersByTimeAsync(0);
    expect(engine.state).toBe('open');
  });

  it('reconnect: false stops on the first loss with its close error', async () => {
    const { engine, server, of } = harness({ reconnect: false });
    await engine.start();
    (await server.accept()).drop();
    await vi.advanceTimersByTimeAsync(0);
    expect(engine.state).toBe('stopped');
    expect((of('stopped')[0]![0].error as WebSocketCloseError).code).toBe(1006);
  });

  it('onRestartError may exit() to stop retrying', async () => {
    const { engine, server } = harness({
      reconnect: { minUptime: 0 },
      onRestartError: (_error, ctx) => {
        if (ctx.attempt >= 2) ctx.exit();
      },
    });
    await engine.start();
    await server.stop();
    await vi.advanceTimersByTimeAsync(100 + 200 + 400 + 800);
    expect(engine.state).toBe('stopped');
    expect(server.requests).toHaveLength(1);
  });
});
