/**
 * Soak: 10,000 connect/drop cycles through the engine in one process, for the native and the
 * ws adapter. The server (a `ws` server on 127.0.0.1) sends one message on every connection
 * and drops it (no close frame); the engine reconnects at once. The heap after a full GC is
 * taken after a warm-up of 500 cycles and again after 10,000 more.
 *
 * The bound, HEAP_BOUND = 2 MiB over 10,000 cycles, is 200 bytes per cycle: less than anything
 * a cycle could leak (a socket with its buffers is several KB, a timer or a listener closure
 * with its context 100-200 bytes, an adapter or a connection record more), so one leaked
 * object per cycle fails it, while it leaves room for what V8 keeps after warm-up (compiled
 * code, inline caches, grown hidden-class tables), which does not grow with the cycle count.
 *
 * Run only with CI or WSENGINE_SOAK=1 (vitest.config.ts).
 */
import type { AddressInfo } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { createNativeAdapter } from '../../src/adapters/native/index.js';
import type { AdapterFactory } from '../../src/adapters/types.js';
import { createWsAdapter } from '../../src/adapters/ws.js';
import { createEngine, type Engine } from '../../src/engine/index.js';
import { heapAfterGc, MiB } from './gc.js';

const WARM_UP = 500;
const CYCLES = 10_000;
const HEAP_BOUND = 2 * MiB;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

async function dropServer(): Promise<number> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.send('hello');
    setImmediate(() => ws.terminate());
  });
  cleanups.push(() => new Promise<void>((resolve) => wss.close(() => resolve())));
  return (wss.address() as AddressInfo).port;
}

for (const [name, adapter] of [
  ['native', () => createNativeAdapter({ closeTimeout: 500 })],
  ['ws', () => createWsAdapter({ closeTimeout: 500 })],
] as Array<[string, AdapterFactory]>) {
  it(`${name}: ${CYCLES} connect/drop cycles leave the heap within ${HEAP_BOUND / MiB} MiB`, async () => {
    const port = await dropServer();
    const engine: Engine = createEngine({
      url: `ws://127.0.0.1:${port}/`,
      adapter,
      tracing: false,
      heartbeat: false,
      reconnect: { minDelay: 1, maxDelay: 1, jitter: 0, minUptime: 0 },
    });
    cleanups.push(() => engine.stop());
    let opens = 0;
    let messages = 0;
    let before = 0;
    let after = 0;
    const started = Date.now();
    let warmedAt = 0;
    const done = new Promise<void>((resolve) => {
      engine.on('message', () => {
        messages++;
      });
      engine.on('open', () => {
        opens++;
        if (opens === WARM_UP) {
          before = heapAfterGc();
          warmedAt = Date.now();
        } else if (opens === WARM_UP + CYCLES) {
          after = heapAfterGc();
          resolve();
        }
      });
    });
    await engine.start();
    await done;
    const elapsed = Date.now() - warmedAt;
    await engine.stop();
    const growth = after - before;
    console.log(
      `soak ${name}: ${CYCLES} connect/drop cycles in ${elapsed} ms (${Math.round((CYCLES / elapsed) * 1000)}/s, ` +
        `${Date.now() - started} ms with warm-up); heap after GC ${(before / MiB).toFixed(2)} -> ${(after / MiB).toFixed(2)} MiB ` +
        `(${growth >= 0 ? '+' : ''}${(growth / 1024).toFixed(0)} KiB, ${(growth / CYCLES).toFixed(1)} B per cycle)`,
    );
    expect(messages).toBeGreaterThanOrEqual(CYCLES);
    expect(engine.metrics().reconnects).toBeGreaterThanOrEqual(WARM_UP + CYCLES - 1);
    expect(growth).toBeLessThan(HEAP_BOUND);
  }, 120_000);
}
