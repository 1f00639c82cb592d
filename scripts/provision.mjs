// `npm test`'s first step (`pretest`): make sure the machine has what the tests talk to, besides
// npm packages: Debian's chromium (the browser adapter runs in real headless Chromium), Python's
// websockets and Autobahn servers (independent peers for the native codec) and openssl (the
// certificates of the wss: tests). Whatever is missing is installed with apt-get when that is
// possible (Debian, as root or with passwordless sudo); otherwise the run stops here with one
// line naming the packages and the command that installs them, never with a wall of failing
// tests. It also checks the Node version against package.json's `engines`.
//
// Usage: node scripts/provision.mjs [--check]   (--check: report only, install nothing)
//
// Packages are looked up with `dpkg-query`, found on PATH like every other command here, so a
// test can run this script with a PATH of stand-ins.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Debian packages the test suite needs, in the order they are reported. */
export const SYSTEM_PACKAGES = ['openssl', 'chromium', 'python3-websockets', 'python3-autobahn'];

/** Parse "20.18.1" (or "v20.18.1") into [major, minor, patch]. */
export function parseVersion(text) {
  const match = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(String(text).trim());
  if (!match) throw new Error(`not a version: "${text}"`);
  return [Number(match[1]), Number(match[2] ?? 0), Number(match[3] ?? 0)];
}

function compareVersions(a, b) {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}

/**
 * Whether `version` satisfies an `engines` range made of space-separated comparators
 * (">=20.18.1", ">=20 <23", "^20.18.1", "20.x"); `||` separates alternatives.
 */
export function satisfies(version, range) {
  const v = parseVersion(version);
  return range.split('||').some((alternative) =>
    alternative
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .every((comparator) => {
        const match = /^(>=|<=|>|<|=|\^|~)?\s*v?([\dx*.]+)$/.exec(comparator);
        if (!match) throw new Error(`unsupported engines range: "${range}"`);
        const [, op = '=', raw] = match;
        const parts = raw.split('.');
        const wild = parts.findIndex((p) => p === 'x' || p === '*');
        const bound = parseVersion(parts.map((p) => (p === 'x' || p === '*' ? '0' : p)).join('.'));
        const cmp = compareVersions(v, bound);
        if (op === '>=') return cmp >= 0;
        if (op === '>') return cmp > 0;
        if (op === '<=') return cmp <= 0;
        if (op === '<') return cmp < 0;
        if (op === '^') return cmp >= 0 && v[0] === bound[0];
        if (op === '~') return cmp >= 0 && v[0] === bound[0] && v[1] === bound[1];
        // "=" with wildcards ("20.x") or a partial version ("20") matches the given parts only.
        const fixed = wild === -1 ? parts.length : wild;
        return fixed === 3 ? cmp === 0 : v.slice(0, fixed).every((n, i) => n === bound[i]);
      }),
  );
}

function run(command, args, env) {
  const result = spawnSync(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  return {
    ok: !result.error && result.status === 0,
    missing: result.error?.code === 'ENOENT',
    stdout: result.stdout ?? '',
    output: `${result.stdout ?? ''}${result.stderr ?? ''}`,
  };
}

/** The packages of `SYSTEM_PACKAGES` that dpkg does not report as installed. */
export function missingPackages(env) {
  const missing = [];
  for (const name of SYSTEM_PACKAGES) {
    const query = run('dpkg-query', ['-W', '-f=${Status}', name], env);
    if (query.missing) return { missing: [...SYSTEM_PACKAGES], dpkg: false };
    if (!query.ok || !/\binstall ok installed\b/.test(query.stdout)) missing.push(name);
  }
  return { missing, dpkg: true };
}

/** How apt-get can be run here: directly (root), through passwordless sudo, or not at all. */
export function aptRunner(env) {
  if (!run('apt-get', ['--version'], env).ok) return undefined;
  const uid = run('id', ['-u'], env);
  if (uid.ok && uid.stdout.trim() === '0') return [];
  if (run('sudo', ['-n', 'apt-get', '--version'], env).ok) return ['sudo', '-n'];
  return undefined;
}

/** Runs the step; returns the exit code. `log` takes one line at a time. */
export function provision({ env = process.env, nodeVersion = process.versions.node, engines, check = false, log = console.log }) {
  if (engines && !satisfies(nodeVersion, engines)) {
    log(`provision: Node ${nodeVersion} does not satisfy engines.node "${engines}"; install a Node version that does`);
    return 1;
  }
  const nodeLine = engines ? `Node ${nodeVersion} satisfies engines.node "${engines}"` : `Node ${nodeVersion}`;
  const { missing, dpkg } = missingPackages(env);
  if (missing.length === 0) {
    log(`provision: ${nodeLine}; system packages present: ${SYSTEM_PACKAGES.join(', ')}`);
    return 0;
  }
  const installCommand = `apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  const runner = dpkg && !check ? aptRunner(env) : undefined;
  if (!runner) {
    const why = !dpkg ? 'this is not a Debian system (no dpkg-query)' : check ? 'check only' : 'apt-get needs root or passwordless sudo';
    log(`provision: missing system packages: ${missing.join(', ')} (${why}); install them with: sudo apt-get update && sudo ${installCommand}`);
    return 1;
  }
  log(`provision: ${nodeLine}; installing with apt-get: ${missing.join(' ')}`);
  const [sudo, ...sudoArgs] = runner;
  const apt = (args) => (sudo ? run(sudo, [...sudoArgs, 'apt-get', ...args], aptEnv(env)) : run('apt-get', args, aptEnv(env)));
  // apt's own output is shown only when it fails: one line says what is installed.
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', '--no-install-recommends', ...missing]]) {
    const result = apt(args);
    if (!result.ok) {
      log(result.output.trimEnd().split('\n').slice(-20).join('\n'));
      log(`provision: apt-get ${args[0]} failed; run: sudo apt-get update && sudo ${installCommand}`);
      return 1;
    }
  }
  const still = missingPackages(env).missing;
  if (still.length > 0) {
    log(`provision: still missing after apt-get: ${still.join(', ')}`);
    return 1;
  }
  return 0;
}

function aptEnv(env) {
  return { ...env, DEBIAN_FRONTEND: 'noninteractive' };
}

const invokedDirectly = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (invokedDirectly) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  process.exitCode = provision({ engines: pkg.engines?.node, check: process.argv.includes('--check') });
}
