// wsengine against what a user would pick instead, in one run, against one peer (bench/server.mjs,
// in its own process): the bare ws client, undici's WebSocket, partysocket and
// reconnecting-websocket (ws as their constructor), the engine over the native, ws and browser
// (undici) adapters, and a raw socket. Every client and its configuration: bench/peers.js.
//
//   node bench/peers.bench.mjs [--quick]
//
// Scenarios:
//   - receive 1 KiB binary, send 1 KiB binary (msg/s): ROUNDS rounds in an order that rotates,
//     ratios are medians of the per-round ratios against ws.
//   - round trip 32 B on busy CPUs (p50, p99): two low-priority spinner processes (nice 19) keep
//     both cores out of idle, so no client gains from waking a sleeping CPU; started before and
//     ended after, by PID.
//   - recovery: the peer destroys the connection (no close frame) DROPS times per client, in
//     RECOVERY_ROUNDS rounds in an order that rotates (the client run first in a fixed order
//     had the quietest process: its p99 was half of what it measured run last); time from the
//     drop (stamped by the peer on the machine's monotonic clock, which every process shares) to
//     the first message on the new connection; median and p99 over all of a client's drops. Minimum backoff 0 where the client
//     allows it; clients without reconnection are reconnected in their 'close' handler.
//   - half-open: the peer stops reading and answering (TCP stays up); time until the client
//     declares the connection dead, for the clients that can (a heartbeat).
//   - heap per idle connection, IDLE connections open at once (heapUsed after GC).
//
// Prints a Markdown table; writes bench/results/peers.json and the chart bench/results/peers.svg
// (ratios against ws, by bench/chart.mjs).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { ratioChart } from './chart.mjs';
import { HEARTBEAT, peers } from './peers.js';

const quick = process.argv.includes('--quick');
// 24 rounds, so that each of the 8 clients takes each place in the order 3 times: with 7 rounds
// the median ratio of the same build moved by about 3% between runs, with 15 engine/ws against ws
// still by 0.94x to 0.98x (receive) and 0.94x to 0.99x (send).
const ROUNDS = quick ? 3 : 24;
const RECEIVE = quick ? 10_000 : 100_000;
const SEND = quick ? 5_000 : 50_000;
const RTT = quick ? 300 : 1_000;
const RTT_ROUNDS = quick ? 3 : 8;
const DROPS = 100;
const RECOVERY_ROUNDS = quick ? 2 : 4;
const HALF_OPEN = quick ? 3 : 15;
const IDLE = quick ? 250 : 1_000;
const SCENARIO_LIMIT = 60_000;
// BENCH_ONLY=<text>: only the scenarios whose name contains it (receive, send, round trip,
// recovery, half-open, heap). BENCH_TRACE=1: how long each run took, on stderr.
const wanted = (scenario) => !process.env.BENCH_ONLY || scenario.includes(process.env.BENCH_ONLY);

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

const server = spawn(process.execPath, [fileURLToPath(new URL('./server.mjs', import.meta.url))], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
const [line] = await once(createInterface({ input: server.stdout }), 'line');
const base = `ws://127.0.0.1:${JSON.parse(line).port}`;

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];
};
const nowNs = () => process.hrtime.bigint();

/** Runs `fn` with a time limit; a run over it counts as failed (null) and is reported. */
async function limited(what, fn) {
  let timer;
  const limit = new Promise((resolve) => {
    timer = setTimeout(() => {
      process.stderr.write(`peers.bench: "${what}" took over ${SCENARIO_LIMIT / 1000} s\n`);
      resolve(null);
    }, SCENARIO_LIMIT);
  });
  const t0 = performance.now();
  try {
    return await Promise.race([fn(), limit]);
  } catch (error) {
    process.stderr.write(`peers.bench: "${what}" failed: ${error?.stack ?? error}\n`);
    return null;
  } finally {
    clearTimeout(timer);
    if (process.env.BENCH_TRACE) process.stderr.write(`${what}: ${(performance.now() - t0).toFixed(0)} ms\n`);
  }
}

/** Connects `peer` and resolves once open, with the client and a way to change its message handler. */
async function open(peer, url, { onOpen, onMessage = () => {}, ...rest } = {}) {
  let opened;
  const isOpen = new Promise((resolve) => (opened = resolve));
  let handler = onMessage;
  const client = peer.connect(url, {
    ...rest,
    onMessage: (data) => handler(data),
    onOpen: () => {
      onOpen?.();
      opened();
    },
  });
  await isOpen;
  return { client, setOnMessage: (fn) => (handler = fn) };
}

