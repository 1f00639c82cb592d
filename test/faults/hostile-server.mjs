/**
 * A hostile WebSocket server, run in its own process (`node hostile-server.mjs cert.pem
 * key.pem`) so that the client's memory and sockets can be measured alone. The request path
 * names the scenario (`ws://127.0.0.1:PORT/bomb`). It listens on 127.0.0.1, port 0, plain and
 * TLS (with the given self-signed certificate), and reports on stdout, one line each:
 * `ports PLAIN TLS` once listening, `accepted` for every TCP connection.
 *
 * Every loop is bounded in count; the test ends this process by its PID.
 */
import { createHash } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import zlib from 'node:zlib';

const [certFile, keyFile] = process.argv.slice(2);
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const say = (line) => process.stdout.write(`${line}\n`);

function accept(key) {
  return createHash('sha1').update(key + GUID).digest('base64');
}

/** An unmasked server frame. */
function frame(opcode, payload, { fin = true, rsv1 = false } = {}) {
  const length = payload.length;
  const size = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const out = Buffer.alloc(size + length);
  out[0] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  if (length < 126) out[1] = length;
  else if (length < 65536) {
    out[1] = 126;
    out.writeUInt16BE(length, 2);
  } else {
    out[1] = 127;
    out.writeBigUInt64BE(BigInt(length), 2);
  }
  payload.copy(out, size);
  return out;
}

function upgradeAnswer(key, extra = []) {
  return [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${accept(key)}`,
    ...extra,
    '',
    '',
  ].join('\r\n');
}

/** Write `chunk` up to `count` times, honouring backpressure, until the socket goes. */
function flood(socket, chunk, count, done) {
  let sent = 0;
  const pump = () => {
    while (sent < count && !socket.destroyed) {
      sent++;
      if (!socket.write(chunk)) {
        socket.once('drain', pump);
        return;
      }
    }
    if (sent >= count) done?.();
  };
  pump();
}

let bombFrame;
const PING = frame(0x9, Buffer.alloc(125, 0x61));
const PINGS = Buffer.concat(Array.from({ length: 500 }, () => PING));

/** What to do once the request head arrived: `key` is its Sec-WebSocket-Key. */
const scenarios = {
  'keepalive-401': (socket) => socket.write('HTTP/1.1 401 Unauthorized\r\nContent-Length: 6\r\n\r\ndenied'),
  'keepalive-503': (socket) => socket.write('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy'),
  'wrong-accept': (socket) =>
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: d3JvbmcgYWNjZXB0IGtleQ==\r\n\r\n'),
  'no-upgrade-header': (socket, key) =>
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept(key)}\r\n\r\n`),
  'unrequested-protocol': (socket, key) => socket.write(upgradeAnswer(key, ['Sec-WebSocket-Protocol: chosen.by.server'])),
  'unrequested-extension': (socket, key) => socket.write(upgradeAnswer(key, ['Sec-WebSocket-Extensions: x-unknown-extension'])),
  'redirect-loop': (socket, _key, head) => {
    const path = head.split(' ')[1] ?? '/';
    socket.write(`HTTP/1.1 302 Found\r\nLocation: ${path}\r\nContent-Length: 0\r\n\r\n`);
  },
  silent: () => {},
  dribble: (socket) => {
    // A header block that never ends, one byte every 5 ms (at most 10,000 bytes).
    const text = Buffer.from('HTTP/1.1 101 Switching Protocols\r\nX-Slow: ' + 'a'.repeat(10_000));
    let i = 0;
    const timer = setInterval(() => {
      if (socket.destroyed || i >= text.length) return clearInterval(timer);
      socket.write(text.subarray(i, ++i));
    }, 5);
  },
  'huge-headers': (socket, key) => {
    const lines = Array.from({ length: 1024 }, (_, i) => `X-Filler-${i}: ${'b'.repeat(1000)}`);
    socket.write(upgradeAnswer(key, lines));
  },
  'tls-untrusted': (socket, key) => socket.write(upgradeAnswer(key)),
  'endless-message': (socket, key) => {
    socket.write(upgradeAnswer(key));
    const piece = Buffer.alloc(64 * 1024, 0x62);
    socket.write(frame(0x2, piece, { fin: false }));
    // Continuation frames without end: at most 4,096 of them (256 MiB) if nothing stops us.
    flood(socket, frame(0x0, piece, { fin: false }), 4096);
  },
  bomb: (socket, key, head) => {
    if (!/permessage-deflate/i.test(head)) return socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
    socket.write(upgradeAnswer(key, ['Sec-WebSocket-Extensions: permessage-deflate']));
    // 64 MiB of zeros deflate to about 64 KB: one message, one frame (RFC 7692 section 7.2.1).
    bombFrame ??= zlib.deflateRawSync(Buffer.alloc(64 * 1024 * 1024), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    const compressed = bombFrame;
    socket.write(frame(0x2, compressed.subarray(0, compressed.length - 4), { rsv1: true }));
  },
  'ping-burst': (socket, key) => {
    socket.write(upgradeAnswer(key));
    socket.on('data', () => {});
    // 10,000 pings in one write, then a message.
    socket.write(Buffer.concat([...Array.from({ length: 20 }, () => PINGS), frame(0x1, Buffer.from('after'))]));
  },
  'ping-sustained-reading': (socket, key) => {
    socket.write(upgradeAnswer(key));
    socket.on('data', () => {});
    // 200 batches of 500 pings (100,000), then a message.
    flood(socket, PINGS, 200, () => socket.write(frame(0x1, Buffer.from('after'))));
  },
  'ping-sustained-not-reading': (socket, key) => {
    socket.write(upgradeAnswer(key));
    socket.pause();
    // Up to 400 batches (200,000 pings, 25 MB); the client must give up first.
    flood(socket, PINGS, 400);
  },
  'close-no-fin': (socket, key) => {
    socket.write(upgradeAnswer(key));
    const payload = Buffer.alloc(2);
    payload.writeUInt16BE(1001, 0);
    socket.write(frame(0x8, payload));
    // ...and never ends TCP, nor reads.
    socket.pause();
  },
  'ignore-close': (socket, key) => {
    socket.write(upgradeAnswer(key));
    // Reads what comes (the close frame too) and never answers nor ends TCP.
    socket.on('data', () => {});
  },
};

function onConnection(socket) {
  socket.on('error', () => {});
  let head = '';
  const onData = (chunk) => {
    head += chunk.toString('latin1');
    if (head.length > 64 * 1024) return socket.destroy();
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    socket.off('data', onData);
    const path = head.split(' ')[1] ?? '/';
    const handle = scenarios[path.slice(1).split('?')[0]];
    if (!handle) return socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
    const key = /sec-websocket-key:\s*(\S+)/i.exec(head)?.[1] ?? '';
    handle(socket, key, head.slice(0, end));
  };
  socket.on('data', onData);
}

const plain = net.createServer(onConnection);
const secure = tls.createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, onConnection);
secure.on('tlsClientError', () => {});
for (const server of [plain, secure]) {
  // Counted on the TCP socket, so that a TLS handshake the client refuses is seen too.
  server.on('connection', (socket) => {
    say('accepted');
    socket.on('error', () => {});
  });
}
plain.listen(0, '127.0.0.1', () => {
  secure.listen(0, '127.0.0.1', () => say(`ports ${plain.address().port} ${secure.address().port}`));
});
