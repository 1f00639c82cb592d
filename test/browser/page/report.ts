/** What the page scripts report back to the test (JSON-serialisable). */

export interface ReportedMessage {
  readonly type: number;
  /** The text, or the bytes as numbers. */
  readonly data: string | number[];
  /** For binary messages: whether the data was a Uint8Array. */
  readonly uint8: boolean;
}

export interface ReportedError {
  readonly name: string;
  readonly code?: string | number;
  readonly reason?: string;
  readonly wasClean?: boolean;
  readonly status?: number | null;
  readonly message: string;
}

export function reportMessage(message: { type: number; data: string | Uint8Array }): ReportedMessage {
  return typeof message.data === 'string'
    ? { type: message.type, data: message.data, uint8: false }
    : { type: message.type, data: [...message.data], uint8: message.data instanceof Uint8Array };
}

export function reportError(error: unknown): ReportedError {
  if (!(error instanceof Error)) return { name: typeof error, message: String(error) };
  const e = error as Error & { code?: string | number; reason?: string; wasClean?: boolean; status?: number };
  return {
    name: e.name,
    message: e.message,
    ...(e.code === undefined ? {} : { code: e.code }),
    ...(e.reason === undefined ? {} : { reason: e.reason }),
    ...(e.wasClean === undefined ? {} : { wasClean: e.wasClean }),
    ...('status' in e ? { status: e.status ?? null } : {}),
  };
}

/** Await a promise that must reject, and report the error (or a marker when it resolved). */
export async function rejectionOf(promise: Promise<unknown>): Promise<ReportedError> {
  try {
    await promise;
  } catch (error) {
    return reportError(error);
  }
  return { name: 'DidNotReject', message: 'the promise resolved' };
}
