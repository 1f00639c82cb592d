/**
 * The subscription registry with the ws adapter against a real feed server on 127.0.0.1:
 * batched subscribes, replay after a reconnect, confirmations through request/reply, a silent
 * stream resubscribed, sequence gaps resynchronised, duplicates replayed by the server dropped.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createWsAdapter } from '../../../src/adapters/ws.js';
import { createEngine, type Engine } from '../../../src/engine/index.js';
import { createRequester, ReplyError } from '../../../src/protocols/rpc/index.js';
import {
  createSubscriptions,
  SubscriptionClosedError,
  type Gap,
  type StreamMessage,
  type Subscriptions,
  type SubscriptionsOptions,
} from '../../../src/protocols/subscriptions/index.js';
import { startFeedServer, type FeedServer, type FeedServerOptions } from '../helpers/feed-server.js';

interface Tick {
  stream: string;
  seq: number;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

const feedOptions: SubscriptionsOptions<Tick> = {
  keyOf: (data) => data.stream,
  seqOf: (data) => data.seq,
  subscribeMessage: (keys) => JSON.stringify({ op: 'subscribe', streams: keys }),
  unsubscribeMessage: (keys) => JSON.stringify({ op: 'unsubscribe', streams: keys }),
};

async function setup(
  options: Partial<SubscriptionsOptions<Tick>> = {},
  serverOptions: FeedServerOptions = {},
): Promise<{ server: FeedServer; engine: Engine; subs: Subscriptions<Tick> }> {
  const server = await startFeedServer(serverOptions);
  cleanups.push(() => server.stop());
  const engine = createEngine({
    url: server.url,
    adapter: () => createWsAdapter(),
    heartbeat: false,
    reconnect: { minDelay: 10, maxDelay: 40, jitter: 0 },
  });
  cleanups.push(() => engine.stop());
  const subs = createSubscriptions<Tick>(engine, { ...feedOptions, ...options });
  cleanups.push(() => subs.close());
  await engine.start();
  return { server, engine, subs };
}

function collect(subs: Subscriptions<Tick>): Array<StreamMessage<Tick>> {
  const out: Array<StreamMessage<Tick>> = [];
  subs.on('message', (m) => out.push(m));
  return out;
}

/** Written is not yet received: wait until the server holds the stream on an open connection. */
function held(server: FeedServer, ...keys: string[]): Promise<void> {
  return server.until(() => keys.every((key) => server.open().some((c) => c.streams.has(key))));
}

function until(test: () => boolean, subscribe: (wake: () => void) => () => void): Promise<void> {
  if (test()) return Promise.resolve();
  return new Promise((resolve) => {
    const off = subscribe(() => {
      if (!test()) return;
      off();
      resolve();
    });
  });
}

