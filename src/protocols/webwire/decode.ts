/**
 * The WebWire parser: one binary WebSocket message in, one typed message out, or a
 * {@link WebWireProtocolError} naming the rule broken. It never reads past the end of its input:
 * every length is checked before the bytes it covers are touched, which is how the protocol
 * defends against out-of-range reads ("fraudulent messages are recognized by analyzing the
 * message length").
 */
import { checkSessionKey } from './encode.js';
import { WebWireProtocolError, type WebWireRule } from './errors.js';
import {
  ID_LENGTH,
  WebWireType,
  encodingOf,
  type WebWireErrorReplyMessage,
  type WebWireMessage,
  type WebWirePayload,
  type WebWireReplyMessage,
  type WebWireSession,
} from './messages.js';
import { decodeUtf16le, decodeUtf8 } from './text.js';

/** A copy as a plain `Uint8Array` (`Buffer#slice` would return a view of the same memory). */
function copy(data: Uint8Array, start: number, end = data.length): Uint8Array {
  return new Uint8Array(data.subarray(start, end));
}

function fail(rule: WebWireRule, message: string, type: number, id?: Uint8Array): never {
  throw new WebWireProtocolError(rule, message, { messageType: type, id });
}

function readId(data: Uint8Array, type: number): Uint8Array {
  if (data.length < 1 + ID_LENGTH) fail('length', `a type-${type} message holds an ${ID_LENGTH}-byte id, got ${data.length - 1} bytes after the type`, type);
  return copy(data, 1, 1 + ID_LENGTH);
}

function utf8(bytes: Uint8Array, what: string, type: number, id?: Uint8Array): string {
  try {
    return decodeUtf8(bytes);
  } catch {
    return fail('utf8', `${what} is not valid UTF-8`, type, id);
  }
}

/** A payload as its encoding says: bytes (copied), or text. */
function decodePayload(bytes: Uint8Array, encoding: WebWirePayload['encoding'], type: number, id?: Uint8Array): WebWirePayload {
  if (encoding === 'binary') return { encoding, data: copy(bytes, 0) };
  if (encoding === 'utf8') return { encoding, data: utf8(bytes, 'the payload', type, id) };
  if (bytes.length % 2 !== 0) fail('utf16-length', `a UTF-16 payload has even length, got ${bytes.length}`, type, id);
  return { encoding, data: decodeUtf16le(bytes) };
}

/** Signals and requests: `[t]([id 8])[N][name][0x00 only if UTF-16 and N odd][payload]`. */
function decodeNamed(data: Uint8Array, type: number, base: number, withId: boolean): WebWireMessage {
  const encoding = encodingOf(type, base);
  const id = withId ? readId(data, type) : undefined;
  const lengthAt = withId ? 1 + ID_LENGTH : 1;
  if (data.length <= lengthAt) fail('length', `a type-${type} message ends before its name length byte`, type, id);
  const nameLength = data[lengthAt]!;
  const nameEnd = lengthAt + 1 + nameLength;
  if (data.length < nameEnd) fail('length', `the name is ${nameLength} bytes but only ${data.length - lengthAt - 1} follow`, type, id);
  let name = '';
  for (let i = lengthAt + 1; i < nameEnd; i++) {
    const c = data[i]!;
    if (c < 32 || c > 126) fail('name', `name byte ${i - lengthAt - 1} (${c}) is not printable ASCII (32-126)`, type, id);
    name += String.fromCharCode(c);
  }
  let payloadAt = nameEnd;
  if (encoding === 'utf16') {
    // A type-65/129 message has even length: the padding byte makes the payload start even.
    if (data.length % 2 !== 0) fail('utf16-length', `a type-${type} message has even length, got ${data.length}`, type, id);
    if (nameLength % 2 === 1) {
      if (data.length <= payloadAt) fail('length', 'the header-padding byte is missing', type, id);
      if (data[payloadAt] !== 0) fail('padding', `the header-padding byte is ${data[payloadAt]}, not 0x00`, type, id);
      payloadAt++;
    }
  }
  const minimum = encoding === 'utf16' ? 2 : 1;
  if (data.length - payloadAt < minimum) {
    fail('empty-payload', `a type-${type} message carries at least ${minimum} payload byte${minimum === 1 ? '' : 's'}`, type, id);
  }
  const payload = decodePayload(data.subarray(payloadAt), encoding, type, id);
  if (id === undefined) return { kind: 'signal', type: type as 63 | 64 | 65, name, payload };
  return { kind: 'request', type: type as 127 | 128 | 129, id, name, payload };
}

