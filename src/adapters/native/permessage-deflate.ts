/**
 * permessage-deflate (RFC 7692): the offer, the check of the server's answer, and the codec
 * (node:zlib raw deflate with a sync flush per message).
 */
import { constants, createDeflateRaw, createInflateRaw, type DeflateRaw, type InflateRaw } from 'node:zlib';
import type { ResolvedDeflateOptions } from './options.js';
import { ProtocolError } from './protocol-error.js';

export const EXTENSION_NAME = 'permessage-deflate';

/** What both sides agreed on (section 7.1). */
export interface DeflateParams {
  readonly serverNoContextTakeover: boolean;
  readonly clientNoContextTakeover: boolean;
  /** The window the server compresses with (15 when not limited). */
  readonly serverMaxWindowBits: number;
  /** The window we may compress with (15 when not limited). */
  readonly clientMaxWindowBits: number;
}

/** The `Sec-WebSocket-Extensions` offer for these options (section 7.1). */
export function deflateOffer(options: ResolvedDeflateOptions): string {
  const parts = [EXTENSION_NAME];
  if (options.serverNoContextTakeover) parts.push('server_no_context_takeover');
  if (options.clientNoContextTakeover) parts.push('client_no_context_takeover');
  if (options.serverMaxWindowBits !== undefined) parts.push(`server_max_window_bits=${options.serverMaxWindowBits}`);
  if (options.clientMaxWindowBits === true) parts.push('client_max_window_bits');
  else if (typeof options.clientMaxWindowBits === 'number') parts.push(`client_max_window_bits=${options.clientMaxWindowBits}`);
  return parts.join('; ');
}

/** One extension of a `Sec-WebSocket-Extensions` header: its name and parameters. */
export interface ExtensionEntry {
  readonly name: string;
  readonly params: ReadonlyArray<readonly [string, string | true]>;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Parse a `Sec-WebSocket-Extensions` value (RFC 6455 section 9.1); throws on a malformed one. */
export function parseExtensions(header: string): ExtensionEntry[] {
  const entries: ExtensionEntry[] = [];
  if (header.trim() === '') return entries;
  for (const item of header.split(',')) {
    const [rawName, ...rawParams] = item.split(';');
    const name = (rawName ?? '').trim().toLowerCase();
    if (!TOKEN.test(name)) throw new Error(`malformed extension name ${JSON.stringify(rawName)}`);
    const params: Array<[string, string | true]> = [];
    for (const raw of rawParams) {
      const eq = raw.indexOf('=');
      const key = (eq < 0 ? raw : raw.slice(0, eq)).trim().toLowerCase();
      if (!TOKEN.test(key)) throw new Error(`malformed extension parameter ${JSON.stringify(raw)}`);
      if (eq < 0) {
        params.push([key, true]);
        continue;
      }
      let value = raw.slice(eq + 1).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      if (!TOKEN.test(value)) throw new Error(`malformed value of extension parameter ${key}`);
      params.push([key, value]);
    }
    entries.push({ name, params });
  }
  return entries;
}

function windowBits(key: string, value: string | true): number {
  if (value === true || !/^(8|9|1[0-5])$/.test(value)) {
    throw new Error(`${key} must be a number from 8 to 15`);
  }
  return Number(value);
}

/**
 * Check the server's `Sec-WebSocket-Extensions` answer against our offer. Returns the agreed
 * parameters, or `undefined` when the server accepted no extension. Throws (with the reason) on
 * anything we did not offer: unknown extensions, unknown, repeated or out-of-range parameters
 * (RFC 6455 section 4.1, client step 5; RFC 7692 section 7.1).
 */
export function acceptExtensions(header: string | undefined, offered: ResolvedDeflateOptions | undefined): DeflateParams | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  const entries = parseExtensions(header);
  let result: DeflateParams | undefined;
  for (const entry of entries) {
    if (entry.name !== EXTENSION_NAME || !offered) {
      throw new Error(`the server accepted extension "${entry.name}", which was not offered`);
    }
    if (result) throw new Error(`the server accepted ${EXTENSION_NAME} twice`);
    const seen = new Set<string>();
    let serverNoContextTakeover = false;
    let clientNoContextTakeover = false;
    let serverMaxWindowBits = 15;
    let clientMaxWindowBits = 15;
    for (const [key, value] of entry.params) {
      if (seen.has(key)) throw new Error(`the server repeated ${EXTENSION_NAME} parameter ${key}`);
      seen.add(key);
      switch (key) {
        case 'server_no_context_takeover':
          if (value !== true) throw new Error(`${key} takes no value`);
          serverNoContextTakeover = true;
          break;
        case 'client_no_context_takeover':
          if (value !== true) throw new Error(`${key} takes no value`);
          clientNoContextTakeover = true;
          break;
        case 'server_max_window_bits':
          serverMaxWindowBits = windowBits(key, value);
          if (offered.serverMaxWindowBits !== undefined && serverMaxWindowBits > offered.serverMaxWindowBits) {
            throw new Error(`${key}=${serverMaxWindowBits} is larger than offered (${offered.serverMaxWindowBits})`);
          }
          break;
        case 'client_max_window_bits':
          // Section 7.1.2.2: allowed in the answer only if the offer had it.
          if (offered.clientMaxWindowBits === false) throw new Error(`${key} was not offered`);
          clientMaxWindowBits = windowBits(key, value);
          if (typeof offered.clientMaxWindowBits === 'number' && clientMaxWindowBits > offered.clientMaxWindowBits) {
            throw new Error(`${key}=${clientMaxWindowBits} is larger than offered (${offered.clientMaxWindowBits})`);
          }
          break;
        default:
          throw new Error(`unknown ${EXTENSION_NAME} parameter ${key}`);
      }
    }
    // Section 7.1.1.1 / 7.1.2.1: a server accepting these offers must say so.
    if (offered.serverNoContextTakeover && !serverNoContextTakeover) {
      throw new Error('server_no_context_takeover was offered but not accepted');
    }
    if (offered.serverMaxWindowBits !== undefined && !seen.has('server_max_window_bits')) {
      throw new Error('server_max_window_bits was offered but not accepted');
    }
    if (typeof offered.clientMaxWindowBits === 'number' && !seen.has('client_max_window_bits')) {
      clientMaxWindowBits = offered.clientMaxWindowBits;
    }
    result = { serverNoContextTakeover, clientNoContextTakeover: clientNoContextTakeover || offered.clientNoContextTakeover, serverMaxWindowBits, clientMaxWindowBits };
  }
  return result;
}

