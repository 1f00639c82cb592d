/**
 * The reader: the read loop of one connection, the read gate behind `pause()`, `resume()` and
 * `exclusive()`, and the handover of a read in flight to an exclusive holder, in one place.
 *
 * Holding the gate stops the engine's reads; unread messages then wait in the adapter, whose
 * bounded queue pauses the socket, so TCP flow control pushes back on the server. No signal is
 * passed to the adapter's `read` (an abort listener per read would cost a fifth of the
 * throughput): a read already in flight when the gate closes is not aborted but carried over. Its
 * message is held (pause) or handed first to the holder's reads (exclusive), so nothing is lost
 * or reordered.
 */
import { ConnectionClosedError, WebSocketCloseError } from '../adapters/errors.js';
import { raceSignal } from '../adapters/signals.js';
import type { Message, WebSocketConnectionAdapter } from '../adapters/types.js';
import type { EngineContext } from './context.js';
import type { HookContext, MessageFilter } from './engine.js';
import { byteLength } from './metrics.js';
import type { Session } from './session.js';
import type { ReaderPhase } from './state.js';
import { deferred, type Deferred } from './timers.js';

/** After this many read errors in a row (not closes), a connection is treated as lost. */
const MAX_CONSECUTIVE_READ_ERRORS = 16;

/** Marks a read in flight that an exclusive holder took over (the reader is still waiting on it). */
const TAKEN_OVER: Promise<Message> = /* @__PURE__ */ new Promise<Message>(() => {});

export function isConnectionGone(error: unknown): boolean {
  return error instanceof WebSocketCloseError || error instanceof ConnectionClosedError;
}

/**
 * The read gate: open while the engine may read and deliver; `pause()` and exclusive holders
 * close it. The reader checks it before each read and parks while it is closed.
 */
export class ReadGate {
  paused = false;
  /** Exclusive holders running. */
  holds = 0;
  reader: ReaderPhase = 'gone';
  /** Set while the reader listens (see `listen` in the adapter contract): stops it. */
  wake: (() => void) | undefined = undefined;
  /** Holders waiting for the reader to park. */
  parkedWaiters: Array<() => void> = [];
  /** Serves holders one at a time. */
  mutex: Promise<void> = Promise.resolve();
  private opened: Deferred<void> | undefined;
  /** Id of the current read loop (one per connection). */
  private readerId = 0;

  get closed(): boolean {
    return this.paused || this.holds > 0;
  }

  pause(): void {
    this.paused = true;
    this.wake?.();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.maybeOpen();
  }

  /** Called by the reader before each read: `undefined` to go on, or a promise to wait on. */
  pass(): Promise<void> | undefined {
    if (!this.closed) return undefined;
    this.park('parked');
    this.opened ??= deferred<void>();
    return this.opened.promise;
  }

  /** A new reader starts (a new connection); returns its id for {@link readerGone}. */
  readerStarted(): number {
    this.reader = 'reading';
    return ++this.readerId;
  }

  /** Reader `id` stopped for good (its connection ended): holders need not wait for it. */
  readerGone(id: number): void {
    if (id === this.readerId) this.park('gone');
  }

  private park(phase: 'parked' | 'gone'): void {
    this.reader = phase;
    for (const wake of this.parkedWaiters.splice(0)) wake();
  }

  maybeOpen(): void {
    if (this.closed || !this.opened) return;
    const opened = this.opened;
    this.opened = undefined;
    if (this.reader === 'parked') this.reader = 'reading';
    opened.resolve();
  }
}

