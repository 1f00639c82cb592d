/**
 * Every adapter factory refuses options that are not an object with InvalidArgumentError,
 * naming what it expected, rather than failing inside with a TypeError.
 */
import { describe, expect, it } from 'vitest';
import { createBrowserAdapter, type BrowserAdapterOptions } from '../../src/adapters/browser.js';
import { InvalidArgumentError } from '../../src/adapters/errors.js';
import { createNativeAdapter, type NativeAdapterOptions } from '../../src/adapters/native/index.js';
import { createWsAdapter, type WsAdapterOptions } from '../../src/adapters/ws.js';

const factories: Array<[string, (options: unknown) => unknown]> = [
  ['ws', (options) => createWsAdapter(options as WsAdapterOptions)],
  ['native', (options) => createNativeAdapter(options as NativeAdapterOptions)],
  ['browser', (options) => createBrowserAdapter(options as BrowserAdapterOptions)],
];

describe('adapter factories refuse options that are not an object', () => {
  for (const [name, create] of factories) {
    for (const bad of [null, 42, 'options', true]) {
      it(`${name}: ${JSON.stringify(bad)}`, () => {
        let thrown: unknown;
        try {
          create(bad);
        } catch (error) {
          thrown = error;
        }
        expect(thrown).toBeInstanceOf(InvalidArgumentError);
        expect((thrown as Error).message).toMatch(/object/);
      });
    }
  }
});
