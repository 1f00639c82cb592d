// The engine's cost, measured against the bare adapter in the same run:
//   1. throughput: 1 KiB messages delivered through the engine's message hook versus a bare
//      `adapter.read()` loop, both on the ws adapter, from the same peer (bench/server.mjs, in
//      its own process). Rounds alternate; the median of each side is reported, and the ratio
//      is the median of the per-round ratios (each engine round against the bare round next to
//      it), so that a drift in speed during the run (on a 2-core machine the peer and the client
//      share the CPU) cancels out instead of landing on whichever side ran when the machine was slow.
//      The engine listens (the adapter's `listen()`: each message straight from ws's event) and
//      takes what queued meanwhile through `tryRead()`; two more sides, a bare loop that drains
//      with `tryRead()` and a bare listener that counts, show what the engine costs over the best
//      a hand-written consumer can do.
//   2. the engine's own cost per message, with an in-memory adapter whose reads resolve at once:
//      through `read()` only, with `tryRead()` returning bursts of 64, and listening (the adapter
//      calls the listener in a loop).
//   3. memory: heap per idle connection, 1,000 engines (each with its connection, heartbeat
//      timers armed) versus 1,000 bare adapters connected to the same peer; and per engine
//      created but not started.
// Prints a Markdown table. Run `npm run build` first: it imports dist/.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { createWsAdapter } from '../dist/adapters/ws.js';
import { createEngine } from '../dist/engine/index.js';

// Rounds of 100,000 messages lasted 0.1 s and single rounds varied by more than the 5% under
// test; these defaults keep the whole run near 20 s.
// --quick (npm run bench -- --quick) trades steadiness for a run of a few seconds.
const quick = process.argv.includes('--quick');
const MESSAGES = Number(process.env.ENGINE_BENCH_MESSAGES ?? (quick ? 100_000 : 400_000));
const ROUNDS = Number(process.env.ENGINE_BENCH_ROUNDS ?? (quick ? 5 : 21));
const IDLE = Number(process.env.ENGINE_BENCH_IDLE ?? (quick ? 250 : 1000));
const SIZE = 1024;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

async function startPeer() {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./server.mjs', import.meta.url))], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const [line] = await once(createInterface({ input: child.stdout }), 'line');
  return { port: JSON.parse(line).port, stop: () => child.stdin.end() };
}

async function bareRound(base) {
  const adapter = createWsAdapter();
  await adapter.dial(`${base}/blast?size=${SIZE}&count=${MESSAGES}&type=binary`);
  const start = performance.now();
  for (let i = 0; i < MESSAGES; i++) await adapter.read();
  const seconds = (performance.now() - start) / 1000;
  await adapter.close(1000, '');
  return MESSAGES / seconds;
}

async function bareDrainRound(base) {
  const adapter = createWsAdapter();
  await adapter.dial(`${base}/blast?size=${SIZE}&count=${MESSAGES}&type=binary`);
  const start = performance.now();
  for (let i = 0; i < MESSAGES; i++) {
    if (adapter.tryRead() === undefined) await adapter.read();
  }
  const seconds = (performance.now() - start) / 1000;
  await adapter.close(1000, '');
  return MESSAGES / seconds;
}

async function bareListenRound(base) {
  const adapter = createWsAdapter();
  await adapter.dial(`${base}/blast?size=${SIZE}&count=${MESSAGES}&type=binary`);
  const start = performance.now();
  let count = 0;
  let done;
  const finished = new Promise((resolve) => (done = resolve));
  const onMessage = (message) => {
    if (message !== undefined && ++count === MESSAGES) done(performance.now());
  };
  // What arrived before listening comes first.
  while (count < MESSAGES && !adapter.listen(onMessage)) onMessage(adapter.tryRead() ?? (await adapter.read()));
  const end = await finished;
  adapter.listen(undefined);
  await adapter.close(1000, '');
  return MESSAGES / ((end - start) / 1000);
}

async function engineRound(base) {
  let count = 0;
  let done;
  const finished = new Promise((resolve) => (done = resolve));
  let start = 0;
  const engine = createEngine({
    url: `${base}/blast?size=${SIZE}&count=${MESSAGES}&type=binary`,
    adapter: () => createWsAdapter(),
    onOpen: () => {
      start = performance.now();
    },
    onMessage: () => {
      if (++count === MESSAGES) done(performance.now());
    },
  });
  await engine.start();
  const end = await finished;
  await engine.stop();
  return MESSAGES / ((end - start) / 1000);
}

