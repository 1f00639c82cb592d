/**
 * Encoders for every WebWire message, byte for byte as webwire-go v0.1.0-alpha1 lays them out.
 * They refuse what the server would refuse (a bad name, an empty signal or request payload, a
 * wrong id length) with a {@link WebWireProtocolError} rather than send it: webwire-go closes the
 * TCP connection without a close frame on any message it cannot parse.
 */
import { WebWireProtocolError } from './errors.js';
import { ID_LENGTH, MAX_NAME_LENGTH, WebWireType, type WebWirePayload, type WebWireSession } from './messages.js';
import { encodeUtf8, utf16ByteLength, writeUtf16le } from './text.js';

function checkId(id: Uint8Array, type: number): void {
  if (!(id instanceof Uint8Array) || id.length !== ID_LENGTH) {
    throw new WebWireProtocolError('length', `a request id is ${ID_LENGTH} bytes`, { messageType: type });
  }
}

/** Names are 0-255 bytes of printable ASCII (32-126). */
export function checkName(name: string, type?: number): void {
  if (typeof name !== 'string') throw new WebWireProtocolError('name', 'a name is a string', { messageType: type });
  if (name.length > MAX_NAME_LENGTH) {
    throw new WebWireProtocolError('name', `a name is at most ${MAX_NAME_LENGTH} bytes, got ${name.length}`, { messageType: type });
  }
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 32 || c > 126) {
      throw new WebWireProtocolError('name', `name character ${i} (code ${c}) is not printable ASCII (32-126)`, {
        messageType: type,
      });
    }
  }
}

function payloadLength(payload: WebWirePayload): number {
  return payload.encoding === 'utf16' ? utf16ByteLength(payload.data) : payloadBytes(payload).length;
}

function payloadBytes(payload: WebWirePayload): Uint8Array {
  if (payload.encoding === 'binary') return payload.data;
  if (payload.encoding === 'utf8') return encodeUtf8(payload.data);
  const out = new Uint8Array(utf16ByteLength(payload.data));
  writeUtf16le(payload.data, out, 0);
  return out;
}

function checkPayload(payload: WebWirePayload, type: number): void {
  const ok =
    payload !== null &&
    typeof payload === 'object' &&
    ((payload.encoding === 'binary' && payload.data instanceof Uint8Array) ||
      ((payload.encoding === 'utf8' || payload.encoding === 'utf16') && typeof payload.data === 'string'));
  if (!ok) {
    throw new WebWireProtocolError('empty-payload', 'a payload is { encoding: "binary", data: Uint8Array } or { encoding: "utf8" | "utf16", data: string }', {
      messageType: type,
    });
  }
}

const OFFSET = { binary: 0, utf8: 1, utf16: 2 } as const;

/** `[t]([id 8])[N][name][0x00 if UTF-16 and N odd][payload]`, the shared shape of signals and requests. */
function encodeNamed(base: number, id: Uint8Array | undefined, name: string, payload: WebWirePayload): Uint8Array {
  checkPayload(payload, base);
  const type = base + OFFSET[payload.encoding];
  if (id !== undefined) checkId(id, type);
  checkName(name, type);
  const utf16 = payload.encoding === 'utf16';
  const bytes = utf16 ? undefined : payloadBytes(payload);
  const size = bytes ? bytes.length : payloadLength(payload);
  // A request with an empty payload is malformed, and so is a signal: at least one byte, two for UTF-16.
  if (size === 0) throw new WebWireProtocolError('empty-payload', 'a signal or request needs a payload', { messageType: type });
  const head = 1 + (id ? ID_LENGTH : 0) + 1 + name.length;
  // The padding byte aligns a UTF-16 payload on an even offset (the whole message has even length).
  const pad = utf16 && name.length % 2 === 1 ? 1 : 0;
  const out = new Uint8Array(head + pad + size);
  out[0] = type;
  let at = 1;
  if (id) {
    out.set(id, 1);
    at += ID_LENGTH;
  }
  out[at++] = name.length;
  for (let i = 0; i < name.length; i++) out[at++] = name.charCodeAt(i);
  at += pad; // stays 0x00
  if (bytes) out.set(bytes, at);
  else writeUtf16le(payload.data as string, out, at);
  return out;
}

