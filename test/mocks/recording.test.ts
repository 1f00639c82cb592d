import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionClosedError, InvalidArgumentError, MessageType } from '../../src/adapters/index.js';
import { MockServer, type MockCall } from '../../src/mocks/index.js';

const server = new MockServer();
afterEach(async () => {
  await server.stop();
  server.start();
});

describe('MockAdapter recording', () => {
  it('records every call with its arguments and outcome, in call order', async () => {
    const adapter = server.createAdapter();
    const signal = new AbortController().signal;
    const answer = await adapter.dial('ws://feed.invalid/', { protocols: ['p1'] });
    const connection = await server.accept();
    await adapter.write(MessageType.Text, 'hello', { signal });
    await connection.sendText('tick');
    const message = await adapter.read();
    await adapter.ping();
    await adapter.close(4000, 'done');

    expect(adapter.calls.map((call) => call.method)).toEqual(['dial', 'write', 'read', 'ping', 'close']);
    expect(adapter.calls.every((call) => call.result === 'resolved')).toBe(true);
    const [dial, write, read, ping, close] = adapter.calls as [MockCall, MockCall, MockCall, MockCall, MockCall];
    expect(dial.args).toEqual(['ws://feed.invalid/', { protocols: ['p1'] }]);
    expect(dial.value).toBe(answer);
    expect(write.args).toEqual([MessageType.Text, 'hello', { signal }]);
    expect(read.args).toEqual([]);
    expect(read.value).toBe(message);
    expect(ping.args).toEqual([]);
    expect(close.args).toEqual([4000, 'done']);
  });

  it('records rejected calls with their error, and pending ones as pending', async () => {
    const adapter = server.createAdapter();
    await adapter.read().catch(() => {});
    await adapter.close(999).catch(() => {});
    await adapter.dial(server.url);
    const pending = adapter.read();
    await Promise.resolve();
    const [readBeforeDial, badClose, , waiting] = adapter.calls;
    expect(readBeforeDial).toMatchObject({ method: 'read', result: 'rejected' });
    expect(readBeforeDial!.error).toBeInstanceOf(ConnectionClosedError);
    expect(badClose).toMatchObject({ method: 'close', args: [999], result: 'rejected' });
    expect(badClose!.error).toBeInstanceOf(InvalidArgumentError);
    expect(waiting).toMatchObject({ method: 'read', result: 'pending' });
    expect(waiting!.error).toBeUndefined();
    (await server.accept()).drop();
    await pending.catch(() => {});
    expect(waiting).toMatchObject({ result: 'rejected', error: { code: 1006 } });
  });

  it('keeps the messages written and read, normalised, in writes and reads', async () => {
    const adapter = server.createAdapter();
    await adapter.dial(server.url);
    const connection = await server.accept();
    await adapter.write(MessageType.Text, new TextEncoder().encode('as bytes'));
    await adapter.write(MessageType.Binary, new Uint8Array([1, 2]).buffer);
    await adapter.write(MessageType.Binary, 'not binary' as unknown as Uint8Array).catch(() => {});
    expect(adapter.writes).toEqual([
      { type: MessageType.Text, data: 'as bytes' },
      { type: MessageType.Binary, data: Buffer.from([1, 2]) },
    ]);
    expect(connection.messages).toEqual(adapter.writes);
    await connection.sendText('a');
    await connection.sendText('b');
    await adapter.read();
    await adapter.read();
    expect(adapter.reads.map((m) => m.data)).toEqual(['a', 'b']);
  });

  it('adds what tryRead returns to reads, without listing tryRead in calls', async () => {
    const adapter = server.createAdapter();
    await adapter.dial(server.url);
    const connection = await server.accept();
    expect(adapter.tryRead()).toBeUndefined();
    await connection.sendText('a');
    await connection.sendText('b');
    expect(adapter.tryRead()?.data).toBe('a');
    expect((await adapter.read()).data).toBe('b');
    expect(adapter.tryRead()).toBeUndefined();
    expect(adapter.reads.map((m) => m.data)).toEqual(['a', 'b']);
    expect(adapter.calls.map((call) => call.method)).toEqual(['dial', 'read']);
  });

  it('adds what listen hands over to reads, without listing listen in calls', async () => {
    const adapter = server.createAdapter();
    await adapter.dial(server.url);
    const connection = await server.accept();
    const got: Array<string | undefined> = [];
    expect(adapter.listen((message) => got.push(message?.data as string | undefined))).toBe(true);
    await connection.sendText('a');
    await connection.sendText('b');
    expect(adapter.listen(undefined)).toBe(true);
    await connection.sendText('c');
    expect(got).toEqual(['a', 'b']);
    expect((await adapter.read()).data).toBe('c');
    expect(adapter.reads.map((m) => m.data)).toEqual(['a', 'b', 'c']);
    expect(adapter.calls.map((call) => call.method)).toEqual(['dial', 'read']);
  });

  it('filters calls by method with callsOf, typed by the method', async () => {
    const adapter = server.createAdapter();
    await adapter.dial(server.url);
    await adapter.write(MessageType.Text, 'one');
    await adapter.write(MessageType.Text, 'two');
    const writes = adapter.callsOf('write');
    expect(writes.map((call) => call.args[1])).toEqual(['one', 'two']);
    const dials = adapter.callsOf('dial');
    expect(dials).toHaveLength(1);
    expect(dials[0]!.value?.status).toBe(101);
  });

  it('forgets everything recorded with clearCalls, leaving the connection open', async () => {
    const adapter = server.createAdapter();
    await adapter.dial(server.url);
    await adapter.write(MessageType.Text, 'x');
    adapter.clearCalls();
    expect(adapter.calls).toEqual([]);
    expect(adapter.writes).toEqual([]);
    await adapter.write(MessageType.Text, 'y');
    expect(adapter.calls).toHaveLength(1);
    expect(adapter.state).toBe('open');
  });
});