// ---------------------------------------------------------------- throughput
async function receiveRun(peer) {
  const size = 1024;
  const frameSize = size + 4;
  let left = RECEIVE;
  let done;
  const all = new Promise((resolve) => (done = resolve));
  let t0 = 0;
  const url = `${base}/blast?size=${size}&count=${RECEIVE}&type=binary`;
  const { client } = await open(peer, url, {
    frameSize,
    onOpen: () => {
      t0 = performance.now();
    },
    onMessage: () => {
      if (--left === 0) done();
    },
  });
  await all;
  const ms = performance.now() - t0;
  await client.close();
  return (RECEIVE / ms) * 1000;
}

async function sendRun(peer) {
  const payload = Buffer.alloc(1024, 0x62);
  let done;
  const finished = new Promise((resolve) => (done = resolve));
  const { client, setOnMessage } = await open(peer, `${base}/sink?count=${SEND}`);
  setOnMessage(() => done());
  const t0 = performance.now();
  for (let i = 0; i < SEND; i++) {
    // Every client's own backpressure, now and then (ws idiom: a send callback every 256).
    if (i % 256 === 255) await client.sendWait(payload);
    else client.send(payload);
  }
  await finished;
  const ms = performance.now() - t0;
  await client.close();
  return (SEND / ms) * 1000;
}

/**
 * Round `r`'s order: the list rotated by `r`. Every client takes every place in turn, and none
 * runs right after itself (a round ends with the one before the next round's first). With the
 * order reversed every other round, ws (first in the list) ran twice in a row at every other
 * round's start, warm from its own run, and measured about 2-3% more messages per second
 * receiving than it did rotated.
 */
