/**
 * Bundling for the browser with esbuild, with a guard that records every import a browser
 * cannot satisfy: a Node built-in (`node:fs`, or a bare `fs`), `ws`, or undici. Such imports are
 * kept external (so the build finishes and every offender is listed) and reported to the caller.
 */
import { builtinModules } from 'node:module';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type Metafile, type Plugin } from 'esbuild';

/** The repository root. */
export const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

/** Packages that must never reach a browser bundle. */
export const FORBIDDEN_PACKAGES: readonly string[] = ['ws', 'undici'];

const NODE_BUILTINS = new Set(builtinModules.map((name) => name.replace(/^node:/, '')));

/** One import a browser cannot satisfy, with the file that made it. */
export interface BrowserViolation {
  readonly importer: string;
  readonly path: string;
}

export interface BrowserBundle {
  readonly code: string;
  readonly metafile: Metafile;
  readonly violations: readonly BrowserViolation[];
  /** Input files of the bundle, relative to the repository root. */
  readonly inputs: readonly string[];
}

function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** Whether an import specifier names something a browser cannot load. */
export function isForbiddenSpecifier(specifier: string): boolean {
  if (specifier.startsWith('node:')) return true;
  const pkg = packageOf(specifier);
  return NODE_BUILTINS.has(pkg) || FORBIDDEN_PACKAGES.includes(pkg);
}

function guard(violations: BrowserViolation[]): Plugin {
  return {
    name: 'browser-import-guard',
    setup(builder) {
      builder.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind === 'entry-point' || args.path.startsWith('.') || args.path.startsWith('/')) return undefined;
        if (!isForbiddenSpecifier(args.path)) return undefined;
        violations.push({ importer: relative(ROOT, args.importer) || '<entry>', path: args.path });
        return { path: args.path, external: true };
      });
    },
  };
}

/**
 * Bundle `source` (ES module text, resolved from the repository root) for the browser as one
 * minified ESM file.
 */
export async function bundleForBrowser(source: string, options: { minify?: boolean } = {}): Promise<BrowserBundle> {
  const violations: BrowserViolation[] = [];
  const result = await build({
    stdin: { contents: source, resolveDir: ROOT, sourcefile: 'entry.ts', loader: 'ts' },
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'esm',
    target: 'es2020',
    minify: options.minify ?? true,
    metafile: true,
    logLevel: 'silent',
    plugins: [guard(violations)],
  });
  const inputs = Object.keys(result.metafile.inputs);
  // Second nets, on the metafile: any import left external that a browser cannot load, and a
  // forbidden package reached through a path the resolver did not flag.
  const seen = new Set(violations.map((v) => `${v.importer}\0${v.path}`));
  for (const [input, { imports }] of Object.entries(result.metafile.inputs)) {
    for (const imported of imports) {
      if (imported.external && isForbiddenSpecifier(imported.path) && !seen.has(`${input}\0${imported.path}`)) {
        violations.push({ importer: input, path: imported.path });
      }
    }
  }
  for (const input of inputs) {
    const match = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (match && FORBIDDEN_PACKAGES.includes(match[1]!)) violations.push({ importer: input, path: match[1]! });
  }
  return { code: result.outputFiles[0]!.text, metafile: result.metafile, violations, inputs };
}

/** Minified and gzipped (level 9) size in bytes. */
export function sizes(code: string): { minified: number; gzipped: number } {
  const bytes = Buffer.from(code, 'utf8');
  return { minified: bytes.byteLength, gzipped: gzipSync(bytes, { level: 9 }).byteLength };
}
