/**
 * Argument checks shared by every adapter, so that each refuses bad input the same way.
 */
import { InvalidArgumentError } from './errors.js';
import { isSendableStatusCode, statusCodeName } from './status-codes.js';
import { MessageType, type WriteData } from './types.js';

/** RFC 6455 section 5.5: a control frame payload is at most 125 bytes; 2 go to the close code. */
export const MAX_CLOSE_REASON_BYTES = 123;

const encoder = new TextEncoder();

/**
 * The UTF-8 size of `text` (a lone surrogate counts as U+FFFD, 3 bytes). Where Node's `Buffer`
 * is missing (browsers) the engine counts text bytes with this; one encoder, no loop of our own.
 */
export function utf8Length(text: string): number {
  return encoder.encode(text).byteLength;
}

/**
 * Parse and check a WebSocket URL. `http:` and `https:` are mapped to `ws:` and `wss:` (as the
 * WHATWG WebSocket does); fragments are refused (RFC 6455 section 3).
 */
export function parseWebSocketUrl(input: string | URL): URL {
  let url: URL;
  try {
    url = new URL(String(input));
  } catch {
    throw new InvalidArgumentError(`Invalid WebSocket URL: ${JSON.stringify(String(input))}`);
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new InvalidArgumentError(
      `Invalid WebSocket URL scheme "${url.protocol}" in ${url.href}: expected ws:, wss:, http: or https:`,
    );
  }
  if (url.hash) {
    throw new InvalidArgumentError(`A WebSocket URL must not have a fragment: ${url.href}`);
  }
  return url;
}

/** Check a close code and reason before anything is sent; returns the reason's UTF-8 length. */
export function validateClose(code: number, reason: string): number {
  if (typeof code !== 'number' || !isSendableStatusCode(code)) {
    const what = typeof code === 'number' ? `${code} (${statusCodeName(code)})` : typeof code;
    throw new InvalidArgumentError(
      `Invalid close code ${what}: expected 1000-1003, 1007-1014 or 3000-4999 (1005, 1006 and 1015 are never sent)`,
    );
  }
  if (typeof reason !== 'string') {
    throw new InvalidArgumentError(`Invalid close reason: expected a string, got ${typeof reason}`);
  }
  const bytes = utf8Length(reason);
  if (bytes > MAX_CLOSE_REASON_BYTES) {
    throw new InvalidArgumentError(
      `Close reason is ${bytes} UTF-8 bytes; at most ${MAX_CLOSE_REASON_BYTES} are allowed`,
    );
  }
  return bytes;
}

/** Check a message type. */
export function validateMessageType(type: unknown): asserts type is MessageType {
  if (type !== MessageType.Text && type !== MessageType.Binary) {
    throw new InvalidArgumentError(
      `Invalid message type ${String(type)}: expected MessageType.Text (1) or MessageType.Binary (2)`,
    );
  }
}

const fatalDecoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Check a write and return its payload: a string for text given as a string, otherwise a
 * `Uint8Array` view (no copy). Text given as bytes must be valid UTF-8.
 */
export function normalizeWriteData(type: unknown, data: unknown): string | Uint8Array {
  validateMessageType(type);
  if (typeof data === 'string') {
    if (type === MessageType.Binary) {
      throw new InvalidArgumentError('A binary message takes a Uint8Array or an ArrayBuffer, not a string');
    }
    return data;
  }
  let bytes: Uint8Array;
  if (data instanceof Uint8Array) bytes = data;
  else if (data instanceof ArrayBuffer) bytes = new Uint8Array(data);
  else if (ArrayBuffer.isView(data)) bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  else {
    const what = data === null ? 'null' : typeof data === 'object' ? (data.constructor?.name ?? 'object') : typeof data;
    throw new InvalidArgumentError(
      `Invalid message data (${what}): expected a string, a Uint8Array or an ArrayBuffer`,
    );
  }
  if (type === MessageType.Text) {
    try {
      fatalDecoder.decode(bytes);
    } catch {
      throw new InvalidArgumentError('A text message given as bytes must be valid UTF-8');
    }
  }
  return bytes;
}

/** Type guard for the WriteData union, for callers that accept unknown input. */
export function isWriteData(data: unknown): data is WriteData {
  return typeof data === 'string' || data instanceof Uint8Array || data instanceof ArrayBuffer;
}