/** A signal: `[63|64|65][N][name][pad][payload]`. */
export function encodeSignal(name: string, payload: WebWirePayload): Uint8Array {
  return encodeNamed(WebWireType.SignalBinary, undefined, name, payload);
}

/** A request: `[127|128|129][id 8][N][name][pad][payload]`. */
export function encodeRequest(id: Uint8Array, name: string, payload: WebWirePayload): Uint8Array {
  return encodeNamed(WebWireType.RequestBinary, id, name, payload);
}

/** A reply: `[191|192|193][id 8][payload]`, no padding byte, the payload may be empty. */
export function encodeReply(id: Uint8Array, payload: WebWirePayload): Uint8Array {
  checkPayload(payload, WebWireType.ReplyBinary);
  const type = WebWireType.ReplyBinary + OFFSET[payload.encoding];
  checkId(id, type);
  const bytes = payloadBytes(payload);
  const out = new Uint8Array(1 + ID_LENGTH + bytes.length);
  out[0] = type;
  out.set(id, 1);
  out.set(bytes, 1 + ID_LENGTH);
  return out;
}

/** A reply of type 193 whose payload is raw bytes: how webwire-go answers a session restore. */
export function encodeRawReply(type: 191 | 192 | 193, id: Uint8Array, bytes: Uint8Array): Uint8Array {
  checkId(id, type);
  const out = new Uint8Array(1 + ID_LENGTH + bytes.length);
  out[0] = type;
  out.set(id, 1);
  out.set(bytes, 1 + ID_LENGTH);
  return out;
}

/** An error reply: `[0][id 8][UTF-8 JSON {"c": code, "m": message}]`, "m" left out when undefined. */
export function encodeErrorReply(id: Uint8Array, code: string, message?: string): Uint8Array {
  checkId(id, WebWireType.ErrorReply);
  const json = encodeUtf8(JSON.stringify(message === undefined ? { c: code } : { c: code, m: message }));
  const out = new Uint8Array(1 + ID_LENGTH + json.length);
  out[0] = WebWireType.ErrorReply;
  out.set(id, 1);
  out.set(json, 1 + ID_LENGTH);
  return out;
}

/** The session JSON webwire-go marshals: `{"key", "crt", "inf"}`. */
export function encodeSessionJson(session: WebWireSession): Uint8Array {
  return encodeUtf8(JSON.stringify({ key: session.key, crt: session.created.toISOString(), inf: session.info ?? null }));
}

/** Session created: `[21][UTF-8 JSON]`. */
export function encodeSessionCreated(session: WebWireSession): Uint8Array {
  const json = encodeSessionJson(session);
  const out = new Uint8Array(1 + json.length);
  out[0] = WebWireType.SessionCreated;
  out.set(json, 1);
  return out;
}

/** Session closed: exactly `[22]`. */
export function encodeSessionClosed(): Uint8Array {
  return Uint8Array.of(WebWireType.SessionClosed);
}

/** Close session: exactly `[31][id 8]`. */
export function encodeCloseSession(id: Uint8Array): Uint8Array {
  checkId(id, WebWireType.CloseSession);
  const out = new Uint8Array(1 + ID_LENGTH);
  out[0] = WebWireType.CloseSession;
  out.set(id, 1);
  return out;
}

/** Restore session: `[32][id 8][key]`; the key is printable ASCII, at least one byte. */
export function encodeRestoreSession(id: Uint8Array, key: string): Uint8Array {
  checkId(id, WebWireType.RestoreSession);
  checkSessionKey(key, WebWireType.RestoreSession);
  const out = new Uint8Array(1 + ID_LENGTH + key.length);
  out[0] = WebWireType.RestoreSession;
  out.set(id, 1);
  for (let i = 0; i < key.length; i++) out[1 + ID_LENGTH + i] = key.charCodeAt(i);
  return out;
}

/** A session key goes back on the wire byte for byte: non-empty printable ASCII. */
export function checkSessionKey(key: unknown, type?: number): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new WebWireProtocolError('session-key', 'a session key is a non-empty string', { messageType: type });
  }
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c < 33 || c > 126) {
      throw new WebWireProtocolError('session-key', `session key character ${i} (code ${c}) is not printable ASCII`, {
        messageType: type,
      });
    }
  }
}