describe('subscription registry over the ws adapter', () => {
  it('sends the subscribes of one tick in one frame, and replays them all in one frame after a reconnect', async () => {
    const { server, engine, subs } = await setup();
    const received = collect(subs);
    await Promise.all(['a', 'b', 'c'].map((key) => subs.subscribe(key)));
    await held(server, 'a', 'b', 'c');
    expect(server.connections[0]!.subscribeMessages).toBe(1);
    expect([...server.connections[0]!.streams]).toEqual(['a', 'b', 'c']);
    expect(subs.list().map((s) => s.state)).toEqual(['active', 'active', 'active']);

    const replayed = new Promise<{ keys: number; messages: number }>((resolve) => subs.on('replayed', resolve));
    server.drop();
    expect(await replayed).toMatchObject({ keys: 3, messages: 1 });
    await server.until(() => server.open().length === 1 && server.open()[0]!.streams.size === 3);
    expect(server.connections[1]!.subscribeMessages).toBe(1);
    await until(() => engine.state === 'open', (wake) => engine.on('state', wake));
    server.publish('b');
    await until(() => received.length === 1, (wake) => subs.on('message', wake));
    expect(received[0]).toMatchObject({ key: 'b', data: { stream: 'b', seq: 1 } });
  });

  it('splits large subscribes into maxBatch keys a frame, and unsubscribes in a frame', async () => {
    const { server, subs } = await setup({ maxBatch: 4 });
    await Promise.all(Array.from({ length: 10 }, (_, i) => subs.subscribe(`s${i}`)));
    await held(server, 's9');
    await server.until(() => server.totalStreams() === 10);
    expect(server.connections[0]!.subscribeMessages).toBe(3);
    expect(server.totalStreams()).toBe(10);
    await Promise.all([subs.unsubscribe('s0'), subs.unsubscribe('s1')]);
    await server.until(() => server.totalStreams() === 8);
    expect(server.connections[0]!.subscribeMessages).toBe(4);
    expect(subs.size).toBe(8);
    expect(subs.has('s0')).toBe(false);
  });

  it('confirms through request/reply: active once answered, failed on an error reply, confirmed again after a replay', async () => {
    const server = await startFeedServer();
    cleanups.push(() => server.stop());
    const engine = createEngine({ url: server.url, adapter: () => createWsAdapter(), heartbeat: false, reconnect: { minDelay: 10, jitter: 0 } });
    cleanups.push(() => engine.stop());
    const requester = createRequester<readonly string[], unknown>(engine, {
      encode: (streams, id) => JSON.stringify({ op: 'subscribe', streams, id }),
      decode: (message) => {
        const value = JSON.parse(message.data as string) as { id?: number; result?: unknown; error?: unknown };
        return value.id === undefined ? undefined : { id: value.id, result: value.result, error: value.error };
      },
    });
    cleanups.push(() => requester.close());
    const subs = createSubscriptions<Tick>(engine, {
      keyOf: (data) => data.stream,
      subscribeMessage: (keys) => keys,
      requester: requester as never,
    });
    cleanups.push(() => subs.close());
    await engine.start();
    await subs.subscribe('a');
    // confirm: false writes a plain frame (no id, so the server sends no answer).
    await subs.subscribe('plain', { confirm: false, subscribe: JSON.stringify({ op: 'subscribe', streams: ['plain'] }) });
    await held(server, 'plain');
    const failed = await subs.subscribe('bad-1').catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(ReplyError);
    expect(subs.list().map((s) => [s.key, s.state])).toEqual([
      ['a', 'active'],
      ['plain', 'active'],
      ['bad-1', 'failed'],
    ]);
    const confirmed: string[] = [];
    subs.on('subscribed', (key) => confirmed.push(key));
    server.drop();
    await until(() => confirmed.length === 2, (wake) => subs.on('subscribed', wake));
    expect(confirmed.sort()).toEqual(['a', 'plain']);
    await held(server, 'a', 'plain');
    expect(server.connections[1]!.streams.has('bad-1')).toBe(false);
  });

  it('resubscribes a stream that went silent while the others flow, and reports it', async () => {
    const { server, subs } = await setup({ staleAfter: 300 });
    const received = collect(subs);
    await Promise.all([subs.subscribe('live'), subs.subscribe('quiet')]);
    await held(server, 'live', 'quiet');
    server.publishEvery(10);
    await until(() => received.some((m) => m.key === 'quiet'), (wake) => subs.on('message', wake));
    server.silence('quiet');
    const stale = await new Promise<{ key: string; silentMs: number }>((resolve) => subs.on('stale', resolve));
    expect(stale.key).toBe('quiet');
    expect(stale.silentMs).toBeGreaterThanOrEqual(300);
    await server.until(() => (server.subscribes.get('quiet') ?? 0) >= 2);
    // The resubscribe woke the stream up: its messages flow again.
    const before = received.filter((m) => m.key === 'quiet').length;
    await until(() => received.filter((m) => m.key === 'quiet').length > before, (wake) => subs.on('message', wake));
    expect(subs.list().find((s) => s.key === 'quiet')!.stale).toBeGreaterThanOrEqual(1);
    server.stopPublishing();
  });

  it('reports a sequence gap with what was expected and what came, and runs the resync hook', async () => {
    const { server, subs } = await setup({ sequence: 'contiguous' });
    const received = collect(subs);
    const gaps: Gap[] = [];
    subs.on('gap', (gap) => gaps.push(gap));
    let resynced: Gap | undefined;
    await subs.subscribe('book', {
      resync: async (gap, control) => {
        resynced = gap;
        await control.resubscribe();
      },
    });
    await held(server, 'book');
    server.publish('book', 2);
    server.skip('book');
    server.publish('book', 2);
    await until(() => received.length === 4, (wake) => subs.on('message', wake));
    expect(received.map((m) => m.data.seq)).toEqual([1, 2, 4, 5]);
    expect(gaps).toEqual([{ key: 'book', expected: 3, got: 4 }]);
    expect(resynced).toEqual(gaps[0]);
    await server.until(() => server.subscribes.get('book') === 2);
    expect(subs.list()[0]).toMatchObject({ gaps: 1, lastSeq: 5 });
  });

  it('drops the duplicates a server replays after a resubscribe, and counts them', async () => {
    const { server, subs } = await setup({ sequence: 'contiguous' }, { replayOnSubscribe: 3 });
    const received = collect(subs);
    const duplicates: number[] = [];
    subs.on('duplicate', ({ seq }) => duplicates.push(seq));
    await subs.subscribe('t');
    await held(server, 't');
    server.publish('t', 3);
    await until(() => received.length === 3, (wake) => subs.on('message', wake));
    server.drop();
    // The server replays seq 1..3 on the new connection's subscribe: all three are dropped.
    await until(() => duplicates.length === 3, (wake) => subs.on('duplicate', wake));
    await server.until(() => server.open().length === 1 && server.open()[0]!.streams.has('t'));
    server.publish('t');
    await until(() => received.length === 4, (wake) => subs.on('message', wake));
    expect(received.map((m) => m.data.seq)).toEqual([1, 2, 3, 4]);
    expect(duplicates).toEqual([1, 2, 3]);
    expect(subs.list()[0]).toMatchObject({ duplicates: 3, gaps: 0 });
  });

  it('leaves messages of unknown streams and non-stream messages to the engine; validates options', async () => {
    const { server, engine, subs } = await setup();
    const delivered: string[] = [];
    engine.on('message', (m) => delivered.push(m.data as string));
    await subs.subscribe('x');
    await held(server, 'x');
    server.publish('x');
    await until(() => delivered.length === 1, (wake) => engine.on('message', wake));
    expect(JSON.parse(delivered[0]!)).toMatchObject({ stream: 'x', seq: 1 });
    expect(() => createSubscriptions(engine, { keyOf: () => 'k', maxBatch: 0 })).toThrow(/maxBatch/);
    expect(() => createSubscriptions(engine, { keyOf: () => 'k', sequence: 'contiguous' })).toThrow(/seqOf/);
    expect(() => createSubscriptions(engine, { keyOf: () => 'k', staleAfter: -5 })).toThrow(/staleAfter/);
    // Longer than a timer can take: setTimeout would fire after 1 ms, every millisecond.
    expect(() => createSubscriptions(engine, { keyOf: () => 'k', staleAfter: 2 ** 32 })).toThrow(/staleAfter/);
    const pending = subs.subscribe('later-removed');
    const removed = subs.unsubscribe('later-removed');
    await expect(pending).rejects.toBeInstanceOf(SubscriptionClosedError);
    await removed;
  });

  it('a bad per-subscription spec rejects the promise, never throws from subscribe()', async () => {
    const { subs } = await setup();
    let stale: Promise<void> | undefined;
    let sequence: Promise<void> | undefined;
    expect(() => {
      stale = subs.subscribe('bad-stale', { staleAfter: -1 });
      sequence = subs.subscribe('bad-sequence', { sequence: 'sorted' as never });
    }).not.toThrow();
    await expect(stale).rejects.toThrow(/staleAfter/);
    await expect(sequence).rejects.toThrow(/sequence/);
    expect(subs.has('bad-stale')).toBe(false);
    expect(subs.has('bad-sequence')).toBe(false);
  });
});
