/**
 * Metrics snapshots and OpenTelemetry spans.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createEngine, otelTracing, type SpanLike, type TracerLike } from '../../src/engine/index.js';
import { loadGlobalTracer } from '../../src/engine/tracing.js';
import { MockServer } from '../../src/mocks/index.js';
import { cleanup, harness } from './helpers.js';

afterEach(cleanup);

class RecordingTracer implements TracerLike {
  readonly spans: Array<{ name: string; attributes: Record<string, unknown>; status?: number; ended: boolean }> = [];
  startSpan(name: string, options?: { attributes?: Record<string, string | number | boolean> }): SpanLike {
    const record: (typeof this.spans)[number] = { name, attributes: { ...options?.attributes }, ended: false };
    this.spans.push(record);
    return {
      setAttribute: (k, v) => (record.attributes[k] = v),
      recordException: () => undefined,
      setStatus: (s) => (record.status = s.code),
      end: () => (record.ended = true),
    };
  }
}

describe('metrics', () => {
  it('counts connections, messages and bytes each way, and uptime', async () => {
    vi.useFakeTimers();
    const { engine, server } = harness({ reconnect: { minUptime: 0 } });
    expect(engine.metrics()).toMatchObject({ state: 'idle', connects: 0, uptimeMs: 0, connectionId: undefined });
    await engine.start();
    const conn = await server.accept();
    await conn.sendText('héllo'); // 6 UTF-8 bytes
    await conn.sendBinary(new Uint8Array(10));
    await engine.sendText('ok');
    await vi.advanceTimersByTimeAsync(250);
    expect(engine.metrics()).toMatchObject({
      state: 'open',
      connects: 1,
      reconnects: 0,
      messagesIn: 2,
      bytesIn: 16,
      messagesOut: 1,
      bytesOut: 2,
      uptimeMs: 250,
    });
    conn.drop();
    await vi.advanceTimersByTimeAsync(100);
    expect(engine.metrics()).toMatchObject({ connects: 2, reconnects: 1, uptimeMs: 0 });
  });
});

describe('tracing', () => {
  it('records a span per connection attempt and per local close with a given tracer', async () => {
    const tracer = new RecordingTracer();
    const { engine, server } = harness({ tracing: otelTracing(tracer), reconnect: { retryOnStart: false } });
    server.refuseNext({ status: 500 });
    await expect(engine.start()).rejects.toThrow();
    await engine.start();
    await engine.stop();
    expect(tracer.spans.map((s) => [s.name, s.status, s.ended])).toEqual([
      ['wsengine.connect', 2, true],
      ['wsengine.connect', 1, true],
      ['wsengine.close', 1, true],
    ]);
    expect(tracer.spans[0]!.attributes).toMatchObject({ 'server.address': 'mock.invalid', 'server.port': 80, 'wsengine.attempt': 1 });
  });

  it('loads @opentelemetry/api lazily when installed (a non-recording tracer without an SDK)', async () => {
    const tracer = await loadGlobalTracer();
    expect(tracer).toBeDefined();
    const span = tracer!.startSpan('probe');
    expect(typeof span.end).toBe('function');
    span.end();
    // otelTracing() without a tracer connects through it.
    const server = new MockServer();
    const engine = createEngine({ url: server.url, adapter: () => server.createAdapter(), heartbeat: false, tracing: otelTracing() });
    await engine.start();
    await engine.stop();
    expect(engine.state).toBe('stopped');
    await server.stop();
  });
});
