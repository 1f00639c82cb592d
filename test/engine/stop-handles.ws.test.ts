/**
 * stop() leaves nothing behind: after it, the process's active resources (sockets, timers,
 * servers) are those it had before start(). In a file of its own, so that no other test's
 * sockets are still closing when the counts are taken.
 */
import type { AddressInfo } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { createWsAdapter } from '../../src/adapters/ws.js';
import { createEngine, type Engine } from '../../src/engine/index.js';

let wss: WebSocketServer | undefined;
let engine: Engine | undefined;

afterEach(async () => {
  await engine?.stop();
  if (wss) await new Promise<void>((resolve) => wss!.close(() => resolve()));
});

it('leaves no handle behind: the active resources return to what they were before start', async () => {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss!.once('listening', resolve));
  const port = (wss.address() as AddressInfo).port;
  const serverSide = new Promise<WebSocket>((resolve) => wss!.once('connection', resolve));
  engine = createEngine({
    url: `ws://127.0.0.1:${port}/`,
    adapter: () => createWsAdapter(),
    heartbeat: { interval: 50, timeout: 1000 },
    tracing: false,
  });
  const before = process.getActiveResourcesInfo();
  await engine.start();
  const ws = await serverSide;
  // A heartbeat round trip: the engine's timers are running.
  await new Promise<void>((resolve) => engine!.once('pong', () => resolve()));
  const during = process.getActiveResourcesInfo();
  expect(during.filter((r) => r === 'TCPSocketWrap').length).toBeGreaterThanOrEqual(2);
  const serverClosed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  await engine.stop();
  await serverClosed;
  // Closed handles are released on the next turn of the event loop.
  await new Promise<void>((resolve) => setImmediate(resolve));
  // Nothing of any kind beyond what was there before (the runner's own timers may have ended).
  expect(excess(process.getActiveResourcesInfo(), before)).toEqual([]);
});

/** The resources of `after` that `before` does not account for, kind by kind. */
function excess(after: readonly string[], before: readonly string[]): string[] {
  const left = new Map<string, number>();
  for (const kind of before) left.set(kind, (left.get(kind) ?? 0) + 1);
  const extra: string[] = [];
  for (const kind of after) {
    const n = left.get(kind) ?? 0;
    if (n > 0) left.set(kind, n - 1);
    else extra.push(kind);
  }
  return extra.sort();
}
