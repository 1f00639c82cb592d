/**
 * `wsengine demo` (`npm start`): what the engine is for, in twenty seconds. An embedded feed
 * server on 127.0.0.1 sends sequence-numbered ticks and misbehaves every few seconds, in turn:
 * it resets the connection (the client sees 1006), closes it with 1012 (service restart), or goes
 * silent without closing anything (a half-open connection only the heartbeat can detect). The
 * engine consumes the feed and rides all of it out; its open hook asks the server to resume
 * after the last tick it saw, so no tick is lost. One line per event, a summary at the end; on a
 * terminal, a live summary line under the events (state, messages/s, reconnects, gaps, last RTT).
 *
 *   wsengine demo [--duration 20s] [--interval 250ms] [--drop-every 4s] [--no-resume] [--adapter ws]
 */
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { statusCodeName } from '../adapters/status-codes.js';
import { MessageType, type AdapterFactory } from '../adapters/types.js';
import { createEngine } from '../engine/engine.js';
import { loadAdapter } from './adapters.js';
import { commandArgs, adapterFlag, UsageError } from './args.js';
import { guardedStdout, runCommand } from './command.js';
import { RateMeter, StatusLine, type StatusOutput } from './status-line.js';

export const DEMO_USAGE = `Usage: wsengine demo [options]

An embedded feed server that drops connections, and the engine riding it out.

Options:
  --duration D      how long to run, e.g. 20s, 1500ms, 1m (default 20s; Ctrl-C ends it sooner)
  --interval D      time between ticks (default 250ms)
  --drop-every D    time between the server's misbehaviours (default 4s)
  --no-resume       do not ask the server to resume after the last tick: see the gaps
  --adapter NAME    ws, native or browser (default ws)
  -h, --help        this help`;

/** What the demo does, once its arguments are parsed. */
export interface DemoOptions {
  readonly durationMs: number;
  readonly tickMs: number;
  readonly dropEveryMs: number;
  readonly resume: boolean;
  readonly adapter: string;
}

/** The summary printed at the end. */
export interface DemoSummary {
  readonly durationMs: number;
  readonly connections: number;
  readonly reconnects: number;
  readonly messages: number;
  /** Places where ticks were missing, and how many ticks they lacked in all. */
  readonly gaps: number;
  readonly missed: number;
  readonly heartbeatTimeouts: number;
  /** The server's misbehaviours, by kind. */
  readonly faults: Readonly<Record<FaultKind, number>>;
}

export type FaultKind = 'reset' | 'restart' | 'silence';
const FAULTS: readonly FaultKind[] = ['reset', 'restart', 'silence'];

/** Parse "20s", "1500ms", "1m" or a plain number of seconds, into ms. */
export function parseDuration(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!match) throw new UsageError(`--${flag} expects a duration such as 20s, 1500ms or 1m, got "${text}"`);
  const value = Number(match[1]);
  const unit = match[2] ?? 's';
  const ms = unit === 'ms' ? value : unit === 's' ? value * 1000 : value * 60_000;
  if (ms <= 0) throw new UsageError(`--${flag} must be more than 0`);
  return Math.round(ms);
}

