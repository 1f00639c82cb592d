/**
 * The browser entry points bundle for the browser without Node built-ins, `ws` or undici, and
 * the engine plus the browser adapter stay small. Sizes are printed (for the README), not timed.
 */
import { describe, expect, it } from 'vitest';
import { bundleForBrowser, sizes } from './helpers/bundle.js';

/** package.json subpath -> source file. */
const ENTRY_POINTS = {
  wsengine: './src/index.ts',
  'wsengine/adapters/browser': './src/adapters/browser.ts',
  'wsengine/mocks': './src/mocks/index.ts',
  'wsengine/rpc': './src/protocols/rpc/index.ts',
  'wsengine/subscriptions': './src/protocols/subscriptions/index.ts',
  'wsengine/k8s/browser': './src/protocols/k8s/browser.ts',
  'wsengine/webwire': './src/protocols/webwire/index.ts',
  // The engine, which `wsengine` re-exports; checked on its own so that it stays browser-safe.
  'wsengine (engine)': './src/engine/index.ts',
} as const;

function describeViolations(violations: ReadonlyArray<{ importer: string; path: string }>): string {
  return violations.map((v) => `${v.importer} imports ${v.path}`).join('\n');
}

describe('browser bundles', () => {
  for (const [name, file] of Object.entries(ENTRY_POINTS)) {
    it(`${name} bundles for platform browser with no node:, ws or undici import`, async () => {
      const bundle = await bundleForBrowser(`export * from ${JSON.stringify(file)};`);
      expect(describeViolations(bundle.violations)).toBe('');
      expect(bundle.inputs).toContain(file.slice(2));
      expect(bundle.code).not.toMatch(/\bfrom\s*["'](node:|ws["']|undici)/);
      expect(bundle.code.length).toBeGreaterThan(0);
    });
  }

  it('the guard catches node: built-ins, bare built-ins, ws and undici', async () => {
    const bundle = await bundleForBrowser(
      [
        "import { EventEmitter } from 'node:events';",
        "import { createHash } from 'crypto';",
        "import { WebSocket } from 'ws';",
        "import { fetch } from 'undici';",
        'export const all = [EventEmitter, createHash, WebSocket, fetch];',
      ].join('\n'),
    );
    expect(bundle.violations.map((v) => v.path).sort()).toEqual(['crypto', 'node:events', 'undici', 'ws']);
  });

  it('reports the minified and gzipped size of the engine plus the browser adapter', async () => {
    const bundle = await bundleForBrowser(
      [ENTRY_POINTS.wsengine, ENTRY_POINTS['wsengine (engine)'], ENTRY_POINTS['wsengine/adapters/browser']]
        .map((file) => `export * from ${JSON.stringify(file)};`)
        .join('\n'),
    );
    expect(bundle.inputs).toContain('src/engine/engine.ts');
    expect(describeViolations(bundle.violations)).toBe('');
    const adapterOnly = await bundleForBrowser(`export * from ${JSON.stringify(ENTRY_POINTS['wsengine/adapters/browser'])};`);
    // What an application pays: the engine driving the browser adapter, after tree shaking.
    const app = await bundleForBrowser(
      [
        `import { createEngine } from ${JSON.stringify(ENTRY_POINTS['wsengine (engine)'])};`,
        `import { createBrowserAdapter } from ${JSON.stringify(ENTRY_POINTS['wsengine/adapters/browser'])};`,
        "const engine = createEngine({ url: 'wss://example.invalid/feed', adapter: () => createBrowserAdapter() });",
        'engine.on("message", (message) => console.log(message));',
        'await engine.start();',
      ].join('\n'),
    );
    expect(describeViolations(app.violations)).toBe('');
    const all = sizes(bundle.code);
    const adapter = sizes(adapterOnly.code);
    const typical = sizes(app.code);
    const kib = (n: number): string => `${(n / 1024).toFixed(1)} KiB`;
    console.log(
      [
        '| bundle (esbuild, platform browser, esm, minified) | minified | gzipped |',
        '|---|---|---|',
        `| an app: createEngine + createBrowserAdapter (tree-shaken) | ${kib(typical.minified)} | ${kib(typical.gzipped)} |`,
        `| every export of wsengine (engine + contract) + wsengine/adapters/browser | ${kib(all.minified)} | ${kib(all.gzipped)} |`,
        `| wsengine/adapters/browser alone | ${kib(adapter.minified)} | ${kib(adapter.gzipped)} |`,
      ].join('\n'),
    );
    expect(all.gzipped).toBeGreaterThan(adapter.gzipped);
    expect(all.gzipped).toBeGreaterThanOrEqual(typical.gzipped);
  });
});
