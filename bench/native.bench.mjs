// Throughput and latency of the native adapter against the `ws` client, measured in the same
// run against the same peer (bench/server.mjs, in its own process), with a raw net.Socket that
// only counts bytes after the upgrade as the ceiling for any Node client.
//
//   node bench/native.bench.mjs [--quick]
//
// BENCH_ONLY=<text> runs only the receive and send scenarios whose name contains the text (and
// skips round trips); BENCH_TRACE=1 prints each run and the per-round ratios on stderr.
//
// Prints a Markdown table; ratios above 1 mean the native adapter is faster.
//
// Steadiness: each scenario runs a warm-up round (discarded), then ROUNDS rounds in which every
// driver runs once, in an order that alternates from round to round, so that drift in the
// machine's load hits all drivers alike. Rates shown are the medians over the rounds; ratios are
// the medians of the per-round ratios (each compares runs made moments apart).
//
// Two raw sockets count the bytes after the upgrade and nothing else. "raw socket" takes them as
// 'data' events, a fresh buffer per read: the plain net.Socket any Node client starts from.
// "raw onread" reads with `onread` into one reused 256 KiB buffer, the cheapest way Node offers
// to take bytes off a socket; the native adapter reads with `onread` too, but must hand back
// every message in memory of its own, so this one is a ceiling no client can reach.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const quick = process.argv.includes('--quick');
const { createNativeAdapter } = await import('../dist/adapters/native/index.js');
const { frameLength, recvDrivers } = await import('./recv-drivers.mjs');

