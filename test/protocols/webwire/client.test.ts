/**
 * The WebWire client against the loopback WebWire server: round trips in three encodings,
 * error replies, timeouts, aborts, drops, signals both ways, sessions kept across reconnects,
 * refused restores, and bad input from the server.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket as UndiciWebSocket } from 'undici';
import { WebSocket } from 'ws';
import { createBrowserAdapter } from '../../../src/adapters/browser.js';
import { rejection } from '../../../src/testing/rejection.js';
import {
  RequestNotSentError,
  RequestOutcomeUnknownError,
  RequestTimeoutError,
  WebWireProtocolError,
  WebWireRequestError,
  WebWireVersionError,
  fetchProtocolVersion,
  httpUrlOf,
  type WebWireSignal,
} from '../../../src/protocols/webwire/index.js';
import { cleanup, nextEvent, nextOf, setup } from './helpers.js';

afterEach(cleanup);

describe('WebWire client: requests', () => {
  it('round-trips in three encodings, and names of 0 and 255 bytes', async () => {
    const { client } = await setup();
    const c = client();
    await c.start();
    expect(await c.request('echo', 'héllo 😀')).toBe('héllo 😀');
    expect(await c.request('echo', 'surrogates 😀𝄞 and \ud800', { encoding: 'utf16' })).toBe('surrogates 😀𝄞 and \ud800');
    expect(await c.request('echo', 'x', { encoding: 'utf16' })).toBe('x');
    expect(await c.request('echo', Uint8Array.of(0, 1, 255))).toEqual(Uint8Array.of(0, 1, 255));
    expect(await c.request('', 'nameless')).toBe('nameless');
    expect(await c.request('n'.repeat(255), 'p')).toBe('255');
    expect(await c.request('empty', 'p')).toEqual(new Uint8Array(0));
  });

  it('many concurrent requests each get their own reply; no raw message reaches the engine’s listeners', async () => {
    const { client } = await setup();
    const c = client();
    const raw: unknown[] = [];
    c.engine.on('message', (message) => raw.push(message));
    await c.start();
    const texts = Array.from({ length: 50 }, (_, i) => `message ${i}`);
    const replies = await Promise.all(texts.map((text, i) => c.request('echo', text, { encoding: i % 2 ? 'utf16' : 'utf8' })));
    expect(replies).toEqual(texts);
    expect(raw).toEqual([]);
    expect(c.engine.metrics().messagesIn).toBe(50);
  });

  it('error replies reject with WebWireRequestError { code, message }', async () => {
    const { client } = await setup();
    const c = client();
    await c.start();
    const failed = await rejection(c.request('fail', 'x'));
    expect(failed).toBeInstanceOf(WebWireRequestError);
    expect(failed).toMatchObject({ code: 'APP_ERROR', message: 'it failed', hasMessage: true });
    expect(await rejection(c.request('fail-bare', 'x'))).toMatchObject({ code: 'BARE', hasMessage: false });
    expect(await c.request('echo', 'still connected')).toBe('still connected');
  });

  it('times out a request the server does not answer; its late reply is ignored', async () => {
    const { client, server } = await setup();
    const c = client();
    const reported: unknown[] = [];
    c.on('protocol-error', (error) => reported.push(error));
    await c.start();
    const slow = c.request('slow', 'x', { timeout: 50 });
    const error = await rejection(slow);
    expect(error).toBeInstanceOf(RequestTimeoutError);
    expect(server.slowWaiting).toBe(1);
    server.releaseSlow();
    // The late reply comes before this one's: once it resolved, the late one was handled.
    expect(await c.request('echo', 'next')).toBe('next');
    expect(reported).toEqual([]);
  });

  it('aborts a request with the signal’s reason', async () => {
    const { client, server } = await setup();
    const c = client();
    await c.start();
    const controller = new AbortController();
    const slow = c.request('slow', 'x', { signal: controller.signal });
    await nextOf(server, 'slow');
    controller.abort(new Error('changed my mind'));
    expect(await rejection(slow)).toMatchObject({ message: 'changed my mind' });
    const already = AbortSignal.abort(new Error('too late'));
    expect(await rejection(c.request('echo', 'x', { signal: already }))).toMatchObject({ message: 'too late' });
    expect(server.requests).toEqual(['slow']);
  });

  it('refuses a bad name or an empty payload before sending', async () => {
    const { client, server } = await setup();
    const c = client();
    await c.start();
    expect(await rejection(c.request('tab\there', 'x'))).toMatchObject({ rule: 'name' });
    expect(await rejection(c.request('echo', ''))).toMatchObject({ rule: 'empty-payload' });
    expect(await rejection(c.signal('n'.repeat(256), 'x'))).toBeInstanceOf(WebWireProtocolError);
    expect(await c.request('echo', 'ok')).toBe('ok');
    expect(server.requests).toEqual(['echo']);
  });

  it('requests made before the connection wait for it; queue: false fails them at once', async () => {
    const { client } = await setup();
    const c = client();
    const refused = await rejection(c.request('echo', 'x', { queue: false }));
    expect(refused).toBeInstanceOf(RequestNotSentError);
    const waiting = c.request('echo', 'waited');
    await c.start();
    expect(await waiting).toBe('waited');
  });

  it('at most maxQueued wait for the connection', async () => {
    const { client } = await setup();
    const c = client({ maxQueued: 2 });
    const first = c.request('echo', 'one');
    const second = c.signal('s', 'two');
    const refused = await rejection(c.request('echo', 'three'));
    expect(refused).toBeInstanceOf(RequestNotSentError);
    expect((refused as Error).message).toMatch(/maxQueued/);
    await c.start();
    expect(await first).toBe('one');
    await second;
  });

  it('a request still waiting for a connection at its timeout was not sent', async () => {
    const { client } = await setup();
    const c = client();
    const error = await rejection(c.request('echo', 'x', { timeout: 30 }));
    expect(error).toBeInstanceOf(RequestNotSentError);
    expect((error as Error).cause).toBeInstanceOf(RequestTimeoutError);
  });

  it('in-flight requests fail with RequestOutcomeUnknownError when the connection drops; the client reconnects', async () => {
    const { client, server } = await setup();
    const c = client();
    await c.start();
    const slow = c.request('slow', 'x');
    await nextOf(server, 'slow');
    server.cutAll();
    expect(await rejection(slow)).toBeInstanceOf(RequestOutcomeUnknownError);
    expect(await rejection(c.request('cut', 'x'))).toBeInstanceOf(RequestOutcomeUnknownError);
    expect(await c.request('echo', 'after the cuts')).toBe('after the cuts');
    expect(c.engine.metrics().reconnects).toBe(2);
  });

  it('stop() fails waiting requests with RequestNotSentError', async () => {
    const { client, server } = await setup();
    const c = client();
    await c.start();
    server.cutAll();
    await nextOf({ once: (e, l) => c.engine.once(e as 'close', l) }, 'close');
    const waiting = c.request('echo', 'x');
    await c.stop();
    expect(await rejection(waiting)).toBeInstanceOf(RequestNotSentError);
  });

  it('after stop(), requests fail at once until the next start()', async () => {
    const { client } = await setup();
    const c = client();
    await c.start();
    await c.stop();
    expect(await rejection(c.request('echo', 'x'))).toBeInstanceOf(RequestNotSentError);
    await c.start();
    expect(await c.request('echo', 'again')).toBe('again');
  });

  it('the engine heartbeat (on by default) replaces a silent connection', async () => {
    const { client, server } = await setup();
    const c = client({ heartbeat: { interval: 50, timeout: 50 } });
    await c.start();
    const slow = c.request('slow', 'x');
    await nextOf(server, 'slow');
    const timedOut = nextOf({ once: (e, l) => c.engine.once(e as 'heartbeat-timeout', l) }, 'heartbeat-timeout');
    server.silence();
    await timedOut;
    expect(await rejection(slow)).toBeInstanceOf(RequestOutcomeUnknownError);
    expect(await c.request('echo', 'new connection')).toBe('new connection');
  });
});

describe('WebWire client: heartbeat without ping frames', () => {
  it('probes with pingRequest through the browser adapter, and replaces a silent connection', async () => {
    const { client, server } = await setup();
    const c = client({
      adapter: () => createBrowserAdapter({ WebSocket: UndiciWebSocket as never }),
      pingRequest: 'echo',
      heartbeat: { interval: 30, timeout: 500 },
    });
    const reported: unknown[] = [];
    c.on('protocol-error', (error) => reported.push(error));
    const engine = { once: (e: string, l: (...args: unknown[]) => void) => c.engine.once(e as 'pong', l) };
    await c.start();
    await nextOf(engine, 'pong');
    await nextOf(engine, 'pong');
    expect(server.requests.filter((name) => name === 'echo').length).toBeGreaterThanOrEqual(2);
    expect(reported).toEqual([]);
    expect(await c.request('echo', 'between probes')).toBe('between probes');
    const dead = nextOf(engine, 'heartbeat-timeout');
    server.silence();
    await dead;
  });
});

describe('WebWire client: signals', () => {
  it('sends signals in three encodings', async () => {
    const { client, server } = await setup();
    const c = client();
    await c.start();
    await c.signal('u8', 'héllo');
    await c.signal('odd', '😀', { encoding: 'utf16' });
    await c.signal('', Uint8Array.of(9));
    while (server.signals.length < 3) await nextOf(server, 'signal');
    expect(server.signals.map((s) => [s.name, s.encoding, s.payload])).toEqual([
      ['u8', 'utf8', Buffer.from('héllo')],
      ['odd', 'utf16', Buffer.from('😀', 'utf16le')],
      ['', 'binary', Buffer.of(9)],
    ]);
  });

  it('delivers server signals as events and to for await, in order', async () => {
    const { client, server } = await setup();
    const c = client();
    await c.start();
    const events: unknown[][] = [];
    c.on('signal', (...args) => events.push(args));
    const iterator = c[Symbol.asyncIterator]();
    await c.request('signal-me', 'x');
    const expected = [
      ['bin', Uint8Array.of(1, 2, 3), 'binary'],
      ['u8', 'héllo', 'utf8'],
      ['u16', '😀 x', 'utf16'],
    ];
    expect(events).toEqual(expected);
    const seen: WebWireSignal[] = [];
    for await (const signal of iterator) {
      seen.push(signal);
      if (seen.length === 3) break;
    }
    expect(seen.map((s) => [s.name, s.payload, s.encoding])).toEqual(expected);
    server.signalAll('late', 'utf8', Buffer.from('after'));
    const ended = (async () => {
      const rest: string[] = [];
      for await (const signal of c) rest.push(signal.name);
      return rest;
    })();
    await nextEvent(c, 'signal');
    await c.stop();
    expect(await ended).toEqual(['late']);
  });
});

describe('WebWire client: signal backpressure', () => {
  it('an iterator signalBuffer behind holds the reads until it catches up, losing nothing', async () => {
    const { client } = await setup();
    const c = client({ signalBuffer: 3 });
    await c.start();
    const iterator = c.signals();
    let seen = 0;
    c.on('signal', () => seen++);
    const flood = c.request('signal-flood', 'x');
    while (seen < 3) await nextEvent(c, 'signal');
    expect(c.engine.paused).toBe(true);
    const payloads: unknown[] = [];
    for await (const signal of iterator) {
      payloads.push(signal.payload);
      if (payloads.length === 20) break;
    }
    expect(payloads).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    await flood;
    expect(c.engine.paused).toBe(false);
  });
});

describe('WebWire client: sessions', () => {
  it('keeps the session from session created, restores it after a forced reconnect before queued requests', async () => {
    const { client, server } = await setup();
    const c = client();
    await c.start();
    const created = nextEvent(c, 'session-created');
    await c.request('login', 'alice');
    const [session] = await created;
    expect(c.session).toBe(session);
    expect(session.key).toMatch(/^[A-Za-z0-9_-]{64}$/);
    expect(session.info).toBe('alice');
    expect(await c.request('whoami', 'x')).toBe(session.key);

    const closed = nextOf({ once: (e, l) => c.engine.once(e as 'close', l) }, 'close');
    const restored = nextEvent(c, 'session-restored');
    server.cutAll();
    await closed;
    expect(c.ready).toBe(false);
    // Made while disconnected: it must go out after the restore, on the restored session.
    const whoami = c.request('whoami', 'x');
    const [again] = await restored;
    expect(again.key).toBe(session.key);
    expect(again.created).toEqual(session.created);
    expect(await whoami).toBe(session.key);
    expect(server.restores).toBe(1);
  });

  it('closeSession() closes it on the server and here', async () => {
    const { client, server } = await setup();
    const c = client();
    await c.start();
    await c.request('login', 'bob');
    const closed = nextEvent(c, 'session-closed');
    await c.closeSession();
    await closed;
    expect(c.session).toBeUndefined();
    expect(server.sessions.size).toBe(0);
    expect(await c.request('whoami', 'x')).toBe('');
    // Without a session, a reconnect restores nothing.
    const dropped = nextOf({ once: (e, l) => c.engine.once(e as 'close', l) }, 'close');
    server.cutAll();
    await dropped;
    expect(await c.request('echo', 'fresh')).toBe('fresh');
    expect(server.restores).toBe(0);
  });

  it('a refused restore clears the session and is reported; queued requests then flow', async () => {
    const { client, server } = await setup();
    const c = client();
    await c.start();
    await c.request('login', 'carol');
    server.sessions.clear();
    const failed = nextEvent(c, 'session-restore-failed');
    const dropped = nextOf({ once: (e, l) => c.engine.once(e as 'close', l) }, 'close');
    server.cutAll();
    await dropped;
    const whoami = c.request('whoami', 'x');
    const [error] = await failed;
    expect(error).toBeInstanceOf(WebWireRequestError);
    expect(error.code).toBe('SESSION_NOT_FOUND');
    expect(c.session).toBeUndefined();
    expect(await whoami).toBe('');
  });

  it('SESSIONS_DISABLED is a refusal too', async () => {
    const { client, server } = await setup();
    const c = client();
    await c.start();
    await c.request('login', 'dan');
    server.sessionsDisabled = true;
    const failed = nextEvent(c, 'session-restore-failed');
    server.cutAll();
    expect((await failed)[0].code).toBe('SESSIONS_DISABLED');
    expect(c.session).toBeUndefined();
  });

  it('SESSION_ACTIVE is retried with backoff until the server lets go', async () => {
    const { client, server } = await setup();
    const c = client({ restore: { minDelay: 5, maxDelay: 20 } });
    await c.start();
    await c.request('login', 'erin');
    server.activeRefusals = 2;
    const restored = nextEvent(c, 'session-restored');
    server.cutAll();
    await restored;
    expect(server.restores).toBe(3);
    expect(await c.request('whoami', 'x')).toBe(c.session!.key);
  });

  it('an unanswered restore replaces the connection, and the next one restores', async () => {
    const { client, server } = await setup();
    const c = client({ restore: { timeout: 50 } });
    await c.start();
    await c.request('login', 'gus');
    server.ignoreRestores = 1;
    const restored = nextEvent(c, 'session-restored');
    server.cutAll();
    await restored;
    expect(server.restores).toBe(2);
    expect(c.engine.metrics().reconnects).toBe(2);
    expect(await c.request('whoami', 'x')).toBe(c.session!.key);
  });

  it('SESSION_ACTIVE past restore.retries counts as refused', async () => {
    const { client, server } = await setup();
    const c = client({ restore: { retries: 1, minDelay: 5 } });
    await c.start();
    await c.request('login', 'fay');
    server.activeRefusals = 5;
    const failed = nextEvent(c, 'session-restore-failed');
    server.cutAll();
    expect((await failed)[0].code).toBe('SESSION_ACTIVE');
    expect(server.restores).toBe(2);
    expect(c.session).toBeUndefined();
  });
});

describe('WebWire client: bad input from the server', () => {
  it.each([
    ['send-malformed', 'length'],
    ['send-unknown-id', 'unknown-id'],
    ['send-unknown-type', 'unknown-type'],
    ['send-text', 'text-frame'],
    ['send-request', 'unexpected'],
  ])('%s is reported as %s and the connection is kept', async (name, rule) => {
    const { client } = await setup();
    const c = client();
    await c.start();
    const reported = nextEvent(c, 'protocol-error');
    expect(await c.request(name, 'x')).toBe('after');
    const [error] = await reported;
    expect(error).toBeInstanceOf(WebWireProtocolError);
    expect(error.rule).toBe(rule);
    expect(c.engine.metrics().connects).toBe(1);
  });

  it('random bytes from the server are reported as WebWireProtocolError, never thrown; the connection stays', async () => {
    const { client, server } = await setup();
    const c = client();
    const reported: unknown[] = [];
    c.on('protocol-error', (error) => reported.push(error));
    await c.start();
    const samples = fc.sample(fc.uint8Array({ minLength: 0, maxLength: 40 }), { numRuns: 200, seed: 4 });
    for (const data of samples) server.sendRaw(Buffer.from(data));
    expect(await c.request('echo', 'still here')).toBe('still here');
    expect(reported.length).toBeGreaterThan(100);
    for (const error of reported) expect(error).toBeInstanceOf(WebWireProtocolError);
    expect(c.engine.metrics().connects).toBe(1);
  });

  it('a reply that breaks the protocol fails its request with the rule', async () => {
    const { client } = await setup();
    const c = client();
    await c.start();
    const reported = nextEvent(c, 'protocol-error');
    expect(await rejection(c.request('odd-utf16', 'x'))).toMatchObject({ rule: 'utf16-length' });
    expect((await reported)[0].rule).toBe('utf16-length');
    expect(await c.request('echo', 'kept')).toBe('kept');
  });

  it('a reply over maxPayload fails its request and is reported; the connection is kept', async () => {
    const { client } = await setup();
    const c = client({ maxPayload: 32 });
    await c.start();
    const reported = nextEvent(c, 'protocol-error');
    const error = await rejection(c.request('echo', 'x'.repeat(40)));
    expect(error).toMatchObject({ rule: 'max-payload' });
    expect((await reported)[0].rule).toBe('max-payload');
    expect(await c.request('echo', 'small')).toBe('small');
    expect(c.engine.metrics().connects).toBe(1);
  });
});

describe('WebWire loopback server', () => {
  it('closes the TCP connection without a close frame on a malformed message', async () => {
    const { server } = await setup();
    const ws = new WebSocket(server.url);
    await nextOf(ws, 'open');
    const closed = nextOf(ws, 'close');
    ws.send(Buffer.of(128, 1, 2));
    const [code] = await closed;
    expect(code).toBe(1006);
  });

  it('answers the WEBWIRE method with its protocol version', async () => {
    const { server } = await setup();
    expect(await fetchProtocolVersion(httpUrlOf(server.url), AbortSignal.timeout(5000))).toBe('1.1');
  });
});

describe('WebWire client: options and start', () => {
  it('refuses invalid options, naming them', async () => {
    const { client } = await setup();
    expect(() => client({ requestTimeout: -1 })).toThrow(/requestTimeout/);
    expect(() => client({ restore: { retries: 1.5 } })).toThrow(/restore\.retries/);
    expect(() => client({ onMessage: () => {} } as never)).toThrow(/onMessage/);
    // The client queues requests itself (queue, maxQueued): an engine outbox would be dropped unseen.
    expect(() => client({ outbox: {} } as never)).toThrow(/Invalid option outbox: .*queue/);
    expect(() => client({ protocolVersion: 'yes' as never })).toThrow(/protocolVersion/);
  });

  it('start({ signal }) bounds the version check and the start', async () => {
    const { client, server } = await setup();
    const c = client({ protocolVersion: true });
    const error = await rejection(c.start({ signal: AbortSignal.abort(new Error('not now')) }));
    expect(error).toMatchObject({ message: 'not now' });
    expect(server.connections).toBe(0);
  });
});

describe('WebWire client: protocol version', () => {
  it('checks the version before dialling when asked', async () => {
    const { client, server } = await setup();
    const c = client({ protocolVersion: true });
    await c.start();
    expect(server.versionRequests).toBe(1);
    expect(await c.request('echo', 'checked')).toBe('checked');
  });

  it('does not dial a server of another version', async () => {
    const { client, server } = await setup();
    const asked: string[] = [];
    const c = client({
      protocolVersion: async (url) => {
        asked.push(url.href);
        return '2.0';
      },
    });
    const error = await rejection(c.start());
    expect(error).toBeInstanceOf(WebWireVersionError);
    expect(error).toMatchObject({ serverVersion: '2.0' });
    expect(asked).toEqual([server.url.replace('ws:', 'http:')]);
    expect(c.engine.state).toBe('idle');
    expect(server.connections).toBe(0);
  });
});
