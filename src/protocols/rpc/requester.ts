/**
 * Request/reply over any engine: the caller's codec puts an id into each request and finds it
 * in each reply; the requester keeps the table of requests in flight, their deadlines, the cap
 * on how many may be in flight, and what each one becomes when its connection drops.
 *
 * What a drop does to a request depends on how far it got (this is what the caller needs to
 * know before trying again):
 * - not yet handed to the socket: `RequestNotSentError` (it cannot have executed);
 * - written, no reply yet: `RequestOutcomeUnknownError` (it may have executed), unless the
 *   request is `idempotent`: then it is written again on the next connection, within its deadline.
 *
 * Replies are taken out of the inbound stream with `intercept(engine, filter)`, so they never reach the
 * message hook, events or iterators; everything the codec does not recognise flows on. A reply
 * nobody waits for, or one the codec cannot read, is reported as an event: never thrown, and the
 * connection stays up.
 */
import { MessageType, type Message, type WriteData } from '../../adapters/types.js';
import type { Engine, HookContext } from '../../engine/engine.js';
import { ConnectionClosedError, WebSocketCloseError } from '../../adapters/errors.js';
import { EngineStoppedError, InvalidOptionError, NotConnectedError } from '../../engine/errors.js';
import { reportingEmitter } from '../../engine/events.js';
import { addOpenHook, intercept } from '../../engine/layers.js';
import { EngineState } from '../../engine/state.js';
import { Deadlines, type DueList, type Timed } from './deadlines.js';
import {
  ReplyError,
  RequesterClosedError,
  RequestNotSentError,
  RequestOutcomeUnknownError,
  RequestQueueFullError,
  RequestTimeoutError,
} from './errors.js';

/** The id the requester gives each request (a counter); replies may carry it as a number or string. */
export type RequestId = number | string;

/**
 * A reply as the codec decodes it: `id` matches the request's (or is `null` for an error the
 * server could not attribute), and either `result`, or `error` (anything but `undefined`).
 */
export interface Reply<Result = unknown> {
  readonly id: RequestId | null;
  readonly result?: Result;
  readonly error?: unknown;
}

/** How requests are written and replies recognised. */
export interface RequesterCodec<Request, Result> {
  /** The frame for one request: a string goes out as a text message, bytes as binary. */
  encode(request: Request, id: number): WriteData;
  /** The frame for several requests at once (a batch); without it, batches are refused. */
  encodeBatch?(requests: ReadonlyArray<{ readonly request: Request; readonly id: number }>): WriteData;
  /**
   * The reply (or replies) in a message; `undefined` when it is not a reply (it is then delivered
   * as usual); an empty array to take a message out of the stream without a reply in it. A throw
   * marks the message malformed: it is reported (`malformed`) and not delivered.
   */
  decode(message: Message): Reply<Result> | ReadonlyArray<Reply<Result>> | undefined;
}

export interface RequesterOptions {
  /** Default time a request may take, from the call to its reply, in ms. Default 10000. */
  readonly timeout?: number;
  /** Requests in flight (written or being written, or waiting to be re-sent) at most. Default 1000. */
  readonly maxInFlight?: number;
  /**
   * Requests that may wait for a slot when `maxInFlight` are in flight; more are refused with
   * `RequestQueueFullError`. Default 10000.
   */
  readonly maxQueued?: number;
}

export interface RequestOptions {
  /** This request's timeout, in ms (overrides the requester's). */
  readonly timeout?: number;
  /** Abandons the request: the promise rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /**
   * Safe to execute twice: when its connection drops before the reply, it is written again on
   * the next connection (within its deadline) instead of failing; made while disconnected, it
   * waits for the connection. Default false.
   */
  readonly idempotent?: boolean;
  /**
   * Write on this connection, which is being opened: for requests made inside an open hook
   * (`onOpen`, `addOpenHook(engine, hook)`). Do not await the reply inside the hook: replies are read
   * once the hooks have finished.
   */
  readonly context?: HookContext;
}

/** The requester's events. */
export interface RequesterEvents {
  /** A reply whose id matches no request in flight (late after a timeout, or never asked). */
  'unknown-reply': [reply: Reply, message: Message];
  /** A message the codec could not decode; it was not delivered. */
  malformed: [error: unknown, message: Message];
  /** A request was written again after its connection dropped (`idempotent`). */
  resent: [id: number];
  /** A listener threw. */
  error: [error: unknown];
}

