/**
 * The protocol-version check: webwire-go answers an HTTP request with method `WEBWIRE` on its
 * endpoint with `{"protocol-version":"1.1"}`. It uses the runtime's `fetch` (Node 20 has one), so
 * this file imports nothing from `node:`; in a browser a cross-origin `WEBWIRE` request needs a
 * CORS preflight that webwire-go does not answer, so the check is for Node and other
 * server-side runtimes.
 */
import { WsEngineError } from '../../adapters/errors.js';

/** The protocol version this client speaks. */
export const WEBWIRE_PROTOCOL_VERSION = '1.1';

/** The server speaks another protocol version, or did not say which. */
export class WebWireVersionError extends WsEngineError {
  /** What the server answered, when it answered a version. */
  readonly serverVersion: string | undefined;
  constructor(message: string, serverVersion?: string, options?: { cause?: unknown }) {
    super('ERR_WEBWIRE_VERSION', message, options);
    this.serverVersion = serverVersion;
  }
}

/** Asks the server for its protocol version; the client's `protocolVersion` option may supply one. */
export type ProtocolVersionFetcher = (url: URL, signal: AbortSignal) => Promise<string>;

/** The HTTP URL of a WebSocket endpoint (ws: -> http:, wss: -> https:). */
export function httpUrlOf(url: string | URL): URL {
  const http = new URL(url);
  if (http.protocol === 'ws:') http.protocol = 'http:';
  else if (http.protocol === 'wss:') http.protocol = 'https:';
  return http;
}

/** `WEBWIRE <path>` through `fetch`, and the "protocol-version" of the JSON answer. */
export const fetchProtocolVersion: ProtocolVersionFetcher = async (url, signal) => {
  const fetchFn = globalThis.fetch;
  if (typeof fetchFn !== 'function') throw new WebWireVersionError('No fetch in this runtime: pass protocolVersion a function');
  let response: Response;
  try {
    response = await fetchFn(url, { method: 'WEBWIRE', signal });
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw new WebWireVersionError(`The WEBWIRE request to ${url.href} failed`, undefined, { cause: error });
  }
  const text = await response.text();
  if (!response.ok) throw new WebWireVersionError(`The WEBWIRE request to ${url.href} answered ${response.status}`);
  let version: unknown;
  try {
    version = (JSON.parse(text) as Record<string, unknown>)['protocol-version'];
  } catch {
    version = undefined;
  }
  if (typeof version !== 'string') throw new WebWireVersionError(`The WEBWIRE answer of ${url.href} names no "protocol-version"`);
  return version;
};
