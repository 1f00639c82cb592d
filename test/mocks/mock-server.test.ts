import { afterEach, describe, expect, it } from 'vitest';
import {
  ConnectionClosedError,
  HandshakeError,
  InvalidArgumentError,
  InvalidOptionError,
  InvalidStateError,
  MessageType,
} from '../../src/adapters/index.js';
import { MockAdapter, MockServer, type MockServerConnection } from '../../src/mocks/index.js';
import { rejection } from '../../src/testing/rejection.js';


const servers: MockServer[] = [];
function serve(options?: ConstructorParameters<typeof MockServer>[0]): MockServer {
  const server = new MockServer(options);
  servers.push(server);
  return server;
}

afterEach(async () => {
  for (const server of servers.splice(0)) await server.stop();
});

describe('MockServer: dials', () => {
  it('accepts a dial, records the request and answers 101 with the chosen subprotocol', async () => {
    const server = serve();
    const adapter = server.createAdapter();
    const [answer, connection] = await Promise.all([
      adapter.dial('ws://feed.example.invalid/prices?x=1', {
        headers: { Authorization: 'Bearer t', 'X-Many': ['a', 'b'] },
        protocols: ['prices.v2', 'prices.v1'],
      }),
      server.accept(),
    ]);
    expect(answer).toMatchObject({
      url: 'ws://feed.example.invalid/prices?x=1',
      status: 101,
      protocol: 'prices.v2',
      extensions: '',
    });
    expect(answer.headers).toMatchObject({ upgrade: 'websocket', 'sec-websocket-protocol': 'prices.v2' });
    expect(connection.protocol).toBe('prices.v2');
    expect(connection.requestHeaders).toMatchObject({
      authorization: 'Bearer t',
      'x-many': 'a, b',
      host: 'feed.example.invalid',
      'sec-websocket-version': '13',
      'sec-websocket-protocol': 'prices.v2, prices.v1',
    });
    expect(connection.requestHeaders['sec-websocket-key']).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]!.protocols).toEqual(['prices.v2', 'prices.v1']);
    expect(server.connections).toEqual([connection]);
    expect(connection.id).toBe(1);
    expect(adapter.state).toBe('open');
    expect(adapter.connection).toBe(connection);
    expect(adapter.underlying()).toBe(connection);
  });

  it('maps http: URLs to ws: and refuses other schemes, fragments and bad options with InvalidArgumentError', async () => {
    const server = serve();
    const adapter = server.createAdapter();
    const answer = await adapter.dial('http://a.invalid/');
    expect(answer.url).toBe('ws://a.invalid/');
    for (const [url, options] of [
      ['mock://a/', undefined],
      ['ws://a.invalid/#x', undefined],
      ['ws://a.invalid/', { protocols: ['has space'] }],
      ['ws://a.invalid/', { protocols: ['twice', 'twice'] }],
      ['ws://a.invalid/', { headers: { 'bad name': 'x' } }],
      ['ws://a.invalid/', { headers: { 'x-injected': 'a\r\nb: c' } }],
    ] as const) {
      expect(await rejection(adapter.dial(url, options)), url).toBeInstanceOf(InvalidArgumentError);
    }
    // Bad input left the open connection alone.
    expect(adapter.state).toBe('open');
  });

  it('refuses the next dial with refuseNext: status, headers and body, once each, in order', async () => {
    const server = serve();
    const adapter = server.createAdapter();
    server.refuseNext({ status: 401, headers: { 'WWW-Authenticate': 'Bearer' }, body: 'token expired' });
    server.refuseNext({ status: 503 });
    const first = (await rejection(adapter.dial(server.url))) as HandshakeError;
    expect(first).toBeInstanceOf(HandshakeError);
    expect(first.code).toBe('ERR_HANDSHAKE');
    expect(first.status).toBe(401);
    expect(first.headers).toEqual({ 'www-authenticate': 'Bearer' });
    expect(first.body).toBe('token expired');
    expect(((await rejection(adapter.dial(server.url))) as HandshakeError).status).toBe(503);
    await Promise.all([adapter.dial(server.url), server.accept()]);
    expect(server.requests).toHaveLength(3);
    expect(server.connections).toHaveLength(1);
  });

  it('rejects refusal statuses that are not HTTP refusals', () => {
    const server = serve();
    for (const status of [101, 99, 600, 200.5]) {
      expect(() => server.refuseNext({ status }), String(status)).toThrow(InvalidArgumentError);
    }
  });

  it('lets onDial decide per request: refuse, choose the protocol, add headers and extensions', async () => {
    const server = serve();
    const adapter = server.createAdapter();
    server.onDial(async (request) => {
      if (request.headers['authorization'] !== 'Bearer good') return { refuse: { status: 403, body: 'no' } };
      return { protocol: 'v1', headers: { 'X-Served-By': 'mock' }, extensions: 'permessage-deflate' };
    });
    const refused = (await rejection(
      adapter.dial(server.url, { headers: { authorization: 'Bearer bad' }, protocols: ['v2', 'v1'] }),
    )) as HandshakeError;
    expect(refused.status).toBe(403);
    const answer = await adapter.dial(server.url, { headers: { authorization: 'Bearer good' }, protocols: ['v2', 'v1'] });
    expect(answer.protocol).toBe('v1');
    expect(answer.extensions).toBe('permessage-deflate');
    expect(answer.headers['x-served-by']).toBe('mock');
    expect(answer.headers['sec-websocket-extensions']).toBe('permessage-deflate');
    server.onDial(undefined);
    expect((await adapter.dial(server.url, { protocols: ['v2', 'v1'] })).protocol).toBe('v2');
  });

  it('refuses with 500 when the dial handler throws', async () => {
    const server = serve();
    server.onDial(() => {
      throw new Error('handler bug');
    });
    const error = (await rejection(server.createAdapter().dial(server.url))) as HandshakeError;
    expect(error.status).toBe(500);
    expect(error.body).toBe('handler bug');
  });

  it('fails the dial when the server picks a subprotocol the client did not offer (RFC 6455 section 4.1)', async () => {
    const server = serve();
    server.onDial(() => ({ protocol: 'other' }));
    const error = (await rejection(server.createAdapter().dial(server.url, { protocols: ['mine'] }))) as HandshakeError;
    expect(error).toBeInstanceOf(HandshakeError);
    expect(error.message).toContain('other');
    expect(server.connections).toHaveLength(0);
  });

  it('chooses subprotocols with selectProtocol, or none', async () => {
    const server = serve({ selectProtocol: (offered) => offered[offered.length - 1] ?? false });
    const adapter = server.createAdapter();
    expect((await adapter.dial(server.url, { protocols: ['a', 'b'] })).protocol).toBe('b');
    server.selectProtocol(() => false);
    const answer = await adapter.dial(server.url, { protocols: ['a', 'b'] });
    expect(answer.protocol).toBe('');
    expect(answer.headers['sec-websocket-protocol']).toBeUndefined();
  });

  it('emits request and connection events, the connection before the dial resolves', async () => {
    const server = serve();
    const adapter = server.createAdapter();
    const seen: string[] = [];
    server.on('request', (request) => seen.push(`request ${request.url}`));
    const off = server.on('connection', (connection) => {
      seen.push(`connection ${connection.id}`);
      // A greeting sent from the event is waiting when the client reads.
      void connection.sendText('welcome');
    });
    const dialled = adapter.dial('ws://a.invalid/').then(() => seen.push('dialled'));
    await dialled;
    expect(seen).toEqual(['request ws://a.invalid/', 'connection 1', 'dialled']);
    expect((await adapter.read()).data).toBe('welcome');
    off();
    await adapter.dial('ws://a.invalid/');
    expect(seen).toHaveLength(4);
  });

  it('surfaces a throwing listener as the rejection of the call that triggered it', async () => {
    const server = serve();
    const adapter = server.createAdapter();
    const off = server.on('connection', () => {
      throw new Error('script bug');
    });
    await expect(adapter.dial(server.url)).rejects.toThrow('script bug');
    expect(await server.connections[0]!.closed).toEqual({ code: 1006, reason: '' });
    off();
    await adapter.dial(server.url);
    server.connections[1]!.on('message', () => {
      throw new Error('handler bug');
    });
    await expect(adapter.write(MessageType.Text, 'x')).rejects.toThrow('handler bug');
  });

  it('buffers accepted connections for accept(), in order', async () => {
    const server = serve();
    const a = server.createAdapter();
    const b = server.createAdapter();
    await a.dial(server.url);
    await b.dial(server.url);
    const first = await server.accept();
    const second = await server.accept();
    expect([first.id, second.id]).toEqual([1, 2]);
    expect(a.connection).toBe(first);
    expect(b.connection).toBe(second);
  });

  it('rejects accept() with the signal reason, and with ConnectionClosedError when stopped', async () => {
    const server = serve();
    const reason = new Error('gave up');
    const controller = new AbortController();
    const waiting = server.accept({ signal: controller.signal });
    controller.abort(reason);
    expect(await rejection(waiting)).toBe(reason);
    const pending = server.accept();
    await server.stop();
    expect(await rejection(pending)).toBeInstanceOf(ConnectionClosedError);
  });

  it('refuses dials while stopped (HandshakeError without status) and accepts again after start()', async () => {
    const server = serve();
    const adapter = server.createAdapter();
    await server.stop();
    expect(server.listening).toBe(false);
    const error = (await rejection(adapter.dial(server.url))) as HandshakeError;
    expect(error).toBeInstanceOf(HandshakeError);
    expect(error.status).toBeUndefined();
    server.start();
    await adapter.dial(server.url);
    expect(adapter.state).toBe('open');
  });

  it('drops every open connection on stop()', async () => {
    const server = serve();
    const adapter = server.createAdapter();
    await adapter.dial(server.url);
    const connection = await server.accept();
    await server.stop();
    expect(await connection.closed).toEqual({ code: 1006, reason: '' });
    expect(connection.state).toBe('closed');
    expect(adapter.state).toBe('closed');
  });

  it('refuses a dial while a dial is in progress with InvalidStateError', async () => {
    const server = serve();
    let release!: () => void;
    server.onDial(() => new Promise<undefined>((resolve) => (release = () => resolve(undefined))));
    const adapter = server.createAdapter();
    const first = adapter.dial(server.url);
    expect(adapter.state).toBe('connecting');
    expect(await rejection(adapter.dial(server.url))).toBeInstanceOf(InvalidStateError);
    release();
    await first;
    expect(adapter.state).toBe('open');
  });

  it('closes the previous connection with 1000 when dialled again', async () => {
    const server = serve();
    const adapter = server.createAdapter();
    await adapter.dial(server.url);
    const first = await server.accept();
    const pendingRead = adapter.read();
    await adapter.dial(server.url);
    expect(await first.closed).toEqual({ code: 1000, reason: '' });
    expect(first.state).toBe('closed');
    expect(await rejection(pendingRead)).toMatchObject({ code: 1000 });
    const second = await server.accept();
    await second.sendText('new');
    expect((await adapter.read()).data).toBe('new');
  });

  it('drops the connection on the server when the dial is aborted after the server accepted it', async () => {
    const server = serve();
    const adapter = server.createAdapter();
    const controller = new AbortController();
    const reason = new Error('aborted at the last moment');
    // Abort while the server is accepting: the client never sees the connection.
    server.on('connection', () => controller.abort(reason));
    expect(await rejection(adapter.dial(server.url, { signal: controller.signal }))).toBe(reason);
    const connection = server.connections[0]!;
    expect(await connection.closed).toEqual({ code: 1006, reason: '' });
    expect(adapter.state).toBe('closed');
    expect(adapter.underlying()).toBeUndefined();
  });

  it('settles a pending close when a new dial replaces the connection', async () => {
    const server = serve({ delays: { close: 1_000_000 } });
    const adapter = server.createAdapter();
    await adapter.dial(server.url);
    const closing = adapter.close(1000, '');
    server.setDelays({ close: 0 });
    await adapter.dial(server.url);
    await closing;
    expect(server.connections.map((c) => c.state)).toEqual(['closed', 'open']);
  });

  it('routes dials by URL with a resolver, and refuses URLs no server answers', async () => {
    const one = serve({ url: 'ws://one.invalid/' });
    const two = serve({ url: 'ws://two.invalid/' });
    const byHost = new Map([
      ['one.invalid', one],
      ['two.invalid', two],
    ]);
    const adapter = new MockAdapter((url) => byHost.get(url.host));
    await adapter.dial(two.url);
    expect(two.connections).toHaveLength(1);
    expect(one.connections).toHaveLength(0);
    const error = (await rejection(adapter.dial('ws://three.invalid/'))) as HandshakeError;
    expect(error).toBeInstanceOf(HandshakeError);
    expect(error.message).toContain('three.invalid');
  });

  it('validates its options, naming the option', () => {
    expect(() => new MockServer({ url: 'ftp://x/' })).toThrow(/option url/);
    expect(() => new MockServer({ delays: { pong: -1 } })).toThrow(/delays\.pong/);
    expect(() => new MockServer({ delays: { dial: Number.NaN } })).toThrow(/delays\.dial/);
    expect(() => new MockServer({ answerPings: 'yes' as unknown as boolean })).toThrow(/answerPings/);
    const server = serve();
    expect(() => server.setDelays({ close: Infinity })).toThrow(InvalidArgumentError);
    expect(() => new MockAdapter(server, { closeTimeout: -5 })).toThrow(/closeTimeout/);
    expect(() => new MockAdapter(server, { readQueue: { messages: 0 } })).toThrow(/readQueue\.messages/);
    expect(() => new MockAdapter({} as MockServer)).toThrow(InvalidArgumentError);
  });

  it('throws InvalidOptionError naming the option, as the adapters do, and refuses keys that are no option', () => {
    const cases: Array<[() => unknown, string]> = [
      [() => new MockServer({ url: 'ftp://x/' }), 'url'],
      [() => new MockServer({ delays: { pong: -1 } }), 'delays.pong'],
      [() => new MockServer({ selectProtocol: 5 as never }), 'selectProtocol'],
      [() => new MockServer({ answerPing: false } as never), 'answerPing'],
      [() => new MockServer({ delays: { ping: 5 } as never }), 'delays.ping'],
      [() => serve().setDelays({ close: Infinity }), 'delays.close'],
    ];
    for (const [make, option] of cases) {
      let error: unknown;
      try {
        make();
      } catch (thrown) {
        error = thrown;
      }
      expect(error, option).toBeInstanceOf(InvalidOptionError);
      expect((error as InvalidOptionError).option).toBe(option);
      expect((error as InvalidOptionError).code).toBe('ERR_INVALID_OPTION');
    }
  });
});

