/**
 * Conformance of the native client against independent server implementations on loopback:
 * the `ws` server (in process), Python's `websockets` and Autobahn|Python (child processes),
 * with and without permessage-deflate, and with the deflate parameters of RFC 7692 section 7.1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { WebSocketCloseError } from '../../../src/adapters/errors.js';
import { createNativeAdapter, type NativeAdapter } from '../../../src/adapters/native/index.js';
import { MessageType, type Message } from '../../../src/adapters/types.js';
import { rejection } from './helpers.js';

interface EchoServer {
  url: string;
  stop(): Promise<void>;
}

async function startWsServer(deflate: boolean): Promise<EchoServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: deflate ? { threshold: 0 } : false });
  const sockets = new Set<Socket>();
  wss.on('connection', (ws, request) => {
    const socket = request.socket;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    ws.on('message', (data, binary) => {
      if (!binary && data.toString() === 'please-close') ws.close(4001, 'ws done');
      else ws.send(data, { binary });
    });
  });
  await once(wss, 'listening');
  return {
    url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}/`,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

const PYTHON_SCRIPT = fileURLToPath(new URL('./fixtures/python-echo-server.py', import.meta.url));
const AUTOBAHN_SCRIPT = fileURLToPath(new URL('./fixtures/autobahn-echo-server.py', import.meta.url));

/** Start a Python echo server script; it prints its port once listening. Stopped by PID. */
async function startPythonScript(script: string, args: string[]): Promise<EchoServer> {
  // Debian's interpreter, where python3-websockets and python3-autobahn are installed.
  const child: ChildProcess = spawn('/usr/bin/python3', [script, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before listening`)));
    child.once('error', reject);
  });
  return {
    url: `ws://127.0.0.1:${port}/`,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        process.kill(child.pid!, 'SIGTERM');
        await exited;
      }
    },
  };
}

function startPythonServer(deflate: boolean): Promise<EchoServer> {
  return startPythonScript(PYTHON_SCRIPT, deflate ? ['--deflate'] : []);
}

function startAutobahnServer(deflate: boolean): Promise<EchoServer> {
  // Autobahn also fragments what it sends, so reassembly is checked against it.
  return startPythonScript(AUTOBAHN_SCRIPT, [...(deflate ? ['--deflate', 'default'] : []), '--fragment', '1000']);
}

function bytes(size: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

function expectEcho(actual: Message, type: MessageType, data: string | Buffer): void {
  expect(actual.type).toBe(type);
  if (typeof data === 'string') expect(actual.data === data).toBe(true);
  else expect(Buffer.from(actual.data as Uint8Array).equals(data)).toBe(true);
}

const servers: Array<[string, (deflate: boolean) => Promise<EchoServer>, string]> = [
  ['ws', startWsServer, 'ws done'],
  ['Python websockets', startPythonServer, 'py done'],
  ['Autobahn|Python', startAutobahnServer, 'autobahn done'],
];

for (const [name, start, closeReason] of servers) {
  for (const deflate of [false, true]) {
    describe(`native client against ${name}${deflate ? ' with permessage-deflate' : ''}`, () => {
      let server: EchoServer;
      let adapter: NativeAdapter;

      beforeAll(async () => {
        server = await start(deflate);
      });
      afterAll(async () => {
        await server.stop();
      });
      afterEach(async () => {
        await adapter.close().catch(() => {});
      });

      async function dial(options: Parameters<typeof createNativeAdapter>[0] = {}): Promise<void> {
        adapter = createNativeAdapter({ perMessageDeflate: deflate ? { threshold: 0 } : false, ...options });
        const response = await adapter.dial(server.url);
        if (deflate) expect(response.extensions).toMatch(/^permessage-deflate/);
        else expect(response.extensions).toBe('');
      }

      it('echoes text and binary at every length encoding', async () => {
        await dial();
        for (const size of [0, 1, 125, 126, 65535, 65536, 1024 * 1024]) {
          const text = 'é'.repeat(size >> 1) + 'x'.repeat(size & 1);
          await adapter.write(MessageType.Text, text);
          expectEcho(await adapter.read(), MessageType.Text, text);
          const data = bytes(size, size);
          await adapter.write(MessageType.Binary, data);
          expectEcho(await adapter.read(), MessageType.Binary, data);
        }
      });

      it('echoes fragmented writes, in order, under concurrency', async () => {
        await dial({ fragmentSize: 1000 });
        const sent = Array.from({ length: 60 }, (_, i) => (i % 2 ? `msg ${i} ${'€'.repeat(i * 50)}` : bytes(i * 500, i)));
        await Promise.all(sent.map((d) => adapter.write(typeof d === 'string' ? MessageType.Text : MessageType.Binary, d)));
        for (const d of sent) expectEcho(await adapter.read(), typeof d === 'string' ? MessageType.Text : MessageType.Binary, d);
      });

      it('pings and gets the pong', async () => {
        await dial();
        await Promise.all([adapter.ping(), adapter.ping()]);
      });

      it('completes a server-initiated closing handshake', async () => {
        await dial();
        await adapter.write(MessageType.Text, 'please-close');
        const error = (await rejection(adapter.read())) as WebSocketCloseError;
        expect(error).toBeInstanceOf(WebSocketCloseError);
        expect([error.code, error.reason, error.wasClean]).toEqual([4001, closeReason, true]);
      });

      it('completes a client-initiated closing handshake', async () => {
        await dial();
        await adapter.close(4000, 'client done');
        expect(((await rejection(adapter.read())) as WebSocketCloseError).code).toBe(4000);
      });
    });
  }
}

describe('permessage-deflate parameters against Autobahn|Python (RFC 7692 section 7.1)', () => {
  const variants: Array<[string, string, Parameters<typeof createNativeAdapter>[0], RegExp]> = [
    ['no client context takeover, asked by the server', 'client_no_context_takeover', {}, /client_no_context_takeover/],
    ['a client window of 10 bits asked by the server', 'client_max_window_bits=10', {}, /client_max_window_bits=10/],
    ['a server window of 9 bits', 'server_max_window_bits=9', { perMessageDeflate: { threshold: 0, serverMaxWindowBits: 9 } }, /server_max_window_bits=9/],
    [
      'our own demand for no server context takeover',
      'server_no_context_takeover',
      { perMessageDeflate: { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true } },
      /server_no_context_takeover/,
    ],
  ];
  for (const [name, params, options, expected] of variants) {
    it(`echoes with ${name}`, async () => {
      const server = await startPythonScript(AUTOBAHN_SCRIPT, ['--deflate', params]);
      const adapter = createNativeAdapter({ perMessageDeflate: { threshold: 0 }, ...options });
      try {
        const response = await adapter.dial(server.url);
        expect(response.extensions).toMatch(expected);
        // Repeated, compressible messages exercise the context (or its absence) across messages.
        for (let i = 0; i < 5; i++) {
          const text = `message ${i} ` + 'the same words again and again '.repeat(200 * (i + 1));
          await adapter.write(MessageType.Text, text);
          expectEcho(await adapter.read(), MessageType.Text, text);
          const data = bytes(50_000, i);
          await adapter.write(MessageType.Binary, data);
          expectEcho(await adapter.read(), MessageType.Binary, data);
        }
        await adapter.close(1000);
      } finally {
        await adapter.close().catch(() => {});
        await server.stop();
      }
    });
  }
});
