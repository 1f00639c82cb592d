/**
 * The engine's lifecycle as an explicit state machine, and the phases of one connection.
 *
 * ```
 * idle -> connecting -> open -> closing -> reconnecting -> connecting -> ...
 *                 \                  \--> connecting (restart(): no wait)
 *                  \-> reconnecting (attempt failed, waiting for the next one)
 * any state -> stopped (stop(), exit(), retries exhausted, failure not worth retrying)
 * stopped -> connecting (start() again)
 * ```
 *
 * Every connection that ends, whoever ended it, goes through `closing` (the close hook runs and
 * the socket is closed there), and the engine leaves `open` the moment the end is known.
 *
 * The engine keeps no other flag: "stopping" is derived (the engine's life signal is aborted and
 * the state is not yet `stopped`), everything about one connection is its {@link SessionPhase},
 * the read loop's part in the read gate is its {@link ReaderPhase}, and its heartbeat's is its
 * {@link HeartbeatPhase}.
 */
import type { EngineContext } from './context.js';

export const EngineState = {
  Idle: 'idle',
  Connecting: 'connecting',
  Open: 'open',
  Closing: 'closing',
  Reconnecting: 'reconnecting',
  Stopped: 'stopped',
} as const;
export type EngineState = (typeof EngineState)[keyof typeof EngineState];

const TRANSITIONS: Readonly<Record<EngineState, readonly EngineState[]>> = {
  idle: ['connecting', 'stopped'],
  connecting: ['open', 'reconnecting', 'closing', 'stopped'],
  open: ['closing', 'stopped'],
  closing: ['reconnecting', 'connecting', 'stopped'],
  reconnecting: ['connecting', 'closing', 'stopped'],
  stopped: ['connecting'],
};

/** Whether the machine allows `from -> to`. */
export function canTransition(from: EngineState, to: EngineState): boolean {
  return TRANSITIONS[from].includes(to);
}

/**
 * Move the engine of `ctx` to `to` and emit `state`; a no-op when already there. Transitions
 * are not checked at run time (one outside the diagram would be a bug of the engine, not of its
 * user, and the check would cost every app its table): the engine's tests check every transition
 * with {@link canTransition}.
 */
export function moveTo(ctx: EngineContext, to: EngineState): void {
  const from = ctx.state;
  if (from === to) return;
  ctx.state = to;
  ctx.events.emit('state', to, from);
}

/**
 * One connection's life: `opening` (dialled; the open hooks run and sends go straight to it),
 * `flushing` (open; the outbox is being written, so new sends join its end to keep their order),
 * `open` (sends are written at once), `ended` (its end is known; nothing more goes out on it).
 */
export type SessionPhase = 'opening' | 'flushing' | 'open' | 'ended';

/**
 * The read loop, as the read gate sees it: `reading` (an exclusive holder must wait for it to
 * park, or take over its read in flight), `parked` (waiting at the closed gate), `gone` (no
 * connection, so no reader: holders need not wait).
 */
export type ReaderPhase = 'reading' | 'parked' | 'gone';

/**
 * One connection's heartbeat: `waiting` (for the next probe, or watching for traffic), `probing`
 * (a probe is out; its answer, or the deadline, comes next), `stopped`.
 */
export type HeartbeatPhase = 'waiting' | 'probing' | 'stopped';
