/**
 * A cross-check of the framing against `@kubernetes/client-node`, the JavaScript client most
 * users have today: both clients run the same commands against the same loopback server, which
 * must receive the same frames from both, and both must see the same output and exit status.
 */
import { PassThrough, Readable } from 'node:stream';
import { Exec, KubeConfig, type V1Status } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { exec } from '../../../src/protocols/k8s/index.js';
import { startK8sServer, type Exchange, type K8sTestServer } from './server.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

async function server(supported: readonly string[]): Promise<K8sTestServer> {
  const s = await startK8sServer({ supported });
  cleanups.push(() => s.close());
  return s;
}

function kubeConfig(port: number): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'loopback', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'user', token: 'sekret' }],
    contexts: [{ name: 'loopback', cluster: 'loopback', user: 'user' }],
    currentContext: 'loopback',
  });
  return kc;
}

function text(stream: PassThrough): Promise<string> {
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return new Promise((resolve) => stream.on('end', () => resolve(Buffer.concat(chunks).toString())));
}

/** Run a command with client-node: its output, its Status, and what the server received. */
async function withClientNode(
  s: K8sTestServer,
  command: string[],
  stdin: Readable | null,
  stdout: PassThrough = new PassThrough(),
): Promise<{ out: string; err: string; status: V1Status; exchange: Exchange }> {
  const stderr = new PassThrough();
  const outText = text(stdout);
  const errText = text(stderr);
  let resolveStatus!: (status: V1Status) => void;
  const status = new Promise<V1Status>((resolve) => (resolveStatus = resolve));
  const n = s.exchanges.length;
  const socket = await new Exec(kubeConfig(s.port)).exec('default', 'web-0', 'main', command, stdout, stderr, stdin, false, resolveStatus);
  cleanups.push(() => socket.close());
  const exchange = await s.exchange(n);
  const [out, err, st] = await Promise.all([outText, errText, status]);
  await exchange.closed;
  return { out, err, status: st, exchange };
}

/** Run the same with ours. */
async function withOurs(
  s: K8sTestServer,
  command: string[],
  input: Buffer[] | null,
): Promise<{ out: string; err: string; exitCode: number; exchange: Exchange }> {
  const n = s.exchanges.length;
  const query = command.map((c) => `command=${encodeURIComponent(c)}`).join('&') + '&container=main';
  const session = await exec(s.url(query), { token: 'sekret', stdin: input !== null, heartbeat: false });
  cleanups.push(() => session.close());
  const collect = async (stream: Readable): Promise<string> => {
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString();
  };
  const outText = collect(session.stdout);
  const errText = collect(session.stderr);
  if (input !== null) {
    for (const chunk of input) session.stdin.write(chunk);
    session.stdin.end();
  }
  const exchange = await s.exchange(n);
  const [out, err, exitCode] = await Promise.all([outText, errText, session.exitCode]);
  await exchange.closed;
  return { out, err, exitCode, exchange };
}

function exitCodeOf(status: V1Status): number {
  if (status.status === 'Success') return 0;
  const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  return Number(cause?.message);
}

describe('cross-check with @kubernetes/client-node', () => {
  it('v5: the same stdin frames, the CLOSE signal, the same echo and exit code', async () => {
    const s = await server(['v5.channel.k8s.io']);
    const input = [Buffer.from('foo\n'), Buffer.from([0, 1, 2, 255, 254]), Buffer.from('bar\n')];
    const theirs = await withClientNode(s, ['echo', '42'], Readable.from(input));
    const ours = await withOurs(s, ['echo', '42'], input);
    expect(theirs.exchange.protocol).toBe('v5.channel.k8s.io');
    expect(ours.exchange.protocol).toBe('v5.channel.k8s.io');
    expect(ours.exchange.received.map((r) => r.raw)).toEqual(theirs.exchange.received.map((r) => r.raw));
    expect(ours.exchange.received.at(-1)!.raw).toEqual(Buffer.from([255, 0]));
    expect(ours.out).toBe(theirs.out);
    expect(ours.out).toBe(Buffer.concat(input).toString());
    expect(exitCodeOf(theirs.status)).toBe(42);
    expect(ours.exitCode).toBe(42);
    // Both authenticated the same way.
    expect(ours.exchange.headers.authorization).toBe(theirs.exchange.headers.authorization);
  });

  it.each(['v5.channel.k8s.io', 'v4.channel.k8s.io'])('%s: the same stdout, stderr and exit status', async (protocol) => {
    const s = await server([protocol]);
    for (const code of ['0', '42']) {
      const theirs = await withClientNode(s, ['exit', code], null);
      const ours = await withOurs(s, ['exit', code], null);
      expect(theirs.exchange.protocol).toBe(protocol);
      expect([ours.out, ours.err]).toEqual([theirs.out, theirs.err]);
      expect([ours.out, ours.err]).toEqual(['out\n', 'err\n']);
      expect(ours.exitCode).toBe(exitCodeOf(theirs.status));
      expect(ours.exitCode).toBe(Number(code));
    }
  });

  it('resize: both send one JSON TerminalSize on channel 4 that the server reads the same', async () => {
    const s = await server(['v5.channel.k8s.io']);
    const terminal = Object.assign(new PassThrough(), { rows: 24, columns: 80 });
    const theirs = await withClientNode(s, ['resize', '1'], null, terminal);
    const n = s.exchanges.length;
    const session = await exec(s.url('command=resize&count=1'), { heartbeat: false });
    await session.resize(80, 24);
    const chunks: Buffer[] = [];
    for await (const chunk of session.stdout) chunks.push(chunk as Buffer);
    const ours = await s.exchange(n);
    expect(Buffer.concat(chunks).toString()).toBe(theirs.out);
    expect(theirs.out).toBe('resize 80x24\n');
    const theirFrame = theirs.exchange.received.find((r) => r.channel === 4)!;
    const ourFrame = ours.received.find((r) => r.channel === 4)!;
    const lower = (payload: Buffer): unknown =>
      Object.fromEntries(Object.entries(JSON.parse(String(payload)) as object).map(([k, v]) => [k.toLowerCase(), v]));
    expect(lower(ourFrame.payload)).toEqual(lower(theirFrame.payload));
    // Ours spells the fields as remotecommand.TerminalSize does.
    expect(String(ourFrame.payload)).toBe('{"Width":80,"Height":24}');
  });
});
