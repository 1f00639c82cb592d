/**
 * Counters the engine keeps, read as a snapshot with `engine.metrics()`. Plain number fields
 * bumped on the hot path; nothing is allocated per message.
 */
import type { WriteData } from '../adapters/types.js';
import { utf8Length } from '../adapters/validation.js';
import type { EngineState } from './state.js';

/** A point-in-time view of the engine. */
export interface MetricsSnapshot {
  readonly state: EngineState;
  /** Id of the current connection, or `undefined` when none is open. */
  readonly connectionId: string | undefined;
  /** Connections opened (open hook finished) since the engine was created. */
  readonly connects: number;
  /** Of those, how many replaced an earlier connection. */
  readonly reconnects: number;
  /** Connection attempts that failed. */
  readonly failedAttempts: number;
  /** Connections declared dead by the heartbeat. */
  readonly heartbeatTimeouts: number;
  readonly messagesIn: number;
  readonly messagesOut: number;
  /** Payload bytes received (text counted as UTF-8). */
  readonly bytesIn: number;
  /** Payload bytes sent (text counted as UTF-8). */
  readonly bytesOut: number;
  /** Round-trip time of the last answered heartbeat probe, in ms. */
  readonly lastRttMs: number | undefined;
  /** How long the current connection has been open, in ms (0 when none is). */
  readonly uptimeMs: number;
  /** Messages waiting in the outbox, and their bytes. */
  readonly queuedMessages: number;
  readonly queuedBytes: number;
}

interface NodeBuffer {
  byteLength(value: string, encoding: 'utf8'): number;
}

/** Node's native UTF-8 length when there is a Buffer (looked up, never imported: browser builds). */
const nodeBuffer = (globalThis as { Buffer?: NodeBuffer }).Buffer;

export function byteLength(data: WriteData): number {
  if (typeof data === 'string') return nodeBuffer ? nodeBuffer.byteLength(data, 'utf8') : utf8Length(data);
  // A Uint8Array's `length` is its size in bytes, and V8 inlines it where it does not inline the
  // `byteLength` getter: that getter was about a quarter of the engine's own cost per message.
  if (data instanceof Uint8Array) return data.length;
  return data.byteLength;
}

export class Metrics {
  connects = 0;
  reconnects = 0;
  failedAttempts = 0;
  heartbeatTimeouts = 0;
  messagesIn = 0;
  messagesOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  lastRttMs: number | undefined = undefined;
}
