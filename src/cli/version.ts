/**
 * The package's version for `wsengine --version`, read from its package.json at run time (the
 * build's rootDir is `src/`, so the file cannot be imported). Found by walking up from this
 * module, which works from `dist/cli/` and from any other build layout.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'wsengine' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // No package.json here (or not ours): look further up.
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the package.json of wsengine');
    dir = parent;
  }
}
