/**
 * One options schema for what the adapters share: the same names, the same defaults, one
 * validator that names the option, one InvalidOptionError (the engine's is the same class).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket as UndiciWebSocket } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocketServer } from 'ws';
import { createBrowserAdapter } from '../../src/adapters/browser.js';
import { HandshakeError, InvalidArgumentError, InvalidOptionError, TimeoutError } from '../../src/adapters/errors.js';
import { createNativeAdapter } from '../../src/adapters/native/index.js';
import { ADAPTER_DEFAULTS, OptionReader } from '../../src/adapters/options.js';
import type { WebSocketConnectionAdapter } from '../../src/adapters/types.js';
import { createWsAdapter } from '../../src/adapters/ws.js';
import { InvalidOptionError as EngineInvalidOptionError, createEngine } from '../../src/engine/index.js';
import { MockAdapter, MockServer } from '../../src/mocks/index.js';
import { rejection } from '../../src/testing/rejection.js';
import { createWsPeer, type WsPeer } from '../../src/testing/ws-peer.js';

const mockServer = new MockServer();

/** Each adapter's factory, taking options of any shape (the point is to pass bad ones). */
const factories: Record<string, (options: object) => WebSocketConnectionAdapter> = {
  ws: (options) => createWsAdapter(options as never),
  native: (options) => createNativeAdapter(options as never),
  browser: (options) => createBrowserAdapter({ WebSocket: UndiciWebSocket, ...options } as never),
  mock: (options) => new MockAdapter(mockServer, options as never),
};

function optionError(create: () => unknown): InvalidOptionError {
  try {
    create();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return error as InvalidOptionError;
  }
  throw new Error('expected the options to be refused');
}

describe('the shared options, on every adapter', () => {
  for (const [name, create] of Object.entries(factories)) {
    describe(name, () => {
      it('accepts the shared options under their one name', () => {
        expect(() => create({ handshakeTimeout: 1000, closeTimeout: 0, readQueue: { messages: 16, bytes: 1024 } })).not.toThrow();
      });

      it('refuses a bad value with InvalidOptionError naming the option', () => {
        const cases: Array<[object, string]> = [
          [{ handshakeTimeout: 0 }, 'handshakeTimeout'],
          [{ handshakeTimeout: Number.NaN }, 'handshakeTimeout'],
          [{ closeTimeout: -1 }, 'closeTimeout'],
          [{ closeTimeout: 1.5 }, 'closeTimeout'],
          [{ readQueue: { messages: 0 } }, 'readQueue.messages'],
          [{ readQueue: { bytes: 'lots' } }, 'readQueue.bytes'],
          [{ readQueue: 7 }, 'readQueue'],
        ];
        for (const [options, option] of cases) {
          const error = optionError(() => create(options));
          expect(error.option, JSON.stringify(options)).toBe(option);
          expect(error.code).toBe('ERR_INVALID_OPTION');
          expect(error.message).toContain(`Invalid option ${option}:`);
        }
      });

      it('refuses options that are not an object with InvalidArgumentError', () => {
        // The browser factory of this file adds a WebSocket to the options: call the real one.
        const factory = name === 'browser' ? (options: unknown) => createBrowserAdapter(options as never) : create;
        for (const bad of [null, 42, 'options', [1]]) {
          let thrown: unknown;
          try {
            factory(bad as object);
          } catch (error) {
            thrown = error;
          }
          expect(thrown, JSON.stringify(bad)).toBeInstanceOf(InvalidArgumentError);
          expect((thrown as Error).message).toMatch(/expected an object/);
        }
      });

      it('refuses options it does not have, and says what an old name became', () => {
        expect(optionError(() => create({ handshakeTimout: 10 })).message).toMatch(/handshakeTimout: not an option/);
        expect(optionError(() => create({ readQueue: { message: 10 } })).option).toBe('readQueue.message');
        // A name every object inherits is no option either.
        expect(optionError(() => create({ constructor: 10 })).option).toBe('constructor');
        const renamed: Array<[object, string, string]> = [
          [{ readQueue: { highWaterMessages: 8 } }, 'readQueue.highWaterMessages', 'readQueue.messages'],
          [{ readQueue: { highWaterBytes: 8 } }, 'readQueue.highWaterBytes', 'readQueue.bytes'],
          [{ highWaterMessages: 8 }, 'highWaterMessages', 'readQueue.messages'],
          [{ readHighWaterBytes: 8 }, 'readHighWaterBytes', 'readQueue.bytes'],
        ];
        // Old names of the Node adapters' own options: renamed there, not options elsewhere.
        const node: Array<[object, string, string]> = [
          [{ maxMessageSize: 8 }, 'maxMessageSize', 'maxPayload'],
          [{ rejectUnauthorized: false }, 'rejectUnauthorized', 'tls.rejectUnauthorized'],
        ];
        const isNode = name === 'ws' || name === 'native';
        for (const [options, option, now] of [...renamed, ...node]) {
          const error = optionError(() => create(options));
          expect(error.option).toBe(option);
          expect(error.message).toContain(renamed.some(([, old]) => old === option) || isNode ? `renamed to ${now}` : 'not an option');
        }
      });
    });
  }
});

