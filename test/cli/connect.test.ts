/**
 * `wsengine connect` as a real process against a ws server on 127.0.0.1: on a pseudo-terminal
 * (the status prompt, keystrokes) and through pipes (lines in, lines out). Every step waits on
 * a line the command or the server produces.
 */
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConnectArgs } from '../../src/cli/connect.js';
import { formatBinary, formatStatus } from '../../src/cli/connect-screen.js';
import { buildCli, killAll, plain, startCli } from './support/cli-process.js';
import { startEchoServer, type EchoServer } from './support/echo-server.js';

let cli: { main: string; remove(): void };
beforeAll(async () => {
  cli = await buildCli();
});
afterAll(() => cli?.remove());

const servers: EchoServer[] = [];
afterEach(async () => {
  killAll();
  for (const server of servers.splice(0)) await server.close();
});

async function server(port = 0): Promise<EchoServer> {
  const s = await startEchoServer(port);
  servers.push(s);
  return s;
}

/** A port on 127.0.0.1 where nothing listens (bound, then released). */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

const FAST = ['--min-delay', '20', '--max-delay', '100'];

describe('connect on a terminal', () => {
  it('sends typed lines, prints messages above a status prompt, pings, and /close 4000 bye reaches the server', async () => {
    const s = await server();
    const run = startCli(cli.main, ['connect', s.url, ...FAST], { tty: true });
    await run.waitFor(/\* connected to ws:\/\/127\.0\.0\.1:\d+\//);
    await run.waitFor(/\[open \| rtt - \| 0 reconnects\] > /);
    run.write('hello there\r');
    await run.waitFor(/< echo: hello there\n/);
    run.write('bin\r');
    await run.waitFor(/< \[binary 3 bytes\] 0102ff\n/);
    run.write('/ping\r');
    await run.waitFor(/\* pong in [\d.]+ ms\n/);
    await run.waitFor(/\[open \| rtt \d+ ms \| 0 reconnects\] > /);
    run.write('//slash\r');
    await run.waitFor(/< echo: \/slash\n/);
    run.write('/close 4000 bye\r');
    expect(await s.nextClose()).toEqual({ code: 4000, reason: 'bye' });
    expect(await run.exited).toBe(0);
    expect(s.received).toEqual(['hello there', 'bin', '/slash']);
    expect(plain(run.stdout())).toContain('* closed 4000 bye [by us]');
  });

  it('reconnects after a drop, counts it on the status prompt, and /quit exits 0 with 1000', async () => {
    const s = await server();
    const run = startCli(cli.main, ['connect', s.url, ...FAST], { tty: true });
    await run.waitFor(/\* connected to/);
    run.write('drop\r');
    await run.waitFor(/\* connection lost \(1006, no close frame\)/);
    await run.waitFor(/\* reconnecting in \d+ ms \(attempt 1\)/);
    await run.waitFor(/\* reconnected to ws:\/\/127\.0\.0\.1:\d+\/, attempt 1/);
    await run.waitFor(/\[open \| rtt - \| 1 reconnect\] > /);
    expect(await s.nextClose()).toMatchObject({ code: 1006 });
    run.write('again\r');
    await run.waitFor(/< echo: again\n/);
    run.write('/quit\r');
    expect(await s.nextClose()).toEqual({ code: 1000, reason: '' });
    expect(await run.exited).toBe(0);
  });

  it('keeps the line being typed when a message arrives, and redraws it under the message', async () => {
    const s = await server();
    const run = startCli(cli.main, ['connect', s.url], { tty: true });
    await run.waitFor(/\* connected to/);
    run.write('abc');
    await run.waitFor(/\] > abc/);
    for (const ws of s.open) ws.send('pushed');
    await run.waitFor(/< pushed\n\[open \| rtt - \| 0 reconnects\] > abc/);
    run.write('def\r');
    await run.waitFor(/< echo: abcdef\n/);
    expect(s.received).toEqual(['abcdef']);
    run.write('/quit\r');
    expect(await run.exited).toBe(0);
  });

  it('reports a bad /close and an unknown command without ending the session', async () => {
    const s = await server();
    const run = startCli(cli.main, ['connect', s.url], { tty: true });
    await run.waitFor(/\* connected to/);
    run.write('/close 1006\r');
    await run.waitFor(/! \/close: Invalid close code 1006/);
    run.write('/frobnicate\r');
    await run.waitFor(/! unknown command \/frobnicate/);
    run.write('still here\r');
    await run.waitFor(/< echo: still here\n/);
    run.write('\x04'); // Ctrl-D: the end of input
    expect(await s.nextClose()).toEqual({ code: 1000, reason: '' });
    expect(await run.exited).toBe(0);
  });

  it('closes with 1000 and exits 0 on Ctrl-C', async () => {
    const s = await server();
    const run = startCli(cli.main, ['connect', s.url], { tty: true });
    await run.waitFor(/\* connected to/);
    run.write('\x03');
    expect(await s.nextClose()).toEqual({ code: 1000, reason: '' });
    expect(await run.exited).toBe(0);
  });
});