/** Section 7.2.1: a sync flush ends with an empty stored block, 00 00 FF FF, which is removed on the wire. */
const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/**
 * The compressor and decompressor of one connection. Calls on each side must not overlap: the
 * sender and the parser each wait for one call to finish before making the next.
 */
export class PerMessageDeflate {
  readonly params: DeflateParams;
  readonly threshold: number;
  readonly #level: number;
  #deflate: DeflateRaw | undefined;
  #inflate: InflateRaw | undefined;
  #inflateDone: ((error: ProtocolError | null) => void) | undefined;
  #inflateOnData: ((chunk: Buffer) => ProtocolError | null) | undefined;

  constructor(params: DeflateParams, threshold: number, level: number) {
    this.params = params;
    this.threshold = threshold;
    this.#level = level;
  }

  /**
   * Decompress one frame's payload; `onData` sees each piece of output as zlib produces it and
   * may stop the inflation by returning an error (the size cap, invalid UTF-8), which `done`
   * then receives. With `fin`, the trailer of section 7.2.2 is appended first.
   */
  decompress(data: Buffer, fin: boolean, onData: (chunk: Buffer) => ProtocolError | null, done: (error: ProtocolError | null) => void): void {
    const inflate = (this.#inflate ??= this.#createInflate());
    this.#inflateOnData = onData;
    this.#inflateDone = done;
    inflate.write(data);
    if (fin) inflate.write(TRAILER);
    inflate.flush(constants.Z_SYNC_FLUSH, () => {
      if (this.#inflate !== inflate || this.#inflateDone !== done) return;
      this.#inflateDone = undefined;
      this.#inflateOnData = undefined;
      // Section 7.1.1.1: without context takeover the server starts every message afresh.
      if (fin && this.params.serverNoContextTakeover) inflate.reset();
      done(null);
    });
  }

  #createInflate(): InflateRaw {
    // A wider window than the server's always inflates correctly (RFC 7692 section 7.1.2.1).
    const inflate = createInflateRaw({ windowBits: 15 });
    inflate.on('data', (chunk: Buffer) => {
      const onData = this.#inflateOnData;
      if (!onData) return;
      const error = onData(chunk);
      if (error) this.#abortInflate(inflate, error);
    });
    inflate.on('error', (cause: Error) => {
      this.#abortInflate(inflate, new ProtocolError(1007, `invalid compressed data: ${cause.message}`));
    });
    return inflate;
  }

  #abortInflate(inflate: InflateRaw, error: ProtocolError): void {
    if (this.#inflate !== inflate) return;
    // The stream is abandoned (the connection is failing); a fresh one would be made if asked.
    this.#inflate = undefined;
    inflate.removeAllListeners('data');
    inflate.on('error', () => {});
    inflate.close();
    const done = this.#inflateDone;
    this.#inflateDone = undefined;
    this.#inflateOnData = undefined;
    done?.(error);
  }

  /** Compress one whole message; `done` gets the payload for the wire, trailer removed. */
  compress(data: Uint8Array, done: (error: Error | null, payload: Buffer) => void): void {
    const deflate = (this.#deflate ??= createDeflateRaw({
      level: this.#level,
      // zlib cannot make raw streams with an 8-bit window; 9 is its smallest (RFC 7692 section 7.1.2.2).
      windowBits: Math.max(9, this.params.clientMaxWindowBits),
    }));
    const chunks: Buffer[] = [];
    let length = 0;
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      length += chunk.length;
    };
    deflate.on('data', onData);
    deflate.write(data);
    deflate.flush(constants.Z_SYNC_FLUSH, () => {
      deflate.off('data', onData);
      if (this.#deflate !== deflate) {
        done(new Error('the compressor was closed'), Buffer.alloc(0));
        return;
      }
      let out = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length);
      if (out.length >= 4 && out.subarray(out.length - 4).equals(TRAILER)) out = out.subarray(0, out.length - 4);
      // Section 7.1.1.2: with client_no_context_takeover every message starts a fresh context.
      if (this.params.clientNoContextTakeover) deflate.reset();
      done(null, out);
    });
  }

  /** Free zlib resources. */
  close(): void {
    this.#deflate?.close();
    this.#deflate = undefined;
    if (this.#inflate) {
      const inflate = this.#inflate;
      this.#inflate = undefined;
      inflate.removeAllListeners('data');
      inflate.on('error', () => {});
      inflate.close();
    }
    this.#inflateDone = undefined;
    this.#inflateOnData = undefined;
  }
}
