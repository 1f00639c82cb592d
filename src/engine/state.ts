/**
 * The engine's lifecycle as an explicit state machine:
 *
 * ```
 * idle -> connecting -> open -> closing -> reconnecting -> connecting -> ...
 *                 \                  \--> connecting (restart(): no wait)
 *                  \-> reconnecting (attempt failed, waiting for the next one)
 * ```
 *
 * Every connection that ends, whoever ended it, goes through `closing` (the close hook runs and
 * the socket is closed there), and the engine leaves `open` the moment the end is known.
 *
 * ```
 * any state -> stopped (stop(), exit(), retries exhausted, failure not worth retrying)
 * stopped -> connecting (start() again)
 * ```
 */
import { InvalidStateError } from '../adapters/errors.js';

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

/** Holds the current state; refuses transitions the diagram does not have (a bug, not a user error). */
export class StateMachine {
  #state: EngineState = EngineState.Idle;
  readonly #onChange: (to: EngineState, from: EngineState) => void;

  constructor(onChange: (to: EngineState, from: EngineState) => void) {
    this.#onChange = onChange;
  }

  get state(): EngineState {
    return this.#state;
  }

  /** Move to `to`; a no-op when already there. */
  to(to: EngineState): void {
    const from = this.#state;
    if (from === to) return;
    if (!canTransition(from, to)) throw new InvalidStateError(`Engine state cannot go from ${from} to ${to}`);
    this.#state = to;
    this.#onChange(to, from);
  }
}
