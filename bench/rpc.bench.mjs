// The request/reply layer's cost, and the pool's speed against the limits it must honour:
//   1. request/reply: round trips per second and p50/p99 latency, `WINDOW` requests in flight,
//      through an engine and `createRequester`, against a bare `adapter.write`/`read` loop that
//      does the same correlation by hand (a Map from id to resolver, the same JSON both ways,
//      draining bursts with `tryRead()` like the engine), on the native and the ws adapters, in
//      the same run, against the echo peer (bench/server.mjs, in its own process). Rounds
//      alternate and rotate which side goes first; the ratio is the median of the per-round
//      ratios, so that drift on a shared 2-core machine cancels out.
//   2. the pool: time to subscribe 10,000 streams under a cap of 1,024 per connection, a connect
//      rate and a per-connection send rate, until the feed server holds every stream, against the
//      least time those rates allow. The feed server (`ws`) runs in this process: the time is
//      bound by the rates, not the CPU.
// Prints a Markdown table. Run `npm run build` first: it imports dist/.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import { createNativeAdapter } from '../dist/adapters/native/index.js';
import { createWsAdapter } from '../dist/adapters/ws.js';
import { createEngine } from '../dist/engine/index.js';
import { createRequester } from '../dist/protocols/rpc/index.js';
import { createSubscriptionPool } from '../dist/protocols/subscriptions/index.js';

const REQUESTS = Number(process.env.RPC_BENCH_REQUESTS ?? 20_000);
const ROUNDS = Number(process.env.RPC_BENCH_ROUNDS ?? 9);
const WINDOW = Number(process.env.RPC_BENCH_WINDOW ?? 32);
const STREAMS = Number(process.env.RPC_BENCH_STREAMS ?? 10_000);
const PAYLOAD = { symbol: 'BTCUSDT', side: 'BUY', qty: '0.001', price: '64000.10' };

async function startPeer() {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./server.mjs', import.meta.url))], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const [line] = await once(createInterface({ input: child.stdout }), 'line');
  return { port: JSON.parse(line).port, stop: () => child.stdin.end() };
}

