/**
 * `wsengine consume <url>`: the engine on the command line. Connects, stays connected (reconnect,
 * heartbeat), and prints one JSON object per line on stdout for every event, each with `ts`
 * (ms since the epoch) and `event`:
 *
 *   connecting {attempt}            open {attempt, protocol}
 *   message {type, size, text?}     heartbeat-timeout
 *   close {code, reason}            retry {attempt, delayMs}
 *   error {message}                 stopped
 *
 * SIGINT or SIGTERM closes with 1000 and exits 0. Retries exhausted, or a failure not worth
 * retrying (a 401, a close with 1008, ...): exit 1. Bad arguments or an adapter missing from
 * this build: exit 2.
 */
import { MessageType, type AdapterFactory, type HeaderInit } from '../adapters/types.js';
import { createEngine } from '../engine/engine.js';
import { AdapterUnavailableError, loadAdapter } from './adapters.js';
import { commandArgs, adapterFlag, checkHeadersFor, delayFlags, headerFlags, protocolFlags, numberFlag as number, onePositional, positiveFlag, urlArgument, UsageError } from './args.js';
import { describeError as describe, guardedStdout, runCommand } from './command.js';

export { UsageError };

export const CONSUME_USAGE = `Usage: wsengine consume <url> [options]

Connect with the resilient engine and print every event as a JSON line on stdout.

Options:
  --adapter ws|native|browser   the adapter (default ws)
  --heartbeat-interval MS       time between heartbeat pings (default 15000)
  --heartbeat-timeout MS        how long a ping may go unanswered (default 5000)
  --min-delay MS                first and smallest reconnect delay (default 1000)
  --max-delay MS                largest reconnect delay (default 30000)
  --max-retries N               attempts per outage before giving up (default: no limit)
  --header "K: V"               request header for the handshake (repeatable)
  --protocol P                  subprotocol to offer (repeatable)
  --send TEXT                   text message sent on every new connection (repeatable)
  -h, --help                    this help

Exit status: 0 after SIGINT/SIGTERM, 1 when the engine gives up, 2 for bad arguments.`;

/** What the command was asked to do, once its arguments are parsed. */
export interface ConsumeArgs {
  readonly url: string;
  readonly adapter: string;
  readonly heartbeatInterval: number | undefined;
  readonly heartbeatTimeout: number | undefined;
  readonly minDelay: number | undefined;
  readonly maxDelay: number | undefined;
  readonly maxRetries: number | undefined;
  readonly headers: Record<string, string[]>;
  readonly protocols: string[];
  readonly send: string[];
}

