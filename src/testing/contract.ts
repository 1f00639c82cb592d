/**
 * The adapter contract suite: every clause of `WebSocketConnectionAdapter`, checked against a
 * real peer. Every adapter of wsengine runs it (test/contract/), and anyone writing an adapter
 * of their own can run it too:
 *
 * ```ts
 * import { describeAdapterContract, createWsPeer } from 'wsengine/testing';
 * describeAdapterContract({ name: 'mine', createAdapter: () => new MyAdapter(), createPeer: () => createWsPeer() });
 * ```
 *
 * It uses vitest's `describe`/`it`/`expect`, so it runs inside a vitest test file.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ConnectionClosedError,
  HandshakeError,
  InvalidArgumentError,
  InvalidStateError,
  UnsupportedOperationError,
  WebSocketCloseError,
} from '../adapters/errors.js';
import { REFUSAL_BODY_LIMIT } from '../adapters/core/refusal-body.js';
import { MessageType, type Message, type WebSocketConnectionAdapter } from '../adapters/types.js';
import type { ContractPeer, PeerConnection } from './peer.js';
import { rejection } from './rejection.js';

/** What an adapter's runtime lets it do; the suite checks the documented fallback where it cannot. */
export interface ContractCapabilities {
  /** Sends ping frames (otherwise `ping` must reject with UnsupportedOperationError). Default true. */
  readonly ping?: boolean;
  /** Sends custom request headers on dial. Default true. */
  readonly requestHeaders?: boolean;
  /** Exposes the handshake's HTTP status and headers, on success and on refusal. Default true. */
  readonly handshakeDetails?: boolean;
  /** Offers the optional `tryRead()`. Default true. */
  readonly tryRead?: boolean;
  /** Offers the optional `listen()`. Default true. */
  readonly listen?: boolean;
  /**
   * Offers the optional `tryWrite()`. Default true. `'refuses'`: offered, but in this
   * configuration every message needs work before it can go (compression), so it always
   * returns false and `write` sends.
   */
  readonly tryWrite?: boolean | 'refuses';
}

export interface AdapterContractOptions {
  /** Shown in the suite's title. */
  readonly name: string;
  /** A fresh adapter for each test. */
  readonly createAdapter: () => WebSocketConnectionAdapter;
  /** A fresh peer for each test. */
  readonly createPeer: () => ContractPeer;
  readonly capabilities?: ContractCapabilities;
  /**
   * How many unread messages the adapter's inbound queue holds before it pauses the transport
   * (its `readQueue.messages`). Tests that need a burst to arrive unread stay below it. Default 256
   * (the adapters' default is 4096; the suite's bursts are smaller either way).
   */
  readonly queuedMessages?: number;
}

/** Sizes at the frame-length boundaries of RFC 6455 section 5.2 (7-bit, 16-bit, 64-bit lengths). */
export const CONTRACT_MESSAGE_SIZES = [0, 125, 126, 65535, 65536, 1024 * 1024] as const;

function textOfSize(size: number, seed: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  const chunk = Array.from({ length: 64 }, (_, i) => alphabet[(i + seed) % alphabet.length]).join('');
  while (out.length + chunk.length <= size) out += chunk;
  return out + chunk.slice(0, size - out.length);
}

