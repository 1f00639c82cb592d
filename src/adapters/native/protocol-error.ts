/**
 * The error a connection fails with when the peer breaks RFC 6455 or a configured limit.
 * `closeCode` is the status code sent in the close frame (RFC 6455 section 7.4.1):
 * 1002 for protocol errors, 1007 for invalid UTF-8, 1009 for messages over a limit.
 */
import { WsEngineError } from '../errors.js';

export type ProtocolCloseCode = 1002 | 1007 | 1009;

export class ProtocolError extends WsEngineError {
  /** The close status code the connection is failed with. */
  readonly closeCode: ProtocolCloseCode;
  constructor(closeCode: ProtocolCloseCode, message: string) {
    super(
      closeCode === 1002 ? 'ERR_WEBSOCKET_PROTOCOL' : closeCode === 1007 ? 'ERR_INVALID_UTF8' : 'ERR_MESSAGE_TOO_BIG',
      message,
    );
    this.closeCode = closeCode;
  }
}
