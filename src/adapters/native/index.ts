/**
 * `wsengine/adapters/native`: our own RFC 6455 client (Node only: node:net, node:tls, node:zlib).
 */
export { NativeAdapter, createNativeAdapter } from './adapter.js';
export type { NativeAdapterOptions, NativeTlsOptions, PerMessageDeflateOptions } from './options.js';
export { ProtocolError, type ProtocolCloseCode } from './protocol-error.js';
export { FrameParser, Opcode, type FrameParserHandlers, type FrameParserOptions } from './frame-parser.js';
export { encodeFrame, encodeMessage, encodeTextFrame } from './frame-writer.js';
export { Utf8Validator } from './utf8.js';