function bytesOfSize(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function expectMessage(actual: Message, type: MessageType, data: string | Uint8Array): void {
  expect(actual.type).toBe(type);
  if (typeof data === 'string') {
    expect(typeof actual.data).toBe('string');
    // Compare without letting a 1 MiB diff flood the report.
    expect((actual.data as string).length).toBe(data.length);
    expect(actual.data === data).toBe(true);
  } else {
    expect(actual.data).toBeInstanceOf(Uint8Array);
    expect((actual.data as Uint8Array).byteLength).toBe(data.byteLength);
    expect(bytesEqual(actual.data as Uint8Array, data)).toBe(true);
  }
}

/** Defines the contract suite for one adapter. Call it at the top level of a vitest test file. */
export function describeAdapterContract(options: AdapterContractOptions): void {
  const caps = { ping: true, requestHeaders: true, handshakeDetails: true, tryRead: true, listen: true, tryWrite: true, ...options.capabilities };

  describe(`adapter contract: ${options.name}`, () => {
    let peer: ContractPeer;
    let url: string;
    let adapter: WebSocketConnectionAdapter;

    beforeEach(async () => {
      peer = options.createPeer();
      url = await peer.start();
      adapter = options.createAdapter();
    });

    afterEach(async () => {
      await adapter.close(1000, '').catch(() => {});
      await peer.stop();
    });

    async function open(): Promise<PeerConnection> {
      const [, connection] = await Promise.all([adapter.dial(url), peer.accept()]);
      return connection;
    }

    describe('dial', () => {
      it('resolves with the handshake answer once the handshake is complete', async () => {
        const dialled = adapter.dial(url, {
          protocols: ['contract.v2', 'contract.v1'],
          ...(caps.requestHeaders ? { headers: { 'X-Contract': 'yes' } } : {}),
        });
        const connection = await peer.accept();
        const answer = await dialled;
        expect(answer.protocol).toBe('contract.v2');
        expect(connection.protocol).toBe('contract.v2');
        expect(new URL(answer.url).host).toBe(new URL(url).host);
        expect(typeof answer.extensions).toBe('string');
        if (caps.handshakeDetails) {
          expect(answer.status).toBe(101);
          expect(answer.headers['upgrade']?.toLowerCase()).toBe('websocket');
          expect(answer.headers['sec-websocket-protocol']).toBe('contract.v2');
        } else {
          expect(answer.status).toBeUndefined();
        }
        if (caps.requestHeaders) expect(connection.requestHeaders['x-contract']).toBe('yes');
        expect(adapter.underlying()).toBeDefined();
        // The connection is usable at once.
        await connection.send(MessageType.Text, 'ready');
        expectMessage(await adapter.read(), MessageType.Text, 'ready');
      });

      it('offers no subprotocol when none is asked for', async () => {
        const [answer, connection] = await Promise.all([adapter.dial(url), peer.accept()]);
        expect(answer.protocol).toBe('');
        expect(connection.protocol).toBe('');
      });

      for (const status of [401, 404, 500, 200]) {
        it(`rejects a refused upgrade (${status}) with HandshakeError`, async () => {
          peer.refuseNext({ status, headers: { 'x-refused-by': 'contract' }, body: 'no' });
          const error = await rejection(adapter.dial(url));
          expect(error).toBeInstanceOf(HandshakeError);
          const handshake = error as HandshakeError;
          expect(handshake.code).toBe('ERR_HANDSHAKE');
          if (caps.handshakeDetails) {
            expect(handshake.status).toBe(status);
            expect(handshake.headers['x-refused-by']).toBe('contract');
          }
          // A refused dial leaves the adapter usable for the next one.
          const [answer] = await Promise.all([adapter.dial(url), peer.accept()]);
          expect(answer.protocol).toBe('');
        });
      }

      it(`keeps at most ${REFUSAL_BODY_LIMIT} bytes of a refusal's body, never half a character`, async () => {
        // 1 + 2 * 2047 = 4095 bytes fit; the next 2-byte character would straddle the cap.
        const body = `x${'é'.repeat(3000)}`;
        peer.refuseNext({ status: 403, body });
        const error = await rejection(adapter.dial(url));
        expect(error).toBeInstanceOf(HandshakeError);
        const kept = (error as HandshakeError).body;
        if (caps.handshakeDetails) {
          expect(kept?.length).toBe(1 + 2047);
          expect(kept === `x${'é'.repeat(2047)}`).toBe(true);
        } else {
          expect(kept).toBeUndefined();
        }
      });

      it('reports a short refusal body whole, and no body when the refusal has none', async () => {
        peer.refuseNext({ status: 401, body: '{"error":"token expired"}' });
        const error = await rejection(adapter.dial(url));
        expect((error as HandshakeError).body).toBe(caps.handshakeDetails ? '{"error":"token expired"}' : undefined);
        peer.refuseNext({ status: 404 });
        expect(((await rejection(adapter.dial(url))) as HandshakeError).body).toBeUndefined();
      });

      it('close() during a dial that hangs: close resolves, the dial rejects with ConnectionClosedError', async () => {
        const held = peer.hangNext();
        const dialled = rejection(adapter.dial(url));
        await held;
        await adapter.close(1000, '');
        const error = await dialled;
        expect(error).toBeInstanceOf(ConnectionClosedError);
        // Nothing is left open, and the adapter dials again normally.
        expect(adapter.underlying()).toBeUndefined();
        expect(await rejection(adapter.read())).toBeInstanceOf(ConnectionClosedError);
        expect(await rejection(adapter.close())).toBeInstanceOf(ConnectionClosedError);
        const [answer] = await Promise.all([adapter.dial(url), peer.accept()]);
        expect(answer.protocol).toBe('');
      });

      it('rejects a subprotocol the client did not offer (RFC 6455 section 4.1)', async () => {
        peer.selectProtocol(() => 'not.offered');
        const error = await rejection(adapter.dial(url, { protocols: ['contract.v1'] }));
        expect(error).toBeInstanceOf(HandshakeError);
      });

      it('rejects with HandshakeError when nothing listens', async () => {
        await peer.stop();
        const error = await rejection(adapter.dial(url));
        expect(error).toBeInstanceOf(HandshakeError);
        expect((error as HandshakeError).status).toBeUndefined();
      });

      it('refuses URLs that are not WebSocket URLs', async () => {
        for (const bad of ['ftp://127.0.0.1/', 'not a url', 'ws://127.0.0.1/#fragment']) {
          const error = await rejection(adapter.dial(bad));
          expect(error, bad).toBeInstanceOf(InvalidArgumentError);
          expect((error as Error).message.length).toBeGreaterThan(10);
        }
      });

      it('refuses a dial while a dial is in progress', async () => {
        const first = adapter.dial(url);
        const error = await rejection(adapter.dial(url));
        expect(error).toBeInstanceOf(InvalidStateError);
        await Promise.all([first, peer.accept()]);
      });

      it('closes and drops the previous connection when dialled again', async () => {
        const first = await open();
        const second = await open();
        const closed = await first.closed;
        expect(typeof closed.code).toBe('number');
        await second.send(MessageType.Text, 'from-second');
        expectMessage(await adapter.read(), MessageType.Text, 'from-second');
      });

      it('rejects with the reason of an aborted signal', async () => {
        const reason = new Error('dial aborted by test');
        const error = await rejection(adapter.dial(url, { signal: AbortSignal.abort(reason) }));
        expect(error).toBe(reason);
      });
    });

    describe('read and write', () => {
      for (const size of CONTRACT_MESSAGE_SIZES) {
        it(`carries ${size}-byte text and binary messages both ways`, async () => {
          const connection = await open();
          const text = textOfSize(size, 1);
          const bytes = bytesOfSize(size, 2);
          await adapter.write(MessageType.Text, text);
          await adapter.write(MessageType.Binary, bytes);
          expectMessage(await connection.receive(), MessageType.Text, text);
          expectMessage(await connection.receive(), MessageType.Binary, bytes);
          await connection.send(MessageType.Binary, bytesOfSize(size, 3));
          await connection.send(MessageType.Text, textOfSize(size, 4));
          expectMessage(await adapter.read(), MessageType.Binary, bytesOfSize(size, 3));
          expectMessage(await adapter.read(), MessageType.Text, textOfSize(size, 4));
        });
      }

      it('carries multi-byte UTF-8 text unchanged', async () => {
        const connection = await open();
        const text = 'prix: 12,50 € — 値段 — 🚀';
        await adapter.write(MessageType.Text, text);
        expectMessage(await connection.receive(), MessageType.Text, text);
        await connection.send(MessageType.Text, text);
        expectMessage(await adapter.read(), MessageType.Text, text);
      });

      it('accepts text given as UTF-8 bytes and binary given as an ArrayBuffer', async () => {
        const connection = await open();
        await adapter.write(MessageType.Text, new TextEncoder().encode('bytes as text'));
        const buffer = new Uint8Array([1, 2, 3]).buffer;
        await adapter.write(MessageType.Binary, buffer);
        expectMessage(await connection.receive(), MessageType.Text, 'bytes as text');
        expectMessage(await connection.receive(), MessageType.Binary, new Uint8Array([1, 2, 3]));
      });

      it('sends concurrent writes whole and in call order', async () => {
        const connection = await open();
        const sent = Array.from({ length: 200 }, (_, i) =>
          i % 3 === 0 ? bytesOfSize((i * 997) % 70_000, i) : `message ${i} ${textOfSize((i * 389) % 3000, i)}`,
        );
        await Promise.all(
          sent.map((data) => adapter.write(typeof data === 'string' ? MessageType.Text : MessageType.Binary, data)),
        );
        for (const data of sent) {
          expectMessage(await connection.receive(), typeof data === 'string' ? MessageType.Text : MessageType.Binary, data);
        }
      });

      it('serves concurrent reads in call order', async () => {
        const connection = await open();
        const reads = [adapter.read(), adapter.read(), adapter.read()];
        await connection.send(MessageType.Text, 'one');
        await connection.send(MessageType.Text, 'two');
        await connection.send(MessageType.Binary, new Uint8Array([3]));
        const [a, b, c] = await Promise.all(reads);
        expectMessage(a!, MessageType.Text, 'one');
        expectMessage(b!, MessageType.Text, 'two');
        expectMessage(c!, MessageType.Binary, new Uint8Array([3]));
      });

      it('keeps messages that arrive while nobody reads', async () => {
        const connection = await open();
        for (let i = 0; i < 50; i++) await connection.send(MessageType.Text, `queued ${i}`);
        for (let i = 0; i < 50; i++) expectMessage(await adapter.read(), MessageType.Text, `queued ${i}`);
      });

      it('refuses writes of a wrong type or data', async () => {
        const connection = await open();
        const bad: Array<[unknown, unknown]> = [
          [3, 'x'],
          [0, new Uint8Array(1)],
          [MessageType.Binary, 'a string is not binary'],
          [MessageType.Text, 42],
          [MessageType.Text, { data: 'x' }],
          [MessageType.Binary, null],
          [MessageType.Text, new Uint8Array([0xff, 0xfe])],
        ];
        for (const [type, data] of bad) {
          const error = await rejection(
            adapter.write(type as MessageType, data as string),
          );
          expect(error, `${String(type)} ${String(data)}`).toBeInstanceOf(InvalidArgumentError);
        }
        // None of them broke the connection.
        await adapter.write(MessageType.Text, 'still fine');
        expectMessage(await connection.receive(), MessageType.Text, 'still fine');
      });

      it('rejects a read with the signal reason when aborted, and keeps the message for the next read', async () => {
        const connection = await open();
        const controller = new AbortController();
        const pending = adapter.read({ signal: controller.signal });
        const reason = new Error('read aborted by test');
        controller.abort(reason);
        expect(await rejection(pending)).toBe(reason);
        expect(await rejection(adapter.read({ signal: AbortSignal.abort(reason) }))).toBe(reason);
        await connection.send(MessageType.Text, 'after abort');
        expectMessage(await adapter.read(), MessageType.Text, 'after abort');
      });

      it('does not send a write whose signal is already aborted', async () => {
        const connection = await open();
        const reason = new Error('write aborted by test');
        expect(await rejection(adapter.write(MessageType.Text, 'never', { signal: AbortSignal.abort(reason) }))).toBe(reason);
        await adapter.write(MessageType.Text, 'sent');
        expectMessage(await connection.receive(), MessageType.Text, 'sent');
      });
    });

    describe('tryRead', () => {
      if (!caps.tryRead) {
        it('is not offered', () => {
          expect(adapter.tryRead).toBeUndefined();
        });
        return;
      }
      const tryRead = (): Message | undefined => adapter.tryRead!();

      it('returns undefined before any dial and while nothing is queued', async () => {
        expect(tryRead()).toBeUndefined();
        const connection = await open();
        expect(tryRead()).toBeUndefined();
        await connection.send(MessageType.Text, 'via read');
        expectMessage(await adapter.read(), MessageType.Text, 'via read');
        expect(tryRead()).toBeUndefined();
      });

      it('shares one queue with read: every message once, in order, mixed freely', async () => {
        const connection = await open();
        const count = 40;
        for (let i = 0; i < count; i++) await connection.send(i % 3 === 0 ? MessageType.Binary : MessageType.Text, i % 3 === 0 ? new Uint8Array([i]) : `m${i}`);
        for (let i = 0; i < count; i++) {
          const message = (i % 2 === 0 ? tryRead() : undefined) ?? (await adapter.read());
          if (i % 3 === 0) expectMessage(message, MessageType.Binary, new Uint8Array([i]));
          else expectMessage(message, MessageType.Text, `m${i}`);
        }
        expect(tryRead()).toBeUndefined();
      });

      it('leaves a message to a pending read', async () => {
        const connection = await open();
        const pending = adapter.read();
        expect(tryRead()).toBeUndefined();
        await connection.send(MessageType.Text, 'for the reader');
        expectMessage(await pending, MessageType.Text, 'for the reader');
        expect(tryRead()).toBeUndefined();
      });

      // A full queue pauses the transport, which would hold the pong back too.
      const burst = Math.min(20, (options.queuedMessages ?? 256) - 1);
      if (caps.ping && burst > 0) {
        it('returns every message that arrived, in order, without waiting', async () => {
          const connection = await open();
          for (let i = 0; i < burst; i++) await connection.send(MessageType.Text, `burst ${i}`);
          // The pong comes after the burst on the same TCP stream: all of it has arrived.
          await adapter.ping();
          for (let i = 0; i < burst; i++) expectMessage(tryRead()!, MessageType.Text, `burst ${i}`);
          expect(tryRead()).toBeUndefined();
        });
      }

      it('never throws once the connection is closed: read reports the close', async () => {
        const connection = await open();
        await connection.close(1000, 'done');
        const error = await rejection(adapter.read());
        expect(error).toBeInstanceOf(WebSocketCloseError);
        expect(tryRead()).toBeUndefined();
        await adapter.close(1000, '').catch(() => {});
        expect(tryRead()).toBeUndefined();
      });
    });

    describe('listen', () => {
      if (!caps.listen) {
        it('is not offered', () => {
          expect(adapter.listen).toBeUndefined();
        });
        return;
      }
      const listen = (listener: ((message: Message | undefined) => void) | undefined): boolean => adapter.listen!(listener);
      /** A listener that records what it gets; `until(n)` resolves once it got `n` calls. */
      function recorder(): { got: Array<Message | undefined>; listener: (message: Message | undefined) => void; until(n: number): Promise<void> } {
        const got: Array<Message | undefined> = [];
        const waiting: Array<[number, () => void]> = [];
        return {
          got,
          listener: (message) => {
            got.push(message);
            for (const [n, resolve] of waiting) if (got.length >= n) resolve();
          },
          until: (n) => new Promise<void>((resolve) => (got.length >= n ? resolve() : waiting.push([n, resolve]))),
        };
      }

      it('is refused before any dial', () => {
        expect(listen(() => {})).toBe(false);
      });

      it('hands each message over as it arrives, in order, until listen(undefined); later ones queue', async () => {
        const connection = await open();
        const r = recorder();
        expect(listen(r.listener)).toBe(true);
        for (let i = 0; i < 6; i++) await connection.send(i % 2 === 0 ? MessageType.Text : MessageType.Binary, i % 2 === 0 ? `m${i}` : new Uint8Array([i]));
        await r.until(6);
        r.got.forEach((message, i) => expectMessage(message!, i % 2 === 0 ? MessageType.Text : MessageType.Binary, i % 2 === 0 ? `m${i}` : new Uint8Array([i])));
        if (caps.tryRead) expect(adapter.tryRead!()).toBeUndefined();
        expect(listen(undefined)).toBe(true);
        await connection.send(MessageType.Text, 'queued');
        expectMessage(await adapter.read(), MessageType.Text, 'queued');
        expect(r.got).toHaveLength(6);
      });

      it('is refused while a read is pending or messages are queued: those come first', async () => {
        const connection = await open();
        const pending = adapter.read();
        expect(listen(() => {})).toBe(false);
        await connection.send(MessageType.Text, 'first');
        expectMessage(await pending, MessageType.Text, 'first');
        // A queue that pauses at one message would hold the pong back.
        if (caps.ping && (options.queuedMessages ?? 256) > 1) {
          await connection.send(MessageType.Text, 'second');
          await adapter.ping(); // the pong follows the message on the same stream
          expect(listen(() => {})).toBe(false);
          expectMessage(await adapter.read(), MessageType.Text, 'second');
        }
        const r = recorder();
        expect(listen(r.listener)).toBe(true);
        await connection.send(MessageType.Text, 'third');
        await r.until(1);
        expectMessage(r.got[0]!, MessageType.Text, 'third');
      });

      it('stops at once when the listener calls listen(undefined): the rest queue in order', async () => {
        const connection = await open();
        const got: Message[] = [];
        let first!: () => void;
        const firstCame = new Promise<void>((resolve) => (first = resolve));
        expect(
          listen((message) => {
            got.push(message!);
            listen(undefined);
            first();
          }),
        ).toBe(true);
        for (let i = 0; i < 4; i++) await connection.send(MessageType.Text, `m${i}`);
        await firstCame;
        for (let i = 1; i < 4; i++) expectMessage(await adapter.read(), MessageType.Text, `m${i}`);
        expect(got).toHaveLength(1);
        expectMessage(got[0]!, MessageType.Text, 'm0');
      });

      it('gives the next message to a read made while listening, the later ones to the listener', async () => {
        const connection = await open();
        const r = recorder();
        expect(listen(r.listener)).toBe(true);
        const pending = adapter.read();
        await connection.send(MessageType.Text, 'for the read');
        await connection.send(MessageType.Text, 'for the listener');
        expectMessage(await pending, MessageType.Text, 'for the read');
        await r.until(1);
        expectMessage(r.got[0]!, MessageType.Text, 'for the listener');
      });

      it('calls the listener once with undefined when the server closes; read then reports the close', async () => {
        const connection = await open();
        const r = recorder();
        expect(listen(r.listener)).toBe(true);
        await connection.send(MessageType.Text, 'before the close');
        await connection.close(1000, 'done');
        await r.until(2);
        expectMessage(r.got[0]!, MessageType.Text, 'before the close');
        expect(r.got[1]).toBeUndefined();
        const error = await rejection(adapter.read());
        expect(error).toBeInstanceOf(WebSocketCloseError);
        expect((error as WebSocketCloseError).code).toBe(1000);
        expect(listen(() => {})).toBe(false);
        expect(r.got).toHaveLength(2);
      });

      it('ends with a local close: the listener gets undefined once, and listening is refused after', async () => {
        await open();
        const r = recorder();
        expect(listen(r.listener)).toBe(true);
        await adapter.close(1000, 'bye');
        await r.until(1);
        expect(r.got).toEqual([undefined]);
        expect(listen(() => {})).toBe(false);
        expect(await rejection(adapter.read())).toBeInstanceOf(WebSocketCloseError);
      });
    });

    describe('tryWrite', () => {
      if (!caps.tryWrite) {
        it('is not offered', () => {
          expect(adapter.tryWrite).toBeUndefined();
        });
        return;
      }
      const tryWrite = (type: MessageType, data: string | Uint8Array): boolean => adapter.tryWrite!(type, data);

      it('returns false before any dial', () => {
        expect(tryWrite(MessageType.Text, 'nowhere')).toBe(false);
      });

      if (caps.tryWrite === 'refuses') {
        it('returns false and sends nothing: write sends', async () => {
          const connection = await open();
          expect(tryWrite(MessageType.Text, 'not at once')).toBe(false);
          expect(tryWrite(MessageType.Binary, new Uint8Array([1]))).toBe(false);
          await adapter.write(MessageType.Text, 'by write');
          expectMessage(await connection.receive(), MessageType.Text, 'by write');
        });
      } else {
        it('hands a message over at once: the peer gets it', async () => {
          const connection = await open();
          expect(tryWrite(MessageType.Text, 'at once')).toBe(true);
          expect(tryWrite(MessageType.Binary, new Uint8Array([1, 2, 3]))).toBe(true);
          expect(tryWrite(MessageType.Text, new TextEncoder().encode('text as bytes'))).toBe(true);
          expectMessage(await connection.receive(), MessageType.Text, 'at once');
          expectMessage(await connection.receive(), MessageType.Binary, new Uint8Array([1, 2, 3]));
          expectMessage(await connection.receive(), MessageType.Text, 'text as bytes');
        });
      }

      it('never overtakes a waiting write: tryWrite, else write, keeps call order under backpressure', async () => {
        const connection = await open();
        // About 14 MB at once, more than the kernel and the adapter buffer: some writes wait.
        const sent = Array.from({ length: 200 }, (_, i) =>
          i % 2 === 0 ? bytesOfSize(i % 10 === 0 ? 700_000 : (i * 997) % 70_000, i) : `message ${i} ${textOfSize((i * 389) % 3000, i)}`,
        );
        const waiting: Array<Promise<void>> = [];
        for (const [i, data] of sent.entries()) {
          const type = typeof data === 'string' ? MessageType.Text : MessageType.Binary;
          if (!tryWrite(type, data)) waiting.push(adapter.write(type, data));
          // Now and then, once the oldest waiting write went out: the buffer has room again
          // while later writes may still wait.
          if (i % 50 === 49 && waiting.length > 0) await waiting[0];
        }
        for (const data of sent) {
          expectMessage(await connection.receive(), typeof data === 'string' ? MessageType.Text : MessageType.Binary, data);
        }
        await Promise.all(waiting);
      });

      it('throws InvalidArgumentError for a wrong type or data, and the connection carries on', async () => {
        const connection = await open();
        const bad: Array<[unknown, unknown]> = [
          [3, 'x'],
          [MessageType.Binary, 'a string is not binary'],
          [MessageType.Text, 42],
          [MessageType.Text, new Uint8Array([0xff, 0xfe])],
        ];
        for (const [type, data] of bad) {
          expect(() => tryWrite(type as MessageType, data as string), `${String(type)} ${String(data)}`).toThrow(InvalidArgumentError);
        }
        const atOnce = caps.tryWrite !== 'refuses';
        expect(tryWrite(MessageType.Text, 'still fine')).toBe(atOnce);
        if (!atOnce) await adapter.write(MessageType.Text, 'still fine');
        expectMessage(await connection.receive(), MessageType.Text, 'still fine');
      });

      it('returns false once the connection is closed locally or by the server', async () => {
        let connection = await open();
        await adapter.close(1000, 'bye');
        expect(tryWrite(MessageType.Text, 'too late')).toBe(false);
        connection = await open();
        await connection.close(1000, 'server bye');
        expect(await rejection(adapter.read())).toBeInstanceOf(WebSocketCloseError);
        expect(tryWrite(MessageType.Text, 'too late')).toBe(false);
      });
    });

    describe('ping', () => {
      if (caps.ping) {
        it('resolves on the pong with nobody reading', async () => {
          await open();
          await adapter.ping();
          await Promise.all([adapter.ping(), adapter.ping(), adapter.ping()]);
        });

        it('rejects with the signal reason when no pong comes', async () => {
          const connection = await open();
          connection.ignorePings(true);
          const controller = new AbortController();
          const reason = new Error('ping aborted by test');
          const pending = adapter.ping({ signal: controller.signal });
          // Prove the ping is outstanding: a message sent after the ping still arrives first.
          await connection.send(MessageType.Text, 'while pinging');
          expectMessage(await adapter.read(), MessageType.Text, 'while pinging');
          controller.abort(reason);
          expect(await rejection(pending)).toBe(reason);
          expect(await rejection(adapter.ping({ signal: AbortSignal.abort(reason) }))).toBe(reason);
        });

        it('rejects when the connection closes while waiting for the pong', async () => {
          const connection = await open();
          connection.ignorePings(true);
          const pending = adapter.ping();
          connection.drop();
          expect(await rejection(pending)).toBeInstanceOf(ConnectionClosedError);
        });
      } else {
        it('rejects with UnsupportedOperationError', async () => {
          await open();
          expect(await rejection(adapter.ping())).toBeInstanceOf(UnsupportedOperationError);
        });
      }
    });

    describe('close', () => {
      for (const [code, reason] of [
        [1000, ''],
        [4000, 'client done'],
      ] as const) {
        it(`sends close ${code} with its reason and finishes the closing handshake`, async () => {
          const connection = await open();
          await adapter.close(code, reason);
          expect(await connection.closed).toEqual({ code, reason });
          const readError = await rejection(adapter.read());
          expect(readError).toBeInstanceOf(WebSocketCloseError);
          expect(await rejection(adapter.write(MessageType.Text, 'late'))).toBeInstanceOf(ConnectionClosedError);
          const pingError = await rejection(adapter.ping());
          expect(pingError).toBeInstanceOf(caps.ping ? ConnectionClosedError : UnsupportedOperationError);
          expect(await rejection(adapter.close())).toBeInstanceOf(ConnectionClosedError);
        });
      }

      it('sends a reason of exactly 123 UTF-8 bytes', async () => {
        const connection = await open();
        const reason = '€'.repeat(41); // 3 bytes each
        await adapter.close(4001, reason);
        expect(await connection.closed).toEqual({ code: 4001, reason });
      });

      it('refuses invalid codes and long reasons without closing', async () => {
        const connection = await open();
        for (const code of [0, 999, 1004, 1005, 1006, 1015, 2999, 5000, 1000.5]) {
          expect(await rejection(adapter.close(code)), String(code)).toBeInstanceOf(InvalidArgumentError);
        }
        expect(await rejection(adapter.close(1000, 'x'.repeat(124)))).toBeInstanceOf(InvalidArgumentError);
        expect(await rejection(adapter.close(1000, '€'.repeat(42)))).toBeInstanceOf(InvalidArgumentError);
        await adapter.write(MessageType.Text, 'still open');
        expectMessage(await connection.receive(), MessageType.Text, 'still open');
      });

      it('reports the server close code and reason to read, after the messages sent before it', async () => {
        const connection = await open();
        await connection.send(MessageType.Text, 'last words');
        await connection.close(4002, 'server done');
        expectMessage(await adapter.read(), MessageType.Text, 'last words');
        const error = await rejection(adapter.read());
        expect(error).toBeInstanceOf(WebSocketCloseError);
        expect((error as WebSocketCloseError).code).toBe(4002);
        expect((error as WebSocketCloseError).reason).toBe('server done');
        // The close error is sticky, and the adapter counts as closed.
        expect(((await rejection(adapter.read())) as WebSocketCloseError).code).toBe(4002);
        // RFC 6455 section 5.5.1: the answer typically echoes the code; the reason is the client's own.
        expect((await connection.closed).code).toBe(4002);
        expect(await rejection(adapter.write(MessageType.Text, 'late'))).toBeInstanceOf(ConnectionClosedError);
      });

      it('reports 1006 when the TCP connection drops without a close frame', async () => {
        const connection = await open();
        const pending = adapter.read();
        connection.drop();
        const error = await rejection(pending);
        expect(error).toBeInstanceOf(WebSocketCloseError);
        expect((error as WebSocketCloseError).code).toBe(1006);
        expect((error as WebSocketCloseError).wasClean).toBe(false);
        expect(await rejection(adapter.write(MessageType.Text, 'late'))).toBeInstanceOf(ConnectionClosedError);
      });

      it('drops pending reads when closed locally', async () => {
        await open();
        const pending = rejection(adapter.read());
        await adapter.close(1000, 'bye');
        expect(await pending).toBeInstanceOf(WebSocketCloseError);
      });

      it('closes even when the signal is already aborted', async () => {
        const connection = await open();
        // The signal only cuts short the wait for the server's close frame: close still happens.
        await adapter.close(1000, 'aborted close', { signal: AbortSignal.abort(new Error('close aborted by test')) });
        const closed = await connection.closed;
        expect([1000, 1006]).toContain(closed.code);
        expect(await rejection(adapter.write(MessageType.Text, 'late'))).toBeInstanceOf(ConnectionClosedError);
        expect(await rejection(adapter.close())).toBeInstanceOf(ConnectionClosedError);
      });
    });

    describe('before any dial', () => {
      it('rejects every operation with ConnectionClosedError', async () => {
        expect(await rejection(adapter.read())).toBeInstanceOf(ConnectionClosedError);
        expect(await rejection(adapter.write(MessageType.Text, 'x'))).toBeInstanceOf(ConnectionClosedError);
        expect(await rejection(adapter.close())).toBeInstanceOf(ConnectionClosedError);
        expect(await rejection(adapter.ping())).toBeInstanceOf(
          caps.ping ? ConnectionClosedError : UnsupportedOperationError,
        );
        expect(adapter.underlying()).toBeUndefined();
      });
    });
  });
}