function roundOrder(list, r) {
  const k = ((r % list.length) + list.length) % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

async function throughput(name, run, candidates) {
  const rates = Object.fromEntries(candidates.map((p) => [p.name, []]));
  for (let r = -1; r < ROUNDS; r++) {
    const order = roundOrder(candidates, r);
    for (const peer of order) {
      const rate = await limited(`${name}, ${peer.name}`, () => run(peer));
      if (r >= 0) rates[peer.name].push(rate ?? 0);
    }
  }
  return rates;
}

// ---------------------------------------------------------------- round trips on busy CPUs
async function rttRun(peer) {
  const text = 'x'.repeat(32);
  const { client, setOnMessage } = await open(peer, `${base}/echo`);
  let resolveReply;
  setOnMessage(() => resolveReply());
  const samples = [];
  for (let i = 0; i < RTT; i++) {
    const reply = new Promise((resolve) => (resolveReply = resolve));
    const t0 = nowNs();
    client.send(text);
    await reply;
    samples.push(Number(nowNs() - t0) / 1000);
  }
  await client.close();
  return { p50: quantile(samples, 0.5), p99: quantile(samples, 0.99) };
}

function startSpinners() {
  const spinners = [0, 1].map(() => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
  for (const child of spinners) {
    try {
      setPriority(child.pid, 19);
    } catch {
      // Not allowed to lower it: the spinner still keeps a core busy, at normal priority.
    }
  }
  return () => {
    for (const child of spinners) child.kill('SIGKILL');
  };
}

// ---------------------------------------------------------------- recovery
/** `drops` drops of one fresh client; the recovery times in µs. */
async function recovery(peer, id, drops) {
  const url = `${base}/faults?id=${id}`;
  const samples = [];
  let client;
  let finish;
  const finished = new Promise((resolve) => (finish = resolve));
  const onMessage = (data) => {
    const text = typeof data === 'string' ? data : Buffer.from(data).toString();
    if (!text.startsWith('open:')) return;
    const dropped = BigInt(text.slice(5));
    if (dropped > 0n) samples.push(Number(nowNs() - dropped) / 1000);
    if (samples.length >= drops) finish();
    else client.send('drop');
  };
  const connect = () => {
    client = peer.connect(url, {
      onMessage,
      // Clients that do not reconnect by themselves: a new one at once, as their users would.
      onClose: peer.reconnects ? undefined : () => samples.length < drops && connect(),
    });
  };
  connect();
  await finished;
  await client.close();
  return samples;
}

// ---------------------------------------------------------------- half-open
async function halfOpen(peer, id) {
  const url = `${base}/faults?id=${id}`;
  const samples = [];
  let t0 = 0n;
  let finish;
  const finished = new Promise((resolve) => (finish = resolve));
  let client;
  client = peer.withHeartbeat(url, {
    onMessage: (data) => {
      if (typeof data !== 'string' || !data.startsWith('open:')) return;
      if (samples.length >= HALF_OPEN) return;
      t0 = nowNs();
      client.send('silence');
    },
    onHeartbeatTimeout: () => {
      samples.push(Number(nowNs() - t0) / 1e6);
      if (samples.length >= HALF_OPEN) finish();
    },
  });
  await finished;
  await client.close();
  return { p50: median(samples), p99: Math.max(...samples) };
}

// ---------------------------------------------------------------- memory
function heapUsed() {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

async function idleHeap(peer) {
  const clients = [];
  const before = heapUsed();
  for (let i = 0; i < IDLE; i += 50) {
    const batch = await Promise.all(Array.from({ length: Math.min(50, IDLE - i) }, () => open(peer, `${base}/echo`)));
    clients.push(...batch.map((b) => b.client));
  }
  const perConnection = (heapUsed() - before) / IDLE;
  for (let i = 0; i < clients.length; i += 100) await Promise.all(clients.slice(i, i + 100).map((c) => c.close()));
  return perConnection;
}

// ---------------------------------------------------------------- run
const results = { quick, machine: null, scenarios: {} };
const clients = peers.filter((p) => !p.raw);

const started = performance.now();
for (const [scenario, run] of [
  ['receive 1 KiB binary', receiveRun],
  ['send 1 KiB binary', sendRun],
]) {
  if (!wanted(scenario)) continue;
  const rates = await throughput(scenario, run, peers);
  results.scenarios[scenario] = {
    unit: 'msg/s',
    better: 'higher',
    values: Object.fromEntries(peers.map((p) => [p.name, median(rates[p.name])])),
    vsWs: Object.fromEntries(peers.map((p) => [p.name, median(rates[p.name].map((x, i) => (rates.ws[i] > 0 ? x / rates.ws[i] : 0)))])),
  };
}

if (wanted('round trip')) {
  const stop = startSpinners();
  try {
    const perRound = Object.fromEntries(peers.map((p) => [p.name, { p50: [], p99: [] }]));
    for (let r = -1; r < RTT_ROUNDS; r++) {
      const order = roundOrder(peers, r);
      for (const peer of order) {
        const got = await limited(`round trips, ${peer.name}`, () => rttRun(peer));
        if (r >= 0 && got) {
          perRound[peer.name].p50.push(got.p50);
          perRound[peer.name].p99.push(got.p99);
          if (process.env.BENCH_TRACE) process.stderr.write(`  ${peer.name}: p50 ${got.p50.toFixed(1)} µs, p99 ${got.p99.toFixed(1)} µs\n`);
        }
      }
    }
    for (const q of ['p50', 'p99']) {
      results.scenarios[`round trip 32 B ${q}, busy CPUs`] = {
        unit: 'µs',
        better: 'lower',
        values: Object.fromEntries(peers.map((p) => [p.name, median(perRound[p.name][q])])),
        vsWs: Object.fromEntries(peers.map((p) => [p.name, median(perRound.ws[q].map((x, i) => x / perRound[p.name][q][i]))])),
      };
    }
  } finally {
    stop();
  }
}

if (wanted('recovery')) {
  const samples = Object.fromEntries(clients.map((p) => [p.name, []]));
  for (let r = 0; r < RECOVERY_ROUNDS; r++) {
    const order = roundOrder(clients, r);
    for (const peer of order) {
      const drops = DROPS / RECOVERY_ROUNDS;
      const round = await limited(`recovery, ${peer.name}`, () => recovery(peer, `recover-${peer.name}-${r}`, drops));
      // A client that missed a round is left out rather than judged on part of its drops.
      if (round && process.env.BENCH_TRACE) {
        const slowest = [...round].sort((a, b) => b - a).slice(0, 3);
        process.stderr.write(`  ${peer.name}: median ${median(round).toFixed(0)} µs, slowest ${slowest.map((x) => x.toFixed(0)).join(', ')} µs\n`);
      }
      if (round && samples[peer.name]) samples[peer.name].push(...round);
      else samples[peer.name] = null;
    }
  }
  const got = Object.fromEntries(
    clients.map((p) => {
      const all = samples[p.name];
      return [p.name, all && all.length === DROPS ? { p50: median(all), p99: quantile(all, 0.99) } : null];
    }),
  );
  for (const q of ['p50', 'p99']) {
    results.scenarios[`recovery after a drop ${q === 'p50' ? 'median' : 'p99'}`] = {
      unit: 'µs',
      better: 'lower',
      values: Object.fromEntries(clients.map((p) => [p.name, got[p.name]?.[q] ?? null])),
      vsWs: Object.fromEntries(clients.map((p) => [p.name, got[p.name] && got.ws ? got.ws[q] / got[p.name][q] : null])),
    };
  }
}

if (wanted('half-open')) {
  const values = {};
  for (const peer of clients) {
    values[peer.name] = peer.heartbeat ? ((await limited(`half-open, ${peer.name}`, () => halfOpen(peer, `half-${peer.name}`)))?.p50 ?? null) : 'cannot';
  }
  results.scenarios['half-open detected, median'] = { unit: 'ms', better: 'lower', values, vsWs: null };
}

if (wanted('heap')) {
  const values = {};
  for (const peer of peers) values[peer.name] = await limited(`heap, ${peer.name}`, () => idleHeap(peer));
  results.scenarios[`heap per idle connection (${IDLE} open)`] = {
    unit: 'bytes',
    better: 'lower',
    values,
    vsWs: Object.fromEntries(peers.map((p) => [p.name, values[p.name] > 0 && values.ws > 0 ? values.ws / values[p.name] : null])),
  };
}
const seconds = (performance.now() - started) / 1000;
server.stdin.end();

// ---------------------------------------------------------------- report
const versions = {};
for (const peer of peers) {
  if (!peer.version) continue;
  const pkg = JSON.parse(readFileSync(new URL(`../node_modules/${peer.version}/package.json`, import.meta.url), 'utf8'));
  versions[peer.name] = pkg.version;
}
results.versions = versions;
results.node = process.version;
results.seconds = seconds;
results.config = Object.fromEntries(peers.map((p) => [p.name, p.config]));

function show(value, unit) {
  if (value === null || value === undefined) return 'failed';
  if (value === 'cannot') return 'cannot';
  if (unit === 'msg/s') return value >= 1e6 ? `${(value / 1e6).toFixed(2)} M` : `${(value / 1e3).toFixed(0)} k`;
  if (unit === 'µs') return value >= 1000 ? `${(value / 1000).toFixed(2)} ms` : `${value.toFixed(0)} µs`;
  if (unit === 'ms') return `${value.toFixed(0)} ms`;
  if (unit === 'bytes') return `${(value / 1024).toFixed(1)} KiB`;
  return String(value);
}

const names = peers.map((p) => p.name);
const lines = [
  `| scenario | ${names.join(' | ')} |`,
  `|---|${names.map(() => '---:').join('|')}|`,
];
for (const [scenario, { unit, values, vsWs }] of Object.entries(results.scenarios)) {
  const cells = names.map((name) => {
    if (!(name in values)) return '-';
    const ratio = vsWs?.[name];
    const value = show(values[name], unit);
    return ratio && name !== 'ws' && typeof values[name] === 'number' ? `${value} (${ratio.toFixed(2)}x)` : value;
  });
  lines.push(`| ${scenario} | ${cells.join(' | ')} |`);
}

// A partial run (BENCH_ONLY) prints its table but leaves the saved results alone.
if (!process.env.BENCH_ONLY) {
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/peers.json', import.meta.url), JSON.stringify(results, null, 2) + '\n');
  writeFileSync(
    new URL('./results/peers.svg', import.meta.url),
    ratioChart({
      title: `wsengine and alternatives, ratios against ws${quick ? ' (quick run)' : ''} — higher is better`,
      scenarios: Object.entries(results.scenarios)
        .filter(([, s]) => s.vsWs)
        .map(([name, s]) => ({ name, ratios: Object.fromEntries(names.filter((n) => n !== 'ws' && typeof s.vsWs[n] === 'number').map((n) => [n, s.vsWs[n]])) })),
      series: names.filter((n) => n !== 'ws'),
    }),
  );
}

console.log(`### wsengine and the alternatives${quick ? ' (quick run)' : ''}\n`);
console.log(
  `In parentheses: the ratio against ws in the same run, above 1 when better (for times and memory: ws's value / the client's). ` +
    `Throughput: median of ${ROUNDS} interleaved rounds (${RECEIVE.toLocaleString('en-US')} messages received, ${SEND.toLocaleString('en-US')} sent). ` +
    `Round trips: ${RTT_ROUNDS} rounds of ${RTT} with two nice-19 spinner processes keeping both cores busy. ` +
    `Recovery: ${DROPS} drops per client in ${RECOVERY_ROUNDS} rounds of rotating order, from the drop to the first message on the new connection. ` +
    `Half-open: ${HALF_OPEN} times, heartbeat every ${HEARTBEAT.interval} ms with a ${HEARTBEAT.timeout} ms timeout. ` +
    `Heap: ${IDLE} idle connections open at once, \`heapUsed\` after GC (off-heap buffers not counted). ` +
    `Run time ${seconds.toFixed(0)} s.\n`,
);
console.log(lines.join('\n'));
console.log('\nConfiguration of each client (versions: ' + Object.entries(versions).map(([n, v]) => `${n} ${v}`).join(', ') + `, Node ${process.version}):\n`);
for (const peer of peers) console.log(`- **${peer.name}**: ${peer.config}`);
console.log('\nChart: bench/results/peers.svg; data: bench/results/peers.json.');
process.exit();
