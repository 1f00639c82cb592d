/**
 * The process-level frame every subcommand shares, so that they all behave alike:
 *
 * - `--help` / `-h`: the command's usage on stdout, exit 0. The usage text lives in one constant
 *   in the command's module, and serves both `--help` and bad arguments.
 * - a bad argument: one line on stderr naming it (`wsengine <command>: ...`), then the usage,
 *   exit 2.
 * - a failure at run time: one line on stderr, exit 1; the stack (and causes) only with `--debug`.
 * - SIGINT/SIGTERM become an abort signal, so the command can close cleanly before it returns.
 */
import { UsageError } from './args.js';

let debugEnabled = false;

/** `--debug` was given: failures print their stack and causes. */
export function setDebug(enabled: boolean): void {
  debugEnabled = enabled;
}

export function isDebug(): boolean {
  return debugEnabled;
}

/** One line for an error: its message, and its cause's when the message does not already say it. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  const message = error.message || error.name;
  if (cause instanceof Error && cause.message && !message.includes(cause.message)) return `${message}: ${cause.message}`;
  return message;
}

/** The stack of `error` and of each of its causes, for `--debug`. */
export function stacks(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 5; depth++) {
    parts.push(current instanceof Error ? (current.stack ?? `${current.name}: ${current.message}`) : String(current));
    current = current instanceof Error ? (current as { cause?: unknown }).cause : undefined;
    if (current !== undefined) parts.push('Caused by:');
  }
  return parts.join('\n');
}

/** Write a run-time failure to stderr: one line, or with `--debug` the stacks too. */
export function reportFailure(command: string, error: unknown, context?: string, err: { write(text: string): unknown } = process.stderr): void {
  const prefix = command ? `wsengine ${command}` : 'wsengine';
  err.write(`${prefix}: ${context ? `${context}: ` : ''}${describeError(error)}\n`);
  if (debugEnabled) err.write(`${stacks(error)}\n`);
}

/** Write a usage error: the line naming the argument, then the usage. */
export function reportUsage(command: string, message: string, usage: string): void {
  process.stderr.write(`wsengine ${command}: ${message}\n\n${usage}\n`);
}

/** stdout as the long-running commands write it, once its reader may have gone away. */
export interface GuardedStdout {
  write(text: string): boolean;
  readonly isTTY: boolean;
  readonly columns: number | undefined;
}

/**
 * process.stdout for a command whose reader may go away (`| head -1` is an ordinary way to end):
 * the first EPIPE calls `onGone` (the command then closes and exits as after Ctrl-C) and later
 * lines are dropped. Every write to a closed pipe emits its own 'error', some after the command
 * has returned, so the listener stays for the life of the process.
 */
export function guardedStdout(onGone: () => void): GuardedStdout {
  let gone = false;
  process.stdout.on('error', () => {
    if (gone) return;
    gone = true;
    onGone();
  });
  return {
    write: (text) => gone || process.stdout.write(text),
    get isTTY() {
      return process.stdout.isTTY === true;
    },
    get columns() {
      return process.stdout.columns;
    },
  };
}

/**
 * Run a subcommand: parse (`undefined` from `parse` means help was asked for), then the body
 * with an abort signal fired by SIGINT/SIGTERM. `parse` throws for a bad argument; a thrown
 * {@link UsageError} or parse error gives exit 2, anything the body throws exit 1.
 */
export async function runCommand<T>(
  name: string,
  usage: string,
  args: string[],
  parse: (args: string[]) => T | undefined,
  body: (options: T, signal: AbortSignal) => Promise<number>,
): Promise<number> {
  let options: T | undefined;
  try {
    options = parse(args);
  } catch (error) {
    reportUsage(name, (error as Error).message, usage);
    return 2;
  }
  if (options === undefined) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await body(options, controller.signal);
  } catch (error) {
    if (error instanceof UsageError) {
      reportUsage(name, error.message, usage);
      return 2;
    }
    reportFailure(name, error);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