describe('connect through pipes', () => {
  it('prints one plain line per message on stdout, events on stderr, and closes with 1000 at the end of input', async () => {
    const s = await server();
    const run = startCli(cli.main, ['connect', s.url, ...FAST]);
    run.write('hello\n');
    await run.waitFor(/^echo: hello\n/m);
    run.write('bin\n');
    await run.waitFor(/^0102ff\n/m);
    run.end();
    expect(await s.nextClose()).toEqual({ code: 1000, reason: '' });
    expect(await run.exited).toBe(0);
    expect(run.stdout()).toBe('echo: hello\n0102ff\n');
    expect(run.stderr()).toMatch(/^connected to ws:\/\/127\.0\.0\.1:\d+\/\n/);
    expect(run.stderr()).not.toContain('\x1b');
  });

  it('sends every pending line before the close at the end of input', async () => {
    const s = await server();
    const run = startCli(cli.main, ['connect', s.url]);
    const lines = Array.from({ length: 20_000 }, (_, i) => `line ${i}`);
    // All of it at once, before the connection is even open: the outbox holds the lines, and
    // past 1000 in flight the input waits.
    run.write(lines.join('\n') + '\n');
    run.end();
    expect(await s.nextClose()).toEqual({ code: 1000, reason: '' });
    expect(await run.exited).toBe(0);
    expect(s.received).toEqual(lines);
  });

  it('prints binary messages in base64 with --binary-as base64', async () => {
    const s = await server();
    const run = startCli(cli.main, ['connect', s.url, '--binary-as', 'base64', '-q']);
    run.write('bin\n');
    await run.waitFor(/^AQL\/\n/m);
    run.end();
    expect(await run.exited).toBe(0);
    expect(run.stdout()).toBe('AQL/\n');
    expect(run.stderr()).toBe('');
  });

  it('with --wait, still prints replies that come after the end of input', async () => {
    const s = await server();
    const run = startCli(cli.main, ['connect', s.url, '--wait', '60000', '-q']);
    run.write('hold this\n');
    run.end();
    await s.receivedCount(1);
    // The input has ended and the line is out; the reply comes only now.
    s.release();
    await run.waitFor(/^echo: hold this\n/m);
    expect(s.open.size).toBe(1);
    // SIGTERM cuts the wait short: a clean close, exit 0.
    run.kill('SIGTERM');
    expect(await s.nextClose()).toEqual({ code: 1000, reason: '' });
    expect(await run.exited).toBe(0);
  });

  it('reconnects after a drop; a line sent afterwards goes out; /close 4000 bye reaches the server', async () => {
    const s = await server();
    const run = startCli(cli.main, ['connect', s.url, ...FAST]);
    run.write('drop\n');
    await run.waitFor(/^connection lost \(1006/m, 'stderr');
    await run.waitFor(/^reconnected to /m, 'stderr');
    run.write('after\n');
    await run.waitFor(/^echo: after\n/m);
    run.write('/close 4000 bye\n');
    expect(await s.nextClose()).toMatchObject({ code: 1006 });
    expect(await s.nextClose()).toEqual({ code: 4000, reason: 'bye' });
    expect(await run.exited).toBe(0);
  });

  it('keeps trying while the server is down, and says which attempt of the outage worked', async () => {
    const first = await server();
    const port = Number(new URL(first.url).port);
    const run = startCli(cli.main, ['connect', first.url, ...FAST]);
    await run.waitFor(/^connected to /m, 'stderr');
    await first.close();
    await run.waitFor(/^connection lost \(1006/m, 'stderr');
    await run.waitFor(/^error: attempt 1 failed: .*ECONNREFUSED/m, 'stderr');
    await run.waitFor(/^error: attempt 2 failed: .*ECONNREFUSED/m, 'stderr');
    const second = await server(port);
    const match = await run.waitFor(/^reconnected to ws:\/\/127\.0\.0\.1:\d+\/, attempt (\d+)\n/m, 'stderr');
    expect(Number(match[1])).toBeGreaterThanOrEqual(3);
    run.write('back\n');
    await run.waitFor(/^echo: back\n/m);
    run.end();
    expect(await second.nextClose()).toEqual({ code: 1000, reason: '' });
    expect(await run.exited).toBe(0);
  });

  it('with --no-reconnect, ends with the connection: 0 after a close with 1000, 1 after a drop', async () => {
    const s = await server();
    s.wss.on('connection', (ws) => ws.on('message', (data) => String(data) === 'bye' && ws.close(1000)));
    const clean = startCli(cli.main, ['connect', s.url, '--no-reconnect']);
    clean.write('bye\n');
    expect(await clean.exited).toBe(0);
    const dropped = startCli(cli.main, ['connect', s.url, '--no-reconnect']);
    dropped.write('drop\n');
    expect(await dropped.exited).toBe(1);
    expect(dropped.stderr().trim().split('\n').at(-1)).toMatch(/^wsengine connect: WebSocket closed with 1006/);
  });

  it('exits 1 with one line when nothing listens; the stack only with --debug', async () => {
    const url = `ws://127.0.0.1:${await closedPort()}/`;
    const run = startCli(cli.main, ['connect', url]);
    run.end();
    expect(await run.exited).toBe(1);
    expect(run.stderr()).toMatch(new RegExp(`^wsengine connect: cannot connect to ${url.replace(/[./]/g, '\\$&')}: .*ECONNREFUSED.*\\n$`));
    expect(run.stderr().trim().split('\n')).toHaveLength(1);
    const debug = startCli(cli.main, ['connect', url, '--debug']);
    debug.end();
    expect(await debug.exited).toBe(1);
    expect(debug.stderr()).toMatch(/\n {4}at /);
  });
});

describe('connect arguments', () => {
  it('parses every flag', () => {
    expect(
      parseConnectArgs([
        'ws://h/x',
        '--adapter',
        'native',
        '--header',
        'X-A: 1',
        '--protocol',
        'p1',
        '--heartbeat-interval',
        '0',
        '--heartbeat-timeout',
        '700',
        '--no-reconnect',
        '--min-delay',
        '5',
        '--max-delay',
        '50',
        '--max-retries',
        '3',
        '--binary-as',
        'base64',
        '--wait',
        '250',
        '--quiet',
      ]),
    ).toEqual({
      url: 'ws://h/x',
      adapter: 'native',
      headers: { 'x-a': ['1'] },
      protocols: ['p1'],
      heartbeatInterval: 0,
      heartbeatTimeout: 700,
      reconnect: false,
      minDelay: 5,
      maxDelay: 50,
      maxRetries: 3,
      binaryAs: 'base64',
      quiet: true,
      wait: 250,
    });
    expect(parseConnectArgs(['--help'])).toBeUndefined();
  });

  it('names the bad argument', () => {
    expect(() => parseConnectArgs([])).toThrow('missing <url>');
    expect(() => parseConnectArgs(['ws://h/', '--binary-as', 'octal'])).toThrow('--binary-as');
    expect(() => parseConnectArgs(['ws://h/', '--heartbeat-timeout', '0'])).toThrow('--heartbeat-timeout');
    expect(() => parseConnectArgs(['ws://h/', '--wait', 'soon'])).toThrow('--wait');
    expect(() => parseConnectArgs(['ws://h/', 'ws://other/'])).toThrow('"ws://other/"');
    expect(() => parseConnectArgs(['ftp://h/'])).toThrow('invalid <url> "ftp://h/"');
    // The WHATWG WebSocket cannot send headers: a command line asking for both is a bad one.
    expect(() => parseConnectArgs(['ws://h/', '--adapter', 'browser', '--header', 'A: b'])).toThrow(/^--header cannot be sent by --adapter browser/);
    expect(() => parseConnectArgs(['ws://h/', '--max-delay', '500'])).toThrow(/^--max-delay must be at least the default --min-delay \(1000\)/);
    expect(() => parseConnectArgs(['ws://h/', '--min-delay', '40000'])).toThrow(/^--min-delay must be at most the default --max-delay \(30000\)/);
    expect(parseConnectArgs(['ws://h/', '--min-delay', '40000', '--max-delay', '60000'])).toMatchObject({ minDelay: 40000, maxDelay: 60000 });
    // What the handshake cannot carry is a bad argument (exit 2), not a failed connection (exit 1).
    expect(() => parseConnectArgs(['ws://h/', '--protocol', 'a,b'])).toThrow(/^--protocol expects a token/);
    expect(() => parseConnectArgs(['ws://h/', '--protocol', ''])).toThrow(/^--protocol expects a token/);
    expect(() => parseConnectArgs(['ws://h/', '--protocol', 'p', '--protocol', 'p'])).toThrow(/^--protocol "p" is given twice/);
    expect(() => parseConnectArgs(['ws://h/', '--header', 'Bad Name: v'])).toThrow(/^--header name "Bad Name" is not a token/);
    expect(() => parseConnectArgs(['ws://h/', '--header', 'X-A: a\u0001b'])).toThrow(/^--header "X-A" has a control character/);
  });

  it('formats the status prompt and binary data', () => {
    expect(formatStatus({ state: 'open', rttMs: 2.6, reconnects: 1 })).toBe('[open | rtt 3 ms | 1 reconnect] > ');
    expect(formatStatus({ state: 'reconnecting', rttMs: undefined, reconnects: 2 })).toBe('[reconnecting | rtt - | 2 reconnects] > ');
    const bytes = new Uint8Array([0, 9, 10, 255]).subarray(1, 3);
    expect(formatBinary(bytes, 'hex')).toBe('090a');
    expect(formatBinary(bytes, 'base64')).toBe('CQo=');
  });
});
