/**
 * A market-feed server on the `ws` package, on 127.0.0.1 port 0, with an exchange's limits:
 * at most `maxStreams` streams per connection and `subscribeRate` subscribe/unsubscribe messages
 * per connection (a token bucket), new connections at most `connectRate`; above any of them it
 * closes the connection with 1008 and records the violation.
 *
 * Client messages: `{"op":"subscribe"|"unsubscribe","streams":[...],"id"?:n}`; with an id it
 * answers `{"id":n,"result":[...streams]}` (or `{"id":n,"error":{...}}` for a stream named
 * `bad*`). Stream messages: `{"stream":s,"seq":n,"data":...}`, numbered per stream (the number
 * goes on across connections, like an exchange's update id).
 *
 * Controls: publish on demand or on an interval, go silent on a stream (until it is subscribed
 * again), skip sequence numbers, replay the last messages on a subscribe, drop connections, refuse
 * connections matching a test.
 */
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface Rate {
  readonly count: number;
  readonly per: number;
}

export interface FeedServerOptions {
  readonly maxStreams?: number;
  readonly subscribeRate?: Rate;
  readonly connectRate?: Rate;
  /** On a subscribe, send the stream's last `n` messages again first (they are duplicates). */
  readonly replayOnSubscribe?: number;
}

export interface FeedConnection {
  readonly index: number;
  readonly ws: WebSocket;
  readonly url: string;
  readonly streams: Set<string>;
  subscribeMessages: number;
  open: boolean;
}

export interface FeedServer {
  readonly port: number;
  readonly url: string;
  readonly connections: FeedConnection[];
  readonly violations: string[];
  /** Subscribe/unsubscribe messages received per stream (subscribe count). */
  readonly subscribes: Map<string, number>;
  /** Open connections. */
  open(): FeedConnection[];
  /** Streams subscribed over all open connections (a stream on two connections counts twice). */
  totalStreams(): number;
  /** Resolves once `test()` holds; checked after every connect, close, subscribe and unsubscribe. */
  until(test: () => boolean): Promise<void>;
  /** Send the next `n` messages of `stream` to every connection subscribed to it. */
  publish(stream: string, n?: number): void;
  /** Publish every subscribed stream (once each) every `ms`, until `stopPublishing()`. */
  publishEvery(ms: number): void;
  stopPublishing(): void;
  /** Stop publishing `stream` until it is subscribed again. */
  silence(stream: string): void;
  /** Skip `n` sequence numbers of `stream` (messages lost on the server's side). */
  skip(stream: string, n?: number): void;
  /** Cut connections (no close frame): all, or those `test` picks. */
  drop(test?: (conn: FeedConnection) => boolean): void;
  /** Refuse upgrades (503) whose URL `test` picks; `undefined` accepts all again. */
  refuse(test: ((url: string) => boolean) | undefined): void;
  stop(): Promise<void>;
}

