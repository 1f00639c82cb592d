/**
 * `wsengine exec`: its core in-process with stand-in terminal streams (raw mode and resizes with
 * --tty), and the built command as a child process against the loopback exec server: stdin and
 * stdout attached, the remote exit code as its own, a refused handshake on one line.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseExecArgs, runExec, type Terminal } from '../../src/cli/exec.js';
import { UsageError } from '../../src/cli/consume.js';
import { K8sProtocol } from '../../src/protocols/k8s/protocols.js';
import { startK8sServer, type K8sTestServer, type ServerOptions } from '../protocols/k8s/server.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

async function server(options: ServerOptions = {}): Promise<K8sTestServer> {
  const s = await startK8sServer(options);
  cleanups.push(() => s.close());
  return s;
}

function text(stream: PassThrough): () => string {
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return () => Buffer.concat(chunks).toString();
}

describe('exec arguments', () => {
  it('parses --token, --tty and repeated --protocol; refuses the rest', () => {
    expect(parseExecArgs(['ws://x/', '--token', 't', '--tty', '--protocol', 'v4.channel.k8s.io', '--protocol', 'channel.k8s.io'])).toEqual({
      url: 'ws://x/',
      token: 't',
      tty: true,
      protocols: ['v4.channel.k8s.io', 'channel.k8s.io'],
    });
    expect(parseExecArgs(['--help'])).toBeUndefined();
    expect(() => parseExecArgs([])).toThrow(UsageError);
    expect(() => parseExecArgs(['ws://x/', '--protocol', 'v9.channel.k8s.io'])).toThrow(/--protocol/);
    expect(() => parseExecArgs(['ws://x/', '--nope'])).toThrow(UsageError);
    // A URL that cannot be dialled at all is a bad argument (exit 2), not a run-time failure.
    expect(() => parseExecArgs(['notaurl'])).toThrow(/^invalid <url> "notaurl"/);
    expect(() => parseExecArgs(['ftp://x/'])).toThrow(UsageError);
    expect(() => parseExecArgs(['ws://x/', '--token', 'a\nb'])).toThrow(/^--token has a control character/);
    expect(parseExecArgs(['https://api.example:6443/api/v1/namespaces/d/pods/p/exec'])?.url).toBe(
      'https://api.example:6443/api/v1/namespaces/d/pods/p/exec',
    );
  });
});

describe('runExec (in-process)', () => {
  it('attaches stdin and stdout, and returns the remote exit code', async () => {
    const s = await server();
    const terminal = { stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough() };
    const out = text(terminal.stdout);
    const done = runExec({ url: s.url('command=echo&code=42'), token: 't', tty: false, protocols: [], terminal, signal: new AbortController().signal });
    terminal.stdin.end('piped\n');
    expect(await done).toBe(42);
    expect(out()).toBe('piped\n');
  });

  it('--tty: raw mode while it runs, the window size at start and on every resize', async () => {
    const s = await server({ supported: ['v5.channel.k8s.io'] });
    const modes: boolean[] = [];
    const stdin = Object.assign(new PassThrough(), { isTTY: true, setRawMode: (mode: boolean) => modes.push(mode) });
    const stdout = Object.assign(new PassThrough(), { isTTY: true, columns: 80, rows: 24 });
    const terminal: Terminal = { stdin, stdout, stderr: new PassThrough() };
    const out = text(stdout);
    const done = runExec({ url: s.url('command=resize&count=2'), token: undefined, tty: true, protocols: [], terminal, signal: new AbortController().signal });
    const exchange = await s.exchange(0);
    expect(exchange.url.searchParams.get('tty')).toBe('true');
    await new Promise<void>((resolve) => stdout.once('data', () => resolve()));
    expect(modes).toEqual([true]);
    stdout.columns = 100;
    stdout.rows = 30;
    stdout.emit('resize');
    expect(await done).toBe(0);
    expect(out()).toBe('resize 80x24\nresize 100x30\n');
    expect(modes).toEqual([true, false]);
  });

  it('a signal ends the session with 130', async () => {
    const s = await server();
    const controller = new AbortController();
    const terminal = { stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough() };
    const done = runExec({ url: s.url('command=silent'), token: undefined, tty: false, protocols: [], terminal, signal: controller.signal });
    await s.exchange(0);
    controller.abort();
    expect(await done).toBe(130);
  });

  it('an upgrade the client rejects after a 101 is not reported as "refused with 101"', async () => {
    // The server accepts the upgrade but picks none of the offered subprotocols (a server
    // that speaks only v4, asked for v5 alone); the ws client then fails the handshake itself.
    const s = await server({ supported: ['v4.channel.k8s.io'] });
    const terminal = { stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough() };
    const err = text(terminal.stderr);
    const code = await runExec({
      url: s.url('command=exit&code=0'),
      token: undefined,
      tty: false,
      protocols: [K8sProtocol.V5],
      terminal,
      signal: new AbortController().signal,
    });
    expect(code).toBe(1);
    expect(err()).not.toContain('refused with 101');
    expect(err()).toMatch(/^wsengine exec: [^\n]*no subprotocol[^\n]*\n$/);
  });

  it('a broken server: a one-line message and 1', async () => {
    const s = await server({ supported: ['v4.channel.k8s.io'] });
    const terminal = { stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough() };
    const err = text(terminal.stderr);
    const code = await runExec({ url: s.url('command=bad&kind=status'), token: undefined, tty: false, protocols: [], terminal, signal: new AbortController().signal });
    expect(code).toBe(1);
    expect(err()).toMatch(/^wsengine exec: The status on the error channel is not JSON: "this is not JSON"[^\n]*\n$/);
  });
});

describe('wsengine exec (child process)', () => {
  // The command as users run it: the sources compiled file by file (as tsc would) into a
  // scratch folder inside the repository, so that node_modules resolves; no loader involved.
  let dir: string;
  beforeAll(async () => {
    const root = resolve(import.meta.dirname, '../..');
    mkdirSync(join(root, '.tmp'), { recursive: true });
    dir = mkdtempSync(join(root, '.tmp', 'cli-'));
    const sources = readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => join(root, 'src', f));
    await build({ entryPoints: sources, outdir: dir, outbase: join(root, 'src'), format: 'esm', platform: 'node', target: 'node20', logLevel: 'silent' });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function wsengine(args: string[], input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, [join(dir, 'cli/main.js'), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    cleanups.push(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill();
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => stdout.push(c));
    child.stderr.on('data', (c: Buffer) => stderr.push(c));
    child.stdin.end(input);
    return new Promise((resolveRun) =>
      child.on('close', (code) => resolveRun({ code, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() })),
    );
  }

  it('pipes stdin to the command and its stdout back, and exits with its exit code', async () => {
    const s = await server();
    const result = await wsengine(['exec', s.url('command=echo&code=42'), '--token', 'sekret'], 'through the pod\n');
    expect(result).toEqual({ code: 42, stdout: 'through the pod\n', stderr: '' });
    const exchange = await s.exchange(0);
    expect(exchange.headers.authorization).toBe('Bearer sekret');
    expect(exchange.protocol).toBe('v5.channel.k8s.io');
  });

  it('stdout and stderr of the command, exit 0, with --protocol', async () => {
    const s = await server();
    const result = await wsengine(['exec', s.url('command=exit&code=0'), '--protocol', 'v4.base64.channel.k8s.io'], '');
    expect(result).toEqual({ code: 0, stdout: 'out\n', stderr: 'err\n' });
    expect((await s.exchange(0)).offered).toEqual(['v4.base64.channel.k8s.io']);
  });

  it('a reader that goes away (| head -c 1) does not crash it: the output is dropped, the exit code kept', async () => {
    const s = await server();
    const child = spawn(process.execPath, [join(dir, 'cli/main.js'), 'exec', s.url(`command=stream&bytes=${8 * 1024 * 1024}`)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanups.push(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill();
    });
    const stderr: Buffer[] = [];
    child.stderr.on('data', (c: Buffer) => stderr.push(c));
    await new Promise<void>((resolveFirst) => child.stdout.once('data', () => resolveFirst()));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolveExit) => child.on('close', (c) => resolveExit(c)));
    expect(Buffer.concat(stderr).toString()).toBe('');
    expect(code).toBe(0);
  });

  it('--tty in a real terminal (script(1)): raw mode passes Ctrl-C to the command, the size goes out first', async () => {
    const s = await server({ supported: ['v5.channel.k8s.io'] });
    const command = `stty cols 91 rows 27; exec ${process.execPath} ${join(dir, 'cli/main.js')} exec '${s.url('command=echo&until=q&code=3')}' --tty`;
    const child = spawn('script', ['-qfec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    cleanups.push(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill();
    });
    const output: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => output.push(c));
    const closed = new Promise<number | null>((resolveExit) => child.on('close', (c) => resolveExit(c)));
    const exchange = await s.exchange(0);
    // The size is sent once the terminal is in raw mode: from then on ^C is a byte, not SIGINT.
    const resize = await exchange.receivedWhere((f) => f.channel === 4);
    expect(String(resize.payload)).toBe('{"Width":91,"Height":27}');
    child.stdin.write('\x03q');
    expect(await closed).toBe(3);
    const stdin = Buffer.concat(exchange.received.filter((f) => f.channel === 0).map((f) => f.payload));
    expect(stdin.toString()).toBe('\x03q');
    expect(exchange.url.searchParams.get('tty')).toBe('true');
    expect(Buffer.concat(output).toString()).toContain('\x03q');
  });

  it('a refused handshake prints its status and body on one line and exits 1', async () => {
    const body = '{\n  "kind": "Status",\n  "message": "pods \\"web-0\\" is forbidden",\n  "code": 403\n}';
    const s = await server({ refuse: { status: 403, body } });
    const result = await wsengine(['exec', s.url('command=echo')], '');
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe('wsengine exec: handshake refused with 403: { "kind": "Status", "message": "pods \\"web-0\\" is forbidden", "code": 403 }\n');
  });

  it('--debug adds the stack after the one line, as for every command', async () => {
    const s = await server({ refuse: { status: 403, body: 'forbidden' } });
    const result = await wsengine(['exec', s.url('command=echo'), '--debug'], '');
    expect(result.code).toBe(1);
    const [first, ...rest] = result.stderr.trimEnd().split('\n');
    expect(first).toBe('wsengine exec: handshake refused with 403: forbidden');
    expect(rest[0]).toMatch(/^HandshakeError: /);
    expect(rest.some((line) => /^\s+at /.test(line))).toBe(true);
  });

  it('an invalid <url> is a bad argument: exit 2 and the usage', async () => {
    const result = await wsengine(['exec', 'notaurl'], '');
    expect(result.code).toBe(2);
    expect(result.stderr.split('\n')[0]).toMatch(/^wsengine exec: invalid <url> "notaurl"/);
    expect(result.stderr).toContain('Usage: wsengine exec');
  });
});
