// One send run of the ws client in a process of its own, so that it can run without bufferutil
// (WS_NO_BUFFER_UTIL=1 must be set before ws is loaded). Used by native.bench.mjs:
//   node bench/ws-send-child.mjs <url> <count> <size>   prints the run's milliseconds
import { once } from 'node:events';
import WebSocket from 'ws';

const [url, count, size] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const payload = Buffer.alloc(size, 0x62);

/** Sends `n` messages to a /sink?count=n URL and waits for its answer; returns the milliseconds. */
async function run(target, n) {
  const ws = new WebSocket(target, { perMessageDeflate: false });
  await once(ws, 'open');
  const done = new Promise((resolve) => ws.once('message', resolve));
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    if (i % 256 === 255) await new Promise((resolve) => ws.send(payload, resolve));
    else ws.send(payload);
  }
  await done;
  const ms = performance.now() - t0;
  ws.close();
  await once(ws, 'close');
  return ms;
}

// A warm-up run first (discarded): the in-process drivers are measured warm as well.
const warm = new URL(url);
const warmCount = Math.max(1, Math.min(count, Math.round((64 * 1024 * 1024) / size)));
warm.searchParams.set('count', String(warmCount));
await run(warm, warmCount);
process.stdout.write(`${await run(url, count)}\n`);
