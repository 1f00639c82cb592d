/** A WebWire test server and clients on it, all closed after each test. */
import { createWsAdapter } from '../../../src/adapters/ws.js';
import { createWebWireClient, type WebWireClient, type WebWireClientEvents, type WebWireClientOptions } from '../../../src/protocols/webwire/index.js';
import { WebWireTestServer } from './server.js';

const live: Array<{ server: WebWireTestServer; clients: WebWireClient[] }> = [];

export interface Setup {
  server: WebWireTestServer;
  client(options?: Partial<WebWireClientOptions>): WebWireClient;
}

export async function setup(): Promise<Setup> {
  const server = new WebWireTestServer();
  await server.start();
  const entry = { server, clients: [] as WebWireClient[] };
  live.push(entry);
  return {
    server,
    client: (options = {}) => {
      const client = createWebWireClient({
        url: server.url,
        adapter: () => createWsAdapter(),
        tracing: false,
        ...options,
        reconnect: { minDelay: 10, maxDelay: 50, jitter: 0, ...(options.reconnect || {}) },
      });
      entry.clients.push(client);
      return client;
    },
  };
}

export async function cleanup(): Promise<void> {
  for (const { server, clients } of live.splice(0)) {
    await Promise.all(clients.map((client) => client.stop()));
    await server.close();
  }
}

/** The arguments of the client's next `event`. */
export function nextEvent<E extends keyof WebWireClientEvents>(client: WebWireClient, event: E): Promise<WebWireClientEvents[E]> {
  return new Promise((resolve) => {
    client.once(event, ((...args: WebWireClientEvents[E]) => resolve(args)) as never);
  });
}

/** Resolves on the emitter's next `event`. */
export function nextOf(emitter: { once(event: string, listener: (...args: unknown[]) => void): unknown }, event: string): Promise<unknown[]> {
  return new Promise((resolve) => {
    emitter.once(event, (...args: unknown[]) => resolve(args));
  });
}
