/**
 * Turning checked write data into a {@link Message} that belongs to the mock: bytes are
 * copied (a real socket copies them too, so the sender may reuse its buffer), and text given
 * as UTF-8 bytes is decoded, so that a recorded text message always holds a string.
 */
import { MessageType, type Message } from '../adapters/types.js';

const decoder = new TextDecoder('utf-8');

interface BufferLike {
  from(bytes: Uint8Array): Uint8Array;
}

/**
 * Binary data is a `Buffer` on Node, as the real Node adapters give it, so that code tested
 * with the mock sees what it will see in production; a plain `Uint8Array` elsewhere. `Buffer`
 * is looked up on `globalThis` so that browser bundles need no polyfill.
 */
function copyBytes(bytes: Uint8Array): Uint8Array {
  const buffer = (globalThis as { Buffer?: BufferLike }).Buffer;
  return buffer ? buffer.from(bytes) : new Uint8Array(bytes);
}

/** `payload` comes from `normalizeWriteData(type, ...)`, so it is already checked. */
export function toMessage(type: MessageType, payload: string | Uint8Array): Message {
  if (type === MessageType.Text) {
    return { type, data: typeof payload === 'string' ? payload : decoder.decode(payload) };
  }
  return { type: MessageType.Binary, data: copyBytes(payload as Uint8Array) };
}