/** An adapter whose reads resolve at once with the same message: the engine's own cost, no I/O. */
function instantAdapter(limit, burst = 0) {
  const message = { type: 2, data: new Uint8Array(SIZE) };
  let n = 0;
  const adapter = {
    dial: async (url) => ({ url: String(url), status: 101, headers: {}, protocol: '', extensions: '' }),
    read: () => (++n <= limit ? Promise.resolve(message) : new Promise(() => {})),
    write: async () => {},
    ping: () => new Promise(() => {}),
    close: async () => {},
    underlying: () => undefined,
  };
  // Every `burst`-th message needs a read(); the ones between are already "queued".
  if (burst > 0) adapter.tryRead = () => (n % burst !== 0 && ++n <= limit ? message : undefined);
  // Listening: every message goes to the listener in one synchronous loop, a turn after it listens.
  if (burst < 0) {
    let listener;
    adapter.listen = (next) => {
      if (next !== undefined && n >= limit) return false;
      listener = next;
      if (next !== undefined) {
        queueMicrotask(() => {
          while (listener !== undefined && n < limit) {
            n++;
            listener(message);
          }
        });
      }
      return true;
    };
  }
  return adapter;
}

const INSTANT = quick ? 200_000 : 1_000_000;
const INSTANT_ROUNDS = quick ? 5 : 9;

const BURST = 64;

async function instantBare(burst) {
  const adapter = instantAdapter(INSTANT, burst);
  const start = performance.now();
  if (burst < 0) {
    let count = 0;
    await new Promise((resolve) => {
      adapter.listen(() => {
        if (++count === INSTANT) resolve();
      });
    });
  } else if (burst > 0) {
    for (let i = 0; i < INSTANT; i++) if (adapter.tryRead() === undefined) await adapter.read();
  } else {
    for (let i = 0; i < INSTANT; i++) await adapter.read();
  }
  return (performance.now() - start) / INSTANT;
}

async function instantEngine(burst) {
  let count = 0;
  let done;
  const finished = new Promise((resolve) => (done = resolve));
  let start = 0;
  const engine = createEngine({
    url: 'ws://127.0.0.1:9/',
    adapter: () => instantAdapter(INSTANT, burst),
    heartbeat: false,
    onOpen: () => {
      start = performance.now();
    },
    onMessage: () => {
      if (++count === INSTANT) done(performance.now());
    },
  });
  await engine.start();
  const end = await finished;
  await engine.stop();
  return (end - start) / INSTANT;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function heapUsed() {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

async function inBatches(count, make) {
  const out = [];
  for (let i = 0; i < count; i += 100) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(100, count - i) }, make))));
  }
  return out;
}

async function memory(base) {
  const url = `${base}/echo`;
  // Engines created, not started: the engine's own objects only.
  let before = heapUsed();
  let engines = Array.from({ length: IDLE }, () => createEngine({ url, adapter: () => createWsAdapter() }));
  const created = (heapUsed() - before) / IDLE;
  engines = [];

  // Bare adapters, connected and idle, each with a read pending (as any consumer has).
  before = heapUsed();
  const adapters = await inBatches(IDLE, async () => {
    const adapter = createWsAdapter();
    await adapter.dial(url);
    adapter.read().catch(() => {});
    return adapter;
  });
  const bare = (heapUsed() - before) / IDLE;
  await Promise.all(adapters.map((a) => a.close(1000, '')));
  adapters.length = 0;

  // Engines, connected and idle (heartbeat armed).
  before = heapUsed();
  engines = await inBatches(IDLE, async () => {
    const engine = createEngine({ url, adapter: () => createWsAdapter() });
    await engine.start();
    return engine;
  });
  const connected = (heapUsed() - before) / IDLE;
  await Promise.all(engines.map((e) => e.stop()));
  return { created, bare, connected };
}

