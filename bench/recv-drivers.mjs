// The receive drivers of bench/native.bench.mjs: each dials `url` (a /blast of bench/server.mjs),
// reads `count` messages and returns the time it took, in ms, from the first byte it could
// read to the last message. Used in the benchmark's process, and by bench/recv-child.mjs in a
// process of its own.
import { once } from 'node:events';
import { connect } from 'node:net';
import WebSocket from 'ws';

const { createNativeAdapter } = await import('../dist/adapters/native/index.js');
let createWsAdapter;
try {
  ({ createWsAdapter } = await import('../dist/adapters/ws.js'));
} catch {
  createWsAdapter = undefined;
}

/** Bytes of a server frame (unmasked) carrying `size` payload bytes. */
export function frameLength(size) {
  return size + (size < 126 ? 2 : size < 65536 ? 4 : 10);
}

const rawBuffer = Buffer.allocUnsafe(256 * 1024);

/** A bare socket: upgrade, then count `count` frames' bytes, with 'data' events or `onread`. */
async function rawRecv(url, count, size, useOnread) {
  const { port: p, pathname, search } = new URL(url);
  const total = count * frameLength(size);
  let t0 = 0;
  let got = -1;
  let head = '';
  let done;
  const all = new Promise((resolve) => (done = resolve));
  const onBytes = (n, buffer) => {
    if (got < 0) {
      head += buffer.toString('latin1', 0, n);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return true;
      t0 = performance.now();
      got = head.length - end - 4;
    } else got += n;
    if (got >= total) done();
    return true;
  };
  const socket = useOnread
    ? connect({ port: Number(p), host: '127.0.0.1', onread: { buffer: rawBuffer, callback: onBytes } })
    : connect({ port: Number(p), host: '127.0.0.1' });
  if (!useOnread) socket.on('data', (chunk) => onBytes(chunk.length, chunk));
  await once(socket, 'connect');
  socket.setNoDelay(true);
  socket.write(
    `GET ${pathname}${search} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  await all;
  const ms = performance.now() - t0;
  socket.destroy();
  return ms;
}

/** An adapter reading `count` messages with `read()`: ms from the dial's end to the last. */
async function adapterRecv(adapter, url, count) {
  await adapter.dial(url);
  const t0 = performance.now();
  for (let i = 0; i < count; i++) await adapter.read();
  const ms = performance.now() - t0;
  await adapter.close().catch(() => {});
  return ms;
}

/** name -> recv(url, count, text, size): ms */
export const recvDrivers = {
  native: (url, count) => adapterRecv(createNativeAdapter(), url, count),
  async 'ws client'(url, count) {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    // Listen before 'open': frames that arrive with the upgrade answer are emitted at once,
    // and a listener added after 'open' would miss them.
    let n = 0;
    const all = new Promise((resolve) =>
      ws.on('message', (data, binary) => {
        // A text message is only useful as a string: decode it, as the native adapter does.
        if (!binary) data.toString();
        if (++n === count) resolve();
      }),
    );
    await once(ws, 'open');
    const t0 = performance.now();
    await all;
    const ms = performance.now() - t0;
    ws.close();
    await once(ws, 'close');
    return ms;
  },
  'raw socket': (url, count, _text, size) => rawRecv(url, count, size, false),
  'raw onread': (url, count, _text, size) => rawRecv(url, count, size, true),
};

if (createWsAdapter) {
  recvDrivers['ws adapter'] = (url, count) => adapterRecv(createWsAdapter(), url, count);
}
