// The benchmark peer, run in its own process so that it never competes with the client under
// test for the same event loop. It answers WebSocket upgrades by hand (no library on the hot
// path) and serves four endpoints:
//   /blast?size=N&count=M&type=text|binary  sends M pre-encoded messages of N bytes, as fast as TCP takes them
//   /sink?count=M                           counts M client messages, then answers the text "done"
//   /echo                                   sends every client message back
//   /faults?id=X                            for recovery and liveness: sends the text "open:T" on every
//       connection, T being the time (process.hrtime, ns, one clock for every process on the machine)
//       at which it last dropped a connection of the same id (0 if never); then echoes messages,
//       except "drop" (it destroys the connection at once, no close frame) and "silence" (from then
//       on it reads nothing and answers nothing, pings included, and keeps TCP open: a half-open
//       connection as the client sees it)
// It prints {"port": P} on stdout once listening, and exits when its stdin closes.
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

function frameHeader(opcode, length) {
  if (length < 126) return Buffer.from([0x80 | opcode, length]);
  if (length < 65536) {
    const h = Buffer.alloc(4);
    h[0] = 0x80 | opcode;
    h[1] = 126;
    h.writeUInt16BE(length, 2);
    return h;
  }
  const h = Buffer.alloc(10);
  h[0] = 0x80 | opcode;
  h[1] = 127;
  h.writeBigUInt64BE(BigInt(length), 2);
  return h;
}

function frame(opcode, payload) {
  return Buffer.concat([frameHeader(opcode, payload.length), payload]);
}

/**
 * Parses client (masked) frames; calls onMessage(opcode, buffer, offset, length) for unfragmented
 * data frames (the payload, still masked, after a 4-byte key at `offset`). With `payloads: false`
 * the payload is skipped as it streams in (`buffer` is then null): the peer of a 64 KiB send
 * benchmark must not spend its time joining chunks, or it measures itself.
 */
function clientFrames(socket, onMessage, { payloads = true } = {}) {
  let buffer = Buffer.alloc(0);
  // Chunks of an incomplete frame, joined once `needed` bytes are there.
  let parts = [];
  let partsLength = 0;
  let needed = 0;
  let skip = 0;
  socket.on('data', (chunk) => {
    if (skip > 0) {
      if (chunk.length <= skip) {
        skip -= chunk.length;
        return;
      }
      chunk = chunk.subarray(skip);
      skip = 0;
    }
    if (needed > 0) {
      parts.push(chunk);
      partsLength += chunk.length;
      if (partsLength < needed) return;
      chunk = Buffer.concat(parts, partsLength);
      parts = [];
      partsLength = 0;
      needed = 0;
    }
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
    let pos = 0;
    for (;;) {
      if (buffer.length - pos < 2) break;
      const b0 = buffer[pos];
      let length = buffer[pos + 1] & 0x7f;
      let offset = pos + 2;
      if (length === 126) {
        if (buffer.length - pos < 4) break;
        length = buffer.readUInt16BE(pos + 2);
        offset = pos + 4;
      } else if (length === 127) {
        if (buffer.length - pos < 10) break;
        length = Number(buffer.readBigUInt64BE(pos + 2));
        offset = pos + 10;
      }
      const opcode = b0 & 0x0f;
      if (buffer.length < offset + 4 + length) {
        if (!payloads && opcode !== 8 && buffer.length >= offset + 4) {
          // Skip the rest of the payload as it comes.
          onMessage(opcode, null, offset, length);
          skip = offset + 4 + length - buffer.length;
          pos = buffer.length;
        } else {
          needed = offset + 4 + length - pos;
        }
        break;
      }
      if (opcode === 8) {
        socket.end(frame(8, Buffer.from([0x03, 0xe8])));
        return;
      }
      onMessage(opcode, buffer, offset, length);
      pos = offset + 4 + length;
    }
    buffer = pos === buffer.length ? Buffer.alloc(0) : buffer.subarray(pos);
    if (needed > 0) {
      parts = [buffer];
      partsLength = buffer.length;
      buffer = Buffer.alloc(0);
    }
  });
}

function blast(socket, size, count, opcode) {
  const payload = Buffer.alloc(size, 0x61);
  const one = frame(opcode, payload);
  // Writes of about 1 MiB: the peer has to outpace every client, or the benchmark measures the
  // peer (with 256 KiB writes, 64 KiB messages topped out near 3 GB/s for every client alike,
  // a bare socket included).
  const perChunk = Math.max(1, Math.floor((1024 * 1024) / one.length));
  const chunk = Buffer.concat(Array.from({ length: perChunk }, () => one));
  let left = count;
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, perChunk);
      left -= n;
      const ok = socket.write(n === perChunk ? chunk : chunk.subarray(0, n * one.length));
      if (!ok) {
        socket.once('drain', pump);
        return;
      }
    }
  };
  pump();
  // Answer the client's close when it comes.
  clientFrames(socket, () => {});
}

function sink(socket, count) {
  let seen = 0;
  clientFrames(
    socket,
    () => {
      if (++seen === count) socket.write(frame(1, Buffer.from('done')));
    },
    { payloads: false },
  );
}

function echo(socket) {
  clientFrames(socket, (opcode, buffer, offset, length) => {
    const key = buffer.subarray(offset, offset + 4);
    const payload = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) payload[i] = buffer[offset + 4 + i] ^ key[i & 3];
    if (opcode === 9) socket.write(frame(10, payload));
    else socket.write(frame(opcode, payload));
  });
}

const lastDrop = new Map();
const silenced = new Set();

function faults(socket, id) {
  socket.write(frame(1, Buffer.from(`open:${lastDrop.get(id) ?? 0n}`)));
  clientFrames(socket, (opcode, buffer, offset, length) => {
    if (silenced.has(socket)) return;
    const key = buffer.subarray(offset, offset + 4);
    const payload = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) payload[i] = buffer[offset + 4 + i] ^ key[i & 3];
    const text = opcode === 1 ? payload.toString() : '';
    if (text === 'drop') {
      lastDrop.set(id, process.hrtime.bigint());
      socket.destroy();
    } else if (text === 'silence') {
      silenced.add(socket);
      socket.pause();
      socket.on('close', () => silenced.delete(socket));
    } else {
      socket.write(frame(opcode === 9 ? 10 : opcode, payload));
    }
  });
}

const server = createServer((_req, res) => {
  res.statusCode = 426;
  res.end();
});
server.on('upgrade', (request, socket) => {
  const accept = createHash('sha1').update(request.headers['sec-websocket-key'] + GUID).digest('base64');
  socket.setNoDelay(true);
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  socket.on('error', () => {});
  const url = new URL(request.url, 'http://bench');
  const count = Number(url.searchParams.get('count') ?? 0);
  if (url.pathname === '/blast') {
    blast(socket, Number(url.searchParams.get('size')), count, url.searchParams.get('type') === 'text' ? 1 : 2);
  } else if (url.pathname === '/sink') {
    sink(socket, count);
  } else if (url.pathname === '/faults') {
    faults(socket, url.searchParams.get('id'));
  } else {
    echo(socket);
  }
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
