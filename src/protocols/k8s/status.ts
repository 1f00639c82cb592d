/**
 * The error channel (3): how a remote command ends. Browser-safe.
 *
 * From v4 on it carries one JSON `metav1.Status`: `{"status":"Success"}` for exit code 0; a
 * failure with `"reason":"NonZeroExitCode"` whose `details.causes[]` holds, for the cause whose
 * `reason` is `"ExitCode"`, the code as its `message`; any other failure (the container is gone,
 * the command does not exist) as it is. Before v4 it carries plain text, and only on failure.
 */
import { ExecStatusError, K8sProtocolError } from './errors.js';

/** One cause of a failure (`metav1.StatusCause`). */
export interface K8sStatusCause {
  readonly reason?: string;
  readonly message?: string;
  readonly field?: string;
}

/** The Kubernetes API `Status` object (`metav1.Status`), as far as the exec status uses it. */
export interface K8sStatus {
  readonly kind?: string;
  readonly apiVersion?: string;
  /** `"Success"` or `"Failure"`. */
  readonly status?: string;
  readonly message?: string;
  /** Machine-readable reason: `"NonZeroExitCode"`, `"InternalError"`, ... */
  readonly reason?: string;
  /** The HTTP status code the failure maps to. */
  readonly code?: number;
  readonly details?: {
    readonly name?: string;
    readonly kind?: string;
    readonly causes?: readonly K8sStatusCause[];
    readonly [key: string]: unknown;
  };
  readonly [key: string]: unknown;
}

/** How the command ended: an exit code, or an error to reject `exitCode` with. */
export type ExecOutcome = { readonly exitCode: number } | { readonly error: ExecStatusError };

const utf8 = new TextDecoder('utf-8', { fatal: true });

function text(payload: Uint8Array, what: string): string {
  try {
    return utf8.decode(payload);
  } catch (error) {
    throw new K8sProtocolError(`The ${what} on the error channel is not valid UTF-8`, { cause: error });
  }
}

/**
 * Decode a v4+ status message. Throws {@link K8sProtocolError} when it is not a JSON object with
 * a string `status`: the session cannot tell how the command ended.
 */
export function decodeStatus(payload: Uint8Array): ExecOutcome {
  const json = text(payload, 'status');
  let status: unknown;
  try {
    status = JSON.parse(json);
  } catch (error) {
    throw new K8sProtocolError(`The status on the error channel is not JSON: ${preview(json)}`, { cause: error });
  }
  if (status === null || typeof status !== 'object' || Array.isArray(status) || typeof (status as K8sStatus).status !== 'string') {
    throw new K8sProtocolError(`The status on the error channel is not a Status object: ${preview(json)}`);
  }
  const s = status as K8sStatus;
  if (s.status === 'Success') return { exitCode: 0 };
  if (s.reason === 'NonZeroExitCode') {
    const causes = Array.isArray(s.details?.causes) ? s.details.causes : [];
    const cause = causes.find((c) => c !== null && typeof c === 'object' && c.reason === 'ExitCode');
    const code = typeof cause?.message === 'string' && /^-?\d{1,10}$/.test(cause.message) ? Number(cause.message) : NaN;
    if (Number.isSafeInteger(code)) return { exitCode: code };
  }
  return { error: new ExecStatusError(typeof s.message === 'string' && s.message !== '' ? s.message : `The command failed: ${preview(json)}`, s) };
}

/** Decode a plain-text error (before v4): the command failed with this text. */
export function decodeErrorText(payload: Uint8Array): ExecOutcome {
  return { error: new ExecStatusError(text(payload, 'error text')) };
}

function preview(value: string): string {
  return JSON.stringify(value.length > 200 ? `${value.slice(0, 200)}...` : value);
}
