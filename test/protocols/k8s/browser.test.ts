/**
 * The browser-safe `exec` (`wsengine/k8s/browser`) on Node, over the browser adapter driving
 * undici's WHATWG WebSocket: WHATWG streams, and the token as a subprotocol.
 */
import { WebSocket } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createBrowserAdapter, type WhatwgWebSocketConstructor } from '../../../src/adapters/browser.js';
import { InvalidOptionError } from '../../../src/adapters/errors.js';
import { ExecStatusError, K8sProtocolError, exec, type BrowserExecOptions } from '../../../src/protocols/k8s/browser.js';
import { startK8sServer, type K8sTestServer } from './server.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

async function server(supported?: readonly string[]): Promise<K8sTestServer> {
  const s = await startK8sServer(supported ? { supported } : {});
  cleanups.push(() => s.close());
  return s;
}

const options = (extra: BrowserExecOptions = {}): BrowserExecOptions => ({
  adapter: () => createBrowserAdapter({ WebSocket: WebSocket as unknown as WhatwgWebSocketConstructor }),
  ...extra,
});

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  const chunks: Uint8Array[] = [];
  const reader = stream.getReader();
  for (let next = await reader.read(); !next.done; next = await reader.read()) chunks.push(next.value);
  return Buffer.concat(chunks).toString();
}

describe('exec for browsers', () => {
  it('refuses an option it does not have (headers: a browser cannot send them), naming it', async () => {
    const s = await server();
    const error = await exec(s.url('command=env'), options({ headers: { authorization: 'Bearer x' } } as never)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).option).toBe('headers');
    expect(s.exchanges).toHaveLength(0);
  });

  it('carries the token as the base64url bearer subprotocol, not a header', async () => {
    const s = await server();
    const session = await exec(s.url('command=env'), options({ token: 'my.token/+' }));
    cleanups.push(() => session.close());
    const env = JSON.parse(await readAll(session.stdout)) as { authorization: string | null; offered: string[] };
    expect(env.authorization).toBeNull();
    expect(env.offered.at(-1)).toBe(`base64url.bearer.authorization.k8s.io.${Buffer.from('my.token/+').toString('base64url')}`);
    expect(env.offered[0]).toBe('v5.channel.k8s.io');
    expect(session.protocol).toBe('v5.channel.k8s.io');
    expect(await session.exitCode).toBe(0);
  });

  it('stdout pipes through a TextDecoderStream, as docs/k8s.md shows (this file is type-checked)', async () => {
    const s = await server(['v5.channel.k8s.io']);
    const session = await exec(s.url('command=echo'), options());
    cleanups.push(() => session.close());
    const reader = session.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const writer = session.stdin.getWriter();
    await writer.write(new TextEncoder().encode('ls 😀\n'));
    await writer.close();
    let text = '';
    for (let next = await reader.read(); !next.done; next = await reader.read()) text += next.value;
    expect(text).toBe('ls 😀\n');
    expect(await session.exitCode).toBe(0);
  });

  it.each(['v5.channel.k8s.io', 'v4.base64.channel.k8s.io'])('WHATWG streams both ways on %s', async (protocol) => {
    const s = await server([protocol]);
    const session = await exec(s.url('command=echo&code=42'), options());
    cleanups.push(() => session.close());
    const writer = session.stdin.getWriter();
    await writer.write(new TextEncoder().encode('hello\n'));
    const reader = session.stdout.getReader();
    const first = await reader.read();
    expect(Buffer.from(first.value!).toString()).toBe('hello\n');
    if (protocol === 'v5.channel.k8s.io') {
      await writer.close();
      expect((await reader.read()).done).toBe(true);
      expect(await session.exitCode).toBe(42);
      expect((await s.exchange(0)).received.at(-1)!.raw).toEqual(Buffer.from([255, 0]));
    } else {
      expect((await s.exchange(0)).received[0]!.raw).toBe('0aGVsbG8K');
      await session.close();
    }
  });

  it('failures and broken servers reject exitCode with typed errors', async () => {
    const s = await server(['v4.channel.k8s.io']);
    const failed = await exec(s.url('command=fail'), options());
    await expect(failed.exitCode).rejects.toBeInstanceOf(ExecStatusError);
    const broken = await exec(s.url('command=bad&kind=status'), options());
    await expect(broken.exitCode).rejects.toBeInstanceOf(K8sProtocolError);
    await broken.closed;
    expect(await readAll(broken.stdout)).toBe('');
  });
});
