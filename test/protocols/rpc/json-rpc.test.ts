/**
 * The JSON-RPC client and the requester under it, with the ws adapter, against a real JSON-RPC
 * server on 127.0.0.1: correlation under load, timeouts, aborts, what a drop does to requests in
 * each stage, idempotent re-sends, notifications, batches, and bad input that must not break the
 * connection.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Message } from '../../../src/adapters/types.js';
import { createNativeAdapter } from '../../../src/adapters/native/index.js';
import { createWsAdapter } from '../../../src/adapters/ws.js';
import { addOpenHook, createEngine, type Engine, type EngineOptions } from '../../../src/engine/index.js';
import {
  createJsonRpcClient,
  createRequester,
  JsonRpcError,
  RequesterClosedError,
  RequestNotSentError,
  RequestOutcomeUnknownError,
  RequestQueueFullError,
  RequestTimeoutError,
  type JsonRpcClient,
  type Reply,
} from '../../../src/protocols/rpc/index.js';
import { startJsonRpcServer, type JsonRpcTestServer } from '../helpers/json-rpc-server.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

async function setup(
  engineOptions: Partial<EngineOptions> = {},
  start = true,
): Promise<{ server: JsonRpcTestServer; engine: Engine; client: JsonRpcClient<{ tick: { i: number } }> }> {
  const server = await startJsonRpcServer();
  cleanups.push(() => server.stop());
  const engine = createEngine({
    url: server.url,
    adapter: () => createWsAdapter(),
    heartbeat: false,
    reconnect: { minDelay: 10, maxDelay: 40, jitter: 0 },
    ...engineOptions,
  });
  cleanups.push(() => engine.stop());
  const client = createJsonRpcClient<{ tick: { i: number } }>(engine);
  cleanups.push(() => client.close());
  if (start) await engine.start();
  return { server, engine, client };
}

function nextEvent<T>(subscribe: (listener: (value: T) => void) => () => void): Promise<T> {
  return new Promise((resolve) => {
    const off = subscribe((value) => {
      off();
      resolve(value);
    });
  });
}

describe('JSON-RPC client over the ws adapter', () => {
  it('answers calls; error responses reject with JsonRpcError {code, message, data}', async () => {
    const { client } = await setup();
    await expect(client.call('add', [2, 3])).resolves.toBe(5);
    const error = await client.call('fail', [-32001, 'insufficient funds']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JsonRpcError);
    expect(error).toMatchObject({ code: -32001, message: 'insufficient funds', data: 'detail' });
    await expect(client.call('nope')).rejects.toMatchObject({ code: -32601 });
  });

  it.each([
    ['ws', () => createWsAdapter()],
    ['native', () => createNativeAdapter()],
  ] as const)('matches 1,000 concurrent calls to their replies, answered out of order (%s adapter)', async (_name, adapter) => {
    const { server, client } = await setup({ adapter });
    const order: number[] = [];
    // Half answered at once, half after a server-side delay that shuffles them.
    const calls = Array.from({ length: 1000 }, (_, i) =>
      (i % 2 === 0 ? client.call<number>('add', [i, 1_000_000]) : client.call<number>('later', [(i * 7) % 23, i + 1_000_000])).then((r) => {
        order.push(i);
        return r;
      }),
    );
    const results = await Promise.all(calls);
    expect(results).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1_000_000));
    expect(order).not.toEqual([...order].sort((a, b) => a - b));
    expect(server.received).toHaveLength(1000);
    expect(client.requester.inFlight).toBe(0);
  });

  it('keeps at most maxInFlight written; more wait in line, and past maxQueued are refused', async () => {
    const server = await startJsonRpcServer();
    cleanups.push(() => server.stop());
    const engine = createEngine({ url: server.url, adapter: () => createWsAdapter(), heartbeat: false });
    cleanups.push(() => engine.stop());
    await engine.start();
    const client = createJsonRpcClient(engine, { maxInFlight: 2, maxQueued: 1 });
    cleanups.push(() => client.close());
    const held = [client.call('hold', [], { timeout: 60_000 }), client.call('hold', [], { timeout: 60_000 })];
    held.forEach((p) => p.catch(() => {}));
    const third = client.call('echo', ['third']);
    await expect(client.call('echo', ['fourth'])).rejects.toBeInstanceOf(RequestQueueFullError);
    await server.receivedCount(2);
    expect(client.requester.inFlight).toBe(2);
    expect(client.requester.queued).toBe(1);
    expect(server.received.map((r) => r.method)).toEqual(['hold', 'hold']);
    client.close();
    await expect(third).rejects.toBeInstanceOf(RequesterClosedError);
    await expect(held[0]).rejects.toBeInstanceOf(RequesterClosedError);
  });

  it('an empty batch resolves with no results and writes nothing (an empty array is an invalid request)', async () => {
    const { server, engine, client } = await setup();
    const written = engine.metrics().messagesOut;
    await expect(client.batch([])).resolves.toEqual([]);
    expect(engine.metrics().messagesOut).toBe(written);
    await expect(client.call('echo', ['marker'])).resolves.toBe('marker');
    expect(server.received.map((r) => r.method)).toEqual(['echo']);
  });

  it('after close(), notifications and notification-only batches are refused too, never written', async () => {
    const { server, engine, client } = await setup();
    await client.notify('before');
    await server.receivedCount(1);
    client.close();
    await expect(client.notify('after')).rejects.toBeInstanceOf(RequesterClosedError);
    await expect(client.batch([{ method: 'after', notify: true }])).rejects.toBeInstanceOf(RequesterClosedError);
    await expect(client.call('echo', ['x'])).rejects.toBeInstanceOf(RequesterClosedError);
    // A round trip through another client of the same connection: whatever was written before it has arrived.
    const other = createJsonRpcClient(engine);
    cleanups.push(() => other.close());
    await expect(other.call('echo', ['marker'])).resolves.toBe('marker');
    expect(server.received.map((r) => r.method)).toEqual(['before', 'echo']);
  });

  it('times out (RequestTimeoutError) and aborts (the signal\'s reason); late replies are reported, not thrown', async () => {
    const { server, client } = await setup();
    const timedOut = await client.call('later', [150, 'late'], { timeout: 30 }).catch((e: unknown) => e);
    expect(timedOut).toBeInstanceOf(RequestTimeoutError);
    expect((timedOut as RequestTimeoutError).timeoutMs).toBe(30);
    const late = nextEvent<Reply>((l) => client.on('unknown-reply', l));
    expect((await late).result).toBe('late');

    const controller = new AbortController();
    const aborted = client.call('hold', [], { signal: controller.signal });
    await server.receivedCount(2);
    controller.abort(new Error('user gave up'));
    await expect(aborted).rejects.toThrow('user gave up');
    expect(client.requester.inFlight).toBe(0);
    await expect(client.call('echo', ['still up'])).resolves.toBe('still up');
  });

  it('a drop: written and unanswered -> RequestOutcomeUnknownError; waiting for a slot -> RequestNotSentError', async () => {
    const server = await startJsonRpcServer();
    cleanups.push(() => server.stop());
    const engine = createEngine({ url: server.url, adapter: () => createWsAdapter(), heartbeat: false, reconnect: { minDelay: 10, jitter: 0 } });
    cleanups.push(() => engine.stop());
    await engine.start();
    const client = createJsonRpcClient(engine, { maxInFlight: 1 });
    cleanups.push(() => client.close());
    const executed = client.call('dropAfter', ['order-1']);
    const waiting = client.call('echo', ['behind it']);
    const [first, second] = await Promise.allSettled([executed, waiting]);
    expect(first.status === 'rejected' && first.reason).toBeInstanceOf(RequestOutcomeUnknownError);
    expect(second.status === 'rejected' && second.reason).toBeInstanceOf(RequestNotSentError);
    expect(server.executions.get('order-1')).toBe(1);
    expect(server.received.map((r) => r.method)).toEqual(['dropAfter']);
  });

  it('made while disconnected: RequestNotSentError at once; idempotent ones wait for the connection', async () => {
    const { server, engine, client } = await setup();
    server.refuse();
    const closed = nextEvent<unknown>((l) => engine.on('close', l));
    server.dropAll();
    await closed;
    await expect(client.call('echo', ['now'])).rejects.toBeInstanceOf(RequestNotSentError);
    const patient = client.call('echo', ['after reconnect'], { idempotent: true, timeout: 10_000 });
    const reopened = nextEvent<unknown>((l) => engine.on('open', l));
    server.accept();
    await reopened;
    await expect(patient).resolves.toBe('after reconnect');
  });

  it('an idempotent call that was written when the connection dropped is re-sent on the next one', async () => {
    const { server, client } = await setup();
    const resent: number[] = [];
    client.on('resent', (id) => resent.push(id));
    const result = await client.call<number>('dropFirst', ['quote-7'], { idempotent: true });
    // It executed twice: that is what idempotent allows, and why only idempotent calls are re-sent.
    expect(result).toBe(2);
    expect(resent).toHaveLength(1);
    expect(server.connections).toBe(2);
    const ids = server.received.map((r) => r.id);
    expect(ids[0]).toBe(ids[1]);
  });

  it('an idempotent call whose deadline passes while disconnected fails with its timeout', async () => {
    const { server, engine, client } = await setup();
    server.refuse();
    const closed = nextEvent<unknown>((l) => engine.on('close', l));
    const call = client.call('dropAfter', ['x'], { idempotent: true, timeout: 200 }).catch((e: unknown) => e);
    await closed;
    const error = await call;
    // It was written once, so it may have executed: a timeout, not "not sent".
    expect(error).toBeInstanceOf(RequestTimeoutError);
    server.accept();
  });

  it('the engine stopping fails what waits: parked idempotent calls too', async () => {
    const { server, engine, client } = await setup();
    server.refuse();
    const closed = nextEvent<unknown>((l) => engine.on('close', l));
    server.dropAll();
    await closed;
    const parked = client.call('echo', [1], { idempotent: true, timeout: 60_000 });
    await engine.stop();
    await expect(parked).rejects.toBeInstanceOf(RequestNotSentError);
  });

  it('malformed frames, invalid responses and unknown ids are reported; the connection is kept', async () => {
    const { engine, client } = await setup();
    const malformed: unknown[] = [];
    const unknown: Reply[] = [];
    const delivered: Message[] = [];
    client.on('malformed', (error) => malformed.push(error));
    client.on('unknown-reply', (reply) => unknown.push(reply));
    engine.on('message', (m) => delivered.push(m));
    const connectionId = engine.connectionId;
    await expect(client.call('garbage')).resolves.toBe('ok');
    expect(malformed).toHaveLength(2);
    expect(malformed.every((e) => e instanceof SyntaxError)).toBe(true);
    expect(unknown.map((r) => r.id)).toEqual([987654]);
    expect(delivered).toEqual([]);
    expect(engine.connectionId).toBe(connectionId);
    await expect(client.call('echo', ['alive'])).resolves.toBe('alive');
  });

  it('an error with id null fails the one call in flight; with several in flight it is reported', async () => {
    const { server, client } = await setup();
    await expect(client.call('nullError')).rejects.toMatchObject({ code: -32600 });
    const held = client.call('hold', [], { timeout: 60_000 });
    held.catch(() => {});
    await server.receivedCount(2);
    const reported = nextEvent<Reply>((l) => client.on('unknown-reply', l));
    const second = client.call('nullError', [], { timeout: 60_000 });
    second.catch(() => {});
    expect((await reported).id).toBeNull();
    expect(client.requester.inFlight).toBe(2);
  });

  it('server notifications arrive as typed events and are not delivered as messages', async () => {
    const { engine, client } = await setup();
    const ticks: number[] = [];
    const all: string[] = [];
    const delivered: Message[] = [];
    client.onNotification('tick', (params) => ticks.push(params.i));
    client.on('notification', (n) => all.push(n.method));
    engine.on('message', (m) => delivered.push(m));
    await expect(client.call('notifyMe', [3])).resolves.toBe(3);
    expect(ticks).toEqual([0, 1, 2]);
    expect(all).toEqual(['tick', 'tick', 'tick']);
    expect(delivered).toEqual([]);
    // A listener that throws is the listener's fault: reported as `error`, not as a malformed message.
    const errors: unknown[] = [];
    const malformed: unknown[] = [];
    client.on('error', (error) => errors.push(error));
    client.on('malformed', (error) => malformed.push(error));
    client.onNotification('tick', () => {
      throw new Error('listener bug');
    });
    await expect(client.call('notifyMe', [1])).resolves.toBe(1);
    expect(errors).toEqual([new Error('listener bug')]);
    expect(malformed).toEqual([]);
    expect(ticks).toEqual([0, 1, 2, 0]);
  });

  it('batches: calls and notifications in one frame, one settled result per item', async () => {
    const { server, client } = await setup();
    const results = await client.batch([
      { method: 'add', params: [1, 2] },
      { method: 'log', params: ['x'], notify: true },
      { method: 'fail', params: [-32002, 'no'] },
      { method: 'echo', params: ['e'] },
    ]);
    expect(results[0]).toEqual({ status: 'fulfilled', value: 3 });
    expect(results[1]).toEqual({ status: 'fulfilled', value: undefined });
    expect(results[2]!.status).toBe('rejected');
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ code: -32002 });
    expect(results[3]).toEqual({ status: 'fulfilled', value: 'e' });
    expect(server.received.map((r) => r.method)).toEqual(['add', 'log', 'fail', 'echo']);
    expect(server.received[1]!.id).toBeUndefined();
    await client.notify('log', ['only']);
    await server.receivedCount(5);
    expect(server.received[4]).toEqual({ method: 'log', id: undefined });
  });

  it('requests written inside an open hook (context) are answered once the connection is open', async () => {
    const server = await startJsonRpcServer();
    cleanups.push(() => server.stop());
    const engine = createEngine({ url: server.url, adapter: () => createWsAdapter(), heartbeat: false });
    cleanups.push(() => engine.stop());
    const client = createJsonRpcClient(engine);
    let login: Promise<unknown> | undefined;
    addOpenHook(engine, (ctx) => {
      login = client.requester.request({ call: { method: 'echo', params: ['logged in'] } }, { context: ctx });
    });
    await engine.start();
    await expect(login).resolves.toBe('logged in');
  });
});

describe('createRequester with a custom codec', () => {
  it('leaves what decode does not claim to the engine, and validates its options', async () => {
    const server = await startJsonRpcServer();
    cleanups.push(() => server.stop());
    const engine = createEngine({ url: server.url, adapter: () => createWsAdapter(), heartbeat: false });
    cleanups.push(() => engine.stop());
    expect(() => createRequester(engine, { encode: () => '', decode: () => undefined }, { timeout: -1 })).toThrow(/timeout/);
    expect(() => createRequester(engine, { encode: () => '', decode: () => undefined }, { maxInFlight: 0 })).toThrow(/maxInFlight/);
    const requester = createRequester<string, unknown>(engine, {
      encode: (method, id) => JSON.stringify({ jsonrpc: '2.0', method, params: [3], id }),
      decode: (message) => {
        const value = JSON.parse(message.data as string) as { id?: number; result?: unknown };
        return value.id === undefined ? undefined : { id: value.id, result: value.result };
      },
    });
    cleanups.push(() => requester.close());
    const delivered: string[] = [];
    engine.on('message', (m) => delivered.push(m.data as string));
    await engine.start();
    await expect(requester.request('notifyMe')).resolves.toBe(3);
    // Notifications are not replies for this codec: the engine delivers them.
    expect(delivered.map((d) => (JSON.parse(d) as { method: string }).method)).toEqual(['tick', 'tick', 'tick']);
    await expect(requester.request('echo')).resolves.toBe(3);
    expect(() => requester.requestBatch(['a', 'b'])).toThrow(/encodeBatch/);
  });
});
