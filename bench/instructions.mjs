// Instructions per message (or per request), repeatable on a busy machine where timings are not:
// each scenario of bench/instructions-client.mjs runs under `valgrind --tool=callgrind` twice, for
// N and for M messages, and the difference of the totals is divided by M - N, so that start-up and
// the connection cancel out. The optimizing compiler's work (`Compiler::CompileOptimized*`, which
// varies from run to run) is subtracted. User space only: system calls and the kernel's share are
// not counted. The peer (bench/server.mjs) runs in its own process, not under valgrind.
//   npm run build && node bench/instructions.mjs [scenario ...]
// Needs valgrind and callgrind_annotate. Two scenarios run at a time; about a minute for each pair.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const SCENARIOS = {
  'ws-receive': [20_000, 120_000],
  'adapter-receive': [20_000, 120_000],
  'engine-receive': [20_000, 120_000],
  'ws-send': [20_000, 120_000],
  'engine-send': [20_000, 120_000],
  'rpc-bare': [10_000, 50_000],
  'rpc-engine': [10_000, 50_000],
  'rpc-requester': [10_000, 50_000],
};
const wanted = process.argv.slice(2);
for (const name of wanted) if (!(name in SCENARIOS)) throw new Error(`unknown scenario ${name}: ${Object.keys(SCENARIOS).join(', ')}`);
const names = wanted.length > 0 ? wanted : Object.keys(SCENARIOS);

const client = fileURLToPath(new URL('./instructions-client.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'wsengine-instructions-'));

function run(command, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} exited with ${code}\n${err.slice(-2000)}`))));
  });
}

/** Total instructions of one client run, without the optimizing compiler's. */
async function count(name, n, port) {
  const file = join(dir, `${name}.${n}.out`);
  await run('valgrind', ['--tool=callgrind', `--callgrind-out-file=${file}`, process.execPath, '--predictable', '--max-semi-space-size=16', client, name, String(n), String(port)]);
  const annotated = await run('callgrind_annotate', ['--inclusive=yes', file]);
  let total = 0;
  let compile = 0;
  for (const line of annotated.split('\n')) {
    const cost = Number(line.trim().split(/\s+/)[0]?.replaceAll(',', ''));
    if (line.includes('PROGRAM TOTALS')) total = cost;
    else if (/Compiler::CompileOptimized(OSR)?\(/.test(line)) compile += cost;
  }
  return total - compile;
}

const peer = spawn(process.execPath, [fileURLToPath(new URL('./server.mjs', import.meta.url))], { stdio: ['pipe', 'pipe', 'inherit'] });
try {
  const [line] = await once(createInterface({ input: peer.stdout }), 'line');
  const { port } = JSON.parse(line);
  const results = new Map();
  for (let i = 0; i < names.length; i += 2) {
    await Promise.all(
      names.slice(i, i + 2).map(async (name) => {
        const [n, m] = SCENARIOS[name];
        const [a, b] = [await count(name, n, port), await count(name, m, port)];
        results.set(name, (b - a) / (m - n));
      }),
    );
  }
  console.log('| scenario | instructions per message (per request for rpc-*) |');
  console.log('|---|---:|');
  for (const name of names) console.log(`| ${name} | ${Math.round(results.get(name)).toLocaleString('en-US')} |`);
} finally {
  peer.stdin.end();
  rmSync(dir, { recursive: true, force: true });
}