/** Read and deliver the messages of `session` until it ends. */
export async function read(session: Session): Promise<void> {
  const ctx = session.engine;
  const { gate, metrics, dispatcher, events } = ctx;
  const reader = gate.readerStarted();
  const { adapter, ctx: hookCtx, heartbeat } = session;
  const onMessage = ctx.options.onMessage;
  const onReadError = ctx.options.onReadError;
  const canTry = typeof adapter.tryRead === 'function';
  const canListen = typeof adapter.listen === 'function';
  let readErrors = 0;
  // Held for the connection's life: checking its length costs no lookup per message.
  const messageListeners = events.listeners('message');

  /** Count and hand out one message; a promise when the next one must wait for it. */
  const deliver = (message: Message): Promise<void> | undefined => {
    metrics.messagesIn++;
    const data = message.data;
    // A binary message's data is a Uint8Array, whose `length` V8 inlines.
    metrics.bytesIn += typeof data === 'string' ? byteLength(data) : data.length;
    if (heartbeat !== undefined && heartbeat.watchesMessages && heartbeat.onMessage(message)) return undefined;
    const filters = ctx.filters;
    if (filters.length !== 0 && intercepted(ctx, filters, message, hookCtx)) return undefined;
    let wait: Promise<void> | undefined;
    if (onMessage !== undefined) wait = dispatcher.dispatch(onMessage, message, hookCtx);
    if (messageListeners.length !== 0) events.emit('message', message, session.id);
    const sinks = ctx.sinks;
    if (sinks.length !== 0) {
      for (const sink of sinks) {
        const full = sink(message);
        if (full) wait = wait ? Promise.all([wait, full]).then(() => undefined) : full;
      }
    }
    return wait;
  };

  // Listening: while the gate is open and the queue empty, the adapter hands each message over as
  // it arrives (no queue slot, no promise, no turn of this loop per message). It stops when a
  // delivery must be waited for, the gate closes (`wake`), or the connection ends; the loop then
  // takes over again, with whatever queued meanwhile first.
  let listened: (() => void) | undefined;
  /** What the last delivery while listening asked to be waited for. */
  let waitFor: Promise<void> | undefined;
  const stopListening = (): void => {
    const resolve = listened;
    if (resolve === undefined) return;
    listened = undefined;
    adapter.listen!(undefined);
    if (gate.wake === stopListening) gate.wake = undefined;
    resolve();
  };
  const listener = (message: Message | undefined): void => {
    if (message !== undefined && !session.done) {
      let wait: Promise<void> | undefined;
      try {
        wait = deliver(message);
      } catch (error) {
        ctx.report(error);
      }
      if (wait === undefined) return;
      // Something to wait for: stop listening (the delivery may have stopped it already, a hook
      // that paused); the loop waits first.
      waitFor = wait;
    }
    stopListening();
  };
  const listen = (): Promise<void> | undefined => {
    if (!adapter.listen!(listener)) return undefined;
    readErrors = 0;
    gate.wake = stopListening;
    return new Promise((resolve) => {
      listened = resolve;
    });
  };

  try {
    while (!session.done) {
      const held = gate.pass();
      if (held) {
        await held;
        continue;
      }
      // A burst that already arrived is taken without a promise per message. Not while a read
      // is carried over from a pause or an exclusive hold: that one comes first.
      let message = session.carry === undefined && canTry ? adapter.tryRead!() : undefined;
      if (message === undefined) {
        const listening = canListen && session.carry === undefined ? listen() : undefined;
        if (listening !== undefined) {
          await listening;
          const wait = waitFor;
          if (wait !== undefined) {
            waitFor = undefined;
            await wait;
            continue;
          }
          // Paused (not held): wait on a read as before the pause, so that a lost connection
          // is noticed at once; a message it brings is held until resume.
          if (session.done || !gate.paused || gate.holds !== 0) continue;
        }
        const pending = session.carry ?? adapter.read();
        session.carry = undefined;
        session.inflight = pending;
        try {
          message = await pending;
        } catch (error) {
          if (session.inflight !== pending) {
            session.inflight = undefined; // taken over by an exclusive holder
            continue;
          }
          session.inflight = undefined;
          if (session.done) return;
          if (isConnectionGone(error) || ++readErrors >= MAX_CONSECUTIVE_READ_ERRORS || !onReadError) {
            session.end({ kind: 'lost', error });
            return;
          }
          try {
            await onReadError(error, hookCtx);
          } catch (hookError) {
            ctx.report(hookError);
          }
          continue;
        }
        if (session.inflight !== pending) {
          session.inflight = undefined; // taken over by an exclusive holder
          continue;
        }
        session.inflight = undefined;
        if (session.done) return;
        if (gate.closed) {
          // Paused while this read was in flight: hold the message until the gate opens.
          session.carry = pending;
          continue;
        }
      }
      readErrors = 0;
      const wait = deliver(message);
      if (wait !== undefined) await wait;
    }
  } finally {
    stopListening();
    session.inflight = undefined;
    gate.readerGone(reader);
  }
}

/** Whether a filter consumed the message. */
function intercepted(ctx: EngineContext, filters: readonly MessageFilter[], message: Message, hookCtx: HookContext): boolean {
  for (const filter of filters) {
    try {
      if (filter(message, hookCtx) === true) return true;
    } catch (error) {
      ctx.report(error);
    }
  }
  return false;
}

// --- the exclusive-read handover -------------------------------------------------------------

/**
 * Run `fn` while the reader is held, from this call until `fn` settles. Holders are served one
 * at a time, in call order (the reader stays held between them). `fn` starts once the reader has
 * parked, or at once when the reader was only waiting on a read (which the holder then takes over).
 */
export function hold<T>(ctx: EngineContext, fn: () => Promise<T> | T): Promise<T> {
  const gate = ctx.gate;
  // Held from the call on: what arrives from now waits for the holder (which starts once the
  // holders before it are done), and a listening reader stops at once.
  gate.holds++;
  gate.wake?.();
  const run = gate.mutex.then(async () => {
    try {
      if (gate.reader === 'reading' && !preempt(ctx.session)) {
        await new Promise<void>((resolve) => gate.parkedWaiters.push(resolve));
      }
      return await fn();
    } finally {
      gate.holds--;
      gate.maybeOpen();
    }
  });
  gate.mutex = run.then(
    () => undefined,
    () => undefined,
  );
  return run;
}

/**
 * A holder arrived while the reader is not parked: if the reader is only waiting on a read, the
 * holder takes that read over (its message is the holder's first) and starts now; if it is
 * delivering a message, the holder waits for it to finish.
 */
function preempt(session: Session | undefined): boolean {
  const inflight = session?.inflight;
  if (!session || inflight === undefined) return false;
  if (inflight !== TAKEN_OVER) {
    inflight.catch(() => {});
    session.carry = inflight;
    session.inflight = TAKEN_OVER;
  }
  return true;
}

/** The adapter as an exclusive holder sees it: its first read takes the carried-over read. */
export function holderView(session: Session): WebSocketConnectionAdapter {
  const adapter = session.adapter;
  return {
    dial: (url, options) => adapter.dial(url, options),
    close: (code, reason, options) => adapter.close(code, reason, options),
    ping: (options) => adapter.ping(options),
    write: (type, data, options) => adapter.write(type, data, options),
    underlying: () => adapter.underlying(),
    // Nothing may overtake a carried-over read, even one whose message has already arrived.
    tryRead: adapter.tryRead && (() => (session.carry === undefined ? adapter.tryRead!() : undefined)),
    read: (options) => {
      const carried = session.carry;
      if (carried === undefined) return adapter.read(options);
      session.carry = undefined;
      if (!options?.signal) return carried;
      // Aborted while waiting: the carried read stays first in line.
      return raceSignal(carried, options.signal, () => {
        if (session.carry === undefined) session.carry = carried;
      });
    },
  };
}
