/**
 * The WebWire message types and their decoded forms (webwire-go v0.1.0-alpha1, protocol "1.1").
 * One WebWire message is one binary WebSocket message; byte 0 is the type.
 */

/** Type bytes. */
export const WebWireType = {
  ErrorReply: 0,
  SessionCreated: 21,
  SessionClosed: 22,
  CloseSession: 31,
  RestoreSession: 32,
  SignalBinary: 63,
  SignalUtf8: 64,
  SignalUtf16: 65,
  RequestBinary: 127,
  RequestUtf8: 128,
  RequestUtf16: 129,
  ReplyBinary: 191,
  ReplyUtf8: 192,
  ReplyUtf16: 193,
} as const;
export type WebWireType = (typeof WebWireType)[keyof typeof WebWireType];

/** Payload encodings: the signal, request and reply types come in these three flavours. */
export type WebWireEncoding = 'binary' | 'utf8' | 'utf16';

/** A payload with its encoding: bytes for binary, a string for UTF-8 and UTF-16. */
export type WebWirePayload =
  | { readonly encoding: 'binary'; readonly data: Uint8Array }
  | { readonly encoding: 'utf8' | 'utf16'; readonly data: string };

/** A session as the server describes it: `{"key", "crt", "inf"}`. */
export interface WebWireSession {
  /** The session key (64 base64url characters from webwire-go); sent back to restore it. */
  readonly key: string;
  /** When the server created it ("crt", an RFC 3339 time). */
  readonly created: Date;
  /** Whatever the server attached ("inf"); `null` when absent. */
  readonly info: unknown;
}

export interface WebWireSignalMessage {
  readonly kind: 'signal';
  readonly type: 63 | 64 | 65;
  readonly name: string;
  readonly payload: WebWirePayload;
}

export interface WebWireRequestMessage {
  readonly kind: 'request';
  readonly type: 127 | 128 | 129;
  readonly id: Uint8Array;
  readonly name: string;
  readonly payload: WebWirePayload;
}

/**
 * A reply. Its payload stays bytes here: a type-193 reply is UTF-16 for an ordinary request but
 * carries UTF-8 JSON when it answers a session restore, so only the request it answers says how
 * to read it (see `decodeReplyPayload` and `decodeSession`).
 */
export interface WebWireReplyMessage {
  readonly kind: 'reply';
  readonly type: 191 | 192 | 193;
  readonly id: Uint8Array;
  readonly encoding: WebWireEncoding;
  readonly bytes: Uint8Array;
}

export interface WebWireErrorReplyMessage {
  readonly kind: 'error-reply';
  readonly type: 0;
  readonly id: Uint8Array;
  /** The error code ("c"). */
  readonly code: string;
  /** The error message ("m"), when present. */
  readonly message: string | undefined;
}

export interface WebWireSessionCreatedMessage {
  readonly kind: 'session-created';
  readonly type: 21;
  readonly session: WebWireSession;
}

export interface WebWireSessionClosedMessage {
  readonly kind: 'session-closed';
  readonly type: 22;
}

export interface WebWireCloseSessionMessage {
  readonly kind: 'close-session';
  readonly type: 31;
  readonly id: Uint8Array;
}

export interface WebWireRestoreSessionMessage {
  readonly kind: 'restore-session';
  readonly type: 32;
  readonly id: Uint8Array;
  readonly key: string;
}

/** Any decoded WebWire message, told apart by `kind` (or `type`). */
export type WebWireMessage =
  | WebWireSignalMessage
  | WebWireRequestMessage
  | WebWireReplyMessage
  | WebWireErrorReplyMessage
  | WebWireSessionCreatedMessage
  | WebWireSessionClosedMessage
  | WebWireCloseSessionMessage
  | WebWireRestoreSessionMessage;

/** Length of a request id. */
export const ID_LENGTH = 8;
/** Longest name: its length is one byte. */
export const MAX_NAME_LENGTH = 255;

/** The encoding of a signal, request or reply type (the three come in runs of three). */
export function encodingOf(type: number, base: number): WebWireEncoding {
  return type === base ? 'binary' : type === base + 1 ? 'utf8' : 'utf16';
}
