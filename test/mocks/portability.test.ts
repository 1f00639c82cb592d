import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';

// wsengine/mocks is meant for browser test runners too (DESIGN.md: a browser bundle never pulls
// in `node:` modules), and must not capture timers at import time (fake timers come later).
const dir = join(import.meta.dirname, '../../src/mocks');
const sources = readdirSync(dir)
  .filter((name) => name.endsWith('.ts'))
  .map((name) => ({ name, text: readFileSync(join(dir, name), 'utf8') }));

it('imports no node: module and no package outside wsengine', () => {
  expect(sources.length).toBeGreaterThan(5);
  for (const { name, text } of sources) {
    const specifiers = [...text.matchAll(/from '([^']+)'/g)].map((match) => match[1]!);
    for (const specifier of specifiers) expect(specifier, `${name} imports ${specifier}`).toMatch(/^\.\.?\//);
  }
});

it('uses no setImmediate, no process.nextTick and no timer captured at import', () => {
  for (const { name, text } of sources) {
    const code = text.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
    expect(code, name).not.toMatch(/setImmediate|nextTick|setInterval/);
    // Timers are only ever called through globalThis at call time.
    expect(code, name).not.toMatch(/(?<!globalThis\.)\b(setTimeout|clearTimeout)\s*\(/);
    expect(code, name).not.toMatch(/=\s*(globalThis\.)?(setTimeout|clearTimeout)\b(?!\s*\()/);
  }
});