/** Parse the arguments after `consume`; `undefined` means help was asked for. */
export function parseConsumeArgs(args: readonly string[]): ConsumeArgs | undefined {
  const { values, positionals } = commandArgs(args, {
    adapter: { type: 'string', default: 'ws' },
    'heartbeat-interval': { type: 'string' },
    'heartbeat-timeout': { type: 'string' },
    'min-delay': { type: 'string' },
    'max-delay': { type: 'string' },
    'max-retries': { type: 'string' },
    header: { type: 'string', multiple: true },
    protocol: { type: 'string', multiple: true },
    send: { type: 'string', multiple: true },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return undefined;
  const url = urlArgument(onePositional(positionals));
  const adapter = adapterFlag(values.adapter!);
  const headers = headerFlags(values.header);
  checkHeadersFor(adapter, headers);
  return {
    url,
    adapter,
    heartbeatInterval: positiveFlag('heartbeat-interval', values['heartbeat-interval']),
    heartbeatTimeout: positiveFlag('heartbeat-timeout', values['heartbeat-timeout']),
    ...delayFlags(values['min-delay'], values['max-delay']),
    maxRetries: number('max-retries', values['max-retries'], true),
    headers,
    protocols: protocolFlags(values.protocol),
    send: values.send ?? [],
  };
}

/** Where event lines go: stdout, or a collector in tests. */
export interface LineSink {
  write(line: string): unknown;
}

export interface ConsumeRun extends ConsumeArgs {
  /** The adapter factory; by default loaded by name from `adapter`. */
  readonly adapterFactory?: AdapterFactory;
  readonly out: LineSink;
  /** Aborting it closes with 1000 and ends the run with exit status 0. */
  readonly signal: AbortSignal;
}

/**
 * The command's core, free of process concerns: run the engine, write event lines to `out`,
 * resolve with the exit status once the engine stopped.
 */
export async function consume(run: ConsumeRun): Promise<number> {
  const emit = (event: string, fields: Record<string, unknown> = {}): void => {
    run.out.write(`${JSON.stringify({ ts: Date.now(), event, ...fields })}\n`);
  };
  let adapter: AdapterFactory;
  try {
    adapter = run.adapterFactory ?? (await loadAdapter(run.adapter));
  } catch (error) {
    emit('error', { message: (error as Error).message });
    emit('stopped');
    return error instanceof AdapterUnavailableError ? 2 : 1;
  }
  if (run.signal.aborted) {
    emit('stopped');
    return 0;
  }
  const headers: HeaderInit = run.headers;
  let engine;
  try {
    engine = createEngine({
      url: run.url,
      adapter,
      headers,
      protocols: run.protocols,
      heartbeat: {
        ...(run.heartbeatInterval === undefined ? {} : { interval: run.heartbeatInterval }),
        ...(run.heartbeatTimeout === undefined ? {} : { timeout: run.heartbeatTimeout }),
      },
      reconnect: {
        // A consumer started before its server should wait for it, as it would after a drop.
        retryOnStart: true,
        ...(run.minDelay === undefined ? {} : { minDelay: run.minDelay }),
        ...(run.maxDelay === undefined ? {} : { maxDelay: Math.max(run.maxDelay, run.minDelay ?? 0) }),
        ...(run.maxRetries === undefined ? {} : { retries: run.maxRetries }),
      },
      onOpen: async (ctx) => {
        for (const text of run.send) await ctx.sendText(text);
      },
    });
  } catch (error) {
    emit('error', { message: (error as Error).message });
    emit('stopped');
    return 2;
  }
  engine.on('connecting', ({ attempt }) => emit('connecting', { attempt }));
  engine.on('open', ({ attempt, reconnect, handshake }) => emit('open', { attempt, reconnect, protocol: handshake.protocol }));
  engine.on('message', (message) => {
    if (message.type === MessageType.Text) {
      emit('message', { type: 'text', size: new TextEncoder().encode(message.data).byteLength, text: message.data });
    } else {
      emit('message', { type: 'binary', size: message.data.byteLength });
    }
  });
  engine.on('heartbeat-timeout', () => emit('heartbeat-timeout'));
  engine.on('close', ({ code, reason }) => emit('close', { code, reason }));
  engine.on('retry', ({ attempt, delayMs }) => emit('retry', { attempt, delayMs }));
  let lastAttemptError: unknown;
  engine.on('attempt-failed', (error) => {
    lastAttemptError = error;
    emit('error', { message: describe(error) });
  });
  engine.on('error', (error) => {
    // The failure that stopped the engine may be the attempt failure just printed.
    if (error !== lastAttemptError) emit('error', { message: describe(error) });
  });

  const stopped = new Promise<unknown>((resolve) => engine.once('stopped', ({ error }) => resolve(error)));
  const onAbort = (): void => void engine.stop();
  run.signal.addEventListener('abort', onAbort, { once: true });
  try {
    await engine.start().catch(() => {
      // Reported through the events; the exit status comes from how the engine stopped.
    });
    const failure = await stopped;
    emit('stopped');
    return failure === undefined ? 0 : 1;
  } finally {
    run.signal.removeEventListener('abort', onAbort);
  }
}

/** The process-level part: arguments, signals, stdout. */
export function run(args: string[]): Promise<number> {
  return runCommand('consume', CONSUME_USAGE, args, parseConsumeArgs, async (parsed, signal) => {
    // `| head -1` closing our stdout ends the run as SIGINT does: close with 1000, exit 0.
    const controller = new AbortController();
    const onAbort = (): void => controller.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await consume({ ...parsed, out: guardedStdout(onAbort), signal: controller.signal });
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  });
}
