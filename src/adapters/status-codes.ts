/**
 * Close status codes of RFC 6455 section 7.4.1, named after the IANA
 * "WebSocket Close Code Number Registry".
 *
 * https://www.rfc-editor.org/rfc/rfc6455.html#section-7.4.1
 */
export const StatusCode = {
  /** 1000: the purpose for which the connection was established has been fulfilled. */
  NormalClosure: 1000,
  /** 1001: an endpoint is going away (server shutting down, page navigated away). */
  GoingAway: 1001,
  /** 1002: an endpoint is terminating the connection because of a protocol error. */
  ProtocolError: 1002,
  /** 1003: an endpoint received a type of data it cannot accept. */
  UnsupportedData: 1003,
  /** 1005: reserved; never sent. Reports that a close frame carried no status code. */
  NoStatusReceived: 1005,
  /** 1006: reserved; never sent. Reports that the connection closed without a close frame. */
  AbnormalClosure: 1006,
  /** 1007: a message's data was not consistent with its type (e.g. non-UTF-8 text). */
  InvalidFramePayloadData: 1007,
  /** 1008: a message violated the endpoint's policy. */
  PolicyViolation: 1008,
  /** 1009: a message was too big to process. */
  MessageTooBig: 1009,
  /** 1010: the client expected the server to negotiate an extension it did not. */
  MandatoryExtension: 1010,
  /** 1011: the server met an unexpected condition. */
  InternalError: 1011,
  /** 1012: the server is restarting. */
  ServiceRestart: 1012,
  /** 1013: the server is overloaded; try again later. */
  TryAgainLater: 1013,
  /** 1014: a gateway or proxy received an invalid response from upstream. */
  BadGateway: 1014,
  /** 1015: reserved; never sent. Reports a failed TLS handshake. */
  TLSHandshake: 1015,
} as const;

/** A close status code: one of {@link StatusCode}, or an application code in 3000-4999. */
export type StatusCode = (typeof StatusCode)[keyof typeof StatusCode] | number;

/** The registry name of a status code (`"NormalClosure"`), `"Application"` for 3000-4999, else `"Unknown"`. */
export function statusCodeName(code: number): string {
  // A scan of 15 names, only when a message is made: no second table in the bundle.
  for (const [name, value] of Object.entries(StatusCode)) if (value === code) return name;
  return code >= 3000 && code <= 4999 ? 'Application' : 'Unknown';
}

/**
 * Whether `code` may appear in a close frame on the wire (RFC 6455 section 7.4.1 and 7.4.2):
 * 1000-1003 and 1007-1014 from the registry, 3000-4999 for libraries and applications.
 * 1004 is reserved; 1005, 1006 and 1015 are only ever reported locally, never sent.
 */
export function isSendableStatusCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  if (code >= 3000 && code <= 4999) return true;
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
}

/** Codes that are reported to the user but never sent: 1005, 1006, 1015. */
export function isReservedStatusCode(code: number): boolean {
  return code === 1005 || code === 1006 || code === 1015;
}
