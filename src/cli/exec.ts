/**
 * `wsengine exec <url>`: run a command through a Kubernetes API server's exec (or attach)
 * endpoint with this terminal's stdin, stdout and stderr attached, and exit with the command's
 * exit code. With `--tty` the local terminal goes into raw mode (keys, Ctrl-C included, go to
 * the remote command) and its size follows the window (SIGWINCH) on the resize channel.
 *
 * Exit status: the remote command's; 1 when the handshake is refused (its status and body are
 * printed on one line), the connection fails or the server breaks the protocol; 130 after
 * SIGINT/SIGTERM; 2 for bad arguments.
 */
import type { Readable, Writable } from 'node:stream';
import { HandshakeError } from '../adapters/errors.js';
import type { AdapterFactory } from '../adapters/types.js';
import { exec, type ExecSession } from '../protocols/k8s/node.js';
import { ExecInterruptedError } from '../protocols/k8s/errors.js';
import { isK8sProtocol, DEFAULT_K8S_PROTOCOLS, type K8sProtocol } from '../protocols/k8s/protocols.js';
import { commandArgs, headerSafe, urlArgument, UsageError } from './args.js';
import { isDebug, runCommand, stacks } from './command.js';

export const EXEC_USAGE = `Usage: wsengine exec <url> [options]

Run a command in a container through the API server's exec or attach endpoint
(wss://host/api/v1/namespaces/NS/pods/POD/exec?container=C&command=sh&command=-c&command=...),
with this terminal's stdin, stdout and stderr attached.

Options:
  --token T        bearer token for the API server
  --tty            ask for a terminal: raw mode here, window size sent on every SIGWINCH
  --protocol P     subprotocol to offer (repeatable, best first; default:
                   ${DEFAULT_K8S_PROTOCOLS.join(', ')})
  -h, --help       this help

Exit status: the remote command's exit code; 1 when the handshake is refused or the session
fails; 130 after SIGINT/SIGTERM; 2 for bad arguments.`;

export interface ExecArgs {
  readonly url: string;
  readonly token: string | undefined;
  readonly tty: boolean;
  readonly protocols: K8sProtocol[];
}

