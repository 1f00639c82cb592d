/**
 * Shared set-up for the engine's unit tests: a mock server, an engine on it, and a record of
 * every event the engine emitted.
 */
import { vi } from 'vitest';
import { canTransition, createEngine, type Engine, type EngineEvents, type EngineOptions } from '../../src/engine/index.js';
import { MockServer, type MockServerConnection, type MockServerOptions } from '../../src/mocks/index.js';

export type Recorded = { [E in keyof EngineEvents]: [E, ...EngineEvents[E]] }[keyof EngineEvents];

export interface Harness {
  server: MockServer;
  engine: Engine;
  events: Recorded[];
  /** Names of the recorded events, in order. */
  names(): string[];
  /** The args of every recorded event called `name`. */
  of<E extends keyof EngineEvents>(name: E): EngineEvents[E][];
}

const ALL_EVENTS: Array<keyof EngineEvents> = [
  'state',
  'connecting',
  'open',
  'message',
  'close',
  'attempt-failed',
  'retry',
  'heartbeat-timeout',
  'pong',
  'error',
  'stopped',
];

const live: Array<{ engine: Engine; server: MockServer }> = [];

/** Transitions outside the state diagram that an engine of {@link harness} made (a bug). */
const strayTransitions: string[] = [];

/** An engine on a fresh mock server, with quiet defaults: no heartbeat, no tracing, exact delays. */
export function harness(options: Partial<EngineOptions> = {}, serverOptions?: MockServerOptions): Harness {
  const server = new MockServer(serverOptions);
  const engine = createEngine({
    url: server.url,
    adapter: () => server.createAdapter(),
    tracing: false,
    heartbeat: false,
    ...options,
    reconnect: options.reconnect === false ? false : { minDelay: 100, maxDelay: 1000, jitter: 0, ...options.reconnect },
  });
  const events: Recorded[] = [];
  // Every transition follows the diagram of state.ts (the engine does not check them itself).
  engine.on('state', (to, from) => {
    if (!canTransition(from, to)) strayTransitions.push(`${from} -> ${to}`);
  });
  for (const name of ALL_EVENTS) {
    engine.on(name, ((...args: unknown[]) => events.push([name, ...args] as unknown as Recorded)) as never);
  }
  live.push({ engine, server });
  return {
    server,
    engine,
    events,
    names: () => events.map((e) => e[0]),
    of: <E extends keyof EngineEvents>(name: E) =>
      events.filter((e) => e[0] === name).map((e) => e.slice(1) as unknown as EngineEvents[E]),
  };
}

/** Stop every engine and server the test made (afterEach). */
export async function cleanup(): Promise<void> {
  for (const { engine, server } of live.splice(0)) {
    const stopping = engine.stop();
    if (vi.isFakeTimers()) await vi.runAllTimersAsync();
    await stopping;
    await server.stop();
  }
  vi.useRealTimers();
  const stray = strayTransitions.splice(0);
  if (stray.length > 0) throw new Error(`The engine made transitions outside its state diagram: ${stray.join(', ')}`);
}

/** Resolves with the next event of that name. */
export function next<E extends keyof EngineEvents>(engine: Engine, name: E): Promise<EngineEvents[E]> {
  return new Promise((resolve) => {
    engine.once(name, ((...args: EngineEvents[E]) => resolve(args)) as never);
  });
}

/** The server's next accepted connection. */
export function accepted(server: MockServer): Promise<MockServerConnection> {
  return server.accept();
}
