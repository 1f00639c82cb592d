/**
 * `wsengine demo` (what `npm start` runs) as a process: on a pseudo-terminal it keeps a live
 * summary line under the event lines; through a pipe it writes plain lines only.
 */
import { spawn } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildCli, killAll, startCli } from './support/cli-process.js';

let cli: { main: string; remove(): void };
beforeAll(async () => {
  cli = await buildCli();
});
afterAll(() => cli?.remove());
afterEach(() => killAll());

// Long enough never to end by itself within a test: the test ends it with Ctrl-C or SIGINT.
const ARGS = ['demo', '--duration', '10m', '--interval', '20ms', '--drop-every', '400ms'];
const LIVE = /(open|connecting|reconnecting|closing) \| \d+\.\d msg\/s \| (\d+) reconnects? \| \d+ gaps? \| rtt (-|\d+ ms) \| \d+ s/;

describe('demo', () => {
  it('on a terminal: a live summary line, redrawn in place under the events; Ctrl-C ends with the summary', async () => {
    const run = startCli(cli.main, ARGS, { tty: true });
    await run.waitFor(/ tick {9}seq \d+/);
    // The summary line goes on updating: wait until it counts a reconnect after a fault.
    for (;;) {
      const match = await run.waitFor(LIVE);
      if (Number(match[2]) >= 1) break;
    }
    // Redrawn in place: erase the line (CR, EL) and write the new one, no new line between.
    // eslint-disable-next-line no-control-regex -- the escape sequence is what is checked
    expect(run.stdout()).toMatch(/\r\x1b\[2K(open|connecting|reconnecting|closing) \| /);
    run.write('\x03');
    await run.waitFor(/Summary after [\d.]+ s/);
    expect(await run.exited).toBe(0);
    // The live line is erased before the final summary (the terminal turns "\n" into "\r\n").
    // eslint-disable-next-line no-control-regex -- the escape sequence is what is checked
    expect(run.stdout()).toMatch(/\r\x1b\[2K\r\nSummary after/);
  });

  it('through a pipe: event lines only, no escape sequences, no carriage returns', async () => {
    const run = startCli(cli.main, ARGS);
    await run.waitFor(/ tick {9}seq \d+/);
    await run.waitFor(/ fault {8}server /);
    run.kill('SIGINT');
    await run.waitFor(/Summary after/);
    expect(await run.exited).toBe(0);
    const out = run.stdout();
    expect(out).not.toContain('\x1b');
    expect(out).not.toContain('\r');
    expect(out).not.toMatch(/msg\/s/);
    const events = out.split('\nSummary after')[0]!.split('\n').filter(Boolean);
    expect(events.length).toBeGreaterThan(2);
    for (const line of events) expect(line).toMatch(/^\d\d:\d\d:\d\d\.\d{3} {2}\S+/);
  });

  it('a reader that goes away (npm start | head -2): ends quietly with 0, no EPIPE crash', async () => {
    const child = spawn(process.execPath, [cli.main, ...ARGS], { stdio: ['ignore', 'pipe', 'pipe'] });
    const stderr: Buffer[] = [];
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      // Ticks go on every 20 ms: the next line meets the closed pipe.
      child.stdout.destroy();
      expect(await exited).toBe(0);
      expect(Buffer.concat(stderr).toString()).toBe('');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
