/**
 * `wsengine consume`: its core runs in-process against a real ws server on 127.0.0.1, writing
 * JSON lines to a collector; the argument parser is tested on its own.
 */
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { consume, parseConsumeArgs, run, UsageError, type ConsumeArgs } from '../../src/cli/consume.js';
import { loadAdapter } from '../../src/cli/adapters.js';

type Line = { ts: number; event: string } & Record<string, unknown>;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

async function server(options: { verify?: () => number | undefined } = {}) {
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    verifyClient: (_info, done) => {
      const status = options.verify?.();
      if (status) done(false, status);
      else done(true);
    },
    handleProtocols: (protocols) => [...protocols][0] ?? false,
  });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  const connections: WebSocket[] = [];
  wss.on('connection', (ws) => connections.push(ws));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      }),
  );
  return { wss, connections, url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/` };
}

/** A sink that parses lines and lets a test wait for one. */
function collector() {
  const lines: Line[] = [];
  const waiters: Array<{ test: (l: Line) => boolean; resolve: (l: Line) => void }> = [];
  return {
    lines,
    events: () => lines.map((l) => l.event),
    write(chunk: string) {
      for (const text of chunk.split('\n').filter(Boolean)) {
        const line = JSON.parse(text) as Line;
        lines.push(line);
        for (const w of [...waiters]) {
          if (w.test(line)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(line);
          }
        }
      }
    },
    waitFor(test: (l: Line) => boolean): Promise<Line> {
      const found = lines.find(test);
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => waiters.push({ test, resolve }));
    },
  };
}

function args(url: string, extra: string[] = []): ConsumeArgs {
  return parseConsumeArgs([url, '--min-delay', '20', '--max-delay', '100', ...extra])!;
}

describe('consume', () => {
  it('prints connecting, open and message lines, sends --send on open, and exits 0 on a signal', async () => {
    const { wss, url } = await server();
    wss.on('connection', (ws) => {
      ws.on('message', (data) => {
        if (String(data) === 'subscribe') {
          ws.send('tick é');
          ws.send(Buffer.from([1, 2, 3]));
        }
      });
    });
    const out = collector();
    const controller = new AbortController();
    const done = consume({
      ...args(url, ['--send', 'subscribe', '--protocol', 'feed.v1', '--header', 'X-Token: abc']),
      out,
      signal: controller.signal,
    });
    await out.waitFor((l) => l.event === 'message' && l.type === 'binary');
    controller.abort();
    expect(await done).toBe(0);
    const lines = out.lines;
    expect(out.events()).toEqual(['connecting', 'open', 'message', 'message', 'close', 'stopped']);
    expect(lines[0]).toMatchObject({ event: 'connecting', attempt: 1 });
    expect(lines[1]).toMatchObject({ event: 'open', attempt: 1, reconnect: false, protocol: 'feed.v1' });
    expect(lines[2]).toMatchObject({ event: 'message', type: 'text', size: 7, text: 'tick é' });
    expect(lines[3]).toMatchObject({ event: 'message', type: 'binary', size: 3 });
    expect(lines[3]).not.toHaveProperty('text');
    expect(lines[4]).toMatchObject({ event: 'close', code: 1000, reason: '' });
    for (const line of lines) expect(typeof line.ts).toBe('number');
  });

  it('reconnects after a drop, printing close and retry, and sends --send again', async () => {
    const { wss, url, connections } = await server();
    const received: string[] = [];
    const waiting: Array<() => void> = [];
    const receivedCount = (n: number) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (received.length >= n) resolve();
          else waiting.push(check);
        };
        check();
      });
    wss.on('connection', (ws) =>
      ws.on('message', (d) => {
        received.push(String(d));
        for (const wake of waiting.splice(0)) wake();
      }),
    );
    const out = collector();
    const controller = new AbortController();
    const done = consume({ ...args(url, ['--send', 'hello']), out, signal: controller.signal });
    await receivedCount(1);
    connections[0]!.terminate();
    await receivedCount(2);
    controller.abort();
    expect(await done).toBe(0);
    expect(out.events()).toEqual(['connecting', 'open', 'close', 'retry', 'connecting', 'open', 'close', 'stopped']);
    expect(out.lines[2]).toMatchObject({ code: 1006 });
    expect([out.lines[1], out.lines[5]]).toMatchObject([
      { event: 'open', attempt: 1, reconnect: false },
      { event: 'open', attempt: 1, reconnect: true },
    ]);
    // The first wait of an outage is min-delay, spread by the default jitter of 20%.
    expect(out.lines[3]).toMatchObject({ event: 'retry', attempt: 1 });
    expect(out.lines[3]!.delayMs).toBeGreaterThanOrEqual(16);
    expect(out.lines[3]!.delayMs).toBeLessThanOrEqual(24);
    expect(received).toEqual(['hello', 'hello']);
  });

  it('exits 1 when the handshake is refused with 401 (not retried)', async () => {
    const { url } = await server({ verify: () => 401 });
    const out = collector();
    const code = await consume({ ...args(url), out, signal: new AbortController().signal });
    expect(code).toBe(1);
    expect(out.events()).toEqual(['connecting', 'error', 'stopped']);
    expect(out.lines[1]!.message).toContain('401');
  });

  it('exits 1 once --max-retries attempts failed', async () => {
    const { url, wss } = await server();
    const out = collector();
    const done = consume({ ...args(url, ['--max-retries', '2']), out, signal: new AbortController().signal });
    await out.waitFor((l) => l.event === 'open');
    for (const ws of wss.clients) ws.close(1012, 'restarting');
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    expect(await done).toBe(1);
    const events = out.events();
    expect(events.filter((e) => e === 'connecting')).toHaveLength(3);
    expect(out.lines.find((l) => l.event === 'close')).toMatchObject({ code: 1012, reason: 'restarting' });
    expect(out.lines.at(-2)).toMatchObject({ event: 'error' });
    expect(String(out.lines.at(-2)!.message)).toContain('Gave up after 2 connection attempts');
    expect(events.at(-1)).toBe('stopped');
  });

  it('exits 1 after a close with 1008 (not retried)', async () => {
    const { wss, url } = await server();
    wss.on('connection', (ws) => ws.close(1008, 'go away'));
    const out = collector();
    const code = await consume({ ...args(url), out, signal: new AbortController().signal });
    expect(code).toBe(1);
    expect(out.lines.find((l) => l.event === 'close')).toMatchObject({ code: 1008, reason: 'go away' });
  });

  it('reports a heartbeat timeout', async () => {
    const { wss, url } = await server();
    // A server that stops answering pings: ws answers them automatically, so cut the socket's reads.
    wss.on('connection', (ws) => {
      (ws as unknown as { _socket: { pause(): void } })._socket.pause();
    });
    const out = collector();
    const controller = new AbortController();
    const done = consume({
      ...args(url, ['--heartbeat-interval', '50', '--heartbeat-timeout', '50']),
      out,
      signal: controller.signal,
    });
    await out.waitFor((l) => l.event === 'heartbeat-timeout');
    controller.abort();
    expect(await done).toBe(0);
    const events = out.events();
    expect(events.indexOf('heartbeat-timeout')).toBeGreaterThan(events.indexOf('open'));
    expect(out.lines[events.indexOf('heartbeat-timeout') + 1]).toMatchObject({ event: 'close', code: 1001 });
  });

  it('reports an adapter missing from this build and exits 2', async () => {
    const out = collector();
    const code = await consume({
      ...args('ws://127.0.0.1:9/'),
      adapterFactory: await loadAdapter('nope').catch(() => undefined),
      adapter: 'nope',
      out,
      signal: new AbortController().signal,
    });
    expect(code).toBe(2);
    expect(out.lines[0]).toMatchObject({ event: 'error' });
    expect(String(out.lines[0]!.message)).toContain('unknown adapter "nope"');
  });
});

describe('run() (the process-level part)', () => {
  it('prints JSON lines on stdout and exits 0 on SIGTERM after a clean close', async () => {
    const { url, connections, wss } = await server();
    const written: string[] = [];
    let onOpenLine!: () => void;
    const openLine = new Promise<void>((resolve) => (onOpenLine = resolve));
    const stdout = process.stdout.write;
    process.stdout.write = ((chunk: string) => {
      written.push(String(chunk));
      if (String(chunk).includes('"event":"open"')) onOpenLine();
      return true;
    }) as typeof process.stdout.write;
    try {
      const connected = new Promise<void>((resolve) => wss.once('connection', () => resolve()));
      const code = run([url, '--min-delay', '20']);
      await Promise.all([connected, openLine]);
      const closed = new Promise<number>((resolve) => connections[0]!.once('close', (c: number) => resolve(c)));
      // What a SIGTERM delivers to the listeners, without signalling the test runner itself.
      process.emit('SIGTERM');
      expect(await code).toBe(0);
      expect(await closed).toBe(1000);
    } finally {
      process.stdout.write = stdout;
    }
    const events = written.join('').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as Line).event);
    expect(events).toEqual(['connecting', 'open', 'close', 'stopped']);
    expect(process.listenerCount('SIGTERM')).toBe(0);
  });
});

describe('the adapters by name', () => {
  it('loads ws; native and browser load too, or are reported as not available in this build', async () => {
    const ws = (await loadAdapter('ws'))();
    expect(typeof ws.dial).toBe('function');
    for (const name of ['native', 'browser']) {
      const outcome = await loadAdapter(name).then(
        (factory) => typeof factory().dial,
        (error: unknown) => (error as Error).message,
      );
      expect([`function`, `adapter ${name} is not available in this build`]).toContain(outcome);
    }
  });

  it('reports an unknown name', async () => {
    await expect(loadAdapter('carrier-pigeon')).rejects.toThrow('unknown adapter "carrier-pigeon"');
  });
});

describe('arguments', () => {
  it('parses every flag', () => {
    const parsed = parseConsumeArgs([
      'wss://feed.example/x',
      '--adapter',
      'native',
      '--heartbeat-interval',
      '1000',
      '--heartbeat-timeout',
      '500',
      '--min-delay',
      '10',
      '--max-delay',
      '2000',
      '--max-retries',
      '5',
      '--header',
      'Authorization: Bearer x',
      '--header',
      'X-A: 1',
      '--header',
      'x-a: 2',
      '--protocol',
      'a',
      '--protocol',
      'b',
      '--send',
      'hi',
    ]);
    expect(parsed).toEqual({
      url: 'wss://feed.example/x',
      adapter: 'native',
      heartbeatInterval: 1000,
      heartbeatTimeout: 500,
      minDelay: 10,
      maxDelay: 2000,
      maxRetries: 5,
      headers: { authorization: ['Bearer x'], 'x-a': ['1', '2'] },
      protocols: ['a', 'b'],
      send: ['hi'],
    });
  });

  it('refuses bad input with a UsageError, and run() returns 2 for it', async () => {
    expect(() => parseConsumeArgs([])).toThrow(UsageError);
    expect(() => parseConsumeArgs(['ws://x/', '--adapter', 'telnet'])).toThrow('--adapter expects one of');
    expect(() => parseConsumeArgs(['ws://x/', '--max-retries', '1.5'])).toThrow('--max-retries');
    expect(() => parseConsumeArgs(['ws://x/', '--header', 'novalue'])).toThrow('--header');
    expect(() => parseConsumeArgs(['ws://x/', '--adapter', 'browser', '--header', 'A: b'])).toThrow(/^--header cannot be sent by --adapter browser/);
    expect(() => parseConsumeArgs(['ws://x/', '--protocol', 'a b'])).toThrow(/^--protocol expects a token/);
    expect(() => parseConsumeArgs(['ws://x/', '--header', 'a(b): c'])).toThrow(/^--header name "a\(b\)" is not a token/);
    expect(() => parseConsumeArgs(['ws://x/', '--bogus'])).toThrow(UsageError);
    expect(parseConsumeArgs(['--help'])).toBeUndefined();
    const stderr = process.stderr.write;
    let written = '';
    process.stderr.write = ((chunk: string) => ((written += chunk), true)) as typeof process.stderr.write;
    try {
      expect(await run(['--bogus'])).toBe(2);
    } finally {
      process.stderr.write = stderr;
    }
    expect(written).toContain('Usage: wsengine consume');
  });
});
