// One scenario of bench/instructions.mjs, run under callgrind: N messages (or requests) against
// the peer at ws://127.0.0.1:PORT, then exit at once (no close handshake to count).
//   node bench/instructions-client.mjs <scenario> <n> <port>
// Scenarios: ws-receive, adapter-receive (a bare listener on the ws adapter), engine-receive (1 KiB
// binary from /blast), ws-send, engine-send (1 KiB
// binary to /sink, waiting for the send callback or promise every 256), rpc-bare, rpc-engine,
// rpc-requester (32 requests in flight on /echo, with the JSON of rpc.bench.mjs: by hand over
// the ws adapter, by hand over an engine, through createRequester).
import WebSocket from 'ws';
import { createWsAdapter } from '../dist/adapters/ws.js';
import { createEngine, intercept } from '../dist/engine/index.js';
import { createRequester } from '../dist/protocols/rpc/index.js';

const [scenario, count, port] = process.argv.slice(2);
const N = Number(count);
const base = `ws://127.0.0.1:${port}`;
const payload = Buffer.alloc(1024, 7);

function bareWs(url, onMessage) {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  ws.on('message', (data, binary) => onMessage(binary ? data : data.toString()));
  ws.on('error', () => {});
  return new Promise((resolve) => {
    ws.on('open', () => resolve({ send: (d) => ws.send(d), sendWait: (d) => new Promise((r) => ws.send(d, r)) }));
  });
}

async function engineWs(url, onMessage) {
  const engine = createEngine({ url, adapter: () => createWsAdapter(), heartbeat: false, tracing: false, onMessage: (m) => onMessage(m.data) });
  engine.on('error', () => {});
  await engine.start();
  // A sender that does not wait on each message: at once when the connection takes it.
  return { send: (d) => void (engine.trySend(2, d) || engine.send(2, d).catch(() => {})), sendWait: (d) => engine.send(2, d) };
}

async function rpc(kind) {
  const url = `${base}/echo`;
  const PAYLOAD = { symbol: 'BTCUSDT', side: 'BUY', qty: '0.001', price: '64000.10' };
  let request;
  if (kind === 'requester') {
    const engine = createEngine({ url, adapter: () => createWsAdapter(), heartbeat: false });
    const requester = createRequester(engine, {
      encode: (p, id) => JSON.stringify({ id, payload: p }),
      decode: (message) => {
        const reply = JSON.parse(message.data);
        return { id: reply.id, result: reply.payload };
      },
    });
    await engine.start();
    request = (p) => requester.request(p);
  } else {
    const pending = new Map();
    let id = 0;
    const settle = (message) => {
      const reply = JSON.parse(message.data);
      const resolve = pending.get(reply.id);
      if (resolve === undefined) return false;
      pending.delete(reply.id);
      resolve(reply.payload);
      return true;
    };
    let write;
    if (kind === 'engine') {
      const engine = createEngine({ url, adapter: () => createWsAdapter(), heartbeat: false });
      intercept(engine, settle);
      await engine.start();
      write = (text) => engine.send(1, text);
    } else {
      const adapter = createWsAdapter();
      await adapter.dial(url);
      void (async () => {
        for (;;) settle(adapter.tryRead() ?? (await adapter.read()));
      })().catch(() => {});
      write = (text) => adapter.write(1, text);
    }
    request = (p) =>
      new Promise((resolve, reject) => {
        const n = ++id;
        pending.set(n, resolve);
        write(JSON.stringify({ id: n, payload: p })).catch(reject);
      });
  }
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < N) {
        next++;
        await request(PAYLOAD);
      }
    }),
  );
}

async function adapterWs(url, onMessage) {
  const adapter = createWsAdapter();
  await adapter.dial(url);
  const listener = (message) => {
    if (message !== undefined) onMessage(message.data);
  };
  while (!adapter.listen(listener)) listener(adapter.tryRead() ?? (await adapter.read()));
}

if (scenario.endsWith('-receive')) {
  const make = scenario.startsWith('ws') ? bareWs : scenario.startsWith('adapter') ? adapterWs : engineWs;
  let got = 0;
  await new Promise((done) => {
    void make(`${base}/blast?size=1024&count=${N}&type=binary`, () => {
      if (++got === N) done();
    });
  });
} else if (scenario.endsWith('-send')) {
  const make = scenario.startsWith('ws') ? bareWs : engineWs;
  await new Promise((done) => {
    void (async () => {
      const client = await make(`${base}/sink?count=${N}`, (d) => {
        if (String(d) === 'done') done();
      });
      for (let i = 0; i < N; i++) {
        if (i % 256 === 255) await client.sendWait(payload);
        else client.send(payload);
      }
    })();
  });
} else if (scenario.startsWith('rpc-')) {
  await rpc(scenario.slice(4));
} else {
  throw new Error(`unknown scenario ${scenario}`);
}
process.exit(0);
