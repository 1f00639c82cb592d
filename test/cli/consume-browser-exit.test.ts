/**
 * `wsengine consume --adapter browser` exits after Ctrl-C even when a connection was replaced
 * after a half-open period: undici waits for a close frame the dead path never delivers, and
 * would keep that socket (and the process) alive until TCP gives up. The command's undici
 * WebSocket ends such a socket once the closing handshake overruns its closeTimeout (5 s).
 */
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { consume, parseConsumeArgs } from '../../src/cli/consume.js';
import { FaultProxy } from '../../src/testing/fault-proxy.js';
import { buildCli, killAll, startCli } from './support/cli-process.js';

let cli: { main: string; remove(): void } | undefined;
beforeAll(async () => {
  cli = await buildCli();
});
afterAll(() => cli?.remove());
afterEach(() => killAll());

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

/** A `ws` server that writes every 20 ms (traffic is the browser adapter's sign of life), behind a fault proxy. */
async function tickingPath(): Promise<FaultProxy> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  // Traffic is the browser adapter's sign of life (no ping frames in the WHATWG API).
  wss.on('connection', (ws) => {
    const timer = setInterval(() => ws.send('tick'), 20);
    ws.on('close', () => clearInterval(timer));
  });
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      }),
  );
  const proxy = await FaultProxy.start({ targetPort: (wss.address() as AddressInfo).port });
  cleanups.push(() => proxy.close());
  return proxy;
}

it('leaves no socket open once stopped, after a black-holed connection was replaced', async () => {
  const proxy = await tickingPath();

  const events: string[] = [];
  const waiters: Array<{ event: string; count: number; resolve: () => void }> = [];
  const out = {
    write(chunk: string): void {
      for (const text of chunk.split('\n').filter(Boolean)) {
        events.push((JSON.parse(text) as { event: string }).event);
        for (const w of [...waiters]) {
          if (events.filter((e) => e === w.event).length >= w.count) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve();
          }
        }
      }
    },
  };
  const seen = (event: string, count = 1): Promise<void> =>
    events.filter((e) => e === event).length >= count
      ? Promise.resolve()
      : new Promise((resolve) => waiters.push({ event, count, resolve }));

  const controller = new AbortController();
  const args = parseConsumeArgs([
    proxy.url(),
    '--adapter',
    'browser',
    '--heartbeat-interval',
    '100',
    '--heartbeat-timeout',
    '100',
    '--min-delay',
    '20',
    '--max-delay',
    '50',
  ])!;
  const status = consume({ ...args, out, signal: controller.signal });
  await seen('open');
  proxy.blackhole();
  await seen('heartbeat-timeout');
  await seen('open', 2);
  controller.abort();
  expect(await status).toBe(0);
  expect(events.at(-1)).toBe('stopped');
  // The replaced, black-holed connection's socket is closed too; before, it stayed open.
  await proxy.clientsClosed();
  expect(proxy.connections).toBe(0);
}, 15_000);

it('the command exits after SIGINT, after a black-holed connection was replaced', async () => {
  const proxy = await tickingPath();
  const args = ['--adapter', 'browser', '--heartbeat-interval', '100', '--heartbeat-timeout', '100', '--min-delay', '20', '--max-delay', '50'];
  const run = startCli(cli!.main, ['consume', proxy.url(), ...args]);
  await run.waitFor(/"event":"open"/);
  proxy.blackhole();
  await run.waitFor(/"event":"heartbeat-timeout"/);
  await run.waitFor(/"event":"open"/);
  run.kill('SIGINT');
  await run.waitFor(/"event":"stopped"/);
  // Before, undici kept the black-holed socket and the process alive until TCP gave up.
  expect(await run.exited).toBe(0);
}, 15_000);
