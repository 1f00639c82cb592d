// Throughput and latency of the native adapter against the `ws` client, measured in the same
// run against the same peer (bench/server.mjs, in its own process), with a raw net.Socket that
// only counts bytes after the upgrade as the ceiling for any Node client.
//
//   node bench/native.bench.mjs [--quick]
//
// Prints a Markdown table; ratios above 1 mean the native adapter is faster.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const quick = process.argv.includes('--quick');
const { createNativeAdapter } = await import('../dist/adapters/native/index.js');
let createWsAdapter;
try {
  ({ createWsAdapter } = await import('../dist/adapters/ws.js'));
} catch {
  createWsAdapter = undefined;
}

// ---------------------------------------------------------------- peer process
const server = spawn(process.execPath, [fileURLToPath(new URL('./server.mjs', import.meta.url))], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
const [line] = await once(server.stdout, 'data');
const { port } = JSON.parse(String(line));
const base = `ws://127.0.0.1:${port}`;

// ---------------------------------------------------------------- drivers
function frameLength(size) {
  return size + (size < 126 ? 2 : size < 65536 ? 4 : 10);
}

const drivers = {
  native: {
    async recv(url, count) {
      const a = createNativeAdapter();
      await a.dial(url);
      const t0 = performance.now();
      for (let i = 0; i < count; i++) await a.read();
      const ms = performance.now() - t0;
      await a.close().catch(() => {});
      return ms;
    },
    async send(url, count, payload) {
      const a = createNativeAdapter();
      await a.dial(url);
      const t0 = performance.now();
      for (let i = 0; i < count; i++) await a.write(2, payload);
      await a.read(); // "done": the peer has every message
      const ms = performance.now() - t0;
      await a.close().catch(() => {});
      return ms;
    },
    async rtt(url, count, text) {
      const a = createNativeAdapter();
      await a.dial(url);
      const samples = new Float64Array(count);
      for (let i = 0; i < count; i++) {
        const t0 = process.hrtime.bigint();
        await a.write(1, text);
        await a.read();
        samples[i] = Number(process.hrtime.bigint() - t0) / 1000;
      }
      await a.close().catch(() => {});
      return samples;
    },
  },
  'ws client': {
    async recv(url, count) {
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
    async send(url, count, payload) {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      await once(ws, 'open');
      const done = new Promise((resolve) => ws.once('message', resolve));
      const t0 = performance.now();
      for (let i = 0; i < count; i++) {
        // ws's backpressure idiom: wait for a send's callback now and then.
        if (i % 256 === 255) await new Promise((resolve) => ws.send(payload, resolve));
        else ws.send(payload);
      }
      await done;
      const ms = performance.now() - t0;
      ws.close();
      await once(ws, 'close');
      return ms;
    },
    async rtt(url, count, text) {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      await once(ws, 'open');
      const samples = new Float64Array(count);
      for (let i = 0; i < count; i++) {
        const t0 = process.hrtime.bigint();
        const got = new Promise((resolve) => ws.once('message', resolve));
        ws.send(text);
        await got;
        samples[i] = Number(process.hrtime.bigint() - t0) / 1000;
      }
      ws.close();
      await once(ws, 'close');
      return samples;
    },
  },
  'raw socket': {
    async recv(url, count, _text, size) {
      const { port: p, pathname, search } = new URL(url);
      const socket = connect(Number(p), '127.0.0.1');
      await once(socket, 'connect');
      socket.write(
        `GET ${pathname}${search} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
      const total = count * frameLength(size);
      let t0 = 0;
      let got = -1;
      await new Promise((resolve) => {
        let head = '';
        socket.on('data', (chunk) => {
          if (got < 0) {
            head += chunk.toString('latin1');
            const end = head.indexOf('\r\n\r\n');
            if (end < 0) return;
            t0 = performance.now();
            got = head.length - end - 4;
          } else got += chunk.length;
          if (got >= total) resolve();
        });
      });
      const ms = performance.now() - t0;
      socket.destroy();
      return ms;
    },
  },
};

if (createWsAdapter) {
  drivers['ws adapter'] = {
    async recv(url, count) {
      const a = createWsAdapter();
      await a.dial(url);
      const t0 = performance.now();
      for (let i = 0; i < count; i++) await a.read();
      const ms = performance.now() - t0;
      await a.close().catch(() => {});
      return ms;
    },
  };
}

// ---------------------------------------------------------------- scenarios
const scale = quick ? 0.2 : 1;
const receive = [
  ['receive 16 B binary', 16, 'binary', 1_000_000],
  ['receive 1 KiB text', 1024, 'text', 150_000],
  ['receive 1 KiB binary', 1024, 'binary', 150_000],
  ['receive 64 KiB binary', 64 * 1024, 'binary', 15_000],
  ['receive 1 MiB binary', 1024 * 1024, 'binary', 1_000],
];
const REPEATS = quick ? 1 : 4;

/**
 * One run, in ms. A run that takes over a minute is reported on stderr and counted as
 * Infinity (the table then shows "timeout"); the benchmark carries on and exits non-zero.
 */
async function timed(fn, what) {
  let timer;
  const limit = new Promise((resolve) => {
    timer = setTimeout(() => {
      process.stderr.write(`native.bench: the run "${what}" took over 60 s; counted as a timeout\n`);
      process.exitCode = 1;
      resolve(Infinity);
    }, 60_000);
  });
  if (process.env.BENCH_TRACE) process.stderr.write(`${what}\n`);
  try {
    return await Promise.race([fn(), limit]);
  } finally {
    clearTimeout(timer);
  }
}

const rows = [];
const fmt = (n) => (!Number.isFinite(n) || n === 0 ? 'timeout' : n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : n.toFixed(0));
const mbps = (bytesPerSec) => `${(bytesPerSec / 1e6).toFixed(0)} MB/s`;

for (const [name, size, type, fullCount] of receive) {
  const count = Math.max(20, Math.round(fullCount * scale));
  const url = `${base}/blast?size=${size}&count=${count}&type=${type}`;
  // Drivers take turns within each repeat, so that drift in the machine's load hits all alike.
  const fastest = {};
  for (let r = 0; r < REPEATS; r++) {
    for (const [driver, d] of Object.entries(drivers)) {
      if (!d.recv) continue;
      const ms = await timed(() => d.recv(url, count, type === 'text', size), `${name}, ${driver}`);
      fastest[driver] = Math.min(fastest[driver] ?? Infinity, ms);
    }
  }
  const result = Object.fromEntries(Object.entries(fastest).map(([driver, ms]) => [driver, (count / ms) * 1000]));
  rows.push({ name, size, result, unit: 'msg/s' });
}

{
  const count = Math.round(150_000 * scale);
  const payload = Buffer.alloc(1024, 0x62);
  const fastest = {};
  for (let r = 0; r < REPEATS; r++) {
    for (const driver of ['native', 'ws client']) {
      const ms = await timed(() => drivers[driver].send(`${base}/sink?count=${count}`, count, payload), `send, ${driver}`);
      fastest[driver] = Math.min(fastest[driver] ?? Infinity, ms);
    }
  }
  const result = Object.fromEntries(Object.entries(fastest).map(([driver, ms]) => [driver, (count / ms) * 1000]));
  rows.push({ name: 'send 1 KiB binary', size: 1024, result, unit: 'msg/s' });
}

const rtt = {};
{
  const count = Math.round(10_000 * scale);
  const text = 'x'.repeat(32);
  for (const driver of ['native', 'ws client']) {
    const samples = await drivers[driver].rtt(`${base}/echo`, count, text);
    samples.sort();
    rtt[driver] = { p50: samples[Math.floor(count * 0.5)], p99: samples[Math.floor(count * 0.99)] };
  }
}

server.stdin.end();
server.on('error', () => {});

// ---------------------------------------------------------------- report
const hasWsAdapter = Boolean(drivers['ws adapter']);
const header = ['scenario', 'native', 'ws client', ...(hasWsAdapter ? ['ws adapter'] : []), 'raw socket (bytes)', 'native / ws client', 'native / raw socket'];
const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
for (const { name, size, result } of rows) {
  const native = result['native'];
  const ws = result['ws client'];
  const raw = result['raw socket'];
  const cells = [
    name,
    `${fmt(native)} msg/s`,
    `${fmt(ws)} msg/s`,
    ...(hasWsAdapter ? [result['ws adapter'] ? `${fmt(result['ws adapter'])} msg/s` : '-'] : []),
    raw ? mbps(raw * frameLength(size)) : '-',
    `**${(native / ws).toFixed(2)}x**`,
    raw ? `${((native * size) / (raw * frameLength(size))).toFixed(2)}x` : '-',
  ];
  lines.push(`| ${cells.join(' | ')} |`);
}
for (const q of ['p50', 'p99']) {
  const cells = [
    `round trip 32 B ${q}`,
    `${rtt.native[q].toFixed(0)} µs`,
    `${rtt['ws client'][q].toFixed(0)} µs`,
    ...(hasWsAdapter ? ['-'] : []),
    '-',
    `**${(rtt['ws client'][q] / rtt.native[q]).toFixed(2)}x**`,
    '-',
  ];
  lines.push(`| ${cells.join(' | ')} |`);
}
console.log('### native adapter vs ws\n');
console.log('Ratios above 1 favour the native adapter (for round trips: ws latency / native latency).');
console.log('"native / raw socket" compares payload bytes per second with what a bare socket reads.\n');
console.log(lines.join('\n'));
// A timed-out run may leave a connection open: do not wait for it.
process.exit();
