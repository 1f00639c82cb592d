/**
 * `wsengine/webwire`: the WebWire protocol (webwire-go v0.1.0-alpha1, protocol "1.1"): a codec
 * for every message type, and a client on the engine with requests, signals and sessions.
 * Browser-safe: nothing here imports `node:` modules, `ws` or undici.
 */
export * from './codec.js';
export { WebWireProtocolError, WebWireRequestError, type WebWireRule } from './errors.js';
export { Correlator, idBytes, idCounter } from './correlation.js';
export {
  WebWireClient,
  createWebWireClient,
  type WebWireClientEvents,
  type WebWireData,
  type WebWireRequestOptions,
  type WebWireSendOptions,
} from './client.js';
export { type WebWireClientOptions, type WebWireRestoreOptions } from './options.js';
export { type WebWireSignal } from './signal-iterator.js';
export {
  WEBWIRE_PROTOCOL_VERSION,
  WebWireVersionError,
  fetchProtocolVersion,
  httpUrlOf,
  type ProtocolVersionFetcher,
} from './version.js';
export { RequestNotSentError, RequestOutcomeUnknownError, RequestTimeoutError } from '../rpc/errors.js';
