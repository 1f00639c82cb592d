/**
 * A minimal typed event emitter. The mock avoids `node:events` so that it also runs in a
 * browser test runner.
 */
type Listener = (...args: never[]) => void;

export class Emitter<Events extends Record<string, unknown[]>> {
  readonly #listeners = new Map<keyof Events, Set<Listener>>();

  /** Listen to `event`; returns a function that removes the listener. */
  on<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as unknown as Listener);
    return () => this.off(event, listener);
  }

  /** Stop listening. */
  off<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): void {
    this.#listeners.get(event)?.delete(listener as unknown as Listener);
  }

  /** Call every listener of `event`, in the order they were added. */
  protected emit<E extends keyof Events>(event: E, ...args: Events[E]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) (listener as unknown as (...a: Events[E]) => void)(...args);
  }
}