describe('MockServerConnection', () => {
  async function open(server = serve()): Promise<{ adapter: MockAdapter; connection: MockServerConnection; server: MockServer }> {
    const adapter = server.createAdapter();
    const [, connection] = await Promise.all([adapter.dial(server.url), server.accept()]);
    return { adapter, connection, server };
  }

  it('sends text and binary messages, copying bytes', async () => {
    const { adapter, connection } = await open();
    const bytes = new Uint8Array([1, 2, 3]);
    await connection.sendText('hi');
    await connection.sendBinary(bytes);
    await connection.send(MessageType.Binary, new Uint8Array([9]).buffer);
    bytes[0] = 99;
    // Binary data is a Buffer on Node, as the ws adapter gives it.
    expect(Buffer.isBuffer(connection.sent[1]!.data)).toBe(true);
    expect(await adapter.read()).toEqual({ type: MessageType.Text, data: 'hi' });
    expect(await adapter.read()).toEqual({ type: MessageType.Binary, data: Buffer.from([1, 2, 3]) });
    expect(await adapter.read()).toEqual({ type: MessageType.Binary, data: Buffer.from([9]) });
    expect(connection.sent.map((m) => m.type)).toEqual([MessageType.Text, MessageType.Binary, MessageType.Binary]);
    expect(await rejection(connection.send(MessageType.Binary, 'text' as unknown as Uint8Array))).toBeInstanceOf(
      InvalidArgumentError,
    );
  });

  it('records client messages in messages and hands them out one by one with received()', async () => {
    const { adapter, connection } = await open();
    const seen: unknown[] = [];
    connection.on('message', (message) => seen.push(message.data));
    await adapter.write(MessageType.Text, 'a');
    await adapter.write(MessageType.Binary, new Uint8Array([7]));
    expect(connection.messages).toEqual([
      { type: MessageType.Text, data: 'a' },
      { type: MessageType.Binary, data: Buffer.from([7]) },
    ]);
    expect(seen).toEqual(['a', Buffer.from([7])]);
    expect((await connection.received()).data).toBe('a');
    const next = connection.received();
    expect((await next).data).toEqual(Buffer.from([7]));
    const later = connection.received();
    await adapter.write(MessageType.Text, 'b');
    expect((await later).data).toBe('b');
  });

  it('rejects received() with the close once the client closed and every message was taken', async () => {
    const { adapter, connection } = await open();
    await adapter.write(MessageType.Text, 'last');
    await adapter.close(4000, 'done');
    expect((await connection.received()).data).toBe('last');
    expect(await rejection(connection.received())).toMatchObject({ code: 4000, reason: 'done' });
  });

  it('answers pings by default, counts them, and can ignore them', async () => {
    const { adapter, connection } = await open();
    let pinged = 0;
    connection.on('ping', () => pinged++);
    await adapter.ping();
    expect(connection.pings).toBe(1);
    connection.ignorePings();
    const controller = new AbortController();
    const unanswered = adapter.ping({ signal: controller.signal });
    let settled = false;
    void unanswered.then(
      () => (settled = true),
      () => (settled = true),
    );
    // A round trip through the connection proves the pong had every chance to come.
    await adapter.write(MessageType.Text, 'probe');
    await connection.received();
    expect(settled).toBe(false);
    controller.abort(new Error('stop waiting'));
    await expect(unanswered).rejects.toThrow('stop waiting');
    connection.ignorePings(false);
    await adapter.ping();
    expect(connection.pings).toBe(3);
    expect(pinged).toBe(3);
  });

  it('starts connections ignoring pings when the server says so', async () => {
    const server = serve({ answerPings: false });
    const { adapter, connection } = await open(server);
    const ping = adapter.ping();
    connection.drop();
    expect(await rejection(ping)).toBeInstanceOf(ConnectionClosedError);
    expect(connection.pings).toBe(1);
  });

  it('closes with a code and reason: client reads reject with them after earlier messages, and the client answers', async () => {
    const { adapter, connection } = await open();
    const closes: unknown[] = [];
    connection.on('close', (frame) => closes.push(frame));
    await connection.sendText('before');
    await connection.close(4001, 'maintenance');
    expect(connection.state).toBe('closed');
    expect(await connection.closed).toEqual({ code: 4001, reason: 'maintenance' });
    expect(connection.clientClose).toEqual({ code: 4001, reason: 'maintenance' });
    expect(closes).toEqual([{ code: 4001, reason: 'maintenance' }]);
    expect((await adapter.read()).data).toBe('before');
    const error = await rejection(adapter.read());
    expect(error).toMatchObject({ name: 'WebSocketCloseError', code: 4001, reason: 'maintenance', wasClean: true });
    expect(adapter.state).toBe('closed');
    expect(adapter.underlying()).toBeUndefined();
    expect(await rejection(connection.sendText('late'))).toBeInstanceOf(ConnectionClosedError);
    expect(await rejection(connection.close(1000))).toBeInstanceOf(ConnectionClosedError);
  });

  it('sends a close frame without a status code: the client sees 1005', async () => {
    const { adapter, connection } = await open();
    await connection.close();
    expect(await rejection(adapter.read())).toMatchObject({ code: 1005, reason: '' });
    expect(await connection.closed).toEqual({ code: 1005, reason: '' });
  });

  it('refuses invalid close codes and reasons on the server side too', async () => {
    const { connection } = await open();
    expect(await rejection(connection.close(1006))).toBeInstanceOf(InvalidArgumentError);
    expect(await rejection(connection.close(1000, 'x'.repeat(124)))).toBeInstanceOf(InvalidArgumentError);
    expect(await rejection(connection.close(undefined, 'reason without code'))).toBeInstanceOf(InvalidArgumentError);
    expect(connection.state).toBe('open');
  });

  it('answers the client close, echoing its code', async () => {
    const { adapter, connection } = await open();
    await adapter.close(3001, 'client bye');
    expect(connection.clientClose).toEqual({ code: 3001, reason: 'client bye' });
    expect(connection.state).toBe('closed');
    expect(adapter.state).toBe('closed');
  });

  it('drops without a close frame: reads reject with 1006, pings and writes with ConnectionClosedError', async () => {
    const { adapter, connection } = await open();
    connection.ignorePings();
    const read = adapter.read();
    const ping = adapter.ping();
    connection.drop();
    connection.drop(); // idempotent
    expect(await rejection(read)).toMatchObject({ code: 1006, wasClean: false });
    expect(await rejection(ping)).toBeInstanceOf(ConnectionClosedError);
    expect(await rejection(adapter.write(MessageType.Text, 'x'))).toBeInstanceOf(ConnectionClosedError);
    expect(await rejection(adapter.close())).toBeInstanceOf(ConnectionClosedError);
    expect(await connection.closed).toEqual({ code: 1006, reason: '' });
  });

  it('holds sends while the client reads slowly (its queue is paused), and delivers them in order', async () => {
    const server = serve();
    const adapter = new MockAdapter(server, { readQueue: { messages: 4 } });
    await adapter.dial(server.url);
    const connection = await server.accept();
    const delivered: number[] = [];
    const sends = Array.from({ length: 10 }, (_, i) => connection.sendText(`m${i}`).then(() => delivered.push(i)));
    await Promise.resolve();
    // Four fill the client's queue up to its high-water mark; the rest wait on the server side.
    expect(delivered).toEqual([0, 1, 2, 3]);
    for (let i = 0; i < 10; i++) expect((await adapter.read()).data).toBe(`m${i}`);
    await Promise.all(sends);
    expect(delivered).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('sends the close frame after messages still held for a slow reader', async () => {
    const server = serve();
    const adapter = new MockAdapter(server, { readQueue: { messages: 2 } });
    await adapter.dial(server.url);
    const connection = await server.accept();
    for (let i = 0; i < 5; i++) void connection.sendText(`m${i}`);
    const closed = connection.close(1001, 'going away');
    expect(connection.state).toBe('closing');
    for (let i = 0; i < 5; i++) expect((await adapter.read()).data).toBe(`m${i}`);
    await closed;
    expect(await rejection(adapter.read())).toMatchObject({ code: 1001, reason: 'going away' });
  });

  it('holds client writes while the server does not read, and hands them over in order when it does', async () => {
    const { adapter, connection } = await open();
    connection.pauseReading();
    expect(connection.reading).toBe(false);
    const first = adapter.write(MessageType.Text, 'one');
    const second = adapter.write(MessageType.Text, 'two');
    await adapter.ping(); // control frames still get through
    expect(adapter.callsOf('write').map((call) => call.result)).toEqual(['pending', 'pending']);
    expect(connection.messages).toEqual([]);
    expect(adapter.writes).toEqual([]);
    connection.resumeReading();
    await Promise.all([first, second]);
    expect(connection.messages.map((m) => m.data)).toEqual(['one', 'two']);
    expect(adapter.writes.map((m) => m.data)).toEqual(['one', 'two']);
  });

  it('tryWrite refuses while the server does not read or writes are held, and records what it hands over', async () => {
    const { adapter, connection } = await open();
    expect(adapter.tryWrite(MessageType.Text, 'at once')).toBe(true);
    connection.pauseReading();
    expect(adapter.tryWrite(MessageType.Text, 'not read')).toBe(false);
    const held = adapter.write(MessageType.Text, 'held');
    connection.resumeReading();
    await held;
    connection.pauseReading();
    const heldAgain = adapter.write(MessageType.Text, 'held again');
    // The server reads again, but a write is still held: tryWrite must not overtake it.
    connection.resumeReading();
    expect(adapter.tryWrite(MessageType.Text, 'after')).toBe(false);
    await Promise.all([heldAgain, adapter.write(MessageType.Text, 'after')]);
    expect(connection.messages.map((m) => m.data)).toEqual(['at once', 'held', 'held again', 'after']);
    expect(adapter.writes.map((m) => m.data)).toEqual(['at once', 'held', 'held again', 'after']);
    expect(adapter.callsOf('write')).toHaveLength(3);
  });

  it('rejects a held write with its signal reason and never sends it', async () => {
    const { adapter, connection } = await open();
    connection.pauseReading();
    const controller = new AbortController();
    const reason = new Error('order expired');
    const stale = adapter.write(MessageType.Text, 'stale order', { signal: controller.signal });
    const fresh = adapter.write(MessageType.Text, 'fresh order');
    controller.abort(reason);
    expect(await rejection(stale)).toBe(reason);
    connection.resumeReading();
    await fresh;
    expect(connection.messages.map((m) => m.data)).toEqual(['fresh order']);
  });

  it('drops held writes with ConnectionClosedError on close and on a lost connection', async () => {
    const server = serve();
    const { adapter, connection } = await open(server);
    connection.pauseReading();
    const held = adapter.write(MessageType.Text, 'held');
    await adapter.close(1000, '');
    expect(await rejection(held)).toBeInstanceOf(ConnectionClosedError);
    expect(connection.messages).toEqual([]);
    const again = await open(server);
    again.connection.pauseReading();
    const lost = again.adapter.write(MessageType.Text, 'lost');
    again.connection.drop();
    expect(await rejection(lost)).toBeInstanceOf(ConnectionClosedError);
  });

  it('rejects held sends with ConnectionClosedError when dropped', async () => {
    const server = serve();
    const adapter = new MockAdapter(server, { readQueue: { messages: 1 } });
    await adapter.dial(server.url);
    const connection = await server.accept();
    await connection.sendText('fits');
    const held = connection.sendText('held');
    connection.drop();
    expect(await rejection(held)).toBeInstanceOf(ConnectionClosedError);
  });
});