// ---------------------------------------------------------------- peer process
const server = spawn(process.execPath, [fileURLToPath(new URL('./server.mjs', import.meta.url))], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
const [line] = await once(server.stdout, 'data');
const { port } = JSON.parse(String(line));
const base = `ws://127.0.0.1:${port}`;

// ---------------------------------------------------------------- drivers

/** Run bench/`script` in a child process (extra `env` on top of ours); the ms it prints, as measured there. */
async function childMs(script, args, env = {}) {
  const child = spawn(process.execPath, [fileURLToPath(new URL(`./${script}`, import.meta.url)), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  const [code] = await once(child, 'close');
  if (code !== 0) throw new Error(`${script} exited with ${code}`);
  return Number(out);
}

const drivers = {
  native: {
    recv: recvDrivers.native,
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
    recv: recvDrivers['ws client'],
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
  // ws as a user gets it without its optional bufferutil (JavaScript masking), in a child
  // process (the switch is read when ws loads); the run's time is measured inside the child.
  'ws, no bufferutil': {
    async send(url, count, payload) {
      return childMs('ws-send-child.mjs', [url, String(count), String(payload.length)], { WS_NO_BUFFER_UTIL: '1' });
    },
  },
  'raw socket': { recv: recvDrivers['raw socket'] },
  'raw onread': { recv: recvDrivers['raw onread'] },
};

if (recvDrivers['ws adapter']) drivers['ws adapter'] = { recv: recvDrivers['ws adapter'] };

// ---------------------------------------------------------------- scenarios
const scale = quick ? 0.1 : 1;
const receive = [
  ['receive 16 B binary', 16, 'binary', 400_000],
  ['receive 1 KiB text', 1024, 'text', 80_000],
  ['receive 1 KiB binary', 1024, 'binary', 80_000],
  ['receive 64 KiB binary', 64 * 1024, 'binary', 6_000],
  ['receive 1 MiB binary', 1024 * 1024, 'binary', 400],
];
const ROUNDS = quick ? 5 : 21;
/**
 * Messages at least this large are received in a fresh process per run (bench/recv-child.mjs,
 * after an untimed warm-up run there): what one driver left in the C heap and the garbage
 * collector would otherwise change the next one's page faults, which decide much of the time
 * at this size. Smaller ones run in this process.
 */
const ISOLATE_FROM = 1024 * 1024;

/** One receive run of `driver` in a child process; its ms as measured there. */
async function recvInChild(driver, url, count, text, size, warmCount) {
  const warmUrl = url.replace(/count=\d+/, `count=${warmCount}`);
  return childMs('recv-child.mjs', [driver, url, String(count), text ? '1' : '0', String(size), warmUrl, String(warmCount)]);
}

const RAW_BYTES = 256 * 1024 * 1024;

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

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * A warm-up round, then ROUNDS rounds of `run(driver)` for each driver, in an order that is
 * reversed every other round. `countOf(driver)` is the number of messages a run handles.
 * Returns each driver's per-round rates (messages per second).
 */
async function rounds(names, countOf, run, what) {
  const rates = Object.fromEntries(names.map((name) => [name, []]));
  for (let r = -1; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? names : [...names].reverse();
    for (const name of order) {
      const ms = await timed(() => run(name), `${what}, ${name}, round ${r}`);
      if (r >= 0) rates[name].push(Number.isFinite(ms) ? (countOf(name) / ms) * 1000 : 0);
    }
  }
  return rates;
}

/** The median of the per-round ratios a[i] / b[i] (scaled by `factor`). */
function ratio(a, b, factor = 1) {
  return median(a.map((x, i) => (b[i] > 0 ? (x * factor) / b[i] : 0)));
}

const rows = [];
/** A ratio of two medians, for the notes (the table's ratios are medians of per-round ratios). */
const ratio2 = (a, b) => (b > 0 ? `${(a / b).toFixed(2)}x` : '-');
const fmt = (n) => (!Number.isFinite(n) || n === 0 ? 'timeout' : n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : n.toFixed(0));
const mbps = (bytesPerSec) => `${(bytesPerSec / 1e6).toFixed(0)} MB/s`;

const only = process.env.BENCH_ONLY;
for (const [name, size, type, fullCount] of receive) {
  if (only && !name.includes(only)) continue;
  const count = Math.max(20, Math.round(fullCount * scale));
  // The raw socket reads at least RAW_BYTES per run: with small messages, a run of the clients'
  // count would last a few milliseconds, too short to time.
  const rawCount = Math.max(count, Math.ceil((RAW_BYTES * scale) / frameLength(size)));
  const countOf = (driver) => (driver.startsWith('raw ') ? rawCount : count);
  const urlOf = (driver) => `${base}/blast?size=${size}&count=${countOf(driver)}&type=${type}`;
  const names = Object.keys(drivers).filter((driver) => drivers[driver].recv);
  const run = size >= ISOLATE_FROM
    ? (driver) => recvInChild(driver, urlOf(driver), countOf(driver), type === 'text', size, countOf(driver))
    : (driver) => drivers[driver].recv(urlOf(driver), countOf(driver), type === 'text', size);
  const rates = await rounds(names, countOf, run, name);
  const raw = rates['raw socket'];
  const rawOnread = rates['raw onread'];
  if (process.env.BENCH_TRACE) {
    process.stderr.write(`${name}: native / ws client per round: ${rates['native'].map((x, i) => (x / rates['ws client'][i]).toFixed(2)).join(' ')}\n`);
  }
  rows.push({
    name,
    rates: Object.fromEntries(names.map((driver) => [driver, median(rates[driver])])),
    rawBytes: median(raw) * frameLength(size),
    vsWs: ratio(rates['native'], rates['ws client']),
    // Payload bytes read by the native adapter per frame byte the raw socket reads.
    vsRaw: ratio(rates['native'], raw, size / frameLength(size)),
    vsOnread: ratio(rates['native'], rawOnread, size / frameLength(size)),
  });
}

{
  for (const [size, fullCount] of [
    [1024, 100_000],
    [64 * 1024, 8_000],
  ]) {
    const count = Math.round(fullCount * scale);
    const payload = Buffer.alloc(size, 0x62);
    const names = ['native', 'ws client', 'ws, no bufferutil'];
    const label = size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
    if (only && !`send ${label} binary`.includes(only)) continue;
    const rates = await rounds(names, () => count, (driver) => drivers[driver].send(`${base}/sink?count=${count}`, count, payload), `send ${label}`);
    rows.push({
      name: `send ${label} binary`,
      rates: Object.fromEntries(names.map((driver) => [driver, median(rates[driver])])),
      vsWs: ratio(rates['native'], rates['ws client']),
      bufferutil: ratio(rates['ws client'], rates['ws, no bufferutil']),
    });
  }
}

// Round trips: RTT_ROUNDS rounds alternating the drivers; in each, each driver's p50 and p99.
// Shown: the medians of those over the rounds, and the medians of the per-round ratios (a burst
// of load from elsewhere spoils one round, not the result).
const RTT_ROUNDS = quick ? 3 : 11;
const rtt = { native: { p50: NaN, p99: NaN }, 'ws client': { p50: NaN, p99: NaN } };
const rttRatio = { p50: NaN, p99: NaN };
if (!only) {
  const perRound = Math.round(1_500 * scale);
  const perRoundQuantiles = { native: { p50: [], p99: [] }, 'ws client': { p50: [], p99: [] } };
  for (let r = -1; r < RTT_ROUNDS; r++) {
    for (const driver of r % 2 === 0 ? ['native', 'ws client'] : ['ws client', 'native']) {
      const samples = await drivers[driver].rtt(`${base}/echo`, perRound, 'x'.repeat(32));
      if (r < 0) continue;
      samples.sort();
      perRoundQuantiles[driver].p50.push(samples[Math.floor(samples.length * 0.5)]);
      perRoundQuantiles[driver].p99.push(samples[Math.floor(samples.length * 0.99)]);
    }
  }
  for (const q of ['p50', 'p99']) {
    for (const driver of ['native', 'ws client']) rtt[driver][q] = median(perRoundQuantiles[driver][q]);
    rttRatio[q] = ratio(perRoundQuantiles['ws client'][q], perRoundQuantiles.native[q]);
  }
}

server.stdin.end();
server.on('error', () => {});

// ---------------------------------------------------------------- report
const hasWsAdapter = Boolean(drivers['ws adapter']);
const header = ['scenario', 'native', 'ws client', ...(hasWsAdapter ? ['ws adapter'] : []), 'raw socket (bytes)', 'native / ws client', 'native / raw socket', 'native / raw onread'];
const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
const bufferutilNotes = [];
for (const { name, rates, rawBytes, vsWs, vsRaw, vsOnread, bufferutil } of rows) {
  if (bufferutil) {
    bufferutilNotes.push(
      `${name}: ws with bufferutil ${fmt(rates['ws client'])} msg/s, without ${fmt(rates['ws, no bufferutil'])} msg/s (${bufferutil.toFixed(2)}x); ` +
        `native / ws without bufferutil ${ratio2(rates['native'], rates['ws, no bufferutil'])}`,
    );
  }
  const cells = [
    name,
    `${fmt(rates['native'])} msg/s`,
    `${fmt(rates['ws client'])} msg/s`,
    ...(hasWsAdapter ? [rates['ws adapter'] ? `${fmt(rates['ws adapter'])} msg/s` : '-'] : []),
    rawBytes ? mbps(rawBytes) : '-',
    `**${vsWs.toFixed(2)}x**`,
    vsRaw ? `${vsRaw.toFixed(2)}x` : '-',
    vsOnread ? `${vsOnread.toFixed(2)}x` : '-',
  ];
  lines.push(`| ${cells.join(' | ')} |`);
}
for (const q of only ? [] : ['p50', 'p99']) {
  const cells = [
    `round trip 32 B ${q}`,
    `${rtt.native[q].toFixed(0)} µs`,
    `${rtt['ws client'][q].toFixed(0)} µs`,
    ...(hasWsAdapter ? ['-'] : []),
    '-',
    `**${rttRatio[q].toFixed(2)}x**`,
    '-',
    '-',
  ];
  lines.push(`| ${cells.join(' | ')} |`);
}
console.log('### native adapter vs ws\n');
console.log('Ratios above 1 favour the native adapter (for round trips: ws latency / native latency).');
console.log(
  `Rates are medians over ${ROUNDS} interleaved rounds (round trips: ${RTT_ROUNDS} rounds of ${Math.round(1_500 * scale)}); ` +
    'ratios are medians of the per-round ratios. ' +
    `Messages of ${ISOLATE_FROM / 1024 / 1024} MiB and more are received in a fresh process per run (after an untimed warm-up run of the same size there), ` +
    "so that one client's garbage and C heap do not change another's page faults.",
);
console.log(
  '"native / raw socket" compares payload bytes per second with what a bare net.Socket reads through \'data\' events; ' +
    '"native / raw onread" with one that reads with `onread` into a single reused buffer (the cheapest way, a ceiling no client reaches).\n',
);
console.log(lines.join('\n'));
if (bufferutilNotes.length > 0) {
  console.log('\n"ws client" loads the optional `bufferutil` (installed here); ws as installed without it (`WS_NO_BUFFER_UTIL=1`, in a child process), same run:\n');
  for (const note of bufferutilNotes) console.log(`- ${note}`);
}
// A timed-out run may leave a connection open: do not wait for it.
process.exit();
