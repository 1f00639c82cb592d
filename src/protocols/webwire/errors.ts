/**
 * Errors of the WebWire layer. A broken wire rule is a {@link WebWireProtocolError} naming the
 * rule; an error reply from the server is a {@link WebWireRequestError} carrying its code.
 */
import { WsEngineError } from '../../adapters/errors.js';

/**
 * The WebWire rules a message can break (webwire-go v0.1.0-alpha1, protocol "1.1"):
 * - `empty`: a WebSocket message with no bytes (there is no type byte).
 * - `unknown-type`: byte 0 is not a WebWire message type.
 * - `length`: too short for its header, or not the exact length its type requires.
 * - `name`: a name byte outside printable ASCII (32-126), or a name over 255 bytes.
 * - `padding`: the header-padding byte of a UTF-16 signal or request is not 0x00.
 * - `empty-payload`: a signal or request without payload (at least 1 byte; 2 for UTF-16).
 * - `utf16-length`: a UTF-16 payload (or a type-65/129 message) of odd length.
 * - `utf8`: a UTF-8 payload, error reply or session that is not valid UTF-8.
 * - `json`: an error reply or session that is not the JSON object its type requires.
 * - `session-key`: a session key that is empty or not printable ASCII.
 * - `text-frame`: a text WebSocket message (the server sends only binary messages).
 * - `max-payload`: a message larger than the client's `maxPayload`.
 * - `unknown-id`: a reply whose id no request of this client ever carried.
 * - `unexpected`: a message the client never expects from a server (a request, a restore).
 */
export type WebWireRule =
  | 'empty'
  | 'unknown-type'
  | 'length'
  | 'name'
  | 'padding'
  | 'empty-payload'
  | 'utf16-length'
  | 'utf8'
  | 'json'
  | 'session-key'
  | 'text-frame'
  | 'max-payload'
  | 'unknown-id'
  | 'unexpected';

/** A message (received or about to be sent) breaks a rule of the WebWire wire format. */
export class WebWireProtocolError extends WsEngineError {
  /** The rule broken. */
  readonly rule: WebWireRule;
  /** The message type byte, when there was one. */
  readonly messageType: number | undefined;
  /** The request id the message carried, when it could be read (a reply can then fail its request). */
  readonly id: Uint8Array | undefined;
  constructor(rule: WebWireRule, message: string, init: { messageType?: number; id?: Uint8Array } = {}) {
    super('ERR_WEBWIRE_PROTOCOL', `WebWire ${rule}: ${message}`);
    this.rule = rule;
    this.messageType = init.messageType;
    this.id = init.id;
  }
}

/**
 * The server answered a request with an error reply. `code` is the server's error code (for
 * example `SESSION_NOT_FOUND`, or one the application chose); `message` its message, or the code
 * when the server sent none.
 */
export class WebWireRequestError extends WsEngineError {
  /** Whether the server sent a message ("m"); when not, `message` repeats the code. */
  readonly hasMessage: boolean;
  constructor(code: string, message?: string) {
    super(code, message ?? code);
    this.hasMessage = message !== undefined;
  }
}
