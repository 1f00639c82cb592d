/**
 * `wsengine`: the resilient engine and the adapter contract. Browser-safe: nothing here
 * imports `node:` modules, `ws` or undici; Node-only adapters have their own subpaths.
 */
export * from './adapters/index.js';
export * from './engine/index.js';
