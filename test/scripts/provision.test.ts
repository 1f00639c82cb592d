/**
 * `npm test`'s provisioning step (scripts/provision.mjs), run as a child process with a PATH of
 * stand-ins: a `dpkg-query` that answers from a list of installed packages, an `apt-get` that
 * records its calls (and "installs" into that list), `id` and `sudo`. Written with shell
 * built-ins only, since nothing else is on that PATH.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { provision, satisfies, SYSTEM_PACKAGES } from '../../scripts/provision.mjs';

const SCRIPT = fileURLToPath(new URL('../../scripts/provision.mjs', import.meta.url));

const DPKG_QUERY = `#!/bin/sh
for name; do :; done
while IFS= read -r line; do
  if [ "$line" = "$name" ]; then printf 'install ok installed'; exit 0; fi
done < "$FAKE_STATE/installed"
echo "dpkg-query: no packages found matching $name" >&2
exit 1
`;

const APT_GET = `#!/bin/sh
[ "$1" = --version ] && { echo "apt 2.6.1"; exit 0; }
echo "$*" >> "$FAKE_STATE/apt.log"
[ -n "$FAKE_APT_FAIL" ] && [ "$1" = install ] && { echo "E: Unable to locate package" >&2; exit 100; }
if [ "$1" = install ]; then
  for arg; do case "$arg" in -*|install) ;; *) echo "$arg" >> "$FAKE_STATE/installed" ;; esac; done
fi
exit 0
`;

const ID = `#!/bin/sh
echo "$FAKE_UID"
`;

const SUDO = `#!/bin/sh
echo "sudo $*" >> "$FAKE_STATE/sudo.log"
[ "$1" = -n ] && shift
exec "$@"
`;

interface Fake {
  readonly dir: string;
  run(env?: Record<string, string>): { status: number | null; lines: string[] };
  aptCalls(): string[];
  sudoCalls(): string[];
}

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function fake(options: { installed: readonly string[]; tools: readonly ('dpkg-query' | 'apt-get' | 'id' | 'sudo')[]; uid?: number }): Fake {
  const dir = mkdtempSync(join(tmpdir(), 'wsengine-provision-'));
  dirs.push(dir);
  const bin = join(dir, 'bin');
  const state = join(dir, 'state');
  spawnSync('mkdir', ['-p', bin, state]);
  writeFileSync(join(state, 'installed'), options.installed.map((p) => `${p}\n`).join(''));
  const scripts = { 'dpkg-query': DPKG_QUERY, 'apt-get': APT_GET, id: ID, sudo: SUDO };
  for (const tool of options.tools) {
    writeFileSync(join(bin, tool), scripts[tool]);
    chmodSync(join(bin, tool), 0o755);
  }
  const readLines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);
  return {
    dir,
    run(env = {}) {
      const result = spawnSync(process.execPath, [SCRIPT], {
        env: { PATH: bin, FAKE_STATE: state, FAKE_UID: String(options.uid ?? 0), ...env },
        encoding: 'utf8',
      });
      return { status: result.status, lines: `${result.stdout}${result.stderr}`.split('\n').filter(Boolean) };
    },
    aptCalls: () => readLines(join(state, 'apt.log')),
    sudoCalls: () => readLines(join(state, 'sudo.log')),
  };
}

describe('provisioning before npm test', () => {
  it('does nothing but say so in one line when every package is there', () => {
    const f = fake({ installed: SYSTEM_PACKAGES, tools: ['dpkg-query', 'apt-get', 'id'] });
    const { status, lines } = f.run();
    expect(status).toBe(0);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^provision: Node \d+\.\d+\.\d+ satisfies engines\.node ">=.*"; system packages present/);
    expect(f.aptCalls()).toEqual([]);
  });

  it('installs exactly the missing packages with apt-get when running as root', () => {
    const f = fake({ installed: ['openssl', 'python3-websockets'], tools: ['dpkg-query', 'apt-get', 'id'] });
    const { status, lines } = f.run();
    expect(status).toBe(0);
    expect(lines).toEqual([expect.stringMatching(/installing with apt-get: chromium python3-autobahn$/)]);
    expect(f.aptCalls()).toEqual(['update -qq', 'install -y -qq --no-install-recommends chromium python3-autobahn']);
  });

  it('goes through passwordless sudo when not root', () => {
    const f = fake({ installed: ['openssl', 'chromium', 'python3-autobahn'], tools: ['dpkg-query', 'apt-get', 'id', 'sudo'], uid: 1000 });
    const { status } = f.run();
    expect(status).toBe(0);
    expect(f.aptCalls()).toEqual(['update -qq', 'install -y -qq --no-install-recommends python3-websockets']);
    expect(f.sudoCalls()).toContain('sudo -n apt-get install -y -qq --no-install-recommends python3-websockets');
  });

  it('stops with one line naming the packages and the command when apt-get cannot run', () => {
    const f = fake({ installed: ['openssl'], tools: ['dpkg-query', 'id'] });
    const { status, lines } = f.run();
    expect(status).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('missing system packages: chromium, python3-websockets, python3-autobahn');
    expect(lines[0]).toContain('apt-get install -y --no-install-recommends chromium python3-websockets python3-autobahn');
  });

  it('stops when not root and sudo asks for a password', () => {
    const f = fake({ installed: ['openssl', 'chromium', 'python3-websockets'], tools: ['dpkg-query', 'apt-get', 'id'], uid: 1000 });
    const { status, lines } = f.run();
    expect(status).toBe(1);
    expect(lines).toEqual([expect.stringMatching(/missing system packages: python3-autobahn \(apt-get needs root or passwordless sudo\)/)]);
    expect(f.aptCalls()).toEqual([]);
  });

  it('stops, naming every package, where there is no dpkg', () => {
    const f = fake({ installed: [], tools: ['apt-get', 'id'] });
    const { status, lines } = f.run();
    expect(status).toBe(1);
    expect(lines.at(-1)).toContain(`missing system packages: ${SYSTEM_PACKAGES.join(', ')} (this is not a Debian system`);
    expect(f.aptCalls()).toEqual([]);
  });

  it('fails with apt-get\'s own words when the install fails', () => {
    const f = fake({ installed: ['openssl', 'python3-websockets', 'python3-autobahn'], tools: ['dpkg-query', 'apt-get', 'id'] });
    const { status, lines } = f.run({ FAKE_APT_FAIL: '1' });
    expect(status).toBe(1);
    expect(lines).toContain('E: Unable to locate package');
    expect(lines.at(-1)).toMatch(/apt-get install failed; run: sudo apt-get update && sudo apt-get install .* chromium$/);
  });
});

describe('the Node version check', () => {
  it('refuses a Node older than engines.node, in one line, before looking at packages', () => {
    const lines: string[] = [];
    const code = provision({ nodeVersion: '20.10.0', engines: '>=20.18.1', env: { PATH: '' }, log: (l) => lines.push(l) });
    expect(code).toBe(1);
    expect(lines).toEqual(['provision: Node 20.10.0 does not satisfy engines.node ">=20.18.1"; install a Node version that does']);
  });

  it('reads the usual engines ranges', () => {
    expect(satisfies('20.18.1', '>=20.18.1')).toBe(true);
    expect(satisfies('20.18.0', '>=20.18.1')).toBe(false);
    expect(satisfies('22.1.0', '>=20 <22')).toBe(false);
    expect(satisfies('21.9.9', '>=20 <22')).toBe(true);
    expect(satisfies('20.3.0', '^20.1.0')).toBe(true);
    expect(satisfies('21.0.0', '^20.1.0')).toBe(false);
    expect(satisfies('20.3.4', '20.x')).toBe(true);
    expect(satisfies('18.3.4', '18.x || 20.x')).toBe(true);
    expect(satisfies('19.0.0', '18.x || 20.x')).toBe(false);
    expect(satisfies('20.1.9', '~20.1.2')).toBe(true);
    expect(satisfies('20.2.0', '~20.1.2')).toBe(false);
  });
});