/** The engine a requester runs on (its filter and open hook are added with `intercept` and `addOpenHook`). */
export type RequesterEngine = Engine;

type PendingState = 'queued' | 'sending' | 'written' | 'parked';

interface Pending extends Timed {
  readonly id: number;
  readonly request: unknown;
  readonly idempotent: boolean;
  readonly timeoutMs: number;
  readonly deadline: number;
  resolve: (value: never) => void;
  reject: (error: unknown) => void;
  state: PendingState;
  /** Handed to the socket at least once (so it may have executed). */
  written: boolean;
  /** Counted in `maxInFlight`. */
  counted: boolean;
  settled: boolean;
  link: Link | undefined;
  /** The connection it was last handed to. */
  lastConnection: string | undefined;
  dueList: DueList | undefined;
  duePrev: Pending | undefined;
  dueNext: Pending | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** One connection, and whether it has ended; the requests written on it point to it. */
interface Link {
  readonly id: string;
  dead: boolean;
}

const NONE: readonly Pending[] = [];

const NO_REQUEST_OPTIONS: RequestOptions = Object.freeze({});

/** A unit waiting for a slot: one request, or one batch written as one frame. */
type Unit = readonly Pending[];

export interface Requester<Request, Result> {
  /** Send a request; resolves with its result, rejects with its error or why it failed. */
  request(request: Request, options?: RequestOptions): Promise<Result>;
  /**
   * Send several requests in one frame (`codec.encodeBatch`); one promise per request, in order.
   * `signal` and `context` apply to all; each may time out on its own.
   */
  requestBatch(requests: readonly Request[], options?: RequestOptions): Array<Promise<Result>>;
  /** Listen to an event; returns a remover. */
  on<E extends keyof RequesterEvents>(event: E, listener: (...args: RequesterEvents[E]) => void): () => void;
  off<E extends keyof RequesterEvents>(event: E, listener: (...args: RequesterEvents[E]) => void): void;
  /** Requests in flight (written or being written, or waiting to be re-sent). */
  readonly inFlight: number;
  /** Requests waiting for a slot. */
  readonly queued: number;
  /** Reject everything pending with `RequesterClosedError` and detach from the engine. */
  close(): void;
}

function positive(name: string, value: number | undefined, fallback: number, allowInfinity = false): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || Number.isNaN(v) || v <= 0 || (!allowInfinity && !Number.isFinite(v))) {
    throw new InvalidOptionError(name, `expected a number > 0, got ${String(v)}`);
  }
  return v;
}

/** The longest delay a timer takes: setTimeout fires a longer one after 1 ms. */
const MAX_TIMEOUT = 2 ** 31 - 1;

/** A timeout in ms: > 0, at most what a timer can take, or `Infinity` (none). */
function timeoutOption(value: number | undefined, fallback: number): number {
  const v = positive('timeout', value, fallback, true);
  if (v > MAX_TIMEOUT && v !== Infinity) {
    throw new InvalidOptionError('timeout', `expected at most ${MAX_TIMEOUT} ms (what a timer can take) or Infinity, got ${v}`);
  }
  return v;
}

/** The write failed because there was no connection to write on (not because of what was written). */
function isConnectionError(error: unknown): boolean {
  return (
    error instanceof NotConnectedError ||
    error instanceof ConnectionClosedError ||
    error instanceof WebSocketCloseError ||
    error instanceof EngineStoppedError
  );
}

function frameType(data: WriteData): MessageType {
  return typeof data === 'string' ? MessageType.Text : MessageType.Binary;
}

/**
 * Request/reply on `engine` with the caller's codec. Create it before or after `engine.start()`;
 * it follows every connection the engine opens.
 */
