/** The WebWire codec: message types, encoders and the parser. Browser-safe. */
export * from './messages.js';
export * from './encode.js';
export { decodeMessage, decodeReplyPayload, decodeSession } from './decode.js';