class Bucket {
  #tokens: number;
  #at = performance.now();
  constructor(readonly rate: Rate) {
    this.#tokens = rate.count;
  }
  take(): boolean {
    const now = performance.now();
    this.#tokens = Math.min(this.rate.count, this.#tokens + ((now - this.#at) * this.rate.count) / this.rate.per);
    this.#at = now;
    // A millisecond of slack for timer granularity between the two processes' clocks.
    if (this.#tokens + this.rate.count / this.rate.per < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

export async function startFeedServer(options: FeedServerOptions = {}): Promise<FeedServer> {
  let refusing: ((url: string) => boolean) | undefined;
  const connectBucket = options.connectRate ? new Bucket(options.connectRate) : undefined;
  const violations: string[] = [];
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    verifyClient: (info: { req: IncomingMessage }, done) => {
      if (refusing?.(info.req.url ?? '')) return done(false, 503);
      done(true);
    },
  });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const port = (wss.address() as AddressInfo).port;
  const connections: FeedConnection[] = [];
  const seqs = new Map<string, number>();
  const history = new Map<string, string[]>();
  const silenced = new Set<string>();
  const subscribes = new Map<string, number>();
  let waiters: Array<{ test: () => boolean; resolve: () => void }> = [];
  let publisher: ReturnType<typeof setInterval> | undefined;

  function changed(): void {
    waiters = waiters.filter((w) => {
      if (!w.test()) return true;
      w.resolve();
      return false;
    });
  }

  function message(stream: string): string {
    const seq = (seqs.get(stream) ?? 0) + 1;
    seqs.set(stream, seq);
    const text = JSON.stringify({ stream, seq, data: { price: seq } });
    if (options.replayOnSubscribe) {
      const list = history.get(stream) ?? [];
      list.push(text);
      if (list.length > options.replayOnSubscribe) list.shift();
      history.set(stream, list);
    }
    return text;
  }

  const server: FeedServer = {
    port,
    url: `ws://127.0.0.1:${port}/feed`,
    connections,
    violations,
    subscribes,
    open: () => connections.filter((c) => c.open),
    totalStreams: () => connections.reduce((n, c) => n + (c.open ? c.streams.size : 0), 0),
    until: (test) => (test() ? Promise.resolve() : new Promise((resolve) => waiters.push({ test, resolve }))),
    publish: (stream, n = 1) => {
      for (let i = 0; i < n; i++) {
        const text = message(stream);
        for (const conn of connections) if (conn.open && conn.streams.has(stream)) conn.ws.send(text);
      }
    },
    publishEvery: (ms) => {
      publisher = setInterval(() => {
        const streams = new Set<string>();
        for (const conn of connections) if (conn.open) for (const s of conn.streams) streams.add(s);
        for (const stream of streams) if (!silenced.has(stream)) server.publish(stream);
      }, ms);
    },
    stopPublishing: () => {
      if (publisher !== undefined) clearInterval(publisher);
      publisher = undefined;
    },
    silence: (stream) => {
      silenced.add(stream);
    },
    skip: (stream, n = 1) => {
      seqs.set(stream, (seqs.get(stream) ?? 0) + n);
    },
    drop: (test) => {
      for (const conn of connections) if (conn.open && (!test || test(conn))) conn.ws.terminate();
    },
    refuse: (test) => {
      refusing = test;
    },
    stop: async () => {
      server.stopPublishing();
      waiters = [];
      for (const conn of connections) conn.ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };

  function violate(conn: FeedConnection, why: string): void {
    violations.push(`connection ${conn.index}: ${why}`);
    conn.ws.close(1008, why.slice(0, 100));
  }

  wss.on('connection', (ws, request) => {
    const conn: FeedConnection = { index: connections.length, ws, url: request.url ?? '', streams: new Set(), subscribeMessages: 0, open: true };
    connections.push(conn);
    ws.on('error', () => {});
    ws.on('close', () => {
      conn.open = false;
      changed();
    });
    if (connectBucket && !connectBucket.take()) violate(conn, 'connect rate exceeded');
    const sendBucket = options.subscribeRate ? new Bucket(options.subscribeRate) : undefined;
    ws.on('message', (data) => {
      if (!conn.open) return;
      let request: { op?: string; streams?: string[]; id?: number };
      try {
        request = JSON.parse(String(data));
      } catch {
        violate(conn, 'not JSON');
        return;
      }
      const streams = request.streams ?? [];
      conn.subscribeMessages++;
      if (sendBucket && !sendBucket.take()) {
        violate(conn, `subscribe rate exceeded (message ${conn.subscribeMessages})`);
        return;
      }
      if (request.op === 'subscribe') {
        const bad = streams.filter((s) => s.startsWith('bad'));
        if (bad.length > 0 && request.id !== undefined) {
          ws.send(JSON.stringify({ id: request.id, error: { code: 400, msg: `unknown stream ${bad[0]}` } }));
          return;
        }
        for (const stream of streams) {
          conn.streams.add(stream);
          silenced.delete(stream);
          subscribes.set(stream, (subscribes.get(stream) ?? 0) + 1);
        }
        if (options.maxStreams !== undefined && conn.streams.size > options.maxStreams) {
          violate(conn, `too many streams (${conn.streams.size} > ${options.maxStreams})`);
          return;
        }
        if (request.id !== undefined) ws.send(JSON.stringify({ id: request.id, result: streams }));
        for (const stream of streams) for (const text of history.get(stream) ?? []) ws.send(text);
      } else if (request.op === 'unsubscribe') {
        for (const stream of streams) conn.streams.delete(stream);
        if (request.id !== undefined) ws.send(JSON.stringify({ id: request.id, result: streams }));
      }
      changed();
    });
    changed();
  });
  return server;
}
