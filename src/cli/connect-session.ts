/**
 * The core of `wsengine connect`, free of process concerns (tests drive it with their own
 * streams): an engine, lines in, messages and events out through a {@link Screen}.
 *
 * Lines are sent in the order they come, through the engine's outbox, so a line typed or piped
 * while (re)connecting goes out once the connection is open. `/close` and the end of input wait
 * for every pending send before closing; Ctrl-C does not wait.
 */
import { createInterface } from 'node:readline';
import { UnsupportedOperationError, WebSocketCloseError } from '../adapters/errors.js';
import { statusCodeName } from '../adapters/status-codes.js';
import { MessageType, type AdapterFactory } from '../adapters/types.js';
import { validateClose } from '../adapters/validation.js';
import { createEngine, type CloseChoice, type Engine, type HookContext } from '../engine/engine.js';
import { createOutbox } from '../engine/outbox.js';
import { loadAdapter } from './adapters.js';
import { describeError, reportFailure } from './command.js';
import { PlainScreen, TerminalScreen, type BinaryFormat, type ConnectStatus, type Screen, type Writable } from './connect-screen.js';

export type { BinaryFormat } from './connect-screen.js';

/** What `connect` was asked to do, once its arguments are parsed. */
export interface ConnectArgs {
  readonly url: string;
  readonly adapter: string;
  readonly headers: Record<string, string[]>;
  readonly protocols: string[];
  /** ms between heartbeat pings; 0 turns the heartbeat off; `undefined` for the engine's default. */
  readonly heartbeatInterval: number | undefined;
  readonly heartbeatTimeout: number | undefined;
  /** Replace the connection after a drop (`--no-reconnect` makes it false). */
  readonly reconnect: boolean;
  readonly minDelay: number | undefined;
  readonly maxDelay: number | undefined;
  readonly maxRetries: number | undefined;
  readonly binaryAs: BinaryFormat;
  /** No connection events on stderr in plain mode. */
  readonly quiet: boolean;
  /** After the end of input and once every line is sent, wait this long (ms) for replies before closing. */
  readonly wait: number;
}

export interface ConnectRun extends ConnectArgs {
  /** Lines to send, and the commands. */
  readonly input: NodeJS.ReadableStream;
  /** Messages received (and, on a terminal, everything else). */
  readonly output: NodeJS.WritableStream;
  /** Events and problems in plain mode, and the final failure. */
  readonly errors: Writable;
  /** A terminal: a prompt with the status, messages above it. Otherwise plain lines. */
  readonly interactive: boolean;
  /** Aborting it (Ctrl-C, SIGTERM) closes with 1000 at once and ends with exit status 0. */
  readonly signal: AbortSignal;
  /** The adapter factory; by default loaded by name from `adapter`. */
  readonly adapterFactory?: AdapterFactory;
}

const HELP = [
  '/ping                    send a ping, print the round-trip time',
  '/close [code [reason]]   close with this code (default 1000) and reason, and exit',
  '/quit                    close with 1000 and exit',
  '//text                   send "/text"',
];

/** Lines in flight at which reading the input pauses (a piped file waits for the socket), and resumes. */
const PAUSE_AT = 1000;
const RESUME_AT = 100;
/** Outbox bounds: a paused input may still hand over the lines of the chunk already read. */
const OUTBOX_MESSAGES = 100_000;
const OUTBOX_BYTES = 16 * 1024 * 1024;

/** How long `/ping` waits for its pong when the heartbeat sets no timeout. */
const DEFAULT_PING_TIMEOUT = 5_000;

function seconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function describeClose(code: number, reason: string): string {
  if (code === 1006) return 'connection lost (1006, no close frame)';
  return `closed ${code} ${reason ? reason : `(${statusCodeName(code)})`}`;
}

