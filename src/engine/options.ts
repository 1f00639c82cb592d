/**
 * The engine's number options share the adapters' validator (`src/adapters/options.ts`): each
 * is checked once, when the engine (or an optional feature) is made, with a message that names
 * the option.
 */
export { expectOption, FINITE, numberOption, POSITIVE } from '../adapters/options.js';
