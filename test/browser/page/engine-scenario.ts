/**
 * Runs in Chromium: the engine over the browser adapter, against the page server's scripted
 * `ws` server. `runEngineScenario(wsUrl)` exchanges messages, lives through a server-side drop
 * (the engine reconnects), and through a dead server that stops answering the application-level
 * heartbeat (the engine declares the connection dead and reconnects), then reports what it saw.
 */
import { createBrowserAdapter } from '../../../src/adapters/browser.js';
import { MessageType, type Message } from '../../../src/adapters/types.js';
import { createEngine, type Engine, type EngineEvents } from '../../../src/engine/index.js';
import { reportError, reportMessage, type ReportedError, type ReportedMessage } from './report.js';

export interface EngineScenarioReport {
  /** Lifecycle events in order: `open <attempt>`, `close <code> <initiator>`, `heartbeat-timeout`, `stopped`. */
  readonly events: string[];
  /** Messages delivered to onMessage, per connection (1-based index of the open). */
  readonly delivered: Array<{ connection: number; message: ReportedMessage }>;
  /** Answered heartbeat probes seen before the server went silent. */
  readonly pongsBeforeMute: number;
  readonly heartbeatError: ReportedError | null;
  readonly metrics: { connects: number; reconnects: number; heartbeatTimeouts: number };
  readonly stateAfterStop: string;
}

/** Messages delivered by the engine, handed out in order. */
class Inbox {
  readonly #items: Message[] = [];
  readonly #waiters: Array<(message: Message) => void> = [];
  push(message: Message): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(message);
    else this.#items.push(message);
  }
  next(): Promise<Message> {
    const item = this.#items.shift();
    if (item) return Promise.resolve(item);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

/** A page-side guard, so that a step that never happens fails with its name instead of hanging. */
function step<T>(name: string, promise: Promise<T>, ms = 10_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`step "${name}" did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

function nextEvent<E extends keyof EngineEvents>(engine: Engine, event: E): Promise<EngineEvents[E]> {
  return new Promise((resolve) => engine.once(event, (...args) => resolve(args)));
}

export async function runEngineScenario(wsUrl: string): Promise<EngineScenarioReport> {
  const events: string[] = [];
  const delivered: Array<{ connection: number; message: ReportedMessage }> = [];
  const inbox = new Inbox();
  let opens = 0;
  let pongs = 0;
  let heartbeatError: ReportedError | null = null;

  const engine = createEngine({
    url: wsUrl,
    protocols: ['wsengine.test'],
    adapter: () => createBrowserAdapter(),
    reconnect: { minDelay: 20, maxDelay: 100, jitter: 0 },
    // No ping frames in a browser: an application-level probe, which the server echoes.
    heartbeat: {
      mode: 'message',
      interval: 100,
      timeout: 1000,
      message: { type: MessageType.Text, data: 'hb' },
      isPong: (message) => message.type === MessageType.Text && message.data === 'hb',
    },
    onMessage: (message) => {
      delivered.push({ connection: opens, message: reportMessage(message) });
      inbox.push(message);
    },
  });
  engine.on('open', ({ attempt }) => {
    opens++;
    events.push(`open ${attempt}`);
  });
  engine.on('close', ({ code, initiator }) => events.push(`close ${code} ${initiator}`));
  engine.on('heartbeat-timeout', (error) => {
    events.push('heartbeat-timeout');
    heartbeatError = reportError(error);
  });
  engine.on('pong', () => pongs++);
  engine.on('stopped', () => events.push('stopped'));

  await step('start', engine.start());
  await engine.sendText('engine text ✓');
  await engine.sendBinary(new Uint8Array([9, 8, 7]));
  await step('first echoes', Promise.all([inbox.next(), inbox.next()]));
  // The application-level heartbeat is answered while the server is alive.
  await step('a heartbeat answer', nextEvent(engine, 'pong'));

  // A server-side drop: the engine sees 1006 and reconnects by itself.
  const reopened = nextEvent(engine, 'open');
  await engine.sendText('drop');
  await step('reconnect after drop', reopened);
  await engine.sendText('after drop');
  await engine.sendBinary(new Uint8Array([1]));
  await step('echoes after drop', Promise.all([inbox.next(), inbox.next()]));

  // A dead server: it stops reading and answering; only the heartbeat can tell.
  const pongsBeforeMute = pongs;
  const dead = nextEvent(engine, 'heartbeat-timeout');
  const reopenedAgain = nextEvent(engine, 'open');
  await engine.sendText('mute');
  await step('heartbeat timeout', dead);
  await step('reconnect after heartbeat timeout', reopenedAgain);
  await engine.sendText('after heartbeat timeout');
  await step('echo after heartbeat timeout', inbox.next());

  const metrics = engine.metrics();
  await step('stop', engine.stop());
  return {
    events,
    delivered,
    pongsBeforeMute,
    heartbeatError,
    metrics: { connects: metrics.connects, reconnects: metrics.reconnects, heartbeatTimeouts: metrics.heartbeatTimeouts },
    stateAfterStop: engine.state,
  };
}