/** Run a session; resolves with the exit status once the engine has stopped. */
export async function connect(run: ConnectRun): Promise<number> {
  let adapter: AdapterFactory;
  try {
    adapter = run.adapterFactory ?? (await loadAdapter(run.adapter));
  } catch (error) {
    run.errors.write(`wsengine connect: ${describeError(error)}\n`);
    return 2;
  }
  if (run.signal.aborted) return 0;

  let openCtx: HookContext | undefined;
  let closeChoice: CloseChoice | undefined;
  let opened = 0;
  let rttMs: number | undefined;
  let engine: Engine;
  try {
    engine = createEngine({
      url: run.url,
      adapter,
      headers: run.headers,
      protocols: run.protocols,
      heartbeat:
        run.heartbeatInterval === 0
          ? false
          : {
              ...(run.heartbeatInterval === undefined ? {} : { interval: run.heartbeatInterval }),
              ...(run.heartbeatTimeout === undefined ? {} : { timeout: run.heartbeatTimeout }),
            },
      reconnect: run.reconnect
        ? {
            // Like wscat: a server that cannot be reached at all is reported at once (exit 1);
            // retries are for connections that were open and broke.
            retryOnStart: false,
            ...(run.minDelay === undefined ? {} : { minDelay: run.minDelay }),
            ...(run.maxDelay === undefined ? {} : { maxDelay: Math.max(run.maxDelay, run.minDelay ?? 0) }),
            ...(run.maxRetries === undefined ? {} : { retries: run.maxRetries }),
          }
        : false,
      // A line typed while reconnecting waits for the next connection instead of failing. The
      // bounds leave room for what one read of the input can hold beyond the pause below.
      outbox: createOutbox({ maxMessages: OUTBOX_MESSAGES, maxBytes: OUTBOX_BYTES }),
      onOpen: (ctx) => {
        openCtx = ctx;
      },
      // `/close 4000 bye` stops the engine; the code and reason go into its close frame.
      onClose: (info) => (info.initiator === 'local' && info.error === undefined ? closeChoice : undefined),
    });
  } catch (error) {
    run.errors.write(`wsengine connect: ${describeError(error)}\n`);
    return 2;
  }

  const rl = createInterface({
    input: run.input,
    ...(run.interactive ? { output: run.output, terminal: true } : { terminal: false }),
    historySize: run.interactive ? 100 : 0,
  });
  const status = (): ConnectStatus => ({ state: engine.state, rttMs, reconnects: engine.metrics().reconnects });
  const screen: Screen = run.interactive
    ? new TerminalScreen(rl, run.output, run.binaryAs, status())
    : new PlainScreen(run.output, run.errors, run.binaryAs, run.quiet);
  const refresh = (): void => screen.status(status());

  engine.on('state', refresh);
  engine.on('message', (message) => {
    if (message.type === MessageType.Text) screen.text(message.data);
    else screen.binary(message.data);
  });
  engine.on('open', ({ attempt, reconnect, handshake }) => {
    opened++;
    const protocol = handshake.protocol ? ` (protocol ${handshake.protocol})` : '';
    // `attempt` counts the tries of this outage: 1 when the first one worked.
    if (reconnect) screen.event(`reconnected to ${run.url}${protocol}, attempt ${attempt}`);
    else screen.event(`connected to ${run.url}${protocol}`);
    refresh();
  });
  engine.on('close', ({ code, reason, initiator }) => {
    openCtx = undefined;
    screen.event(`${describeClose(code, reason)}${initiator === 'local' ? ' [by us]' : ''}`);
  });
  engine.on('heartbeat-timeout', () => screen.event('no answer to the heartbeat: the connection is dead'));
  engine.on('retry', ({ attempt, delayMs }) => screen.event(`reconnecting in ${seconds(delayMs)} (attempt ${attempt})`));
  engine.on('pong', (ms) => {
    rttMs = ms;
    refresh();
  });
  let lastAttemptError: unknown;
  engine.on('attempt-failed', (error, attempt) => {
    lastAttemptError = error;
    // The first attempt's failure ends the session and is reported once, at the end.
    if (opened > 0) screen.problem(`attempt ${attempt} failed: ${describeError(error)}`);
  });
  let failure: unknown;
  engine.on('error', (error) => {
    // The failure that stops the engine is also an `error`; it is reported once, at the end.
    queueMicrotask(() => {
      if (error !== failure && error !== lastAttemptError) screen.problem(describeError(error));
    });
  });
  const stopped = new Promise<unknown>((resolve) =>
    engine.once('stopped', ({ error }) => {
      failure = error;
      resolve(error);
    }),
  );

  const pending = new Set<Promise<void>>();
  let unsent = 0;
  let quitting = false;
  const quit = async (choice: CloseChoice, drain: boolean, linger = 0): Promise<void> => {
    if (quitting) return;
    quitting = true;
    closeChoice = choice;
    if (drain) {
      // Even with nothing to send, the end of input first waits for the connection: an
      // unreachable server is a failure, not an empty success.
      if (opened === 0) await whenOpen();
      await Promise.allSettled([...pending]);
    }
    if (linger > 0 && engine.state !== 'stopped') {
      // Replies to the last lines may still be on their way (--wait); Ctrl-C cuts it short.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, linger);
        const cut = (): void => {
          clearTimeout(timer);
          resolve();
        };
        engine.once('stopped', cut);
        run.signal.addEventListener('abort', cut, { once: true });
      });
    }
    await engine.stop();
  };

  /** The open connection's context, once there is one (commands wait for it as lines do). */
  const whenOpen = (): Promise<HookContext | undefined> => {
    if (openCtx && engine.state === 'open') return Promise.resolve(openCtx);
    return new Promise((resolve) => {
      const offOpen = engine.once('open', () => {
        offStopped();
        resolve(openCtx);
      });
      const offStopped = engine.once('stopped', () => {
        offOpen();
        resolve(undefined);
      });
    });
  };

  let paused = false;
  const settled = (sending: Promise<void>): void => {
    pending.delete(sending);
    if (paused && pending.size <= RESUME_AT) {
      paused = false;
      rl.resume();
    }
  };
  const send = (text: string): void => {
    const sending = engine.sendText(text);
    pending.add(sending);
    if (!paused && pending.size >= PAUSE_AT) {
      paused = true;
      rl.pause();
    }
    sending.then(
      () => settled(sending),
      (error: unknown) => {
        settled(sending);
        unsent++;
        // Once the engine has given up, its failure is reported once, at the end.
        if (engine.state !== 'stopped') screen.problem(`not sent: ${describeError(error)}`);
      },
    );
  };

  const ping = async (): Promise<void> => {
    // After the lines before it, on an open connection.
    await Promise.allSettled([...pending]);
    const ctx = await whenOpen();
    if (!ctx) return;
    const started = performance.now();
    try {
      const timeout = AbortSignal.timeout(run.heartbeatTimeout ?? DEFAULT_PING_TIMEOUT);
      await ctx.adapter.ping({ signal: AbortSignal.any([ctx.signal, timeout]) });
      rttMs = performance.now() - started;
      refresh();
      screen.event(`pong in ${rttMs.toFixed(1)} ms`);
    } catch (error) {
      screen.problem(
        error instanceof UnsupportedOperationError
          ? `the ${run.adapter} adapter cannot send pings`
          : `ping failed: ${describeError(error)}`,
      );
    }
  };

  const command = (line: string): void => {
    const [name, ...words] = line.trim().split(/\s+/);
    switch (name) {
      case '/ping':
        void ping();
        return;
      case '/quit':
        void quit({ code: 1000, reason: '' }, true);
        return;
      case '/close': {
        const code = words.length > 0 ? Number(words[0]) : 1000;
        // The reason is the rest of the line as typed, inner spaces kept.
        const reason = words.length > 1 ? line.trim().replace(/^\/close\s+\S+\s+/, '') : '';
        try {
          if (!Number.isInteger(code)) throw new Error(`expected a close code, got "${words[0]}"`);
          validateClose(code, reason);
        } catch (error) {
          screen.problem(`/close: ${describeError(error)}`);
          return;
        }
        void quit({ code, reason }, true);
        return;
      }
      case '/help':
        for (const text of HELP) screen.event(text);
        return;
      default:
        screen.problem(`unknown command ${name} (/help lists them; start the line with // to send it)`);
    }
  };

  rl.on('line', (line) => {
    if (quitting) return;
    if (line.startsWith('//')) send(line.slice(1));
    else if (line.startsWith('/')) command(line);
    else send(line);
  });
  // The end of input (Ctrl-D, or the end of a pipe) closes once every line is out.
  rl.on('close', () => void quit({ code: 1000, reason: '' }, true, run.wait));
  // Ctrl-C on a terminal: readline has the terminal in raw mode and reports it here.
  rl.on('SIGINT', () => void quit({ code: 1000, reason: '' }, false));
  const onAbort = (): void => void quit({ code: 1000, reason: '' }, false);
  run.signal.addEventListener('abort', onAbort, { once: true });

  try {
    await engine.start().catch(() => {
      // Reported below, from how the engine stopped.
    });
    const error = await stopped;
    screen.close();
    if (error === undefined) return run.interactive || unsent === 0 ? 0 : 1;
    if (opened === 0) {
      reportFailure('connect', error, `cannot connect to ${run.url}`, run.errors);
      return 1;
    }
    if (!run.reconnect && error instanceof WebSocketCloseError && error.code === 1000) return 0;
    reportFailure('connect', error, undefined, run.errors);
    return 1;
  } finally {
    run.signal.removeEventListener('abort', onAbort);
    screen.close();
    rl.close();
  }
}