/** `WINDOW` workers, each sending its next request once the previous one is answered. */
async function drive(request) {
  const latencies = new Float64Array(REQUESTS);
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: WINDOW }, async () => {
      while (next < REQUESTS) {
        const i = next++;
        const t0 = performance.now();
        await request(PAYLOAD);
        latencies[i] = performance.now() - t0;
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  latencies.sort();
  return {
    rate: REQUESTS / seconds,
    p50: latencies[Math.floor(REQUESTS * 0.5)],
    p99: latencies[Math.floor(REQUESTS * 0.99)],
  };
}

/** The baseline: one adapter, correlation by hand. */
async function bareRound(url, makeAdapter) {
  const adapter = makeAdapter();
  await adapter.dial(url);
  const pending = new Map();
  let id = 0;
  let running = true;
  const settle = (message) => {
    const reply = JSON.parse(message.data);
    const resolve = pending.get(reply.id);
    if (resolve === undefined) return;
    pending.delete(reply.id);
    resolve(reply.payload);
  };
  const reader = (async () => {
    try {
      while (running) {
        let message = adapter.tryRead?.();
        if (message === undefined) message = await adapter.read();
        settle(message);
      }
    } catch {
      // closed at the end of the round
    }
  })();
  const request = (payload) =>
    new Promise((resolve, reject) => {
      const n = ++id;
      pending.set(n, resolve);
      adapter.write(1, JSON.stringify({ id: n, payload })).catch(reject);
    });
  const result = await drive(request);
  running = false;
  await adapter.close(1000, '');
  await reader;
  return result;
}

/** The layer: an engine and a requester with the same JSON. */
async function layerRound(url, makeAdapter) {
  const engine = createEngine({ url, adapter: makeAdapter, heartbeat: false });
  const requester = createRequester(engine, {
    encode: (payload, id) => JSON.stringify({ id, payload }),
    decode: (message) => {
      const reply = JSON.parse(message.data);
      return { id: reply.id, result: reply.payload };
    },
  });
  await engine.start();
  const result = await drive((payload) => requester.request(payload));
  requester.close();
  await engine.stop();
  return result;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function compare(url, name, makeAdapter) {
  await bareRound(url, makeAdapter);
  await layerRound(url, makeAdapter);
  const bare = [];
  const layer = [];
  for (let i = 0; i < ROUNDS; i++) {
    const sides = [async () => bare.push(await bareRound(url, makeAdapter)), async () => layer.push(await layerRound(url, makeAdapter))];
    for (let k = 0; k < 2; k++) await sides[(i + k) % 2]();
  }
  return {
    name,
    bare: { rate: median(bare.map((r) => r.rate)), p50: median(bare.map((r) => r.p50)), p99: median(bare.map((r) => r.p99)) },
    layer: { rate: median(layer.map((r) => r.rate)), p50: median(layer.map((r) => r.p50)), p99: median(layer.map((r) => r.p99)) },
    ratio: median(layer.map((r, i) => r.rate / bare[i].rate)),
  };
}

/** A feed server counting the streams it holds; resolves `done` once it holds `total`. */
async function feedServer(total) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  let held = 0;
  let maxPerConnection = 0;
  let done;
  const finished = new Promise((resolve) => (done = resolve));
  wss.on('connection', (ws) => {
    const streams = new Set();
    ws.on('message', (data) => {
      const { op, streams: list } = JSON.parse(String(data));
      if (op !== 'subscribe') return;
      for (const s of list) {
        if (streams.has(s)) continue;
        streams.add(s);
        held++;
      }
      maxPerConnection = Math.max(maxPerConnection, streams.size);
      if (held === total) done(performance.now());
    });
  });
  return {
    port: wss.address().port,
    finished,
    get maxPerConnection() {
      return maxPerConnection;
    },
    stop: () => new Promise((resolve) => (wss.clients.forEach((c) => c.terminate()), wss.close(resolve))),
  };
}

/** The least time the rates allow: the slowest connection's connect wait plus its send wait. */
function rateBound({ streams, cap, batch, connectRate, sendRate }) {
  const connections = Math.ceil(streams / cap);
  let bound = 0;
  for (let i = 0; i < connections; i++) {
    const connectAt = Math.max(0, i + 1 - connectRate.count) * (connectRate.per / connectRate.count);
    const keys = Math.min(cap, streams - i * cap);
    const frames = Math.ceil(keys / batch);
    const sendFor = Math.max(0, frames - sendRate.count) * (sendRate.per / sendRate.count);
    bound = Math.max(bound, connectAt + sendFor);
  }
  return { connections, bound };
}

async function poolRun() {
  const config = {
    streams: STREAMS,
    cap: 1024,
    batch: 100,
    connectRate: { count: 5, per: 1000 },
    sendRate: { count: 10, per: 1000 },
  };
  const server = await feedServer(config.streams);
  const pool = createSubscriptionPool({
    engine: () => ({ url: `ws://127.0.0.1:${server.port}/`, adapter: () => createNativeAdapter(), heartbeat: false }),
    maxPerConnection: config.cap,
    maxConnections: 16,
    maxBatch: config.batch,
    connectRate: config.connectRate,
    sendRate: config.sendRate,
    keyOf: (m) => m.stream,
    subscribeMessage: (keys) => JSON.stringify({ op: 'subscribe', streams: keys }),
  });
  const keys = Array.from({ length: config.streams }, (_, i) => `s${i}@trade`);
  const start = performance.now();
  void pool.subscribe(keys);
  const end = await server.finished;
  const connections = pool.connections().length;
  await pool.stop();
  const maxPerConnection = server.maxPerConnection;
  await server.stop();
  return { ms: end - start, connections, maxPerConnection, ...rateBound(config), config };
}

const peer = await startPeer();
const url = `ws://127.0.0.1:${peer.port}/echo`;
try {
  const results = [await compare(url, 'native', () => createNativeAdapter()), await compare(url, 'ws', () => createWsAdapter())];
  const pool = await poolRun();
  const fmt = (n) => Math.round(n).toLocaleString('en-US');
  const ms = (n) => n.toFixed(3);
  console.log(`## request/reply (${REQUESTS.toLocaleString('en-US')} requests a round, ${WINDOW} in flight, median of ${ROUNDS} rounds)\n`);
  console.log('| adapter | bare loop: req/s | p50 ms | p99 ms | engine + requester: req/s | p50 ms | p99 ms | ratio (layer / bare) |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(`| ${r.name} | ${fmt(r.bare.rate)} | ${ms(r.bare.p50)} | ${ms(r.bare.p99)} | ${fmt(r.layer.rate)} | ${ms(r.layer.p50)} | ${ms(r.layer.p99)} | ${r.ratio.toFixed(3)} |`);
  }
  console.log(
    `\nCost of the layer (engine + requester against the hand-written loop; target: at most 10%): ${results
      .map((r) => `${r.name} ${((1 - r.ratio) * 100).toFixed(1)}%`)
      .join(', ')}.\n`,
  );
  const c = pool.config;
  console.log(`## subscription pool (${fmt(c.streams)} streams, cap ${fmt(c.cap)} a connection, ${c.batch} streams a message, native adapter)\n`);
  console.log('| measure | value |');
  console.log('|---|---|');
  console.log(`| connect rate | ${c.connectRate.count} per ${c.connectRate.per} ms |`);
  console.log(`| send rate, per connection | ${c.sendRate.count} messages per ${c.sendRate.per} ms |`);
  console.log(`| connections opened (needed: ${pool.connections}) | ${pool.connections} |`);
  console.log(`| most streams on one connection | ${fmt(pool.maxPerConnection)} |`);
  console.log(`| least time the rates allow | ${fmt(pool.bound)} ms |`);
  console.log(`| time until the server held every stream | ${fmt(pool.ms)} ms |`);
  console.log(`| ratio (measured / least) | ${(pool.ms / pool.bound).toFixed(3)} |`);
} finally {
  peer.stop();
}
