/**
 * A loopback TCP proxy for fault injection (Node only). Clients connect to the proxy, the proxy
 * connects to the target and copies bytes both ways, and a test breaks the path on purpose:
 *
 * - pass through (the default, and again after `heal()`);
 * - `reset()`: abort every open connection with a TCP RST, both sides (a crashed middlebox);
 * - `blackhole()`: stop forwarding on the open connections, both ways, keeping every socket
 *   open: no FIN, no RST, no data (a NAT timeout, a pulled cable: a half-open connection);
 * - `setDelay(ms)`: hold every chunk `ms` before forwarding it, keeping order;
 * - `setBandwidth(bytesPerSecond)`: forward at most that many bytes per second each way;
 * - `setSegmentSize(bytes)`: forward in writes of at most that many bytes, one per event-loop
 *   turn (`1`: one-byte segments, every parser boundary gets exercised);
 * - `refuse()`: stop listening, so new connects get ECONNREFUSED; `listen()` reopens the port;
 * - `halfClose()`: send FIN to the clients (as a server that shut down its sending side) and
 *   drop what the target sends afterwards, while the clients may still write.
 *
 * Settings apply to both directions and to chunks that arrive after the call. The proxy listens
 * on 127.0.0.1 and connects to 127.0.0.1 only. `close()` ends everything it holds.
 */
import net from 'node:net';
import { InvalidArgumentError, InvalidOptionError } from '../adapters/errors.js';

export interface FaultProxyOptions {
  /** Port of the target on 127.0.0.1. */
  readonly targetPort: number;
  /** Port to listen on. Default 0 (any free port). */
  readonly port?: number;
}

/** A chunk is forwarded at most this often when the bandwidth is limited, in ms. */
const TICK_MS = 10;
/** Past this many bytes held (delay, throttle), the sending socket is paused. */
const HIGH_WATER = 1024 * 1024;

interface Settings {
  delayMs: number;
  bytesPerSecond: number;
  segmentSize: number;
}

/** A TCP port to connect to: a whole number from 1 to 65535. */
function isPort(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535;
}

/**
 * A fault setting: a finite number >= 0 (whole where `integer`). A fraction of a byte per
 * segment would make the proxy write empty slices forever, and NaN would hold every chunk.
 */
function checkSetting(call: string, value: unknown, integer = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
    throw new InvalidArgumentError(`${call}() expects a ${integer ? 'whole ' : ''}number >= 0, got ${String(value)}`);
  }
  return value;
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

/** One direction of a connection: the chunks held back, forwarded in order. */
class Lane {
  readonly #from: net.Socket;
  readonly #to: net.Socket;
  readonly #settings: Settings;
  readonly #queue: Array<{ chunk: Buffer; due: number }> = [];
  #bytes = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #immediate: ReturnType<typeof setImmediate> | undefined;
  #ending = false;
  dropped = false;

  constructor(from: net.Socket, to: net.Socket, settings: Settings) {
    this.#from = from;
    this.#to = to;
    this.#settings = settings;
  }

  push(chunk: Buffer): void {
    if (this.dropped) return;
    const { delayMs, bytesPerSecond, segmentSize } = this.#settings;
    if (this.#queue.length === 0 && delayMs <= 0 && bytesPerSecond <= 0 && segmentSize <= 0) {
      this.#to.write(chunk);
      return;
    }
    this.#queue.push({ chunk, due: Date.now() + Math.max(0, delayMs) });
    this.#bytes += chunk.length;
    if (this.#bytes >= HIGH_WATER) this.#from.pause();
    this.#schedule();
  }

  /** The source ended: end the destination once what is held went out. */
  end(): void {
    this.#ending = true;
    this.#schedule();
  }

  /** Forget what is held and forward nothing more. */
  drop(): void {
    this.dropped = true;
    this.#queue.length = 0;
    this.#bytes = 0;
    this.dispose();
  }

  dispose(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    this.#timer = undefined;
    this.#immediate = undefined;
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#immediate !== undefined || this.dropped) return;
    const head = this.#queue[0];
    if (head === undefined) {
      if (this.#ending && !this.#to.destroyed) this.#to.end();
      return;
    }
    const wait = head.due - Date.now();
    if (wait > 0) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#run();
      }, wait);
    } else {
      this.#run();
    }
  }

  #run(): void {
    if (this.dropped || this.#to.destroyed) return;
    const { bytesPerSecond, segmentSize } = this.#settings;
    let budget = bytesPerSecond > 0 ? Math.max(1, Math.floor((bytesPerSecond * TICK_MS) / 1000)) : Infinity;
    const now = Date.now();
    while (budget > 0) {
      const head = this.#queue[0];
      if (head === undefined || head.due > now) break;
      const size = Math.min(head.chunk.length, budget, segmentSize > 0 ? segmentSize : Infinity);
      this.#to.write(head.chunk.subarray(0, size));
      budget -= size;
      this.#bytes -= size;
      if (size === head.chunk.length) this.#queue.shift();
      else head.chunk = head.chunk.subarray(size);
      // One segment per event-loop turn, so the receiver reads each on its own.
      if (segmentSize > 0) break;
    }
    if (this.#bytes < HIGH_WATER / 2 && this.#from.isPaused()) this.#from.resume();
    if (this.#queue.length === 0) {
      this.#schedule();
    } else if (bytesPerSecond > 0) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#run();
      }, TICK_MS);
    } else if (segmentSize > 0) {
      this.#immediate = setImmediate(() => {
        this.#immediate = undefined;
        this.#run();
      });
    } else {
      this.#schedule();
    }
  }
}

