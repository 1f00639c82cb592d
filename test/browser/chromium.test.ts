/**
 * The browser adapter in real headless Chromium: a page bundled from test/browser/page/ talks
 * to a loopback `ws` server through the browser's own WebSocket, and reports back what it saw;
 * the test checks that report against what the server recorded.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bundleForBrowser } from './helpers/bundle.js';
import { launchChromium } from './helpers/chromium.js';
import { startPageServer, type PageServer } from './helpers/page-server.js';
import type { AdapterScenarioReport } from './page/adapter-scenario.js';
import type { EngineScenarioReport } from './page/engine-scenario.js';
import type { RecordedConnection } from './helpers/page-server.js';

let browser: Browser | undefined;
let launchError: unknown;
let script = '';
let server: PageServer | undefined;
let page: Page | undefined;

beforeAll(async () => {
  // The package declares "sideEffects": false, so the entry assigns the scenarios explicitly.
  const bundle = await bundleForBrowser(
    [
      "import { runAdapterScenario } from './test/browser/page/adapter-scenario.ts';",
      "import { runEngineScenario } from './test/browser/page/engine-scenario.ts';",
      'Object.assign(globalThis, { wsengineAdapterScenario: runAdapterScenario, wsengineEngineScenario: runEngineScenario });',
    ].join('\n'),
    { minify: false },
  );
  if (bundle.violations.length > 0) throw new Error(`The page bundle imports Node-only modules: ${JSON.stringify(bundle.violations)}`);
  script = bundle.code;
  try {
    browser = await launchChromium();
  } catch (error) {
    launchError = error;
  }
}, 90_000);

afterAll(async () => {
  await browser?.close();
});

afterEach(async () => {
  await page?.close();
  page = undefined;
  await server?.close();
  server = undefined;
});

/** A fresh page on a fresh server; fails (never skips) when Chromium could not be launched. */
async function openPage(): Promise<{ page: Page; server: PageServer; errors: string[] }> {
  if (!browser) throw launchError ?? new Error('Chromium was not launched');
  server = await startPageServer(script);
  page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${server.origin}/`);
  await page.waitForFunction(() => 'wsengineAdapterScenario' in globalThis && 'wsengineEngineScenario' in globalThis);
  return { page, server, errors };
}

/** What the client sent on a connection, without the heartbeat's probes. */
function withoutProbes(connection: RecordedConnection): RecordedConnection['received'] {
  return connection.received.filter((message) => message.data !== 'hb');
}

function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i++) sum = (sum * 31 + bytes[i]!) >>> 0;
  return sum;
}

describe('browser adapter in headless Chromium', () => {
  it('exchanges text and binary, survives a server-side drop by reconnecting, and maps close codes', async () => {
    const { page, server, errors } = await openPage();
    const report = await page.evaluate(
      (url) =>
        (globalThis as unknown as { wsengineAdapterScenario: (u: string) => Promise<AdapterScenarioReport> })
          .wsengineAdapterScenario(url),
      server.wsUrl,
    );
    expect(errors).toEqual([]);

    // The browser's own WebSocket, not a stand-in.
    expect(report.nativeWebSocket).toBe(true);
    expect(report.handshake).toEqual({ url: server.wsUrl, status: null, headers: {}, protocol: 'wsengine.test' });
    expect(report.binaryType).toBe('arraybuffer');
    expect(report.echoes).toEqual([
      { type: 1, data: 'hello from chromium ✓', uint8: false },
      { type: 2, data: [0, 1, 2, 254, 255], uint8: true },
      { type: 1, data: 'text given as bytes', uint8: false },
    ]);
    expect(report.ping).toMatchObject({ name: 'UnsupportedOperationError', code: 'ERR_UNSUPPORTED_OPERATION' });
    expect(report.headers).toMatchObject({ name: 'UnsupportedOperationError' });

    // The server-side drop surfaces as 1006, and the adapter dials again.
    expect(report.dropped).toMatchObject({ name: 'WebSocketCloseError', code: 1006, wasClean: false });
    expect(report.writeAfterDrop).toMatchObject({ name: 'ConnectionClosedError' });
    expect(report.afterReconnect).toEqual([
      { type: 1, data: 'after reconnect', uint8: false },
      { type: 2, data: [42], uint8: true },
    ]);

    const big = new Uint8Array(4 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    expect(report.bigEcho).toEqual({ type: 2, length: big.length, checksum: checksum(big) });

    expect(report.serverClose).toMatchObject({ name: 'WebSocketCloseError', code: 4321, reason: 'server says bye' });
    expect(report.closedLocally).toMatchObject({ name: 'WebSocketCloseError', code: 1001, reason: 'page done' });
    expect(report.refused).toMatchObject({ name: 'HandshakeError', code: 'ERR_HANDSHAKE', status: null });

    // What the server saw: the first connection was dropped, the second carried the rest and
    // was closed by the server, the third was closed by the page with 1001 sent as 4001.
    expect(server.connections).toHaveLength(3);
    const [first, second, third] = server.connections;
    expect(first!.protocol).toBe('wsengine.test');
    expect(first!.received).toEqual([
      { binary: false, data: 'hello from chromium ✓' },
      { binary: true, data: [0, 1, 2, 254, 255] },
      { binary: false, data: 'text given as bytes' },
      { binary: false, data: 'drop' },
    ]);
    expect(await first!.closed).toEqual({ code: 1006, reason: '' });
    expect(second!.received.slice(0, 2)).toEqual([
      { binary: false, data: 'after reconnect' },
      { binary: true, data: [42] },
    ]);
    expect(second!.received).toHaveLength(2 + 64 + 1);
    expect((await second!.closed).code).toBe(4321);
    expect(await third!.closed).toEqual({ code: 4001, reason: 'page done' });
  });

  it('runs the engine over the adapter: reconnects after a drop, and the app-level heartbeat replaces a dead connection', async () => {
    const { page, server, errors } = await openPage();
    const report = await page.evaluate(
      (url) =>
        (globalThis as unknown as { wsengineEngineScenario: (u: string) => Promise<EngineScenarioReport> })
          .wsengineEngineScenario(url),
      server.wsUrl,
    );
    expect(errors).toEqual([]);

    expect(report.events.map((event) => (event.startsWith('open ') ? 'open' : event))).toEqual([
      'open',
      'close 1006 remote',
      'open',
      'heartbeat-timeout',
      'close 1001 local',
      'open',
      'close 1000 local',
      'stopped',
    ]);
    // Heartbeat answers are swallowed, everything else is delivered on the right connection.
    expect(report.delivered).toEqual([
      { connection: 1, message: { type: 1, data: 'engine text ✓', uint8: false } },
      { connection: 1, message: { type: 2, data: [9, 8, 7], uint8: true } },
      { connection: 2, message: { type: 1, data: 'after drop', uint8: false } },
      { connection: 2, message: { type: 2, data: [1], uint8: true } },
      { connection: 3, message: { type: 1, data: 'after heartbeat timeout', uint8: false } },
    ]);
    expect(report.pongsBeforeMute).toBeGreaterThanOrEqual(1);
    expect(report.heartbeatError).toMatchObject({ name: 'HeartbeatTimeoutError' });
    expect(report.metrics).toEqual({ connects: 3, reconnects: 2, heartbeatTimeouts: 1 });
    expect(report.stateAfterStop).toBe('stopped');

    // The server's side of the story.
    expect(server.connections).toHaveLength(3);
    const [first, second, third] = server.connections;
    for (const connection of server.connections) expect(connection.protocol).toBe('wsengine.test');
    expect(withoutProbes(first!)).toEqual([
      { binary: false, data: 'engine text ✓' },
      { binary: true, data: [9, 8, 7] },
      { binary: false, data: 'drop' },
    ]);
    expect(first!.received.some((message) => message.data === 'hb')).toBe(true);
    expect(await first!.closed).toEqual({ code: 1006, reason: '' });
    expect(withoutProbes(second!)).toEqual([
      { binary: false, data: 'after drop' },
      { binary: true, data: [1] },
      { binary: false, data: 'mute' },
    ]);
    expect(withoutProbes(third!)).toEqual([{ binary: false, data: 'after heartbeat timeout' }]);
    expect(await third!.closed).toEqual({ code: 1000, reason: '' });
  });
});
