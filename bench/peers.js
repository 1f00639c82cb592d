// The clients bench/peers.bench.mjs compares, each behind one small interface, with the
// configuration it runs with stated in `config` (the report prints it).
//
//   connect(url, { onMessage(data), onOpen() }) -> { send(data), sendWait(data), buffered(), close() }
//
// onMessage gets a string for text and bytes for binary. `sendWait` resolves once the client
// would take more (its own backpressure: a promise, a callback, or `bufferedAmount`).
// `reconnects`: the client reconnects by itself (onOpen is called for every connection);
// otherwise the benchmark reconnects it the way its documentation suggests (a new instance in
// the 'close' handler). `heartbeat`: it can detect a half-open connection by itself.
import { connect as netConnect } from 'node:net';
import { setImmediate as tick } from 'node:timers/promises';
import PartySocket from 'partysocket/ws';
import ReconnectingWebSocket from 'reconnecting-websocket';
import { WebSocket as UndiciWebSocket } from 'undici';
import WebSocket from 'ws';
import { createBrowserAdapter } from '../dist/adapters/browser.js';
import { createNativeAdapter } from '../dist/adapters/native/index.js';
import { createWsAdapter } from '../dist/adapters/ws.js';
import { createEngine } from '../dist/engine/index.js';

const TEXT = 1;

/** Heartbeat of the engine peers in the half-open scenario (ms); elsewhere the default (15 s + 5 s). */
export const HEARTBEAT = { interval: 100, timeout: 100 };

/** Waits while a WHATWG-style socket holds more than 1 MiB unsent. */
async function drainBuffered(socket) {
  while (socket.bufferedAmount > 1024 * 1024) await tick();
}

function wsClient(url, { onMessage, onOpen, onClose }) {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  ws.on('message', (data, binary) => onMessage(binary ? data : data.toString()));
  ws.on('open', () => onOpen?.());
  ws.on('close', () => onClose?.());
  ws.on('error', () => {});
  return {
    send: (data) => ws.send(data),
    sendWait: (data) => new Promise((resolve) => ws.send(data, resolve)),
    close: async () => {
      if (ws.readyState === WebSocket.CLOSED) return;
      ws.close();
      await new Promise((resolve) => ws.once('close', resolve));
    },
    raw: ws,
  };
}

function whatwgClient(socket, { onMessage, onOpen, onClose }, ClosedState) {
  socket.binaryType = socket instanceof UndiciWebSocket ? 'arraybuffer' : 'nodebuffer';
  socket.addEventListener('message', (event) => onMessage(event.data));
  socket.addEventListener('open', () => onOpen?.());
  socket.addEventListener('close', () => onClose?.());
  socket.addEventListener('error', () => {});
  return {
    send: (data) => socket.send(data),
    sendWait: async (data) => {
      socket.send(data);
      await drainBuffered(socket);
    },
    close: async () => {
      if (socket.readyState === ClosedState) return;
      const closed = new Promise((resolve) => socket.addEventListener('close', resolve, { once: true }));
      socket.close();
      await closed;
    },
    raw: socket,
  };
}

/** Options of the two reconnecting wrappers: ws as their constructor, no delay before reconnecting. */
const reconnectingOptions = {
  WebSocket,
  minReconnectionDelay: 0,
  maxReconnectionDelay: 0,
  reconnectionDelayGrowFactor: 1,
  maxRetries: Infinity,
};

function engineClient(adapter, { heartbeat = undefined } = {}) {
  return (url, { onMessage, onOpen, onClose, onHeartbeatTimeout }) => {
    const engine = createEngine({
      url,
      adapter,
      reconnect: { minDelay: 0, maxDelay: 0, jitter: 0 },
      ...(heartbeat ? { heartbeat } : {}),
      closeTimeout: 1000,
      tracing: false,
      onMessage: (message) => onMessage(message.data),
    });
    engine.on('open', () => onOpen?.());
    engine.on('close', () => onClose?.());
    engine.on('error', () => {});
    if (onHeartbeatTimeout) engine.on('heartbeat-timeout', () => onHeartbeatTimeout());
    engine.start().catch(() => {});
    return {
      // What a sender that does not wait on each message writes: at once when the connection
      // takes it, otherwise through send() (which waits for room, in call order).
      send: (data) => {
        const type = typeof data === 'string' ? TEXT : 2;
        if (!engine.trySend(type, data)) engine.send(type, data).catch(() => {});
      },
      sendWait: (data) => engine.send(typeof data === 'string' ? TEXT : 2, data),
      close: () => engine.stop(),
      raw: engine,
    };
  };
}

