/**
 * Hostile servers against the ws and native adapters, through the adapter and through the
 * engine. Each server runs in its own process (hostile-server.mjs, ended by its PID), so that
 * what this process holds is the client's alone. For every scenario:
 *
 * - a typed error that names the cause (or, where the client should ride it out, it does);
 * - memory bounded: this process's RSS grows by at most RSS_BOUND over the run (the limits in
 *   play are 1 MiB messages, 4,096 pending pongs, an 8 MiB read queue: far below it, while
 *   the servers offer 25-256 MiB to a client that would take it);
 * - no socket left behind: this process's TCP sockets (the server's are in the other process)
 *   return to what they were before.
 */
import { spawn, execFileSync, type ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HandshakeError, TimeoutError, WebSocketCloseError } from '../../src/adapters/errors.js';
import { PingFloodError } from '../../src/adapters/flood-error.js';
import { createNativeAdapter } from '../../src/adapters/native/index.js';
import { MessageType, type WebSocketConnectionAdapter } from '../../src/adapters/types.js';
import { createWsAdapter } from '../../src/adapters/ws.js';
import { createEngine, RetriesExhaustedError, type Engine, type EngineEvents } from '../../src/engine/index.js';
import { rejection } from '../../src/testing/rejection.js';

const SERVER = fileURLToPath(new URL('./hostile-server.mjs', import.meta.url));
const MiB = 1024 * 1024;
const RSS_BOUND = 64 * MiB;
const LIMIT = MiB;

/** The hostile server process and what it reported. */
class HostileServer {
  port = 0;
  tlsPort = 0;
  accepted = 0;
  readonly #child: ChildProcessByStdio<null, Readable, null>;
  readonly #waiters: Array<() => void> = [];

  private constructor(child: ChildProcessByStdio<null, Readable, null>) {
    this.#child = child;
    let buffered = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text: string) => {
      buffered += text;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.startsWith('ports ')) [this.port, this.tlsPort] = line.slice(6).split(' ').map(Number) as [number, number];
        else if (line === 'accepted') this.accepted++;
        for (const wake of this.#waiters.splice(0)) wake();
      }
    });
  }

  static async start(args: string[]): Promise<HostileServer> {
    const child = spawn(process.execPath, [SERVER, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    const server = new HostileServer(child);
    await server.#until(() => server.port > 0);
    return server;
  }

  /** Resolves once the server reported more than `count` accepted connections. */
  acceptedMoreThan(count: number): Promise<void> {
    return this.#until(() => this.accepted > count);
  }

  #until(test: () => boolean): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (test()) resolve();
        else this.#waiters.push(check);
      };
      this.#waiters.push(check);
    });
  }

  /** The URL of a scenario. */
  url(scenario: string, secure = false): string {
    return `${secure ? 'wss' : 'ws'}://127.0.0.1:${secure ? this.tlsPort : this.port}/${scenario}`;
  }

  /** End the process by its PID and wait for it. */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    process.kill(this.#child.pid!, 'SIGKILL');
    await exited;
  }
}

function tcpSockets(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
}

/**
 * The TCP socket count once the client has let go: a connection it ended may take up to its
 * closeTimeout (200 ms here) to be destroyed. Checked every 10 ms, for at most 3 s.
 */
async function settledSockets(want: number): Promise<number> {
  for (let check = 0; check < 300 && tcpSockets() !== want; check++) await new Promise((resolve) => setTimeout(resolve, 10));
  return tcpSockets();
}

/** The messages and codes of an error and its causes, to check that the cause is named. */
function chain(error: unknown): string {
  const parts: string[] = [];
  for (let e = error, depth = 0; e !== undefined && depth < 5; depth++) {
    if (!(e instanceof Error)) {
      parts.push(String(e));
      break;
    }
    parts.push(`${e.name}: ${e.message} ${String((e as { code?: unknown }).code ?? '')}`);
    e = (e as { cause?: unknown }).cause;
  }
  return parts.join(' <- ');
}

type AdapterName = 'ws' | 'native';
interface Extra {
  readonly deflate?: boolean;
  /** Default 3000 ms: ample on a loaded machine; the scenarios that test it use 300. */
  readonly handshakeTimeout?: number;
}

function adapterFor(name: AdapterName, extra: Extra = {}): WebSocketConnectionAdapter {
  if (name === 'ws') {
    return createWsAdapter({
      handshakeTimeout: extra.handshakeTimeout ?? 3000,
      closeTimeout: 200,
      maxPayload: LIMIT,
      followRedirects: true,
      perMessageDeflate: extra.deflate ?? false,
    });
  }
  return createNativeAdapter({
    handshakeTimeout: extra.handshakeTimeout ?? 3000,
    closeTimeout: 200,
    maxPayload: LIMIT,
    maxFrameSize: LIMIT,
    followRedirects: true,
    perMessageDeflate: extra.deflate ?? false,
  });
}

