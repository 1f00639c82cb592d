/**
 * Run the `wsengine` command as a real process, through pipes or on a pseudo-terminal, and wait
 * on what it prints. The sources are compiled file by file with esbuild into a folder of their
 * own under `.tmp/` (so the test never runs a stale `dist/`); bare imports (`ws`, `undici`)
 * resolve from the project's node_modules above it.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const PTY_RUN = join(ROOT, 'test/cli/support/pty-run.py');
/** Debian's Python: pty and termios are in its standard library. */
const PYTHON = '/usr/bin/python3';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Compile `src/` into a fresh folder; returns the path of `cli/main.js` and a remover. */
export async function buildCli(): Promise<{ main: string; remove(): void }> {
  mkdirSync(join(ROOT, '.tmp'), { recursive: true });
  const outdir = mkdtempSync(join(ROOT, '.tmp', 'cli-build-'));
  await build({
    entryPoints: sources(join(ROOT, 'src')),
    outdir,
    outbase: join(ROOT, 'src'),
    format: 'esm',
    platform: 'node',
    target: 'node20',
    bundle: false,
    logLevel: 'silent',
  });
  return { main: join(outdir, 'cli/main.js'), remove: () => rmSync(outdir, { recursive: true, force: true }) };
}

/** Escape sequences (CSI ..., OSC ...) and carriage returns, as a terminal would not show them. */
export function plain(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '').replace(/\x1b\][^\x07]*\x07/g, '').replace(/\r/g, '');
}

export interface CliProcess {
  readonly pid: number;
  /** Everything written to stdout (on a terminal: to the terminal), raw. */
  stdout(): string;
  stderr(): string;
  /**
   * Resolve with the match once `pattern` appears in stdout (escape sequences removed) after the
   * previous match on that stream; reject if the process exits first.
   */
  waitFor(pattern: RegExp, stream?: 'stdout' | 'stderr'): Promise<RegExpExecArray>;
  /** Type (terminal) or pipe in some text. */
  write(text: string): void;
  /** Close stdin (for a terminal this reaches only the runner: type "\x04" to send end of input). */
  end(): void;
  /** The exit status (128 + N after signal N). */
  readonly exited: Promise<number>;
  kill(signal?: NodeJS.Signals): void;
}

const running = new Set<ChildProcessWithoutNullStreams>();

/** End every process still running (by its PID); for `afterEach`. */
export function killAll(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}

/** Start `node main.js ...args`, through pipes or, with `tty`, on an 80x24 pseudo-terminal. */
export function startCli(main: string, args: string[], options: { tty?: boolean } = {}): CliProcess {
  const command = options.tty ? PYTHON : process.execPath;
  const argv = options.tty ? [PTY_RUN, process.execPath, main, ...args] : [main, ...args];
  const child = spawn(command, argv, { stdio: 'pipe', env: { ...process.env, TERM: 'xterm', NO_COLOR: '1' } });
  running.add(child);
  const text = { stdout: '', stderr: '' };
  const cursor = { stdout: 0, stderr: 0 };
  const waiters = new Set<() => void>();
  let done = false;
  const wake = (): void => {
    for (const waiter of [...waiters]) waiter();
  };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    text.stdout += chunk;
    wake();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    text.stderr += chunk;
    wake();
  });
  const exited = new Promise<number>((resolve) =>
    child.on('close', (code, signal) => {
      running.delete(child);
      done = true;
      wake();
      resolve(code ?? 128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 9));
    }),
  );
  child.stdin.on('error', () => {});
  return {
    pid: child.pid!,
    stdout: () => text.stdout,
    stderr: () => text.stderr,
    waitFor(pattern, stream = 'stdout') {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const seen = plain(text[stream]);
          const re = new RegExp(pattern.source, pattern.flags.replace('g', '') + 'g');
          re.lastIndex = cursor[stream];
          const match = re.exec(seen);
          if (match) {
            waiters.delete(check);
            cursor[stream] = re.lastIndex;
            resolve(match);
          } else if (done) {
            waiters.delete(check);
            reject(new Error(`exited before ${pattern} on ${stream}; stdout:\n${plain(text.stdout)}\nstderr:\n${text.stderr}`));
          }
        };
        waiters.add(check);
        check();
      });
    },
    write: (data) => void child.stdin.write(data),
    end: () => void child.stdin.end(),
    exited,
    kill: (signal = 'SIGTERM') => void child.kill(signal),
  };
}
