import { configDefaults, defineConfig } from 'vitest/config';

/**
 * The soak (test/soak/*.soak.test.ts: 10,000 connect/drop cycles, 1,000 engines at once) runs
 * in CI (.ci/run sets CI) or with WSENGINE_SOAK=1; otherwise its files are left out entirely.
 */
const soak = Boolean(process.env.CI) || process.env.WSENGINE_SOAK === '1';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: soak ? configDefaults.exclude : [...configDefaults.exclude, 'test/soak/**'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Tests own real sockets and servers; forks keep each file's handles apart.
    pool: 'forks',
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: process.env.CI ? { json: '.tmp/vitest-results.json' } : undefined,
  },
});