function decodeJsonObject(bytes: Uint8Array, what: string, type: number, id?: Uint8Array): Record<string, unknown> {
  const text = utf8(bytes, what, type, id);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return fail('json', `${what} is not JSON`, type, id);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail('json', `${what} is not a JSON object`, type, id);
  return value as Record<string, unknown>;
}

/** RFC 3339 section 5.6 date-time, as Go's `time.Time` marshals it (fractions to nanoseconds). */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** The session JSON `{"key", "crt", "inf"}` in UTF-8, as sent in `session created` and a restore reply. */
export function decodeSession(bytes: Uint8Array, type: number = WebWireType.SessionCreated, id?: Uint8Array): WebWireSession {
  const object = decodeJsonObject(bytes, 'the session', type, id);
  try {
    checkSessionKey(object.key, type);
  } catch (error) {
    if (error instanceof WebWireProtocolError) fail(error.rule, error.message, type, id);
    throw error;
  }
  const crt = object.crt;
  const created = typeof crt === 'string' && RFC3339.test(crt) ? new Date(crt) : undefined;
  if (created === undefined || Number.isNaN(created.getTime())) fail('json', 'the session "crt" is not an RFC 3339 time', type, id);
  return { key: object.key, created, info: object.inf ?? null };
}

function decodeErrorReply(data: Uint8Array): WebWireErrorReplyMessage {
  const type = WebWireType.ErrorReply;
  const id = readId(data, type);
  const object = decodeJsonObject(data.subarray(1 + ID_LENGTH), 'the error reply', type, id);
  if (typeof object.c !== 'string') fail('json', 'the error reply has no string "c" (code)', type, id);
  if (object.m !== undefined && typeof object.m !== 'string') fail('json', 'the error reply "m" (message) is not a string', type, id);
  return { kind: 'error-reply', type, id, code: object.c, message: object.m };
}

function exactLength(data: Uint8Array, type: number, length: number): void {
  if (data.length !== length) fail('length', `a type-${type} message is exactly ${length} byte${length === 1 ? '' : 's'}, got ${data.length}`, type);
}

/**
 * Decode one WebWire message. Throws {@link WebWireProtocolError} (and nothing else) for any
 * input that breaks a rule; `error.id` carries the request id when it could be read.
 */
export function decodeMessage(data: Uint8Array): WebWireMessage {
  if (data.length === 0) throw new WebWireProtocolError('empty', 'a WebWire message has at least its type byte');
  const type = data[0]!;
  switch (type) {
    case WebWireType.ErrorReply:
      return decodeErrorReply(data);
    case WebWireType.SessionCreated:
      if (data.length < 2) fail('length', 'a session-created message carries the session JSON', type);
      return { kind: 'session-created', type, session: decodeSession(data.subarray(1), type) };
    case WebWireType.SessionClosed:
      exactLength(data, type, 1);
      return { kind: 'session-closed', type };
    case WebWireType.CloseSession:
      exactLength(data, type, 1 + ID_LENGTH);
      return { kind: 'close-session', type, id: copy(data, 1) };
    case WebWireType.RestoreSession: {
      const id = readId(data, type);
      if (data.length === 1 + ID_LENGTH) fail('session-key', 'a restore-session message carries the session key', type, id);
      let key = '';
      for (let i = 1 + ID_LENGTH; i < data.length; i++) key += String.fromCharCode(data[i]!);
      try {
        checkSessionKey(key, type);
      } catch (error) {
        if (error instanceof WebWireProtocolError) fail(error.rule, error.message, type, id);
        throw error;
      }
      return { kind: 'restore-session', type, id, key };
    }
    case WebWireType.SignalBinary:
    case WebWireType.SignalUtf8:
    case WebWireType.SignalUtf16:
      return decodeNamed(data, type, WebWireType.SignalBinary, false);
    case WebWireType.RequestBinary:
    case WebWireType.RequestUtf8:
    case WebWireType.RequestUtf16:
      return decodeNamed(data, type, WebWireType.RequestBinary, true);
    case WebWireType.ReplyBinary:
    case WebWireType.ReplyUtf8:
    case WebWireType.ReplyUtf16: {
      // No padding byte, also for 193, and the payload may be empty.
      const id = readId(data, type);
      return { kind: 'reply', type, id, encoding: encodingOf(type, WebWireType.ReplyBinary), bytes: copy(data, 1 + ID_LENGTH) };
    }
    default:
      return fail('unknown-type', `${type} is not a WebWire message type`, type);
  }
}

/**
 * The payload of an ordinary reply, as its type says: bytes (191), UTF-8 text (192) or UTF-16
 * text (193, even length). Throws {@link WebWireProtocolError} with the reply's id.
 */
export function decodeReplyPayload(reply: WebWireReplyMessage): string | Uint8Array {
  return decodePayload(reply.bytes, reply.encoding, reply.type, reply.id).data;
}
