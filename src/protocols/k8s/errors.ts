/**
 * Errors of the Kubernetes channel protocols. Each has a stable `code`.
 */
import { WsEngineError } from '../../adapters/errors.js';
import type { K8sStatus } from './status.js';

/**
 * The server broke the channel protocol: an unknown channel byte, invalid base64, a status that
 * is not JSON, a text message on a binary protocol (or the reverse), a subprotocol we do not
 * speak. The session is closed (1002) and its `exitCode` rejects with this error.
 */
export class K8sProtocolError extends WsEngineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_K8S_PROTOCOL', message, options);
  }
}

/**
 * The remote command failed without an exit code of its own: the error channel carried a
 * `metav1.Status` other than success or a non-zero exit (v4 and later: `status` holds it), or,
 * before v4, plain text (`status` is `undefined`, the text is the message).
 */
export class ExecStatusError extends WsEngineError {
  /** The Status the server sent (v4 and later), or `undefined` for a plain-text error. */
  readonly status: K8sStatus | undefined;
  /** `status.reason` (`"InternalError"`, `"NotFound"`, ...), when there is one. */
  readonly reason: string | undefined;
  constructor(message: string, status?: K8sStatus) {
    super('ERR_K8S_EXEC_STATUS', message);
    this.status = status;
    this.reason = typeof status?.reason === 'string' ? status.reason : undefined;
  }
}

/**
 * The connection ended before the command's exit status was known: closed or dropped without a
 * status (v4 and later), dropped without a close frame (before v4), closed by `close()` or the
 * signal, or found dead by the heartbeat. `cause` holds what ended it.
 */
export class ExecInterruptedError extends WsEngineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_K8S_EXEC_INTERRUPTED', message, options);
  }
}
