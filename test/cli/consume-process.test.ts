/**
 * `wsengine consume` as a real process: a reader that goes away (`| head -1`) ends the run
 * quietly, and option values the engine would refuse are bad arguments (exit 2, the flag named,
 * the usage) rather than a JSON line on stdout.
 */
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
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

describe('wsengine consume, the process', () => {
  it('a reader that goes away (| head -1): closes with 1000 and exits 0, no EPIPE crash', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => wss.once('listening', resolve));
    cleanups.push(() => new Promise<void>((resolve) => wss.close(() => resolve())));
    let readerGone!: () => void;
    const gone = new Promise<void>((resolve) => (readerGone = resolve));
    const closed = new Promise<number>((resolve) =>
      wss.once('connection', (ws) => {
        ws.once('close', (code) => resolve(code));
        // A message once the reader is gone: writing its line is what meets the closed pipe.
        void gone.then(() => ws.send('after the reader left'));
      }),
    );
    const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;
    const child = spawn(process.execPath, [cli!.main, 'consume', url], { stdio: ['ignore', 'pipe', 'pipe'] });
    cleanups.push(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    const stderr: Buffer[] = [];
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    let seen = '';
    await new Promise<void>((resolve) =>
      child.stdout.on('data', (chunk: Buffer) => {
        seen += String(chunk);
        if (seen.includes('"event":"open"')) resolve();
      }),
    );
    child.stdout.destroy();
    readerGone();
    expect(await closed).toBe(1000);
    expect(await exited).toBe(0);
    expect(Buffer.concat(stderr).toString()).toBe('');
  });

  it.each([
    [['--heartbeat-interval', '0'], '--heartbeat-interval'],
    [['--heartbeat-timeout', '0'], '--heartbeat-timeout'],
    [['--max-delay', '500'], '--max-delay'],
    [['--min-delay', '2000', '--max-delay', '1000'], '--max-delay'],
    [['--min-delay', '40000'], '--min-delay'],
  ])('%j is a bad argument: exit 2, the flag named, the usage, nothing on stdout', async (flags, named) => {
    const child = startCli(cli!.main, ['consume', 'ws://127.0.0.1:9/', '--max-retries', '0', ...flags]);
    expect(await child.exited).toBe(2);
    expect(child.stdout()).toBe('');
    const [first] = child.stderr().split('\n');
    expect(first).toMatch(new RegExp(`^wsengine consume: ${named}\\b`));
    expect(child.stderr()).toContain('Usage: wsengine consume');
  });

  it('an invalid <url> is a bad argument too', async () => {
    const child = startCli(cli!.main, ['consume', 'notaurl']);
    expect(await child.exited).toBe(2);
    expect(child.stdout()).toBe('');
    expect(child.stderr().split('\n')[0]).toMatch(/^wsengine consume: invalid <url> "notaurl"/);
  });
});