export function createRequester<Request, Result>(
  engine: RequesterEngine,
  codec: RequesterCodec<Request, Result>,
  options: RequesterOptions = {},
): Requester<Request, Result> {
  if (codec === null || typeof codec !== 'object') throw new InvalidOptionError('codec', 'expected an object');
  if (typeof codec.encode !== 'function') throw new InvalidOptionError('encode', 'expected a function');
  if (typeof codec.decode !== 'function') throw new InvalidOptionError('decode', 'expected a function');
  const defaultTimeout = timeoutOption(options.timeout, 10_000);
  const maxInFlight = positive('maxInFlight', options.maxInFlight, 1000, true);
  const maxQueued = options.maxQueued ?? 10_000;
  if (typeof maxQueued !== 'number' || Number.isNaN(maxQueued) || maxQueued < 0) {
    throw new InvalidOptionError('maxQueued', `expected a number >= 0, got ${String(maxQueued)}`);
  }

  // Errors nobody asked for (hooks, listeners, failed sends): the `error` event, else the console.
  const { events } = reportingEmitter<RequesterEvents>();

  const table = new Map<RequestId, Pending>();
  const deadlines = new Deadlines<Pending>((entry) => expire(entry));
  const waiting: Unit[] = [];
  let waitingCount = 0;
  const parked = new Set<Pending>();
  const links = new Map<string, Link>();
  let inFlight = 0;
  let nextId = 0;
  let closed = false;

  /** The link of the last write: most writes go on the same connection as the one before. */
  let lastLink: Link | undefined;

  function linkFor(connectionId: string): Link {
    if (lastLink !== undefined && lastLink.id === connectionId && !lastLink.dead) return lastLink;
    let link = links.get(connectionId);
    if (link === undefined) {
      link = { id: connectionId, dead: false };
      links.set(connectionId, link);
    }
    lastLink = link;
    return link;
  }

  /** The connection ended: what was written on it and not answered is lost (or re-sent). */
  function linkDied(link: Link, cause: unknown): void {
    if (link.dead) return;
    link.dead = true;
    links.delete(link.id);
    // Requests written on it point to it (in the order they were made; one that settles here
    // leaves the table, which the iteration tolerates).
    for (const entry of table.values()) {
      // Still being handed to the socket: its write's outcome decides (rejected: not sent).
      if (entry.link !== link || entry.state === 'sending') continue;
      lost(entry, cause);
    }
  }

  function release(entry: Pending): void {
    entry.settled = true;
    table.delete(entry.id);
    if (entry.state === 'parked') parked.delete(entry);
    entry.link = undefined;
    deadlines.remove(entry);
    if (entry.onAbort) entry.signal!.removeEventListener('abort', entry.onAbort);
    if (entry.counted) {
      entry.counted = false;
      inFlight--;
      if (waiting.length > 0) pump();
    }
  }

  function fail(entry: Pending, error: unknown): void {
    if (entry.settled) return;
    if (entry.state === 'queued' && !entry.counted) waitingCount--;
    release(entry);
    entry.reject(error);
  }

  function succeed(entry: Pending, result: Result): void {
    if (entry.settled) return;
    release(entry);
    (entry.resolve as (value: Result) => void)(result);
  }

  /** Written, then the connection dropped before the reply. */
  function lost(entry: Pending, cause: unknown): void {
    if (entry.settled) return;
    entry.link = undefined;
    if (entry.idempotent) park(entry);
    else fail(entry, new RequestOutcomeUnknownError(undefined, { cause }));
  }

  /** Not written, and no connection to write it on. */
  function unsent(entry: Pending, cause: unknown): void {
    if (entry.settled) return;
    entry.link = undefined;
    if (entry.idempotent) park(entry);
    else if (entry.written) fail(entry, new RequestOutcomeUnknownError(undefined, { cause }));
    else fail(entry, new RequestNotSentError(undefined, { cause }));
  }

  function park(entry: Pending): void {
    entry.state = 'parked';
    parked.add(entry);
    // The engine may already be open on a newer connection (a drop noticed late): write it now.
    // Never again on the connection it failed on: that one is going, the engine will notice.
    if (isOpen() && engine.connectionId !== entry.lastConnection) {
      parked.delete(entry);
      sendEntries([entry], undefined, true);
    }
  }

  /** Open, with a current connection (during a `close` event the state may still say open). */
  function isOpen(): boolean {
    return engine.state === EngineState.Open && engine.connectionId !== undefined;
  }

  function expire(entry: Pending): void {
    if (entry.settled) return;
    const timeout = new RequestTimeoutError(entry.timeoutMs);
    if (entry.written || entry.state === 'sending') fail(entry, timeout);
    else fail(entry, new RequestNotSentError(`Not sent within ${entry.timeoutMs} ms`, { cause: timeout }));
  }

  function sendEntries(entries: readonly Pending[], context: HookContext | undefined, resend: boolean): void {
    if (entries.length === 1) {
      sendEntry(entries[0]!, context, resend);
      return;
    }
    const live = entries.filter((entry) => !entry.settled);
    if (live.length === 0) return;
    if (live.length === 1) {
      sendEntry(live[0]!, context, resend);
      return;
    }
    if (context === undefined && !isOpen()) {
      const cause = notConnected();
      for (const entry of live) unsent(entry, cause);
      return;
    }
    let frame: WriteData;
    try {
      frame = codec.encodeBatch!(live.map((entry) => ({ request: entry.request as Request, id: entry.id })));
    } catch (error) {
      for (const entry of live) fail(entry, error);
      return;
    }
    const connectionId = context?.connectionId ?? engine.connectionId;
    const link = connectionId === undefined ? undefined : linkFor(connectionId);
    for (const entry of live) sending(entry, link, connectionId, resend);
    write(frame, context).then(
      () => {
        for (const entry of live) written(entry);
      },
      (error: unknown) => {
        for (const entry of live) notWritten(entry, error);
      },
    );
  }

  /** One request in a frame of its own: {@link sendEntries} without an array. */
  function sendEntry(entry: Pending, context: HookContext | undefined, resend: boolean): void {
    if (entry.settled) return;
    if (context === undefined && !isOpen()) {
      unsent(entry, notConnected());
      return;
    }
    let frame: WriteData;
    try {
      frame = codec.encode(entry.request as Request, entry.id);
    } catch (error) {
      fail(entry, error);
      return;
    }
    const connectionId = context?.connectionId ?? engine.connectionId;
    sending(entry, connectionId === undefined ? undefined : linkFor(connectionId), connectionId, resend);
    write(frame, context).then(
      () => written(entry),
      (error: unknown) => notWritten(entry, error),
    );
  }

  function notConnected(): NotConnectedError {
    return new NotConnectedError(`Cannot send: the engine is ${engine.state}`);
  }

  function write(frame: WriteData, context: HookContext | undefined): Promise<void> {
    const type = frameType(frame);
    return context !== undefined ? context.send(type, frame) : engine.send(type, frame);
  }

  /** Being handed to the socket of `link`. */
  function sending(entry: Pending, link: Link | undefined, connectionId: string | undefined, resend: boolean): void {
    if (entry.state === 'parked') parked.delete(entry);
    entry.state = 'sending';
    entry.link = link;
    entry.lastConnection = connectionId;
    if (resend) events.emit('resent', entry.id);
  }

  function written(entry: Pending): void {
    if (entry.settled || entry.state !== 'sending') return;
    entry.state = 'written';
    entry.written = true;
    // Handed to a socket that has meanwhile gone: its fate is unknown.
    if (entry.link === undefined || entry.link.dead) lost(entry, new NotConnectedError('The connection ended'));
  }

  function notWritten(entry: Pending, error: unknown): void {
    if (entry.settled || entry.state !== 'sending') return;
    if (isConnectionError(error)) unsent(entry, error);
    else fail(entry, error);
  }

  function pump(): void {
    while (waiting.length > 0) {
      const unit = waiting[0]!;
      const live = unit.length === 1 ? (unit[0]!.settled ? NONE : unit) : unit.filter((entry) => !entry.settled);
      if (live.length > 0 && inFlight > 0 && inFlight + live.length > maxInFlight) return;
      waiting.shift();
      if (live.length === 0) continue;
      waitingCount -= live.length;
      for (const entry of live) {
        entry.counted = true;
        inFlight++;
      }
      sendEntries(live, undefined, false);
    }
  }

  function resendParked(context: HookContext | undefined): void {
    if (parked.size === 0) return;
    const entries = [...parked];
    parked.clear();
    for (const entry of entries) sendEntries([entry], context, true);
  }

  function settleReply(reply: Reply<Result>, message: Message): void {
    if (reply === null || typeof reply !== 'object') {
      events.emit('malformed', new TypeError('The codec returned a reply that is not an object'), message);
      return;
    }
    const isError = reply.error !== undefined;
    let entry: Pending | undefined;
    if (reply.id === null || reply.id === undefined) {
      // An error the server could not attribute: it can only be the request in flight if there is one.
      if (isError && table.size === 1) {
        const only = table.values().next().value!;
        if (only.state === 'written' || only.state === 'sending') entry = only;
      }
    } else {
      entry = table.get(reply.id);
      if (entry === undefined && typeof reply.id === 'string') {
        const numeric = Number(reply.id);
        if (Number.isInteger(numeric)) entry = table.get(numeric);
      }
      if (entry !== undefined && entry.state !== 'written' && entry.state !== 'sending') entry = undefined;
    }
    if (entry === undefined) {
      events.emit('unknown-reply', reply as Reply, message);
      return;
    }
    if (isError) fail(entry, reply.error instanceof Error ? reply.error : new ReplyError(reply.error));
    else succeed(entry, reply.result as Result);
  }

  const removeFilter = intercept(engine, (message) => {
    let decoded: Reply<Result> | ReadonlyArray<Reply<Result>> | undefined;
    try {
      decoded = codec.decode(message);
    } catch (error) {
      events.emit('malformed', error, message);
      return true;
    }
    if (decoded === undefined) return false;
    if (Array.isArray(decoded)) for (const reply of decoded as ReadonlyArray<Reply<Result>>) settleReply(reply, message);
    else settleReply(decoded as Reply<Result>, message);
    return true;
  });
  // Requests parked by a drop go out first on the next connection, before the outbox flush.
  const removeHook = addOpenHook(engine, (ctx) => {
    linkFor(ctx.connectionId);
    ctx.signal.addEventListener('abort', () => {
      const link = links.get(ctx.connectionId);
      if (link) linkDied(link, ctx.signal.reason);
    }, { once: true });
    resendParked(ctx);
  });
  const removeClose = engine.on('close', (info) => {
    const link = links.get(info.connectionId);
    if (link) linkDied(link, info.error ?? new NotConnectedError(`The connection closed with ${info.code}`));
  });
  // Parked requests made after the open hooks ran (while the engine was finishing the open).
  const removeOpen = engine.on('open', () => {
    if (isOpen()) resendParked(undefined);
  });
  const removeStopped = engine.on('stopped', ({ error }) => {
    const cause = error ?? new NotConnectedError('The engine stopped');
    for (const link of [...links.values()]) linkDied(link, cause);
    for (const entry of [...parked]) {
      parked.delete(entry);
      if (entry.written) fail(entry, new RequestOutcomeUnknownError(undefined, { cause }));
      else fail(entry, new RequestNotSentError(undefined, { cause }));
    }
    for (const unit of waiting.splice(0)) for (const entry of unit) fail(entry, new RequestNotSentError(undefined, { cause }));
  });

  function start(requests: readonly Request[], options: RequestOptions, batch: boolean): Array<Promise<Result>> {
    let timeoutMs = defaultTimeout;
    if (options.timeout !== undefined) {
      try {
        timeoutMs = timeoutOption(options.timeout, defaultTimeout);
      } catch (error) {
        return requests.map(() => Promise.reject(error));
      }
    }
    const signal = options.signal;
    const now = Date.now();
    const entries: Pending[] = [];
    const promises: Array<Promise<Result>> = [];
    for (const request of requests) {
      const entry = newEntry(request, options, timeoutMs, now);
      promises.push(promiseOf(entry));
      entries.push(entry);
    }
    if (closed) {
      for (const entry of entries) entry.reject(new RequesterClosedError());
      return promises;
    }
    if (signal?.aborted) {
      for (const entry of entries) entry.reject(signal.reason);
      return promises;
    }
    const context = options.context;
    if (context === undefined && waitingCount + entries.length > maxQueued && inFlight + entries.length > maxInFlight) {
      for (const entry of entries) entry.reject(new RequestQueueFullError(waitingCount));
      return promises;
    }
    for (const entry of entries) admit(entry, now);
    if (context !== undefined) {
      // Inside an open hook: written at once on that connection, counted but never kept waiting.
      for (const entry of entries) {
        entry.counted = true;
        inFlight++;
      }
      if (batch) sendEntries(entries, context, false);
      else for (const entry of entries) sendEntries([entry], context, false);
      return promises;
    }
    if (waiting.length === 0 && (inFlight === 0 || inFlight + entries.length <= maxInFlight)) {
      // Nobody waits and there is room: straight out, without queueing.
      for (const entry of entries) {
        entry.counted = true;
        inFlight++;
      }
      if (batch) sendEntries(entries, undefined, false);
      else for (const entry of entries) sendEntries([entry], undefined, false);
      return promises;
    }
    waitingCount += entries.length;
    if (batch) waiting.push(entries);
    else for (const entry of entries) waiting.push([entry]);
    pump();
    return promises;
  }

  function newEntry(request: Request, options: RequestOptions, timeoutMs: number, now: number): Pending {
    return {
      id: ++nextId,
      request,
      idempotent: options.idempotent === true,
      timeoutMs,
      deadline: now + timeoutMs,
      resolve: undefined as unknown as Pending['resolve'],
      reject: undefined as unknown as Pending['reject'],
      state: 'queued',
      written: false,
      counted: false,
      settled: false,
      link: undefined,
      lastConnection: undefined,
      dueList: undefined,
      duePrev: undefined,
      dueNext: undefined,
      signal: options.signal,
      onAbort: undefined,
    };
  }

  function promiseOf(entry: Pending): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      entry.resolve = resolve as Pending['resolve'];
      entry.reject = reject;
    });
  }

  /** In the table, with its deadline and its signal's listener. */
  function admit(entry: Pending, now: number): void {
    table.set(entry.id, entry);
    if (entry.timeoutMs !== Infinity) deadlines.add(entry, now);
    const signal = entry.signal;
    if (signal) {
      entry.onAbort = () => fail(entry, signal.reason);
      signal.addEventListener('abort', entry.onAbort, { once: true });
    }
  }

  /** {@link start} for one request, without the arrays. */
  function startOne(request: Request, options: RequestOptions): Promise<Result> {
    let timeoutMs = defaultTimeout;
    if (options.timeout !== undefined) {
      try {
        timeoutMs = timeoutOption(options.timeout, defaultTimeout);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const now = Date.now();
    const entry = newEntry(request, options, timeoutMs, now);
    const promise = promiseOf(entry);
    if (closed) {
      entry.reject(new RequesterClosedError());
      return promise;
    }
    const signal = options.signal;
    if (signal?.aborted) {
      entry.reject(signal.reason);
      return promise;
    }
    const context = options.context;
    if (context === undefined && waitingCount + 1 > maxQueued && inFlight + 1 > maxInFlight) {
      entry.reject(new RequestQueueFullError(waitingCount));
      return promise;
    }
    admit(entry, now);
    if (context !== undefined || (waiting.length === 0 && (inFlight === 0 || inFlight + 1 <= maxInFlight))) {
      // In an open hook (written at once on that connection, never kept waiting), or nobody
      // waits and there is room: straight out, without queueing.
      entry.counted = true;
      inFlight++;
      sendEntry(entry, context, false);
      return promise;
    }
    waitingCount++;
    waiting.push([entry]);
    pump();
    return promise;
  }

  return {
    request(request, options = NO_REQUEST_OPTIONS) {
      return startOne(request, options);
    },
    requestBatch(requests, options = {}) {
      if (typeof codec.encodeBatch !== 'function') {
        throw new InvalidOptionError('encodeBatch', 'the codec has no encodeBatch: batches are not possible');
      }
      if (requests.length === 0) return [];
      return start(requests, options, requests.length > 1);
    },
    on(event, listener) {
      return events.on(event, listener);
    },
    off(event, listener) {
      events.off(event, listener);
    },
    get inFlight() {
      return inFlight;
    },
    get queued() {
      return waitingCount;
    },
    close() {
      if (closed) return;
      closed = true;
      removeFilter();
      removeHook();
      removeClose();
      removeOpen();
      removeStopped();
      for (const unit of waiting.splice(0)) for (const entry of unit) fail(entry, new RequesterClosedError());
      for (const entry of [...table.values()]) fail(entry, new RequesterClosedError());
      links.clear();
    },
  };
}