describe('the Node adapters: maxPayload, tls, followRedirects, maxRedirects', () => {
  for (const name of ['ws', 'native'] as const) {
    const create = factories[name]!;
    it(`${name}: checks them under the same names`, () => {
      expect(() =>
        create({ maxPayload: 1024, followRedirects: true, maxRedirects: 3, tls: { ca: 'PEM', rejectUnauthorized: true, servername: 'x' } }),
      ).not.toThrow();
      const cases: Array<[object, string]> = [
        [{ maxPayload: 0 }, 'maxPayload'],
        [{ maxPayload: 1.5 }, 'maxPayload'],
        [{ followRedirects: 'yes' }, 'followRedirects'],
        [{ maxRedirects: -1 }, 'maxRedirects'],
        [{ tls: { ca: 42 } }, 'tls.ca'],
        [{ tls: { cert: [Buffer.alloc(1), 1] } }, 'tls.cert'],
        [{ tls: { rejectUnauthorized: 'no' } }, 'tls.rejectUnauthorized'],
        [{ tls: { servername: 7 } }, 'tls.servername'],
        [{ tls: { certificate: 'PEM' } }, 'tls.certificate'],
      ];
      for (const [options, option] of cases) expect(optionError(() => create(options)).option, option).toBe(option);
    });
  }
});

describe('one InvalidOptionError', () => {
  it('is an InvalidArgumentError with its own code', () => {
    const error = new InvalidOptionError('readQueue.messages', 'expected an integer >= 1, got 0');
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.code).toBe('ERR_INVALID_OPTION');
    expect(error.name).toBe('InvalidOptionError');
  });

  it('is the class the engine throws too', () => {
    expect(EngineInvalidOptionError).toBe(InvalidOptionError);
    const error = optionError(() => createEngine({ url: mockServer.url, adapter: () => mockServer.createAdapter(), closeTimeout: -5 }));
    expect(error.option).toBe('closeTimeout');
  });

  it('names a nested option by its path', () => {
    const reader = new OptionReader({ outer: { inner: 'x' } }, 'test options');
    const outer = reader.object('outer');
    expect(optionError(() => outer.integer('inner', 1, 0)).option).toBe('outer.inner');
  });
});

describe('one default for the shared options', () => {
  it('holds the mock server at 4096 unread messages, as every adapter pauses its transport there', async () => {
    expect(ADAPTER_DEFAULTS.readQueue).toEqual({ messages: 4096, bytes: 8 * 1024 * 1024 });
    const server = new MockServer();
    const adapter = server.createAdapter();
    try {
      const [, connection] = await Promise.all([adapter.dial(server.url), server.accept()]);
      const sends: Array<Promise<void>> = [];
      for (let i = 0; i < 4097; i++) sends.push(connection.sendText(`m${i}`));
      // The first 4096 are in the adapter's queue; the next one waits for a reader.
      await Promise.all(sends.slice(0, 4096));
      let last = false;
      void sends[4096]!.then(() => (last = true));
      await Promise.resolve();
      expect(last).toBe(false);
      for (let i = 0; i < 4096; i++) await adapter.read();
      await sends[4096];
    } finally {
      await server.stop();
    }
  });
});

describe('handshakeTimeout on every adapter', () => {
  let peer: WsPeer | undefined;
  afterEach(async () => {
    await peer?.stop();
    peer = undefined;
    vi.useRealTimers();
  });

  for (const name of ['ws', 'native', 'browser'] as const) {
    it(`${name}: a dial the server never answers rejects with TimeoutError`, async () => {
      peer = createWsPeer();
      const url = await peer.start();
      // Not waited for: on a slow machine the timeout may run out before the request arrives.
      void peer.hangNext();
      const adapter = factories[name]!({ handshakeTimeout: 50 });
      expect(await rejection(adapter.dial(url))).toBeInstanceOf(TimeoutError);
    });
  }

  it('mock: a dial the server leaves unanswered rejects with TimeoutError when the clock passes it', async () => {
    vi.useFakeTimers();
    const server = new MockServer();
    server.hangNext();
    const adapter = new MockAdapter(server, { handshakeTimeout: 1000 });
    const dialled = rejection(adapter.dial(server.url));
    await vi.advanceTimersByTimeAsync(1000);
    expect(await dialled).toBeInstanceOf(TimeoutError);
    expect(adapter.state).toBe('closed');
    await server.stop();
  });
});

describe('maxRedirects: one default (10) on the Node adapters', () => {
  let server: Server | undefined;
  let wss: WebSocketServer | undefined;
  afterEach(async () => {
    wss?.close();
    server?.closeAllConnections();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    server = undefined;
    wss = undefined;
  });

  /** /r/N redirects to /r/N-1; /r/0 upgrades. */
  async function redirectingServer(): Promise<string> {
    wss = new WebSocketServer({ noServer: true });
    server = createServer((req, res) => {
      const hops = Number(req.url!.split('/')[2]);
      res.writeHead(302, { location: `/r/${hops - 1}`, 'content-length': '0' }).end();
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const hops = Number(req.url!.split('/')[2]);
      if (hops > 0) {
        socket.end(`HTTP/1.1 302 Found\r\nLocation: /r/${hops - 1}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
        return;
      }
      wss!.handleUpgrade(req, socket, head, (ws) => ws.on('error', () => {}));
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    return `ws://127.0.0.1:${address.port}`;
  }

  for (const name of ['ws', 'native'] as const) {
    it(`${name}: follows 10 redirects and refuses the 11th`, async () => {
      const base = await redirectingServer();
      const adapter = factories[name]!({ followRedirects: true });
      const answer = await adapter.dial(`${base}/r/10`);
      expect(new URL(answer.url).pathname).toBe('/r/0');
      await adapter.close(1000, '');
      expect(await rejection(factories[name]!({ followRedirects: true }).dial(`${base}/r/11`))).toBeInstanceOf(HandshakeError);
    });
  }
});