/** Parse the arguments after `demo`; `undefined` means help was asked for. */
export function parseDemoArgs(args: readonly string[]): DemoOptions | undefined {
  const { values, positionals } = commandArgs(args, {
    duration: { type: 'string', default: '20s' },
    interval: { type: 'string', default: '250ms' },
    'drop-every': { type: 'string', default: '4s' },
    'no-resume': { type: 'boolean', default: false },
    adapter: { type: 'string', default: 'ws' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return undefined;
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  adapterFlag(values.adapter!);
  return {
    durationMs: parseDuration(values.duration!, 'duration'),
    tickMs: parseDuration(values.interval!, 'interval'),
    dropEveryMs: parseDuration(values['drop-every']!, 'drop-every'),
    resume: !values['no-resume'],
    adapter: values.adapter!,
  };
}

/** Follows sequence numbers and counts what is missing. */
export class SequenceTracker {
  last = 0;
  messages = 0;
  gaps = 0;
  missed = 0;

  /** Record `seq`; returns the missing range when there is a gap before it. */
  see(seq: number): { from: number; to: number } | undefined {
    this.messages++;
    let gap: { from: number; to: number } | undefined;
    if (this.last > 0 && seq > this.last + 1) {
      gap = { from: this.last + 1, to: seq - 1 };
      this.gaps++;
      this.missed += seq - this.last - 1;
    }
    if (seq > this.last) this.last = seq;
    return gap;
  }
}

interface FeedClient {
  readonly ws: WebSocket;
  live: boolean;
  silent: boolean;
}

/**
 * The embedded feed: a tick every `tickMs` whether or not anyone listens, kept in a bounded
 * history so that a client can resume after the last tick it saw.
 */
export class FeedServer {
  readonly #tickMs: number;
  readonly #history: string[] = [];
  readonly #clients = new Set<FeedClient>();
  readonly #onFault: (kind: FaultKind) => void;
  #wss: WebSocketServer | undefined;
  #ticker: ReturnType<typeof setInterval> | undefined;
  #seq = 0;
  #faults = 0;

  constructor(tickMs: number, onFault: (kind: FaultKind) => void) {
    this.#tickMs = tickMs;
    this.#onFault = onFault;
  }

  async start(): Promise<string> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    this.#wss = wss;
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    });
    wss.on('connection', (ws) => this.#accept(ws));
    this.#ticker = setInterval(() => this.#tick(), this.#tickMs);
    return `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/feed`;
  }

  /** Misbehave: reset, restart-close or go silent on the live connections, in turn. */
  fault(): FaultKind {
    const kind = FAULTS[this.#faults++ % FAULTS.length]!;
    this.#onFault(kind);
    for (const client of this.#clients) {
      if (client.silent) continue;
      if (kind === 'reset') client.ws.terminate();
      else if (kind === 'restart') client.ws.close(1012, 'service restart');
      else {
        // Half-open: stop reading (no pongs) and stop sending, but close nothing.
        client.silent = true;
        client.live = false;
        (client.ws as unknown as { _socket?: { pause(): void } })._socket?.pause();
      }
    }
    return kind;
  }

  async stop(): Promise<void> {
    if (this.#ticker) clearInterval(this.#ticker);
    this.#ticker = undefined;
    for (const client of this.#clients) client.ws.terminate();
    this.#clients.clear();
    const wss = this.#wss;
    this.#wss = undefined;
    if (wss) await new Promise<void>((resolve) => wss.close(() => resolve()));
  }

  #accept(ws: WebSocket): void {
    // A new connection means the client gave up on any silent one: release it.
    for (const client of this.#clients) {
      if (client.silent) {
        client.ws.terminate();
        this.#clients.delete(client);
      }
    }
    const client: FeedClient = { ws, live: false, silent: false };
    this.#clients.add(client);
    ws.on('close', () => this.#clients.delete(client));
    ws.on('error', () => {});
    ws.on('message', (data) => {
      let request: { resume?: number; subscribe?: boolean };
      try {
        request = JSON.parse(String(data)) as typeof request;
      } catch {
        return;
      }
      if (client.live) return;
      if (typeof request.resume === 'number') {
        // Replay what the client missed, from the history, then go live.
        const first = this.#seq - this.#history.length + 1;
        for (let seq = Math.max(request.resume + 1, first); seq <= this.#seq; seq++) ws.send(this.#history[seq - first]!);
      }
      client.live = true;
    });
  }

  #tick(): void {
    const seq = ++this.#seq;
    const message = JSON.stringify({ seq, price: (100 + Math.sin(seq / 10) * 5).toFixed(2) });
    this.#history.push(message);
    if (this.#history.length > 10_000) this.#history.shift();
    for (const client of this.#clients) if (client.live && !client.silent) client.ws.send(message);
  }
}

function clock(): string {
  return new Date().toISOString().slice(11, 23);
}

/** What the live summary line shows. */
export interface LiveSummary {
  readonly state: string;
  readonly messagesPerSecond: number;
  readonly reconnects: number;
  readonly gaps: number;
  readonly rttMs: number | undefined;
  readonly elapsedMs: number;
}

export function formatLiveSummary(live: LiveSummary): string {
  return [
    live.state,
    `${live.messagesPerSecond.toFixed(1)} msg/s`,
    `${live.reconnects} reconnect${live.reconnects === 1 ? '' : 's'}`,
    `${live.gaps} gap${live.gaps === 1 ? '' : 's'}`,
    live.rttMs === undefined ? 'rtt -' : `rtt ${Math.round(live.rttMs)} ms`,
    `${(live.elapsedMs / 1000).toFixed(0)} s`,
  ].join(' | ');
}

/** How often the live summary line is redrawn, in ms. */
const LIVE_REFRESH_MS = 250;

export interface DemoRun extends DemoOptions {
  /** Event lines, and on a terminal (`isTTY`) the live summary line. */
  readonly out: StatusOutput;
  /** Aborting it ends the demo early (Ctrl-C). */
  readonly signal: AbortSignal;
  /** The adapter factory; by default loaded by name from `adapter`. */
  readonly adapterFactory?: AdapterFactory;
  /** Heartbeat interval and timeout, in ms. Default 1000. */
  readonly heartbeatMs?: number;
}

/** Run the demo: returns its summary once the duration has passed or the signal aborted. */
export async function runDemo(run: DemoRun): Promise<DemoSummary> {
  const status = new StatusLine(run.out);
  const line = (event: string, detail = ''): void => {
    status.print(`${clock()}  ${event.padEnd(12)} ${detail}\n`);
  };
  const faults: Record<FaultKind, number> = { reset: 0, restart: 0, silence: 0 };
  const describeFault: Record<FaultKind, string> = {
    reset: 'server resets the connection (TCP RST, no close frame)',
    restart: 'server closes with 1012 (service restart)',
    silence: 'server goes silent: no data, no pongs, nothing closed (half-open)',
  };
  const feed = new FeedServer(run.tickMs, (kind) => {
    faults[kind]++;
    line('fault', describeFault[kind]);
  });
  const adapter = run.adapterFactory ?? (await loadAdapter(run.adapter));
  const url = await feed.start();
  const tracker = new SequenceTracker();
  const engine = createEngine({
    url,
    adapter,
    heartbeat: { interval: run.heartbeatMs ?? 1000, timeout: run.heartbeatMs ?? 1000 },
    reconnect: { minDelay: 200, maxDelay: 2000, minUptime: 1000 },
    closeTimeout: 1000,
    onOpen: async (ctx) => {
      // The open hook runs before any tick is delivered: ask to resume after the last one seen.
      const request = run.resume && tracker.last > 0 ? { resume: tracker.last } : { subscribe: true };
      await ctx.sendText(JSON.stringify(request));
    },
    onMessage: (message) => {
      if (message.type !== MessageType.Text) return;
      const tick = JSON.parse(message.data) as { seq: number; price: string };
      const gap = tracker.see(tick.seq);
      if (gap) {
        const count = gap.to - gap.from + 1;
        line('gap', `missed ${count} tick${count === 1 ? '' : 's'} (seq ${gap.from}${count > 1 ? `-${gap.to}` : ''})`);
      }
      line('tick', `seq ${tick.seq}  price ${tick.price}`);
    },
  });
  engine.on('connecting', ({ attempt }) => line('connecting', `${url} (attempt ${attempt})`));
  engine.on('open', ({ connectionId }) =>
    line('open', `connection ${connectionId}${run.resume && tracker.last > 0 ? `, resuming after seq ${tracker.last}` : ''}`),
  );
  engine.on('heartbeat-timeout', (error) => line('heartbeat', `${error.message}: the connection is dead`));
  engine.on('close', ({ code, reason, initiator }) =>
    line('close', `${code}${reason ? ` ${reason}` : code === 1006 ? ' (connection lost)' : ` (${statusCodeName(code)})`} [${initiator}]`),
  );
  engine.on('retry', ({ attempt, delayMs }) => line('retry', `attempt ${attempt} in ${delayMs} ms`));
  engine.on('attempt-failed', (error) => line('error', (error as Error).message));
  engine.on('error', (error) => line('error', (error as Error).message));

  const started = Date.now();
  const rate = new RateMeter();
  const drawStatus = (): void => {
    const metrics = engine.metrics();
    status.set(
      formatLiveSummary({
        state: engine.state,
        messagesPerSecond: rate.sample(tracker.messages, Date.now()),
        reconnects: metrics.reconnects,
        gaps: tracker.gaps,
        rttMs: metrics.lastRttMs,
        elapsedMs: Date.now() - started,
      }),
    );
  };
  let statusTimer: ReturnType<typeof setInterval> | undefined;
  if (status.live) {
    drawStatus();
    statusTimer = setInterval(drawStatus, LIVE_REFRESH_MS);
    engine.on('state', drawStatus);
  }
  const timers: Array<ReturnType<typeof setTimeout>> = [];
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const onAbort = (): void => finish();
  run.signal.addEventListener('abort', onAbort, { once: true });
  if (run.signal.aborted) finish();
  timers.push(setTimeout(finish, run.durationMs));
  const faultTimer = setInterval(() => feed.fault(), run.dropEveryMs);
  try {
    await Promise.race([engine.start(), finished]);
    await finished;
  } catch (error) {
    line('error', (error as Error).message);
  } finally {
    for (const timer of timers) clearTimeout(timer);
    clearInterval(faultTimer);
    run.signal.removeEventListener('abort', onAbort);
    await engine.stop();
    await feed.stop();
    clearInterval(statusTimer);
    status.clear();
  }
  const metrics = engine.metrics();
  const summary: DemoSummary = {
    durationMs: Date.now() - started,
    connections: metrics.connects,
    reconnects: metrics.reconnects,
    messages: tracker.messages,
    gaps: tracker.gaps,
    missed: tracker.missed,
    heartbeatTimeouts: metrics.heartbeatTimeouts,
    faults,
  };
  run.out.write(`\n${formatSummary(summary, run.resume)}\n`);
  return summary;
}

export function formatSummary(summary: DemoSummary, resume: boolean): string {
  const seconds = (summary.durationMs / 1000).toFixed(1);
  const faults = `${summary.faults.reset} resets, ${summary.faults.restart} restarts, ${summary.faults.silence} silences`;
  return [
    `Summary after ${seconds} s`,
    `  server faults:      ${faults}`,
    `  connections:        ${summary.connections} (${summary.reconnects} reconnects, ${summary.heartbeatTimeouts} found dead by the heartbeat)`,
    `  messages:           ${summary.messages}`,
    `  gaps:               ${summary.gaps} (${summary.missed} ticks missed)${resume ? ', resuming after the last seq on every reconnect' : ', run without --no-resume to close them'}`,
  ].join('\n');
}

/** The process-level part: arguments, Ctrl-C, stdout. */
export function run(args: string[]): Promise<number> {
  return runCommand('demo', DEMO_USAGE, args, parseDemoArgs, async (options, signal) => {
    // `npm start | head` closing our stdout ends the demo as Ctrl-C does, instead of an EPIPE crash.
    const controller = new AbortController();
    const onAbort = (): void => controller.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await runDemo({ ...options, out: guardedStdout(onAbort), signal: controller.signal });
      return 0;
    } catch (error) {
      process.stderr.write(`wsengine demo: ${(error as Error).message}
`);
      return 1;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  });
}
