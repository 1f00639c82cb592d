/**
 * A small typed event emitter for the engine's events. Not `node:events`: the engine also runs in
 * browsers. Listener errors are caught and routed to `onError`, so one faulty listener
 * cannot break the engine's loop.
 */
export type Listener<Args extends unknown[]> = (...args: Args) => void;

type AnyListener = ((...args: never[]) => void) & { original?: unknown };

export class TypedEmitter<Events extends { [K in keyof Events]: unknown[] }> {
  /**
   * Listeners by event name. A list, once made, stays (emptied, never deleted), so that a hot path
   * can hold it from {@link listeners} and check its `length`: a `Map` lookup on every message
   * cost about 1% of receiving.
   */
  private readonly lists = new Map<keyof Events, AnyListener[]>();

  constructor(private readonly onError: (error: unknown, event: keyof Events) => void) {}

  /** Whether anyone listens to `event` (lets hot paths skip building arguments). */
  has(event: keyof Events): boolean {
    return this.listeners(event).length !== 0;
  }

  /** The live list of `event`'s listeners (made, empty, if there was none): empty while nobody listens. */
  listeners(event: keyof Events): { readonly length: number } {
    let list = this.lists.get(event);
    if (!list) this.lists.set(event, (list = []));
    return list;
  }

  on<E extends keyof Events>(event: E, listener: Listener<Events[E]>): () => void {
    (this.listeners(event) as AnyListener[]).push(listener as unknown as AnyListener);
    return () => this.off(event, listener);
  }

  /** Listen once; `off(event, listener)` with the same listener removes it before it fires. */
  once<E extends keyof Events>(event: E, listener: Listener<Events[E]>): () => void {
    const wrapper = ((...args: Events[E]) => {
      this.off(event, wrapper);
      listener(...args);
    }) as Listener<Events[E]> & { original?: unknown };
    wrapper.original = listener;
    return this.on(event, wrapper);
  }

  off<E extends keyof Events>(event: E, listener: Listener<Events[E]>): void {
    const list = this.lists.get(event);
    if (!list) return;
    // The listener itself, or the wrapper `once` registered for it.
    const target: unknown = listener;
    const index = list.findIndex((l) => l === target || l.original === target);
    if (index >= 0) list.splice(index, 1);
  }

  emit<E extends keyof Events>(event: E, ...args: Events[E]): void {
    const list = this.lists.get(event);
    if (!list?.length) return;
    for (const listener of list.slice()) {
      try {
        (listener as unknown as Listener<Events[E]>)(...args);
      } catch (error) {
        this.onError(error, event);
      }
    }
  }
}

/**
 * An emitter for a layer that reports errors nobody asked for (a throwing hook or listener, a
 * failed background send): `report(error)` emits it as `error`, or writes it to the console when
 * nobody listens. A throwing listener is reported the same way; a throwing `error` listener is
 * rethrown outside (in a microtask), never fed back into itself.
 */
export function reportingEmitter<Events extends { [K in keyof Events]: unknown[] } & { error: [error: unknown] }>(): {
  readonly events: TypedEmitter<Events>;
  readonly report: (error: unknown) => void;
} {
  const events: TypedEmitter<Events> = new TypedEmitter<Events>((error, event) => {
    if (event !== 'error') report(error);
    else
      globalThis.queueMicrotask(() => {
        throw error;
      });
  });
  const errors = events as unknown as TypedEmitter<{ error: [error: unknown] }>;
  function report(error: unknown): void {
    if (errors.has('error')) errors.emit('error', error);
    else console.error(error);
  }
  return { events, report };
}