const peer = await startPeer();
const base = `ws://127.0.0.1:${peer.port}`;
try {
  // Warm-up: JIT both paths once.
  await bareRound(base);
  await bareDrainRound(base);
  await bareListenRound(base);
  await engineRound(base);
  const bare = [];
  const drain = [];
  const listen = [];
  const engine = [];
  for (let i = 0; i < ROUNDS; i++) {
    // Rotate which side goes first, so that none always pays for another's garbage.
    const sides = [
      async () => bare.push(await bareRound(base)),
      async () => drain.push(await bareDrainRound(base)),
      async () => listen.push(await bareListenRound(base)),
      async () => engine.push(await engineRound(base)),
    ];
    for (let k = 0; k < 4; k++) await sides[(i + k) % 4]();
  }
  const bareRate = median(bare);
  const drainRate = median(drain);
  const listenRate = median(listen);
  const engineRate = median(engine);
  const rateRatio = median(engine.map((rate, i) => rate / bare[i]));
  const drainRatio = median(engine.map((rate, i) => rate / drain[i]));
  const listenRatio = median(engine.map((rate, i) => rate / listen[i]));
  const instant = { bare: [], engine: [], bareBurst: [], engineBurst: [], bareListen: [], engineListen: [] };
  for (let i = 0; i < INSTANT_ROUNDS; i++) {
    const sides = [
      async () => instant.bare.push(await instantBare(0)),
      async () => instant.engine.push(await instantEngine(0)),
      async () => instant.bareBurst.push(await instantBare(BURST)),
      async () => instant.engineBurst.push(await instantEngine(BURST)),
      async () => instant.bareListen.push(await instantBare(-1)),
      async () => instant.engineListen.push(await instantEngine(-1)),
    ];
    for (let k = 0; k < 6; k++) await sides[(i + k) % 6]();
  }
  const instantBareMs = median(instant.bare);
  const instantEngineMs = median(instant.engine);
  const burstBareMs = median(instant.bareBurst);
  const burstEngineMs = median(instant.engineBurst);
  const listenBareMs = median(instant.bareListen);
  const listenEngineMs = median(instant.engineListen);
  const ns = (ms) => (ms * 1e6).toFixed(0);
  const mem = await memory(base);
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
  const fmt = (n) => Math.round(n).toLocaleString('en-US');
  console.log(`## engine (${MESSAGES.toLocaleString('en-US')} x 1 KiB binary messages, median of ${ROUNDS} rounds; ${IDLE} idle connections)\n`);
  console.log('| measure | baseline | engine | ratio (engine / baseline) |');
  console.log('|---|---|---|---|');
  console.log(`| messages/s, ws adapter (baseline: bare \`read()\` loop; engine: message hook; ratio: median of the per-round ratios) | ${fmt(bareRate)} | ${fmt(engineRate)} | ${rateRatio.toFixed(3)} |`);
  console.log(`| messages/s, ws adapter (baseline: bare loop draining with \`tryRead()\`, then \`read()\`) | ${fmt(drainRate)} | ${fmt(engineRate)} | ${drainRatio.toFixed(3)} |`);
  console.log(`| messages/s, ws adapter (baseline: a bare listener, \`listen()\`) | ${fmt(listenRate)} | ${fmt(engineRate)} | ${listenRatio.toFixed(3)} |`);
  console.log(`| ns per message, in-memory adapter, \`read()\` only (no I/O: the engine's own cost) | ${ns(instantBareMs)} | ${ns(instantEngineMs)} | ${(instantEngineMs / instantBareMs).toFixed(2)} |`);
  console.log(`| ns per message, in-memory adapter, \`tryRead()\` bursts of ${BURST} (baseline drains the same way) | ${ns(burstBareMs)} | ${ns(burstEngineMs)} | ${(burstEngineMs / burstBareMs).toFixed(2)} |`);
  console.log(`| ns per message, in-memory adapter, \`listen()\` (baseline: a bare listener) | ${ns(listenBareMs)} | ${ns(listenEngineMs)} | ${(listenEngineMs / listenBareMs).toFixed(2)} |`);
  console.log(`| heap per idle connection (baseline: bare ws adapter with a read pending; engine: engine + its ws adapter) | ${kib(mem.bare)} | ${kib(mem.connected)} | ${(mem.connected / mem.bare).toFixed(2)} |`);
  console.log(`| heap per engine created, not started | - | ${kib(mem.created)} | - |`);
  console.log(`\nEngine overhead per idle connection: ${kib(mem.connected - mem.bare)}. Throughput cost against the bare \`read()\` loop: ${((1 - rateRatio) * 100).toFixed(1)}% (target: at most 5%; negative means the engine is faster); against a bare loop that drains with \`tryRead()\`: ${((1 - drainRatio) * 100).toFixed(1)}%; against a bare listener: ${((1 - listenRatio) * 100).toFixed(1)}%. On the \`read()\` path the engine adds ${ns(instantEngineMs - instantBareMs)} ns per message, on the \`tryRead()\` path ${ns(burstEngineMs - burstBareMs)} ns, listening ${ns(listenEngineMs - listenBareMs)} ns.`);
} finally {
  peer.stop();
}
