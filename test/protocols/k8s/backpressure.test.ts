/**
 * A slow stdout consumer over a 100 MiB stream: the session reads from the socket only as fast as
 * the consumer reads from stdout, so what the server has sent but the consumer has not yet read
 * stays bounded (socket buffers, the adapter's bounded queue, the stream's high-water mark), and
 * so does the process's memory. Bounded in time: one pass, about a second.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { createWsAdapter, type WsAdapter } from '../../../src/adapters/ws.js';
import { exec } from '../../../src/protocols/k8s/index.js';
import { startK8sServer, type K8sTestServer } from './server.js';

const MiB = 1024 * 1024;
const TOTAL = 100 * MiB;

let s: K8sTestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

describe('exec: backpressure', () => {
  it('a consumer that stops pauses the socket; a slow one keeps memory bounded over 100 MiB', { timeout: 120_000 }, async () => {
    s = await startK8sServer({ supported: ['v5.channel.k8s.io'] });
    let adapter: WsAdapter | undefined;
    const session = await exec(s.url(`command=stream&bytes=${TOTAL}`), {
      heartbeat: false,
      adapter: () => (adapter = createWsAdapter()),
    });
    const socket = adapter!.underlying() as WebSocket;
    const exchange = await s.exchange(0);
    const baseline = process.memoryUsage();
    let consumed = 0;
    let mismatch = -1;
    let maxAhead = 0;
    let peakArrayBuffers = 0;
    let peakRss = 0;
    let nextSample = 0;
    const chunks = (session.stdout as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    const take = async (): Promise<boolean> => {
      const next = await chunks.next();
      if (next.done) return false;
      const chunk = next.value;
      for (let i = 0; i < chunk.length && mismatch < 0; i++) {
        if (chunk[i] !== (consumed + i) % 251) mismatch = consumed + i;
      }
      consumed += chunk.length;
      maxAhead = Math.max(maxAhead, exchange.sent - consumed);
      if (consumed >= nextSample) {
        const usage = process.memoryUsage();
        peakArrayBuffers = Math.max(peakArrayBuffers, usage.arrayBuffers - baseline.arrayBuffers);
        peakRss = Math.max(peakRss, usage.rss - baseline.rss);
        nextSample += 2 * MiB;
      }
      return true;
    };

    // A consumer that stops after 8 MiB: the session stops reading, the adapter's queue fills and
    // pauses the socket, long before the server is done. Without backpressure the server would
    // send all 100 MiB into this process's memory and the loop would end on that instead.
    while (consumed < 8 * MiB) await take();
    while (!socket.isPaused && exchange.sent < TOTAL) await new Promise(setImmediate);
    expect(socket.isPaused).toBe(true);
    expect(exchange.sent).toBeLessThan(TOTAL);
    expect(exchange.sent - consumed).toBeLessThan(24 * MiB);

    // Then a slow consumer to the end: two turns of the event loop per chunk.
    while (await take()) {
      await new Promise(setImmediate);
      await new Promise(setImmediate);
    }
    expect(mismatch).toBe(-1);
    expect(consumed).toBe(TOTAL);
    expect(await session.exitCode).toBe(0);
    // Ahead of the consumer: the socket buffers, ws's 1 MiB on the server, the adapter's 4 MiB
    // queue, the stream's 64 KiB. Memory: that, plus garbage not yet collected.
    expect(maxAhead).toBeLessThan(24 * MiB);
    expect(peakArrayBuffers).toBeLessThan(64 * MiB);
    expect(peakRss).toBeLessThan(160 * MiB);
    console.log(
      `in flight at most ${(maxAhead / MiB).toFixed(1)} MiB; array buffers +${(peakArrayBuffers / MiB).toFixed(1)} MiB; rss +${(peakRss / MiB).toFixed(1)} MiB`,
    );
  });
});
