/**
 * A JSON-RPC 2.0 server on the `ws` package, on 127.0.0.1 port 0, for the request/reply tests.
 * Methods:
 *   echo(x)            -> x
 *   add(a, b)          -> a + b
 *   later(ms, x)       -> x after ms (server side)
 *   fail(code, msg)    -> error {code, message, data: 'detail'}
 *   hold()             -> never answers (timeouts, drops)
 *   count(tag)         -> how many times count(tag) executed so far (idempotent re-sends)
 *   dropAfter(tag)     -> executes (counts like count), then drops the connection without an answer
 *   dropFirst(tag)     -> the same the first time; later executions answer their count
 *   notifyMe(n)        -> sends n notifications `tick` {i}, then answers n
 *   garbage()          -> sends a non-JSON frame, an invalid response and a reply with an unknown
 *                         id, then answers 'ok'
 *   nullError()        -> answers with an error whose id is null
 * Batches are answered as batches (notifications inside get no answer).
 */
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface JsonRpcTestServer {
  readonly port: number;
  readonly url: string;
  /** Every request received, in order (method and id; id undefined for notifications). */
  readonly received: Array<{ method: string; id: unknown }>;
  /** Executions per count()/dropAfter() tag. */
  readonly executions: Map<string, number>;
  readonly sockets: Set<WebSocket>;
  /** Connections accepted so far. */
  connections: number;
  /** Resolves when `n` requests in all have been received. */
  receivedCount(n: number): Promise<void>;
  /** Resolves with the next connection. */
  nextConnection(): Promise<WebSocket>;
  /** Cut every connection (no close frame). */
  dropAll(): void;
  /** Refuse upgrades (503) until `accept()`. */
  refuse(): void;
  accept(): void;
  stop(): Promise<void>;
}

interface RpcRequest {
  jsonrpc: string;
  method: string;
  params?: unknown[];
  id?: number | string;
}

export async function startJsonRpcServer(): Promise<JsonRpcTestServer> {
  let refusing = false;
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    verifyClient: (_info, done) => (refusing ? done(false, 503) : done(true)),
  });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const port = (wss.address() as AddressInfo).port;
  const received: Array<{ method: string; id: unknown }> = [];
  const executions = new Map<string, number>();
  const sockets = new Set<WebSocket>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let countWaiters: Array<{ n: number; resolve: () => void }> = [];
  let connectionWaiters: Array<(ws: WebSocket) => void> = [];

  const server: JsonRpcTestServer = {
    port,
    url: `ws://127.0.0.1:${port}/rpc`,
    received,
    executions,
    sockets,
    connections: 0,
    receivedCount: (n) =>
      received.length >= n ? Promise.resolve() : new Promise((resolve) => countWaiters.push({ n, resolve })),
    nextConnection: () => new Promise((resolve) => connectionWaiters.push(resolve)),
    dropAll: () => {
      for (const ws of sockets) ws.terminate();
    },
    refuse: () => {
      refusing = true;
    },
    accept: () => {
      refusing = false;
    },
    stop: async () => {
      for (const timer of timers) clearTimeout(timer);
      countWaiters = [];
      connectionWaiters = [];
      for (const ws of sockets) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };

  function note(request: RpcRequest): void {
    received.push({ method: request.method, id: request.id });
    countWaiters = countWaiters.filter((w) => {
      if (received.length < w.n) return true;
      w.resolve();
      return false;
    });
  }

  function bump(tag: string): number {
    const n = (executions.get(tag) ?? 0) + 1;
    executions.set(tag, n);
    return n;
  }

  /** Handle one request; returns its response object, or undefined (none, or sent later). */
  function handle(ws: WebSocket, request: RpcRequest, respondLater: (response: object) => void): object | undefined {
    note(request);
    const id = request.id;
    const params = request.params ?? [];
    const ok = (result: unknown) => (id === undefined ? undefined : { jsonrpc: '2.0', id, result });
    switch (request.method) {
      case 'echo':
        return ok(params[0]);
      case 'add':
        return ok((params[0] as number) + (params[1] as number));
      case 'later': {
        const timer = setTimeout(() => {
          timers.delete(timer);
          const response = ok(params[1]);
          if (response) respondLater(response);
        }, params[0] as number);
        timers.add(timer);
        return undefined;
      }
      case 'fail':
        return id === undefined
          ? undefined
          : { jsonrpc: '2.0', id, error: { code: params[0] as number, message: params[1] as string, data: 'detail' } };
      case 'hold':
        return undefined;
      case 'count':
        return ok(bump(String(params[0])));
      case 'dropFirst': {
        const n = bump(String(params[0]));
        if (n > 1) return ok(n);
        setImmediate(() => ws.terminate());
        return undefined;
      }
      case 'dropAfter':
        bump(String(params[0]));
        // After this frame's other members are handled: the answer never leaves.
        setImmediate(() => ws.terminate());
        return undefined;
      case 'notifyMe': {
        const n = params[0] as number;
        for (let i = 0; i < n; i++) ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'tick', params: { i } }));
        return ok(n);
      }
      case 'garbage':
        ws.send('this is not JSON {');
        ws.send(JSON.stringify({ jsonrpc: '2.0', id: 123456, result: 1, error: { code: 1, message: 'both' } }));
        ws.send(JSON.stringify({ jsonrpc: '2.0', id: 987654, result: 'nobody asked' }));
        return ok('ok');
      case 'nullError':
        return { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Invalid Request' } };
      default:
        return id === undefined ? undefined : { jsonrpc: '2.0', id, error: { code: -32601, message: 'Method not found' } };
    }
  }

  wss.on('connection', (ws) => {
    server.connections++;
    sockets.add(ws);
    ws.on('close', () => sockets.delete(ws));
    ws.on('error', () => {});
    const send = (value: unknown) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(value));
    };
    ws.on('message', (data) => {
      let value: unknown;
      try {
        value = JSON.parse(String(data));
      } catch {
        send({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } });
        return;
      }
      if (Array.isArray(value)) {
        const out = value.map((r) => handle(ws, r as RpcRequest, send)).filter((r) => r !== undefined);
        if (out.length > 0) send(out);
      } else {
        const response = handle(ws, value as RpcRequest, send);
        if (response !== undefined) send(response);
      }
    });
    for (const wake of connectionWaiters.splice(0)) wake(ws);
  });
  return server;
}
