/**
 * The `wsengine` command as a whole, run as a process: help for it and for every command it
 * lists (so a command registered later is covered too), the version, and the exit statuses:
 * 0 for help, 2 with a first line naming a bad argument, 1 with one line for a failure at run
 * time (a stack only with --debug).
 */
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildCli, killAll, startCli } from './support/cli-process.js';

let cli: { main: string; remove(): void };
beforeAll(async () => {
  cli = await buildCli();
});
afterAll(() => cli?.remove());
afterEach(() => killAll());

async function wsengine(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const run = startCli(cli.main, args);
  run.end();
  const code = await run.exited;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

/** The commands `wsengine --help` lists. */
function listed(help: string): string[] {
  const section = help.split('Commands:\n')[1]!.split('\n\n')[0]!;
  return section.split('\n').map((line) => line.trim().split(/\s+/)[0]!);
}

async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe('wsengine', () => {
  it('--help lists the commands and exits 0; -h and "help" say the same', async () => {
    const help = await wsengine(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: wsengine <command> \[options\]\n/);
    expect(listed(help.stdout)).toEqual(expect.arrayContaining(['connect', 'consume', 'demo', 'autobahn']));
    expect(help.stderr).toBe('');
    expect((await wsengine(['-h'])).stdout).toBe(help.stdout);
    expect((await wsengine(['help'])).stdout).toBe(help.stdout);
  });

  it('--version prints the version from package.json', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const result = await wsengine(['--version']);
    expect(result).toEqual({ code: 0, stdout: `wsengine ${version}\n`, stderr: '' });
    expect((await wsengine(['-v'])).stdout).toBe(`wsengine ${version}\n`);
  });

  it('exits 2 for a missing or unknown command, or an unknown option, naming it on the first line', async () => {
    const none = await wsengine([]);
    expect(none.code).toBe(2);
    expect(none.stderr.split('\n')[0]).toBe('wsengine: missing <command>');
    const unknown = await wsengine(['telnet']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.split('\n')[0]).toBe('wsengine: unknown command "telnet"');
    expect(unknown.stderr).toContain('Usage: wsengine <command>');
    const option = await wsengine(['--frobnicate']);
    expect(option.code).toBe(2);
    expect(option.stderr.split('\n')[0]).toBe('wsengine: unknown option "--frobnicate"');
  });

  it('every command has --help (exit 0) and names a bad argument on its first line (exit 2)', async () => {
    const commands = listed((await wsengine(['--help'])).stdout);
    expect(commands.length).toBeGreaterThanOrEqual(4);
    for (const command of commands) {
      const help = await wsengine([command, '--help']);
      expect({ command, code: help.code, stderr: help.stderr }).toEqual({ command, code: 0, stderr: '' });
      expect(help.stdout).toMatch(new RegExp(`^Usage: wsengine ${command}\\b`));
      expect((await wsengine(['help', command])).stdout).toBe(help.stdout);
      expect((await wsengine([command, '-h'])).stdout).toBe(help.stdout);

      const bad = await wsengine([command, '--no-such-flag', 'ws://127.0.0.1:9/']);
      expect({ command, code: bad.code, stdout: bad.stdout }).toEqual({ command, code: 2, stdout: '' });
      expect(bad.stderr.split('\n')[0]).toMatch(new RegExp(`^wsengine ${command}: .*--no-such-flag`));
      expect(bad.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('names a bad value: the flag and what it got', async () => {
    for (const args of [
      ['connect', 'ws://127.0.0.1:9/', '--heartbeat-interval', 'often'],
      ['consume', 'ws://127.0.0.1:9/', '--heartbeat-interval', 'often'],
    ]) {
      const result = await wsengine(args);
      expect(result.code).toBe(2);
      expect(result.stderr.split('\n')[0]).toBe(`wsengine ${args[0]}: --heartbeat-interval expects a number >= 0, got "often"`);
    }
    const demo = await wsengine(['demo', '--duration', 'soon']);
    expect(demo.code).toBe(2);
    expect(demo.stderr.split('\n')[0]).toBe('wsengine demo: --duration expects a duration such as 20s, 1500ms or 1m, got "soon"');
    const missing = await wsengine(['connect']);
    expect(missing.code).toBe(2);
    expect(missing.stderr.split('\n')[0]).toBe('wsengine connect: missing <url>');
  });

  it('an invalid <url> is a bad argument for every command that takes one: exit 2, the line, the usage', async () => {
    for (const command of ['connect', 'consume', 'exec', 'autobahn']) {
      const result = await wsengine([command, 'notaurl']);
      expect({ command, code: result.code, stdout: result.stdout }).toEqual({ command, code: 2, stdout: '' });
      expect(result.stderr.split('\n')[0]).toMatch(new RegExp(`^wsengine ${command}: invalid <url> "notaurl"`));
      expect(result.stderr).toContain(`\n\nUsage: wsengine ${command} <url>`);
    }
  });

  it('a failure at run time is one line and exit 1; --debug adds the stack', async () => {
    const url = `ws://127.0.0.1:${await closedPort()}/`;
    for (const command of ['connect', 'autobahn']) {
      const result = await wsengine([command, url]);
      expect({ command, code: result.code }).toEqual({ command, code: 1 });
      expect(result.stderr).toMatch(new RegExp(`^wsengine ${command}: .*ECONNREFUSED.*\\n$`));
    }
    for (const command of ['connect', 'autobahn']) {
      const debug = await wsengine(['--debug', command, url]);
      expect({ command, code: debug.code }).toEqual({ command, code: 1 });
      expect(debug.stderr.split('\n')[0]).toMatch(new RegExp(`^wsengine ${command}: .*ECONNREFUSED`));
      expect(debug.stderr).toMatch(/\n {4}at /);
    }
  });
});