interface Pair {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  readonly up: Lane;
  readonly down: Lane;
  clientClosed: boolean;
}

export class FaultProxy {
  #targetPort: number;
  #port: number;
  #server: net.Server | undefined;
  readonly #settings: Settings = { delayMs: 0, bytesPerSecond: 0, segmentSize: 0 };
  readonly #pairs = new Set<Pair>();
  #idleWaiters: Array<() => void> = [];
  /** Connections accepted so far. */
  accepted = 0;

  private constructor(options: FaultProxyOptions) {
    if (!isPort(options.targetPort)) {
      throw new InvalidOptionError('targetPort', `expected a port from 1 to 65535, got ${String(options.targetPort)}`);
    }
    const port = options.port ?? 0;
    if (port !== 0 && !isPort(port)) throw new InvalidOptionError('port', `expected 0 or a port from 1 to 65535, got ${String(port)}`);
    this.#targetPort = options.targetPort;
    this.#port = port;
  }

  /** Start a proxy to `127.0.0.1:targetPort`. */
  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const proxy = new FaultProxy(options);
    await proxy.listen();
    return proxy;
  }

  /** The port the proxy listens on. */
  get port(): number {
    return this.#port;
  }

  /** `ws://127.0.0.1:PORT` + path. */
  url(path = '/'): string {
    return `ws://127.0.0.1:${this.#port}${path}`;
  }

  /** Connections whose client side is still open. */
  get connections(): number {
    let open = 0;
    for (const pair of this.#pairs) if (!pair.clientClosed) open++;
    return open;
  }

  /** Resolves once no client connection is open (every client closed its socket, or was cut). */
  clientsClosed(): Promise<void> {
    if (this.connections === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Point new connections at another target port (a restarted server on a new port). */
  retarget(port: number): void {
    if (!isPort(port)) throw new InvalidArgumentError(`retarget() expects a port from 1 to 65535, got ${String(port)}`);
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
      this.#forget(pair);
      abort(pair.client);
      abort(pair.upstream);
    }
  }

  /** Stop forwarding on every open connection, both ways, without closing anything. */
  blackhole(): void {
    for (const pair of this.#pairs) {
      pair.up.drop();
      pair.down.drop();
    }
  }

  /**
   * Send FIN to every client (its reads end) and drop what the target sends from now on; what
   * clients send still reaches the target.
   */
  halfClose(): void {
    for (const pair of this.#pairs) {
      pair.down.drop();
      if (!pair.client.destroyed) pair.client.end();
    }
  }

  /** Hold every chunk `ms` before forwarding it (0: none). */
  setDelay(ms: number): void {
    this.#settings.delayMs = checkSetting('setDelay', ms);
  }

  /** Forward at most `bytesPerSecond` each way (0: unlimited). */
  setBandwidth(bytesPerSecond: number): void {
    this.#settings.bytesPerSecond = checkSetting('setBandwidth', bytesPerSecond);
  }

  /** Forward in writes of at most `bytes`, one per event-loop turn (0: as received). */
  setSegmentSize(bytes: number): void {
    this.#settings.segmentSize = checkSetting('setSegmentSize', bytes, true);
  }

  /** Back to passing everything through at once (open connections keep a black hole). */
  heal(): void {
    this.#settings.delayMs = 0;
    this.#settings.bytesPerSecond = 0;
    this.#settings.segmentSize = 0;
  }

  /** Close everything: the listener, every connection, every held chunk. */
  async close(): Promise<void> {
    for (const pair of [...this.#pairs]) {
      this.#forget(pair);
      pair.client.destroy();
      pair.upstream.destroy();
    }
    const server = this.#server;
    this.#server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #forget(pair: Pair): void {
    pair.up.dispose();
    pair.down.dispose();
    pair.clientClosed = true;
    this.#pairs.delete(pair);
    this.#wakeIdle();
  }

  #wakeIdle(): void {
    if (this.connections > 0) return;
    for (const wake of this.#idleWaiters.splice(0)) wake();
  }

  #accept(client: net.Socket): void {
    this.accepted++;
    const upstream = net.connect({ host: '127.0.0.1', port: this.#targetPort });
    const pair: Pair = {
      client,
      upstream,
      up: new Lane(client, upstream, this.#settings),
      down: new Lane(upstream, client, this.#settings),
      clientClosed: false,
    };
    this.#pairs.add(pair);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.on('data', (chunk: Buffer) => pair.up.push(chunk));
    upstream.on('data', (chunk: Buffer) => pair.down.push(chunk));
    // An orderly end (FIN) is passed on after what is held, unless the lane is a black hole.
    client.on('end', () => {
      if (!pair.up.dropped) pair.up.end();
    });
    upstream.on('end', () => {
      if (!pair.down.dropped) pair.down.end();
    });
    client.on('close', (hadError) => {
      pair.clientClosed = true;
      this.#wakeIdle();
      // Behind a black hole the target learns nothing (it stays half-open, as it would).
      if (pair.up.dropped) {
        if (upstream.destroyed) this.#forget(pair);
        return;
      }
      this.#forget(pair);
      // An abort on one side (RST, refused target) is passed on as an abort.
      if (hadError) abort(upstream);
      else upstream.destroy();
    });
    upstream.on('close', (hadError) => {
      if (pair.down.dropped) {
        if (pair.clientClosed) this.#forget(pair);
        return;
      }
      this.#forget(pair);
      if (hadError) abort(client);
      else client.destroy();
    });
    client.on('error', () => {});
    upstream.on('error', () => {});
  }
}
