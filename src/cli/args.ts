/**
 * Argument helpers the subcommands share: the usage error, numbers, headers, adapter names.
 * A bad argument is reported by the command frame as one line naming it, then the usage, exit 2.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { WsEngineError } from '../adapters/errors.js';
import { parseWebSocketUrl } from '../adapters/validation.js';
import { ADAPTER_NAMES } from './adapters.js';

/** A bad command line; the message names the argument and says what is wrong. */
export class UsageError extends WsEngineError {
  constructor(message: string) {
    super('ERR_USAGE', message);
  }
}

type FlagOptions = NonNullable<ParseArgsConfig['options']>;
type CommandArgs<O extends FlagOptions> = ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; strict: true; options: O }>>;

/** A command's flags and positionals, parsed strictly; node's own parse errors become usage errors. */
export function commandArgs<const O extends FlagOptions>(args: readonly string[], options: O): CommandArgs<O> {
  try {
    return parseArgs({ args: [...args], allowPositionals: true as const, strict: true as const, options });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** `value` as a number >= 0 (a whole one when `integer`), or `undefined` when the flag was not given. */
export function numberFlag(flag: string, value: string | undefined, integer = false): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${flag} expects a ${integer ? 'whole ' : ''}number >= 0, got "${value}"`);
  }
  return n;
}

/** An HTTP token (RFC 9110 section 5.6.2): header names and subprotocols (RFC 6455 section 4.1). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** What a header value may not hold (RFC 9110 section 5.5): controls other than tab. */
// eslint-disable-next-line no-control-regex -- the control characters are what is refused
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;

/** `--header "Name: value"` flags, as lower-cased names to their values (a name may repeat). */
export function headerFlags(values: readonly string[] | undefined): Record<string, string[]> {
  const headers: Record<string, string[]> = {};
  for (const header of values ?? []) {
    const colon = header.indexOf(':');
    if (colon <= 0) throw new UsageError(`--header expects "Name: value", got "${header}"`);
    const given = header.slice(0, colon).trim();
    if (!TOKEN.test(given)) throw new UsageError(`--header name "${given}" is not a token (letters, digits and !#$%&'*+-.^_\`|~)`);
    const value = header.slice(colon + 1).trim();
    if (CONTROL.test(value)) throw new UsageError(`--header "${given}" has a control character in its value`);
    (headers[given.toLowerCase()] ??= []).push(value);
  }
  return headers;
}

/** `--protocol P` flags: tokens, each offered once (RFC 6455 section 4.1). */
export function protocolFlags(values: readonly string[] | undefined): string[] {
  const protocols = values ?? [];
  protocols.forEach((protocol, i) => {
    if (!TOKEN.test(protocol)) throw new UsageError(`--protocol expects a token (letters, digits and !#$%&'*+-.^_\`|~), got "${protocol}"`);
    if (protocols.indexOf(protocol) !== i) throw new UsageError(`--protocol "${protocol}" is given twice`);
  });
  return [...protocols];
}

/** A value that goes into a header as it is (`--token`): no control characters. */
export function headerSafe(flag: string, value: string): string {
  if (CONTROL.test(value)) throw new UsageError(`--${flag} has a control character`);
  return value;
}

/**
 * `--header` with `--adapter browser`: the WHATWG WebSocket cannot send request headers, and the
 * adapter's own advice (an option) is not one the command line has.
 */
export function checkHeadersFor(adapter: string, headers: Record<string, string[]>): void {
  const names = Object.keys(headers);
  if (adapter === 'browser' && names.length > 0) {
    throw new UsageError(`--header cannot be sent by --adapter browser (a WHATWG WebSocket sends no request headers): ${names.join(', ')}`);
  }
}

/** Check `--adapter`. */
export function adapterFlag(value: string): string {
  if (!(ADAPTER_NAMES as readonly string[]).includes(value)) {
    throw new UsageError(`--adapter expects one of ${ADAPTER_NAMES.join(', ')}, got "${value}"`);
  }
  return value;
}

/** Exactly one `<url>` positional. */
export function onePositional(positionals: readonly string[], name = '<url>'): string {
  if (positionals.length === 0) throw new UsageError(`missing ${name}`);
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}" (expected one ${name})`);
  return positionals[0]!;
}

/** The engine's default `reconnect.minDelay`, which `--max-delay` may not go below. */
const DEFAULT_MIN_DELAY = 1000;
/** The engine's default `reconnect.maxDelay`, which `--min-delay` alone may not go above. */
const DEFAULT_MAX_DELAY = 30_000;

/**
 * `--min-delay` and `--max-delay`, checked together here so that a pair the engine would refuse
 * (the largest delay below the first one) is reported as the flag, not as an engine option.
 */
export function delayFlags(
  minValue: string | undefined,
  maxValue: string | undefined,
): { minDelay: number | undefined; maxDelay: number | undefined } {
  const minDelay = numberFlag('min-delay', minValue);
  const maxDelay = numberFlag('max-delay', maxValue);
  if (maxDelay === undefined && minDelay !== undefined && minDelay > DEFAULT_MAX_DELAY) {
    throw new UsageError(`--min-delay must be at most the default --max-delay (${DEFAULT_MAX_DELAY}), got ${minDelay}; give --max-delay too`);
  }
  const floor = minDelay ?? DEFAULT_MIN_DELAY;
  if (maxDelay !== undefined && maxDelay < floor) {
    const source = minDelay === undefined ? `the default --min-delay (${floor})` : `--min-delay (${floor})`;
    throw new UsageError(`--max-delay must be at least ${source}, got ${maxDelay}`);
  }
  return { minDelay, maxDelay };
}

/** A flag that must be more than 0 when given (the heartbeat's interval and timeout). */
export function positiveFlag(flag: string, value: string | undefined): number | undefined {
  const n = numberFlag(flag, value);
  if (n === 0) throw new UsageError(`--${flag} must be more than 0`);
  return n;
}

/** The `<url>`, checked as the adapters will read it, so that a bad one is a bad argument. */
export function urlArgument(url: string): string {
  try {
    parseWebSocketUrl(url);
  } catch (error) {
    throw new UsageError(`invalid <url> "${url}": ${(error as Error).message}`);
  }
  return url;
}
