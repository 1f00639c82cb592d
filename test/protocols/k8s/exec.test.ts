/**
 * `exec` against the loopback server of `server.ts`, per protocol version: echo until the CLOSE
 * signal, stderr, exit codes, failures (JSON Status from v4, plain text before), resize, base64
 * both ways, readiness frames, a refused handshake, heartbeat pings, and broken servers.
 */
import type { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { HandshakeError, InvalidArgumentError } from '../../../src/adapters/errors.js';
import { HeartbeatTimeoutError, InvalidOptionError } from '../../../src/engine/errors.js';
import { createNativeAdapter } from '../../../src/adapters/native/index.js';
import {
  ExecInterruptedError,
  ExecStatusError,
  K8sProtocolError,
  exec,
  type ExecOptions,
  type ExecSession,
} from '../../../src/protocols/k8s/index.js';
import { startK8sServer, type K8sTestServer, type ServerOptions } from './server.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

async function server(options: ServerOptions = {}): Promise<K8sTestServer> {
  const s = await startK8sServer(options);
  cleanups.push(() => s.close());
  return s;
}

async function open(s: K8sTestServer, query: string, options: ExecOptions = {}): Promise<ExecSession> {
  const session = await exec(s.url(query), { heartbeat: false, ...options });
  cleanups.push(() => session.close());
  return session;
}

async function collect(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

describe('exec: protocol negotiation', () => {
  it('offers v5 first and uses what the server picks', async () => {
    const s = await server({ supported: ['v4.channel.k8s.io', 'channel.k8s.io'] });
    const session = await open(s, 'command=env');
    expect(session.protocol).toBe('v4.channel.k8s.io');
    const env = JSON.parse(await collect(session.stdout)) as { offered: string[]; query: Record<string, string> };
    expect(env.offered).toEqual([
      'v5.channel.k8s.io',
      'v4.channel.k8s.io',
      'v4.base64.channel.k8s.io',
      'v3.channel.k8s.io',
      'v2.channel.k8s.io',
      'channel.k8s.io',
      'base64.channel.k8s.io',
    ]);
    expect(env.query).toMatchObject({ command: 'env', stdin: 'true', stdout: 'true', stderr: 'true', tty: 'false' });
    expect(await session.exitCode).toBe(0);
  });

  it('sends the token as a bearer header, and tty=true with stderr=false; the URL query wins', async () => {
    const s = await server();
    const session = await open(s, 'command=env&stdin=false', { token: 'sekret', tty: true, protocols: ['v4.channel.k8s.io'] });
    const env = JSON.parse(await collect(session.stdout)) as { authorization: string; offered: string[]; query: Record<string, string> };
    expect(env.authorization).toBe('Bearer sekret');
    expect(env.offered).toEqual(['v4.channel.k8s.io']);
    expect(env.query).toMatchObject({ stdin: 'false', stdout: 'true', stderr: 'false', tty: 'true' });
  });

  it('validates its options once, naming the option', async () => {
    const s = await server();
    await expect(exec(s.url('command=env'), { protocols: ['v6.channel.k8s.io' as never] })).rejects.toThrow(InvalidOptionError);
    await expect(exec(s.url('command=env'), { protocols: [] })).rejects.toThrow(/protocols/);
    await expect(exec(s.url('command=env'), { heartbeat: { interval: -1 } })).rejects.toThrow(/heartbeat\.interval/);
    await expect(exec('ftp://127.0.0.1/', {})).rejects.toThrow(/url/);
    await expect(exec(s.url('command=env'), { token: '' })).rejects.toThrow(/token/);
    // A misspelt option would otherwise dial without it (no token: a 401 much later).
    const misspelt = await exec(s.url('command=env'), { tokne: 'sekret' } as never).catch((e: unknown) => e);
    expect(misspelt).toBeInstanceOf(InvalidOptionError);
    expect((misspelt as InvalidOptionError).option).toBe('tokne');
    await expect(exec(s.url('command=env'), { headers: 5 as never })).rejects.toThrow(/Invalid option headers/);
    expect(s.exchanges).toHaveLength(0);
  });

  it('a refused handshake rejects with HandshakeError carrying the status and body', async () => {
    const body = '{"kind":"Status","status":"Failure","message":"pods \\"web-0\\" is forbidden","reason":"Forbidden","code":403}';
    const s = await server({ refuse: { status: 403, body } });
    const error = await exec(s.url('command=env'), { heartbeat: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HandshakeError);
    expect((error as HandshakeError).status).toBe(403);
    expect((error as HandshakeError).body).toBe(body);
  });
});

describe.each([
  ['v5.channel.k8s.io'],
  ['v4.channel.k8s.io'],
  ['v4.base64.channel.k8s.io'],
  ['v3.channel.k8s.io'],
  ['v2.channel.k8s.io'],
  ['channel.k8s.io'],
  ['base64.channel.k8s.io'],
] as const)('exec over %s', (protocol) => {
  const version = protocol.startsWith('v') ? Number(protocol[1]) : 1;

  it('exit code 0 with stdout and stderr', async () => {
    const s = await server({ supported: [protocol] });
    const session = await open(s, 'command=exit&code=0');
    expect(session.protocol).toBe(protocol);
    const [out, err] = await Promise.all([collect(session.stdout), collect(session.stderr)]);
    expect(out).toBe('out\n');
    expect(err).toBe('err\n');
    expect(await session.exitCode).toBe(0);
    await session.closed;
  });

  it('exit code 42: the number from v4 on, the error text before', async () => {
    const s = await server({ supported: [protocol] });
    const session = await open(s, 'command=exit&code=42');
    const out = await collect(session.stdout);
    expect(out).toBe('out\n');
    if (version >= 4) {
      expect(await session.exitCode).toBe(42);
    } else {
      const error = await session.exitCode.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ExecStatusError);
      expect((error as ExecStatusError).status).toBeUndefined();
      expect((error as ExecStatusError).message).toBe('command terminated with non-zero exit code: Error executing in Docker Container: 42');
    }
  });

  it('a failure that is not an exit code rejects with ExecStatusError', async () => {
    const s = await server({ supported: [protocol] });
    const session = await open(s, 'command=fail');
    const error = await session.exitCode.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExecStatusError);
    expect((error as ExecStatusError).code).toBe('ERR_K8S_EXEC_STATUS');
    expect((error as ExecStatusError).message).toBe('container "main" not found in pod "web-0"');
    if (version >= 4) {
      expect((error as ExecStatusError).status).toMatchObject({ status: 'Failure', reason: 'InternalError', code: 500 });
      expect((error as ExecStatusError).reason).toBe('InternalError');
    } else {
      expect((error as ExecStatusError).status).toBeUndefined();
    }
  });

  it('stdin reaches the command and comes back on stdout, byte for byte', async () => {
    const s = await server({ supported: [protocol] });
    const session = await open(s, 'command=echo&code=42');
    const bytes = Buffer.from(Array.from({ length: 300 }, (_, i) => i % 256));
    session.stdin.write('foo\n');
    session.stdin.write(bytes);
    const out: Buffer[] = [];
    let length = 0;
    for await (const chunk of session.stdout) {
      out.push(chunk as Buffer);
      length += (chunk as Buffer).length;
      if (length >= 4 + bytes.length) break;
    }
    expect(Buffer.concat(out)).toEqual(Buffer.concat([Buffer.from('foo\n'), bytes]));
    const exchange = await s.exchange(0);
    // The server saw our framing: one message per write, on channel 0.
    expect(exchange.received.map((r) => r.channel)).toEqual([0, 0]);
    expect(exchange.received[0]!.raw).toEqual(protocol.includes('base64') ? '0Zm9vCg==' : Buffer.from([0, 102, 111, 111, 10]));
  });

  it('readiness frames are not data', async () => {
    const s = await server({ supported: [protocol] });
    const session = await open(s, 'command=ready');
    const chunks: Buffer[] = [];
    for await (const chunk of session.stdout) chunks.push(chunk as Buffer);
    expect(chunks.map(String)).toEqual(['hello']);
    expect(await collect(session.stderr)).toBe('');
    expect(await session.exitCode).toBe(0);
  });
});

describe('exec: v5 stdin end and resize', () => {
  it('ending stdin sends the CLOSE signal [255, 0]; output and exit code 42 follow', async () => {
    const s = await server({ supported: ['v5.channel.k8s.io'] });
    const session = await open(s, 'command=echo&code=42');
    session.stdin.end('bye\n');
    expect(await collect(session.stdout)).toBe('bye\n');
    expect(await session.exitCode).toBe(42);
    const exchange = await s.exchange(0);
    expect(exchange.received.map((r) => r.raw)).toEqual([Buffer.from([0, 98, 121, 101, 10]), Buffer.from([255, 0])]);
    expect(await exchange.closed).toBe(1000);
  });

  it('a CLOSE signal from the server ends that stream alone', async () => {
    const s = await server({ supported: ['v5.channel.k8s.io'] });
    const session = await open(s, 'command=closeout');
    const stdout = collect(session.stdout);
    const stderr = collect(session.stderr);
    expect(await stdout).toBe('a');
    expect(await stderr).toBe('b');
    expect(await session.exitCode).toBe(0);
  });

  it('before v5, ending stdin sends nothing by default; with closeOnStdinEnd it closes the connection', async () => {
    const s = await server({ supported: ['v4.channel.k8s.io'] });
    const session = await open(s, 'command=echo');
    const finished = new Promise<void>((resolve) => session.stdin.once('finish', resolve));
    session.stdin.end('x');
    const first = await new Promise<Buffer>((resolve) => session.stdout.once('data', resolve));
    expect(String(first)).toBe('x');
    const exchange = await s.exchange(0);
    await finished;
    expect(exchange.received.map((r) => r.channel)).toEqual([0]);
    expect(exchange.closeCode).toBeUndefined();

    const closing = await open(s, 'command=echo', { closeOnStdinEnd: true });
    closing.stdin.end();
    expect(await (await s.exchange(1)).closed).toBe(1000);
    await expect(closing.exitCode).rejects.toBeInstanceOf(ExecInterruptedError);
  });

  it.each(['v5.channel.k8s.io', 'v4.base64.channel.k8s.io', 'v3.channel.k8s.io'])('resize events on channel 4 (%s)', async (protocol) => {
    const s = await server({ supported: [protocol] });
    const session = await open(s, 'command=resize&count=2');
    await session.resize(80, 24);
    await session.resize(132, 43);
    expect(await collect(session.stdout)).toBe('resize 80x24\nresize 132x43\n');
    const exchange = await s.exchange(0);
    expect(exchange.received.map((r) => [r.channel, String(r.payload)])).toEqual([
      [4, '{"Width":80,"Height":24}'],
      [4, '{"Width":132,"Height":43}'],
    ]);
    await expect(session.resize(0, 24)).rejects.toThrow(InvalidArgumentError);
    await expect(session.resize(80, 65536)).rejects.toThrow(/rows/);
  });

  it('resize before v3 is refused', async () => {
    const s = await server({ supported: ['v2.channel.k8s.io'] });
    const session = await open(s, 'command=silent');
    await expect(session.resize(80, 24)).rejects.toThrow(/no resize channel/);
  });
});

describe('exec: bad input from the server', () => {
  it.each([
    ['channel', 'v5.channel.k8s.io', /unknown channel 7/],
    ['base64', 'v4.base64.channel.k8s.io', /Invalid base64/],
    ['status', 'v4.channel.k8s.io', /not JSON/],
    ['status', 'v4.base64.channel.k8s.io', /not JSON/],
    ['text', 'v4.channel.k8s.io', /text message on the binary protocol/],
    ['binary', 'base64.channel.k8s.io', /binary message on the text protocol/],
  ])('%s on %s: a typed error, the session closes with 1002', async (kind, protocol, message) => {
    const s = await server({ supported: [protocol] });
    const session = await open(s, `command=bad&kind=${kind}`);
    const error = await session.exitCode.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(K8sProtocolError);
    expect((error as K8sProtocolError).code).toBe('ERR_K8S_PROTOCOL');
    expect((error as Error).message).toMatch(message);
    expect(await (await s.exchange(0)).closed).toBe(1002);
    await session.closed;
    expect(session.stdout.readableEnded || (await collect(session.stdout)) === '').toBe(true);
  });
});

describe('exec: heartbeat, close and abort', () => {
  it('sends ping frames by default while idle', async () => {
    const s = await server();
    const session = await open(s, 'command=silent', { heartbeat: { interval: 20, timeout: 1000 } });
    const exchange = await s.exchange(0);
    await exchange.pinged(3);
    expect(exchange.pings).toBeGreaterThanOrEqual(3);
    expect(exchange.closeCode).toBeUndefined();
    await session.close();
    await expect(session.exitCode).rejects.toBeInstanceOf(ExecInterruptedError);
  });

  it('a server that stops answering pings is found dead', async () => {
    const s = await server({ autoPong: false });
    const session = await open(s, 'command=silent', { heartbeat: { interval: 20, timeout: 40 } });
    const error = await session.exitCode.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExecInterruptedError);
    expect((error as Error).cause).toBeInstanceOf(HeartbeatTimeoutError);
    await session.closed;
  });

  it('a consumer holding the reads is not a dead peer, even when no pong can come', async () => {
    const s = await server({ autoPong: false });
    const session = await open(s, `command=stream&bytes=${16 * 1024 * 1024}`, { heartbeat: { interval: 10, timeout: 20 } });
    let settled = false;
    session.exitCode.then(
      () => (settled = true),
      () => (settled = true),
    );
    // Nobody reads stdout: the session holds its reads while the probes go unanswered.
    const exchange = await s.exchange(0);
    await Promise.race([exchange.pinged(8), exchange.closed]);
    expect(exchange.pings).toBeGreaterThanOrEqual(8);
    expect(settled).toBe(false);
    expect(exchange.closeCode).toBeUndefined();
    let length = 0;
    for await (const chunk of session.stdout) length += (chunk as Buffer).length;
    expect(length).toBe(16 * 1024 * 1024);
    expect(await session.exitCode).toBe(0);
  });

  it('close() and the signal end the session; exitCode rejects with ExecInterruptedError', async () => {
    const s = await server();
    const controller = new AbortController();
    const session = await open(s, 'command=silent', { signal: controller.signal });
    const reason = new Error('user pressed stop');
    controller.abort(reason);
    const error = await session.exitCode.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExecInterruptedError);
    // docs/k8s.md: the `cause` is what ended it, here the signal's reason.
    expect((error as ExecInterruptedError).cause).toBe(reason);
    await session.closed;
    expect(await (await s.exchange(0)).closed).toBe(1000);
    expect(session.stdout.readableEnded || (await collect(session.stdout)) === '').toBe(true);
  });

  it('a dropped connection without a status rejects with ExecInterruptedError (v4)', async () => {
    const s = await server({ supported: ['v4.channel.k8s.io'] });
    const session = await open(s, 'command=silent');
    await s.exchange(0);
    await s.close();
    const error = await session.exitCode.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExecInterruptedError);
    expect((error as Error).message).toMatch(/1006/);
  });

  it('works over the native adapter too', async () => {
    const s = await server();
    const session = await open(s, 'command=echo&code=7', { adapter: () => createNativeAdapter() });
    session.stdin.end('native\n');
    expect(await collect(session.stdout)).toBe('native\n');
    expect(await session.exitCode).toBe(7);
  });
});
