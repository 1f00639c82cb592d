/**
 * The engine's number options share the adapters' validator (`src/adapters/options.ts`): each
 * is checked once, when the engine (or an optional feature) is made, with a message that names
 * the option.
 */
import { refuseUnknownOptions } from '../adapters/options.js';

export { expectOption, FINITE, numberOption, oneOfOption, POSITIVE, refuseUnknownOptions } from '../adapters/options.js';

/**
 * Refuse a key of a nested options object (`reconnect`, `heartbeat`, ...) that `resolved` (the
 * options as read, under the same names) does not have: a typo or another client's name
 * (`maxRetries`, `intervalMs`) would otherwise change nothing, silently.
 */
export function knownOptions<T extends object>(options: object, resolved: T, prefix: string): T {
  refuseUnknownOptions(options as Readonly<Record<string, unknown>>, (key) => key in resolved, prefix);
  return resolved;
}