export const peers = [
  {
    name: 'ws',
    version: 'ws',
    config: '`new WebSocket(url, { perMessageDeflate: false })`; bufferutil installed (ws loads it by itself); reconnected by the benchmark: a new instance in its `close` handler; no heartbeat of its own',
    connect: wsClient,
  },
  {
    name: 'undici',
    version: 'undici',
    config: "undici's `WebSocket` (WHATWG), `binaryType = 'arraybuffer'`; reconnected by the benchmark as ws; no ping API, no heartbeat",
    connect: (url, handlers) => whatwgClient(new UndiciWebSocket(url), handlers, UndiciWebSocket.CLOSED),
  },
  {
    name: 'partysocket',
    version: 'partysocket',
    config: "`partysocket/ws` with ws as `WebSocket`, `minReconnectionDelay: 0`, `maxReconnectionDelay: 0`, growth 1, `binaryType = 'nodebuffer'`; reconnects by itself (after a `setTimeout` of the delay); no heartbeat",
    reconnects: true,
    connect: (url, handlers) => whatwgClient(new PartySocket(url, [], reconnectingOptions), handlers, WebSocket.CLOSED),
  },
  {
    name: 'reconnecting-websocket',
    version: 'reconnecting-websocket',
    config: "`reconnecting-websocket` with ws as `WebSocket`, the same delays as partysocket, `binaryType = 'nodebuffer'`; reconnects by itself; no heartbeat",
    reconnects: true,
    connect: (url, handlers) => whatwgClient(new ReconnectingWebSocket(url, [], reconnectingOptions), handlers, WebSocket.CLOSED),
  },
  {
    name: 'engine/native',
    version: null,
    config: `wsengine's engine over the native adapter (defaults), \`reconnect: { minDelay: 0, maxDelay: 0, jitter: 0 }\`, \`tracing: false\`; heartbeat: default ping every 15 s (timeout 5 s), in the half-open scenario every ${HEARTBEAT.interval} ms (timeout ${HEARTBEAT.timeout} ms)`,
    reconnects: true,
    heartbeat: true,
    connect: engineClient(() => createNativeAdapter()),
    withHeartbeat: engineClient(() => createNativeAdapter(), { heartbeat: { mode: 'ping', ...HEARTBEAT } }),
  },
  {
    name: 'engine/ws',
    version: null,
    config: 'the same engine over the ws adapter (ws with bufferutil, `perMessageDeflate` off)',
    reconnects: true,
    heartbeat: true,
    connect: engineClient(() => createWsAdapter()),
    withHeartbeat: engineClient(() => createWsAdapter(), { heartbeat: { mode: 'ping', ...HEARTBEAT } }),
  },
  {
    name: 'engine/browser',
    version: null,
    config: "the same engine over the browser adapter with undici's `WebSocket`; no ping frames there, so the half-open scenario uses an application heartbeat (a text message the peer echoes)",
    reconnects: true,
    heartbeat: true,
    connect: engineClient(() => createBrowserAdapter({ WebSocket: UndiciWebSocket })),
    withHeartbeat: engineClient(() => createBrowserAdapter({ WebSocket: UndiciWebSocket }), {
      heartbeat: { mode: 'message', message: { type: TEXT, data: 'hb' }, isPong: (m) => m.data === 'hb', ...HEARTBEAT },
    }),
  },
  {
    name: 'raw socket',
    version: null,
    config: 'a bare `net.Socket` after a hand-written upgrade: counts bytes, writes frames with a zero mask, corked per tick; the floor any Node client stands on (receive, send and round trips only)',
    raw: true,
    connect: rawClient,
  },
];

/**
 * A bare socket that speaks just enough WebSocket for the scenarios: it counts received frames
 * of a known size (receive), writes frames with a zero mask key (send), and treats any bytes as
 * a reply (round trips with one message in flight).
 */
function rawClient(url, { onMessage, onOpen, frameSize = 0 }) {
  const { port, pathname, search } = new URL(url);
  const socket = netConnect({ port: Number(port), host: '127.0.0.1' });
  socket.setNoDelay(true);
  let upgraded = false;
  let head = '';
  let carry = 0;
  socket.on('data', (chunk) => {
    if (!upgraded) {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      upgraded = true;
      onOpen?.();
      const rest = head.length - end - 4;
      if (rest === 0) return;
      chunk = chunk.subarray(chunk.length - rest);
    }
    if (frameSize === 0) {
      onMessage(chunk);
      return;
    }
    carry += chunk.length;
    while (carry >= frameSize) {
      carry -= frameSize;
      onMessage(undefined);
    }
  });
  socket.on('error', () => {});
  socket.write(
    `GET ${pathname}${search} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  const encode = (data) => {
    const payload = typeof data === 'string' ? Buffer.from(data) : data;
    const opcode = typeof data === 'string' ? 1 : 2;
    const extended = payload.length < 126 ? 0 : 2;
    const frame = Buffer.alloc(6 + extended + payload.length);
    frame[0] = 0x80 | opcode;
    if (extended) {
      frame[1] = 0x80 | 126;
      frame.writeUInt16BE(payload.length, 2);
    } else {
      frame[1] = 0x80 | payload.length;
    }
    // A zero masking key: the payload goes out as it is (fine for a benchmark, never for a client).
    payload.copy(frame, 6 + extended);
    return frame;
  };
  // Frames written in one tick leave in one system call, as the native adapter does.
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  const write = (data) => {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    return socket.write(encode(data));
  };
  return {
    send: (data) => write(data),
    sendWait: (data) => (write(data) ? undefined : new Promise((resolve) => socket.once('drain', resolve))),
    close: async () => {
      socket.destroy();
    },
    raw: socket,
  };
}
