/**
 * A loopback TCP proxy for fault injection: clients connect to the proxy, the proxy connects to
 * the target and copies bytes both ways, and a test breaks the path on purpose:
 *
 * - `reset()`: abort every connection with a TCP RST (both sides), as a crashed middlebox would.
 * - `blackhole()`: stop forwarding on the current connections, both ways, keeping the sockets
 *   open: no FIN, no RST, no data. A half-open connection, as after a NAT timeout or a pulled cable.
 * - `refuse()`: stop listening, so new connects get ECONNREFUSED; `listen()` opens the same port again.
 * - `setDelay(ms)`: delay every chunk, both ways, keeping order.
 *
 * Loopback only: the proxy listens on 127.0.0.1 and connects to 127.0.0.1.
 */
import net from 'node:net';

interface Pair {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  blackholed: boolean;
}

export interface FaultProxyOptions {
  /** Port of the target on 127.0.0.1. */
  readonly targetPort: number;
  /** Port to listen on; default 0 (any free port). */
  readonly port?: number;
}

/** Destroy with a TCP RST where the socket is connected (plain destroy otherwise). */
function abort(socket: net.Socket): void {
  if (socket.destroyed) return;
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

export class FaultProxy {
  #targetPort: number;
  #port: number;
  #server: net.Server | undefined;
  #delayMs = 0;
  readonly #pairs = new Set<Pair>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  /** Connections accepted so far. */
  accepted = 0;

  private constructor(options: FaultProxyOptions) {
    this.#targetPort = options.targetPort;
    this.#port = options.port ?? 0;
  }

  /** Start a proxy to `127.0.0.1:targetPort`. */
  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const proxy = new FaultProxy(options);
    await proxy.listen();
    return proxy;
  }

  get port(): number {
    return this.#port;
  }

  /** `ws://127.0.0.1:PORT` + path. */
  url(path = '/'): string {
    return `ws://127.0.0.1:${this.#port}${path}`;
  }

  /** Open connections (client side). */
  get connections(): number {
    return this.#pairs.size;
  }

  /** Point new connections at another target port (a restarted server on a new port). */
  retarget(port: number): void {
    this.#targetPort = port;
  }

  /** Listen (again, on the same port after `refuse()`). */
  listen(): Promise<void> {
    if (this.#server) return Promise.resolve();
    const server = net.createServer((client) => this.#accept(client));
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, '127.0.0.1', () => {
        server.off('error', reject);
        this.#port = (server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  /** Stop listening: connects are refused until `listen()`. Open connections are untouched. */
  refuse(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return Promise.resolve();
    // close() stops listening at once; its callback waits for accepted sockets, which we own.
    server.close();
    return Promise.resolve();
  }

  /** Abort every open connection with RST, both towards the client and towards the target. */
  reset(): void {
    for (const pair of [...this.#pairs]) {
      this.#pairs.delete(pair);
      abort(pair.client);
      abort(pair.upstream);
    }
  }

  /** Stop forwarding on every open connection, both ways, without closing anything. */
  blackhole(): void {
    for (const pair of this.#pairs) pair.blackholed = true;
  }

  /** Delay every chunk by `ms` from now on (0: none). */
  setDelay(ms: number): void {
    this.#delayMs = ms;
  }

  /** Close everything: the listener, every connection, every pending delayed chunk. */
  async close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const pair of [...this.#pairs]) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    this.#pairs.clear();
    const server = this.#server;
    this.#server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #accept(client: net.Socket): void {
    this.accepted++;
    const upstream = net.connect({ host: '127.0.0.1', port: this.#targetPort });
    const pair: Pair = { client, upstream, blackholed: false };
    this.#pairs.add(pair);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const forward = (to: net.Socket) => (chunk: Buffer) => {
      if (pair.blackholed) return;
      if (this.#delayMs <= 0) {
        to.write(chunk);
        return;
      }
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        if (!pair.blackholed && !to.destroyed) to.write(chunk);
      }, this.#delayMs);
      this.#timers.add(timer);
    };
    client.on('data', forward(upstream));
    upstream.on('data', forward(client));
    // An orderly end (FIN) is passed on, unless the path is a black hole.
    client.on('end', () => {
      if (!pair.blackholed) upstream.end();
    });
    upstream.on('end', () => {
      if (!pair.blackholed) client.end();
    });
    const finish = (other: net.Socket) => (hadError: boolean) => {
      if (pair.blackholed) return;
      this.#pairs.delete(pair);
      // An abort on one side (RST, refused target) is passed on as an abort.
      if (hadError) abort(other);
      else other.destroy();
    };
    client.on('close', finish(upstream));
    upstream.on('close', finish(client));
    client.on('error', () => {});
    upstream.on('error', () => {});
  }
}
