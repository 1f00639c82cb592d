/**
 * The adapters the command line can use, by name. Each is loaded on demand with a dynamic
 * import, so a build without one of them still runs the others; a missing one is reported as
 * "adapter X is not available in this build".
 */
import { WsEngineError } from '../adapters/errors.js';
import type { AdapterFactory } from '../adapters/types.js';

export const ADAPTER_NAMES = ['ws', 'native', 'browser'] as const;
export type AdapterName = (typeof ADAPTER_NAMES)[number];

/** The adapter is unknown, or its module is not in this build. */
export class AdapterUnavailableError extends WsEngineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_ADAPTER_UNAVAILABLE', message, options);
  }
}

type Loader = () => Promise<AdapterFactory>;

/** Import a module whose path is held in a variable, so that a missing file is a runtime error, not a build error. */
function load(specifier: string): Promise<Record<string, unknown>> {
  return import(specifier) as Promise<Record<string, unknown>>;
}

function factoryFrom(module: Record<string, unknown>, name: string, exportName: string, args: unknown[] = []): AdapterFactory {
  const create = module[exportName];
  if (typeof create !== 'function') {
    throw new AdapterUnavailableError(`adapter ${name} is not available in this build (no ${exportName} export)`);
  }
  return () => (create as (...a: unknown[]) => ReturnType<AdapterFactory>)(...args);
}

const LOADERS: Record<AdapterName, Loader> = {
  ws: async () => factoryFrom(await load('../adapters/ws.js'), 'ws', 'createWsAdapter'),
  native: async () => factoryFrom(await load('../adapters/native/index.js'), 'native', 'createNativeAdapter'),
  browser: async () => {
    const module = await load('../adapters/browser.js');
    // undici's WebSocket (Node 20 has no global one; Node 22's is undici too), wrapped so that a
    // close the server never answers (after a half-open period) still ends the TCP connection:
    // see undici-websocket.ts.
    const { createUndiciWebSocket } = (await load('./undici-websocket.js')) as typeof import('./undici-websocket.js');
    return factoryFrom(module, 'browser', 'createBrowserAdapter', [{ WebSocket: createUndiciWebSocket() }]);
  },
};

/** The adapter factory for `name`; rejects with {@link AdapterUnavailableError} when it cannot be had. */
export async function loadAdapter(name: string): Promise<AdapterFactory> {
  if (!(ADAPTER_NAMES as readonly string[]).includes(name)) {
    throw new AdapterUnavailableError(`unknown adapter "${name}": expected one of ${ADAPTER_NAMES.join(', ')}`);
  }
  try {
    return await LOADERS[name as AdapterName]();
  } catch (error) {
    if (error instanceof AdapterUnavailableError) throw error;
    throw new AdapterUnavailableError(`adapter ${name} is not available in this build`, { cause: error });
  }
}