/** Parse the arguments after `exec`; `undefined` means help was asked for. */
export function parseExecArgs(args: readonly string[]): ExecArgs | undefined {
  const { values, positionals } = commandArgs(args, {
    token: { type: 'string' },
    tty: { type: 'boolean', default: false },
    protocol: { type: 'string', multiple: true },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return undefined;
  if (positionals.length !== 1) {
    throw new UsageError(positionals.length === 0 ? 'missing <url>' : `expected one <url>, got ${positionals.length} arguments`);
  }
  const url = urlArgument(positionals[0]!);
  const protocols = values.protocol ?? [];
  for (const p of protocols) {
    if (!isK8sProtocol(p)) throw new UsageError(`--protocol expects one of ${DEFAULT_K8S_PROTOCOLS.join(', ')}, got "${p}"`);
  }
  if (values.token === '') throw new UsageError('--token expects a token');
  if (values.token !== undefined) headerSafe('token', values.token);
  return { url, token: values.token, tty: values.tty ?? false, protocols: protocols as K8sProtocol[] };
}

/** The local terminal as the command needs it; `process.stdin`/`process.stdout` in the real one. */
export interface Terminal {
  readonly stdin: Readable & { isTTY?: boolean; setRawMode?(mode: boolean): unknown };
  readonly stdout: Writable & { isTTY?: boolean; columns?: number; rows?: number };
  readonly stderr: Writable;
}

export interface ExecRun extends ExecArgs {
  readonly terminal: Terminal;
  /** Aborting closes the session; the run then ends with 130. */
  readonly signal: AbortSignal;
  /** The adapter factory; default the ws adapter. */
  readonly adapter?: AdapterFactory;
}

/** One line: newlines and runs of spaces in a server's body become single spaces. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function describe(error: unknown): string {
  // A 101 is an upgrade the server accepted and the client then failed (no subprotocol, a bad
  // Sec-WebSocket-Accept): its message says why; "refused with 101" would mislead.
  if (error instanceof HandshakeError && error.status !== undefined && error.status !== 101) {
    return `handshake refused with ${error.status}${error.body ? `: ${oneLine(error.body)}` : ''}`;
  }
  const message = error instanceof Error ? error.message : String(error);
  const cause = error instanceof Error && error.cause instanceof Error && !message.includes(error.cause.message) ? `: ${error.cause.message}` : '';
  return oneLine(message + cause);
}

/** The one-line failure, and with `--debug` the stacks, as the other commands print them. */
function fail(stderr: Writable, error: unknown): void {
  stderr.write(`wsengine exec: ${describe(error)}\n`);
  if (isDebug()) stderr.write(`${stacks(error)}\n`);
}

/**
 * Wait until `source` has ended and everything it carried is written to `target`. A target that
 * fails (a closed pipe: `wsengine exec ... | head -1`) drops the rest of the output instead of
 * crashing the process; the session still runs to its exit code.
 */
function drained(source: Readable, target: Writable): Promise<void> {
  return new Promise<void>((resolve) => {
    const onError = (): void => {
      source.unpipe(target);
      source.destroy();
      resolve();
    };
    target.once('error', onError);
    source.pipe(target, { end: false });
    source.once('end', () => {
      const done = (): void => {
        target.off('error', onError);
        resolve();
      };
      // An empty write is called back once the writes before it are flushed.
      if (target.writableEnded || target.destroyed) done();
      else target.write('', done);
    });
  });
}

/** The command's core, free of process concerns: resolves with the exit status. */
export async function runExec(run: ExecRun): Promise<number> {
  const { stdin, stdout, stderr } = run.terminal;
  let session: ExecSession;
  try {
    session = await exec(run.url, {
      tty: run.tty,
      signal: run.signal,
      ...(run.token === undefined ? {} : { token: run.token }),
      ...(run.protocols.length === 0 ? {} : { protocols: run.protocols }),
      ...(run.adapter === undefined ? {} : { adapter: run.adapter }),
    });
  } catch (error) {
    if (run.signal.aborted) return 130;
    fail(stderr, error);
    return 1;
  }

  const raw = run.tty && stdin.isTTY === true && typeof stdin.setRawMode === 'function';
  if (raw) stdin.setRawMode!(true);
  let onResize: (() => void) | undefined;
  if (run.tty && session.spec.resize && stdout.isTTY === true) {
    onResize = () => {
      const { columns, rows } = stdout;
      if (columns && rows) session.resize(columns, rows).catch(() => {});
    };
    // Node emits 'resize' on a TTY stdout when the window changes (SIGWINCH).
    stdout.on('resize', onResize);
    onResize();
  }
  stdin.pipe(session.stdin);
  const output = Promise.all([drained(session.stdout, stdout), drained(session.stderr, stderr)]);
  try {
    const code = await session.exitCode;
    await output;
    return code;
  } catch (error) {
    await output;
    if (run.signal.aborted && error instanceof ExecInterruptedError) return 130;
    fail(stderr, error);
    return 1;
  } finally {
    if (onResize) stdout.off('resize', onResize);
    stdin.unpipe(session.stdin);
    if (raw) stdin.setRawMode!(false);
    stdin.pause();
    await session.close();
  }
}

/** The process-level part: arguments, signals, the terminal. */
export function run(args: string[]): Promise<number> {
  return runCommand('exec', EXEC_USAGE, args, parseExecArgs, async (parsed, signal) => {
    const code = await runExec({ ...parsed, terminal: { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }, signal });
    // Nothing more will be read: let the process end even if stdin is still open.
    process.stdin.destroy();
    return code;
  });
}
