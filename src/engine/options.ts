/**
 * One validator for the engine's number options: each is checked once, when the engine (or an
 * optional feature) is made, with a message that names the option.
 */
import { InvalidOptionError } from './errors.js';

/** Largest finite number: a bound that refuses `Infinity`. */
export const FINITE = Number.MAX_VALUE;
/** Smallest positive number: a bound that refuses 0. */
export const POSITIVE = Number.MIN_VALUE;

/**
 * `value`, or `fallback` when it is `undefined`, checked to be a number in [min, max] (an integer
 * when `integer`); `max` = {@link FINITE} refuses `Infinity`, `min` = {@link POSITIVE} refuses 0.
 */
export function numberOption(name: string, value: unknown, fallback: number, min: number, max = FINITE, integer = false): number {
  const n = value ?? fallback;
  if (typeof n !== 'number' || !(n >= min && n <= max) || (integer && n !== Infinity && !Number.isInteger(n))) {
    const range = `${min === POSITIVE ? '> 0' : `>= ${min}`}${max < FINITE ? ` and <= ${max}` : max === FINITE ? ' (finite)' : ' or Infinity'}`;
    throw new InvalidOptionError(name, `expected ${integer ? 'an integer' : 'a number'} ${range}, got ${String(n)}`);
  }
  return n;
}