function engineFor(url: string, name: AdapterName, extra: Extra = {}): Engine {
  return createEngine({
    url,
    adapter: () => adapterFor(name, extra),
    tracing: false,
    heartbeat: false,
    closeTimeout: 200,
    reconnect: { retries: 2, minDelay: 10, maxDelay: 20, jitter: 0, minUptime: 0, retryOnStart: true },
  });
}

function nextEvent<E extends keyof EngineEvents>(engine: Engine, name: E): Promise<EngineEvents[E]> {
  return new Promise((resolve) => {
    const off = engine.on(name, ((...args: EngineEvents[E]) => {
      off();
      resolve(args);
    }) as never);
  });
}

interface HandshakeCase {
  readonly scenario: string;
  readonly what: string;
  readonly tls?: boolean;
  readonly extra?: Extra;
  readonly check: (error: unknown) => void;
}

const refusedWith = (status: number) => (error: unknown) => {
  expect(error).toBeInstanceOf(HandshakeError);
  expect((error as HandshakeError).status).toBe(status);
};
const invalidAnswer = (pattern: RegExp) => (error: unknown) => {
  expect(error).toBeInstanceOf(HandshakeError);
  expect(chain(error)).toMatch(pattern);
};
const timedOut = (error: unknown) => {
  expect(error).toBeInstanceOf(TimeoutError);
  expect((error as Error).message).toMatch(/handshake/i);
};

const HANDSHAKE_CASES: HandshakeCase[] = [
  { scenario: 'keepalive-401', what: 'a refused upgrade (401) on a kept-alive connection', check: refusedWith(401) },
  { scenario: 'keepalive-503', what: 'a refused upgrade (503) on a kept-alive connection', check: refusedWith(503) },
  { scenario: 'wrong-accept', what: 'a wrong Sec-WebSocket-Accept', check: invalidAnswer(/accept/i) },
  { scenario: 'no-upgrade-header', what: 'a 101 without the Upgrade header', check: invalidAnswer(/upgrade|101/i) },
  { scenario: 'unrequested-protocol', what: 'a subprotocol that was not offered', check: invalidAnswer(/protocol/i) },
  { scenario: 'unrequested-extension', what: 'an extension that was not offered', check: invalidAnswer(/extension/i) },
  { scenario: 'redirect-loop', what: 'a redirect loop', check: invalidAnswer(/redirect/i) },
  { scenario: 'silent', what: 'a server that accepts TCP and never answers', extra: { handshakeTimeout: 300 }, check: timedOut },
  { scenario: 'dribble', what: 'headers one byte at a time, never ending', extra: { handshakeTimeout: 300 }, check: timedOut },
  { scenario: 'huge-headers', what: '1 MiB of response headers', check: invalidAnswer(/header/i) },
  { scenario: 'tls-untrusted', what: 'an untrusted TLS certificate', tls: true, check: invalidAnswer(/self[- ]signed|certificate/i) },
];

let certDir: string | undefined;
function certificate(): string[] {
  certDir ??= mkdtempSync(join(tmpdir(), 'wsengine-hostile-'));
  execFileSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  return [join(certDir, 'cert.pem'), join(certDir, 'key.pem')];
}

let server: HostileServer;
beforeAll(async () => {
  server = await HostileServer.start(certificate());
});
afterAll(async () => {
  console.log(`hostile servers: largest client RSS growth ${(largestGrowth.bytes / MiB).toFixed(1)} MiB (${largestGrowth.test})`);
  await server?.stop();
  if (certDir) rmSync(certDir, { recursive: true, force: true });
});

/** The largest RSS growth seen, for the summary line. */
let largestGrowth = { bytes: 0, test: '' };

/** Run `body` and check memory and sockets around it. */
async function bounded(body: () => Promise<void>): Promise<void> {
  // The server is in the other process: at rest this process holds no TCP socket at all.
  const sockets = 0;
  expect(await settledSockets(sockets)).toBe(sockets);
  const accepted = server.accepted;
  const rss = process.memoryUsage().rss;
  const peak = process.resourceUsage().maxRSS * 1024;
  await body();
  // The server saw a connection (the scenario ran), and this process holds none any more.
  await server.acceptedMoreThan(accepted);
  expect(await settledSockets(sockets)).toBe(sockets);
  const growth = Math.max(process.memoryUsage().rss - rss, process.resourceUsage().maxRSS * 1024 - peak);
  if (growth > largestGrowth.bytes) largestGrowth = { bytes: growth, test: expect.getState().currentTestName ?? '' };
  expect(process.memoryUsage().rss - rss).toBeLessThan(RSS_BOUND);
  expect(process.resourceUsage().maxRSS * 1024 - peak).toBeLessThan(RSS_BOUND);
}

