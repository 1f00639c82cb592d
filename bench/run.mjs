// Runs every bench/*.bench.mjs in turn (each in its own process, never in parallel), prints
// their tables, and writes them with a description of the machine to bench/results/latest.md.
//   node bench/run.mjs [--quick]
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, type as osType, release } from 'node:os';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const benches = readdirSync(dir).filter((f) => f.endsWith('.bench.mjs')).sort();
const args = process.argv.slice(2);
const quick = args.includes('--quick');
// For benchmarks that size themselves from the environment rather than --quick (an explicit
// setting still wins): the whole quick run stays under a minute.
const QUICK_ENV = { RPC_BENCH_REQUESTS: '5000', RPC_BENCH_ROUNDS: '5' };
const cpu = cpus();
const machine =
  `${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ` +
  `${osType()} ${release()}, Node ${process.version}`;
const sections = [`# Benchmarks\n`, `Machine: ${machine}  `, `Date: ${new Date().toISOString()}\n`];
let failed = false;
for (const bench of benches) {
  process.stdout.write(`\n== ${bench}\n`);
  const result = spawnSync(process.execPath, [fileURLToPath(new URL(bench, import.meta.url)), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
    env: quick ? { ...QUICK_ENV, ...process.env } : process.env,
  });
  process.stdout.write(result.stdout);
  if (result.status !== 0) {
    failed = true;
    sections.push(`## ${bench}\n\nfailed with exit code ${result.status}\n`);
  } else {
    sections.push(`## ${bench}\n\n${result.stdout.trim()}\n`);
  }
}
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/latest.md', import.meta.url), sections.join('\n') + '\n');
process.stdout.write('\nWritten to bench/results/latest.md\n');
process.exitCode = failed ? 1 : 0;
