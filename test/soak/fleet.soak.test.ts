/**
 * Soak: 1,000 engines (native adapter) connected at once to one server in another process.
 * Measured: memory per connection (heap after GC and RSS, before and after all are open), and
 * the time for all to reconnect after the server drops every connection at once. Checked: none
 * stuck (every engine opens again), none duplicated (every engine opens exactly twice, and the
 * server sees exactly 2,000 connections).
 *
 * Run only with CI or WSENGINE_SOAK=1 (vitest.config.ts).
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { createNativeAdapter } from '../../src/adapters/native/index.js';
import { createEngine, type Engine } from '../../src/engine/index.js';
import { heapAfterGc } from './gc.js';

const ENGINES = 1000;
/** Engines started at once while connecting the fleet (the server's listen backlog is 4096). */
const BATCH = 100;
/**
 * Memory per open connection, heap and RSS. A connection needs its 16 KiB first read slab
 * (socket-input.ts), its heap objects (engine, adapter, parser, sender: about 14 KiB measured)
 * and the runtime's socket state; 128 KiB leaves room for allocator slack, while a buffer that
 * grew per connection (a 256 KiB slab, a retained message) would exceed it.
 */
const PER_CONNECTION_BOUND = 128 * 1024;

const SERVER = fileURLToPath(new URL('./soak-server.mjs', import.meta.url));
let child: ChildProcessByStdio<Writable, Readable, null> | undefined;
const engines: Engine[] = [];

afterAll(async () => {
  await Promise.all(engines.map((engine) => engine.stop()));
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child!.once('exit', () => resolve()));
    process.kill(child.pid!, 'SIGKILL');
    await exited;
  }
});

it(`${ENGINES} engines: memory per connection, and all reconnect once after the server drops them`, async () => {
  child = spawn(process.execPath, [SERVER], { stdio: ['pipe', 'pipe', 'inherit'] });
  let port = 0;
  let serverOpens = 0;
  const waiters: Array<() => void> = [];
  let buffered = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (text: string) => {
    buffered += text;
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (line.startsWith('port ')) port = Number(line.slice(5));
      else if (line === 'open') serverOpens++;
    }
    for (const wake of waiters.splice(0)) wake();
  });
  const until = (test: () => boolean): Promise<void> =>
    new Promise((resolve) => {
      const check = (): void => (test() ? resolve() : void waiters.push(check));
      check();
    });
  await until(() => port > 0);

  const opens = new Array<number>(ENGINES).fill(0);
  let totalOpens = 0;
  let reopened = 0;
  let allReopened: (() => void) | undefined;
  const heapBefore = heapAfterGc();
  const rssBefore = process.memoryUsage().rss;
  const connectStart = Date.now();
  for (let i = 0; i < ENGINES; i++) {
    const engine = createEngine({
      url: `ws://127.0.0.1:${port}/`,
      adapter: () => createNativeAdapter({ closeTimeout: 1000 }),
      tracing: false,
      heartbeat: { interval: 30_000, timeout: 10_000 },
      // The herd is spread by jitter: waits of 50-150 ms at first.
      reconnect: { minDelay: 100, maxDelay: 2000, jitter: 0.5, minUptime: 0 },
    });
    engine.on('open', () => {
      opens[i]!++;
      totalOpens++;
      if (opens[i] === 2 && ++reopened === ENGINES) allReopened?.();
    });
    engines.push(engine);
  }
  for (let i = 0; i < ENGINES; i += BATCH) {
    await Promise.all(engines.slice(i, i + BATCH).map((engine) => engine.start()));
  }
  const connectMs = Date.now() - connectStart;
  expect(totalOpens).toBe(ENGINES);
  const heapPer = (heapAfterGc() - heapBefore) / ENGINES;
  const rssPer = (process.memoryUsage().rss - rssBefore) / ENGINES;

  const reconnected = new Promise<void>((resolve) => (allReopened = resolve));
  const dropAt = Date.now();
  child.stdin.write('drop\n');
  await reconnected;
  const reconnectMs = Date.now() - dropAt;
  await until(() => serverOpens >= 2 * ENGINES);

  console.log(
    `soak fleet: ${ENGINES} native engines connected in ${connectMs} ms; per connection ${(heapPer / 1024).toFixed(1)} KiB heap, ` +
      `${(rssPer / 1024).toFixed(1)} KiB RSS; all reconnected ${reconnectMs} ms after the server dropped them ` +
      `(backoff 50-150 ms for the first wait)`,
  );
  // None stuck, none duplicated.
  expect(opens.every((count) => count === 2)).toBe(true);
  expect(engines.every((engine) => engine.state === 'open')).toBe(true);
  expect(serverOpens).toBe(2 * ENGINES);
  expect(heapPer).toBeLessThan(PER_CONNECTION_BOUND);
  expect(rssPer).toBeLessThan(PER_CONNECTION_BOUND);
}, 120_000);