for (const name of ['ws', 'native'] as const) {
  describe(`hostile servers against the ${name} adapter`, () => {
    for (const c of HANDSHAKE_CASES) {
      describe(c.what, () => {
        const url = (): string => server.url(c.scenario, c.tls);

        it('adapter: dial rejects with an error naming the cause', async () => {
          await bounded(async () => {
            const error = await rejection(adapterFor(name, c.extra).dial(url()));
            c.check(error);
          });
        });

        it('engine: start() fails with it (after its retries where retryable), leaving no socket', async () => {
          await bounded(async () => {
            const engine = engineFor(url(), name, c.extra);
            const error = await rejection(engine.start());
            c.check(error instanceof RetriesExhaustedError ? error.cause : error);
            await engine.stop();
          });
        });
      });
    }

    describe('an endless message (continuation frames without end)', () => {
      const url = (): string => server.url('endless-message');
      it('adapter: fails with 1009 at the message limit', async () => {
        await bounded(async () => {
          const adapter = adapterFor(name);
          await adapter.dial(url());
          const error = (await rejection(adapter.read())) as WebSocketCloseError;
          expect(error).toBeInstanceOf(WebSocketCloseError);
          expect(error.code).toBe(1009);
        });
      });
      it('engine: the connection closes with 1009', async () => {
        await bounded(async () => {
          const engine = engineFor(url(), name);
          const closed = nextEvent(engine, 'close');
          await engine.start();
          expect((await closed)[0].code).toBe(1009);
          await engine.stop();
        });
      });
    });

    describe('a decompression bomb (256 MiB of zeros in a 256 KB frame)', () => {
      const url = (): string => server.url('bomb');
      it('adapter: fails with 1009 at the message limit', async () => {
        await bounded(async () => {
          const adapter = adapterFor(name, { deflate: true });
          await adapter.dial(url());
          const error = (await rejection(adapter.read())) as WebSocketCloseError;
          expect(error).toBeInstanceOf(WebSocketCloseError);
          expect(error.code).toBe(1009);
        });
      });
      it('engine: the connection closes with 1009', async () => {
        await bounded(async () => {
          const engine = engineFor(url(), name, { deflate: true });
          const closed = nextEvent(engine, 'close');
          await engine.start();
          expect((await closed)[0].code).toBe(1009);
          await engine.stop();
        });
      });
    });

    for (const [scenario, what] of [
      ['ping-burst', 'a burst of 10,000 pings in one write (the server reads)'],
      ['ping-sustained-reading', '100,000 pings as fast as the client answers (the server reads)'],
    ] as const) {
      describe(what, () => {
      const url = (): string => server.url(scenario);
        it('adapter: answers them all and reads the message after', async () => {
          await bounded(async () => {
            const adapter = adapterFor(name);
            await adapter.dial(url());
            expect(await adapter.read()).toEqual({ type: MessageType.Text, data: 'after' });
            await adapter.close(1000, '', { signal: AbortSignal.timeout(1000) });
          });
        });
        it('engine: stays open and delivers the message after', async () => {
          await bounded(async () => {
            const engine = engineFor(url(), name);
            const message = nextEvent(engine, 'message');
            const closes: unknown[] = [];
            engine.on('close', (info) => closes.push(info));
            await engine.start();
            expect((await message)[0].data).toBe('after');
            expect(closes).toEqual([]);
            await engine.stop();
          });
        });
      });
    }

    describe('a sustained ping flood while the server never reads', () => {
      const url = (): string => server.url('ping-sustained-not-reading');
      const check = (error: unknown): void => {
        expect(error).toBeInstanceOf(WebSocketCloseError);
        expect((error as WebSocketCloseError).cause).toBeInstanceOf(PingFloodError);
      };
      it('adapter: fails with a PingFloodError cause', async () => {
        await bounded(async () => {
          const adapter = adapterFor(name);
          await adapter.dial(url());
          check(await rejection(adapter.read()));
        });
      });
      it('engine: the close names the PingFloodError', async () => {
        await bounded(async () => {
          const engine = engineFor(url(), name);
          const closed = nextEvent(engine, 'close');
          await engine.start();
          check((await closed)[0].error);
          await engine.stop();
        });
      });
    });

    describe('a close frame, then TCP is never closed', () => {
      const url = (): string => server.url('close-no-fin');
      it('adapter: reports the close (1001) and ends TCP itself', async () => {
        await bounded(async () => {
          const adapter = adapterFor(name);
          await adapter.dial(url());
          const error = (await rejection(adapter.read())) as WebSocketCloseError;
          expect(error).toBeInstanceOf(WebSocketCloseError);
          expect(error.code).toBe(1001);
        });
      });
      it('engine: the close is remote, 1001', async () => {
        await bounded(async () => {
          const engine = engineFor(url(), name);
          const closed = nextEvent(engine, 'close');
          await engine.start();
          expect((await closed)[0]).toMatchObject({ code: 1001, initiator: 'remote' });
          await engine.stop();
        });
      });
    });

    describe('a server that never answers our close', () => {
      const url = (): string => server.url('ignore-close');
      it('adapter: close() resolves after closeTimeout and ends TCP', async () => {
        await bounded(async () => {
          const adapter = adapterFor(name);
          await adapter.dial(url());
          await adapter.close(1000, 'bye');
          expect(adapter.underlying()).toBeFalsy();
        });
      });
      it('engine: stop() resolves and leaves nothing', async () => {
        await bounded(async () => {
          const engine = engineFor(url(), name);
          await engine.start();
          await engine.stop();
          expect(engine.state).toBe('stopped');
        });
      });
    });
  });
}
