/**
 * One connection, from dial to teardown: the attempt (dial plus open hooks within
 * `openTimeout`), then, once open, the heartbeat wiring, the reader, the outbox flush, and the
 * teardown (close hook, close frame, `close` event). The supervisor (`supervisor.ts`) decides
 * when to make one; the session does not retry.
 */
import { ConnectionClosedError, InvalidArgumentError, WebSocketCloseError } from '../adapters/errors.js';
import { deferred, NO_OPTIONS, noop, onAbort, raceSignal, WRITTEN } from '../adapters/signals.js';
import { MessageType, type HandshakeResponse, type Message, type WebSocketConnectionAdapter, type WriteData } from '../adapters/types.js';
import { normalizeWriteData, parseWebSocketUrl } from '../adapters/validation.js';
import type { EngineContext } from './context.js';
import type { CloseChoice, CloseInfo, HookContext, SendOptions } from './engine.js';
import { EngineStoppedError, NotConnectedError, OpenTimeoutError, RestartRequestedError, type HeartbeatTimeoutError } from './errors.js';
import { startHeartbeat, type Heartbeat } from './heartbeat.js';
import { byteLength } from './metrics.js';
import { read } from './reader.js';
import { moveTo, type SessionPhase } from './state.js';

/** Why a connection ended. */
export type End =
  | { kind: 'lost'; error: unknown }
  | { kind: 'heartbeat'; error: HeartbeatTimeoutError }
  | { kind: 'restart' }
  | { kind: 'stop' };

/** Codes the heartbeat and restarts close with (RFC 6455 section 7.4.1). */
const NORMAL_CLOSURE = 1000;
const GOING_AWAY = 1001;


/** Count a message handed to the connection. */
function sent(ctx: EngineContext, data: WriteData): void {
  const metrics = ctx.metrics;
  metrics.messagesOut++;
  metrics.bytesOut += byteLength(data);
}

/** Close an adapter without waiting for the server's answer. */
function drop(adapter: WebSocketConnectionAdapter): void {
  const closing = new AbortController();
  closing.abort();
  adapter.close(NORMAL_CLOSURE, '', { signal: closing.signal }).catch(noop);
}

export class Session {
  phase: SessionPhase = 'opening';
  readonly id: string;
  readonly ctx: HookContext;
  readonly ended = deferred<End>();
  openedAt = 0;
  heartbeat: Heartbeat | undefined;
  /** The reader's read in flight (or the taken-over marker), if any. */
  inflight: Promise<Message> | undefined;
  /** A read carried over a pause or an exclusive hold, to be consumed first. */
  carry: Promise<Message> | undefined;

  constructor(
    readonly engine: EngineContext,
    readonly adapter: WebSocketConnectionAdapter,
    handshake: HandshakeResponse,
    readonly attempt: number,
    readonly reconnect: boolean,
    /** One controller for the attempt and the connection it opens. */
    readonly controller: AbortController,
  ) {
    this.id = `${engine.id}.${++engine.seq}`;
    this.ctx = hookContext(this, handshake);
  }

  /** Whether its end is known. */
  get done(): boolean {
    return this.phase === 'ended';
  }

  /**
   * End this connection (the first reason wins). The phase changes at once, not when `ended`
   * settles: a reader draining a burst synchronously must stop at the very next message; and
   * the engine leaves `open` at once, so `send()` and `state` tell the truth from here on.
   */
  end(end: End): void {
    if (this.phase === 'ended') return;
    this.phase = 'ended';
    if (this.engine.session === this) moveTo(this.engine, 'closing');
    this.ended.resolve(end);
  }

  write(type: MessageType, data: WriteData, signal?: AbortSignal): Promise<void> {
    // A reaction, not an async function: one promise and one microtask fewer per send (about
    // 300 instructions). An adapter that throws still rejects the send, as an async one would.
    const ctx = this.engine;
    let written: Promise<void>;
    try {
      written = this.adapter.write(type, data, signal ? { signal } : undefined);
    } catch (error) {
      return Promise.reject(error);
    }
    // Handed to the transport at once (our adapters' shared settled promise): count it now,
    // with no closure and no reaction.
    if (written === WRITTEN) {
      sent(ctx, data);
      return written;
    }
    return written.then(() => sent(ctx, data));
  }
}

/** What the hooks see of a session: its own `send` (see {@link HookContext.send}), `restart` and `exit`. */
function hookContext(session: Session, handshake: HandshakeResponse): HookContext {
  const hookSend = (type: MessageType, data: WriteData, options?: SendOptions): Promise<void> => {
    if (session.phase === 'opening') return session.write(type, data, options?.signal);
    if (session.engine.session === session && !session.done) return send(session.engine, type, data, options);
    return Promise.reject(new NotConnectedError(`Cannot send: connection ${session.id} has ended`));
  };
  return {
    adapter: session.adapter,
    connectionId: session.id,
    attempt: session.attempt,
    reconnect: session.reconnect,
    handshake,
    signal: session.controller.signal,
    send: hookSend,
    sendText: (text, options) => hookSend(MessageType.Text, text, options),
    sendBinary: (data, options) => hookSend(MessageType.Binary, data, options),
    restart: () => {
      if (session.phase === 'opening') session.controller.abort(new RestartRequestedError());
      else session.end({ kind: 'restart' });
    },
    exit: () => void session.engine.stop(),
  };
}

/** Whether a send goes straight to this connection: open, or being opened (the open hooks). */
function writesAtOnce(session: Session): boolean {
  return session.phase === 'open' || session.phase === 'opening';
}

/**
 * `engine.send()`: on the connection being opened (open hooks) or open; into the outbox while it
 * is being flushed or while there is none, when queueing; otherwise a `NotConnectedError` that
 * names the state.
 */
export function send(ctx: EngineContext, type: MessageType, data: WriteData, options: SendOptions = NO_OPTIONS): Promise<void> {
  const session = ctx.session;
  if (session !== undefined && writesAtOnce(session)) return session.write(type, data, options.signal);
  const state = ctx.state;
  const stopping = ctx.life.signal.aborted;
  if (ctx.outbox && state !== 'stopped' && !stopping) {
    try {
      normalizeWriteData(type, data);
    } catch (error) {
      return Promise.reject(error);
    }
    return ctx.outbox.enqueue(type, data, options);
  }
  return Promise.reject(new NotConnectedError(`Cannot send: the engine is ${stopping && state !== 'stopped' ? 'stopping' : state}`));
}

/**
 * `engine.trySend()`: on the connection being opened or open, handed over at once (counted), or
 * nothing sent and `false`: while disconnected, while the outbox is flushed, while the adapter
 * holds earlier writes or its buffer is full, or when the adapter has no `tryWrite`.
 */
export function trySend(ctx: EngineContext, type: MessageType, data: WriteData): boolean {
  const session = ctx.session;
  const adapter = session?.adapter;
  if (adapter?.tryWrite !== undefined && writesAtOnce(session!)) {
    if (!adapter.tryWrite(type, data)) return false;
    sent(ctx, data);
    return true;
  }
  // Wrong data is refused whatever the state, as send() refuses it.
  normalizeWriteData(type, data);
  return false;
}

/** One attempt: dial, then the open hooks, within `openTimeout`; aborted with `parent`. */
export async function open(ctx: EngineContext, attempt: number, reconnect: boolean, parent: AbortSignal): Promise<Session> {
  if (parent.aborted) throw parent.reason;
  moveTo(ctx, 'connecting');
  ctx.events.emit('connecting', { attempt });
  const { options, policy } = ctx;
  const controller = new AbortController();
  const { signal } = controller;
  const off = onAbort(parent, () => controller.abort(parent.reason));
  const timeout = globalThis.setTimeout(() => controller.abort(new OpenTimeoutError(policy.openTimeout)), policy.openTimeout);
  let session: Session | undefined;
  let span: ((error?: unknown) => void) | undefined;
  // A value, a promise or a function making either (the url and headers options), within the attempt.
  const settle = <T>(value: T | (() => T | Promise<T>) | Promise<T>): Promise<T> =>
    raceSignal(Promise.resolve(typeof value === 'function' ? (value as () => T | Promise<T>)() : value), signal);
  try {
    const href = parseWebSocketUrl(await settle(options.url)).href;
    span = ctx.tracing?.connect(href, attempt);
    const headers = await settle(options.headers);
    const dialler = options.adapter();
    const dialling = dialler.dial(href, { signal, headers, protocols: options.protocols });
    // The dial won after the attempt was abandoned: drop that connection.
    dialling.then(() => signal.aborted && !session && drop(dialler), noop);
    const handshake = await settle(dialling);
    session = ctx.session = new Session(ctx, dialler, handshake, attempt, reconnect, controller);
    if (options.onOpen) await settle(options.onOpen(session.ctx));
    for (const hook of ctx.openHooks) await settle(hook(session.ctx));
    span?.();
    return session;
  } catch (error) {
    const failure = signal.aborted ? signal.reason : error;
    span?.(failure);
    if (session) {
      session.phase = 'ended';
      if (ctx.session === session) ctx.session = undefined;
      drop(session.adapter);
    }
    ctx.metrics.failedAttempts++;
    throw failure;
  } finally {
    globalThis.clearTimeout(timeout);
    off();
  }
}

/** Run an opened session until it ends, then tear it down; resolves with why it ended. */
export async function serve(session: Session): Promise<End> {
  const ctx = session.engine;
  const { metrics, events, outbox } = ctx;
  session.openedAt = Date.now();
  metrics.connects++;
  if (session.reconnect) metrics.reconnects++;
  const flushing = outbox !== undefined && outbox.length > 0;
  session.phase = flushing ? 'flushing' : 'open';
  moveTo(ctx, 'open');
  events.emit('open', {
    attempt: session.attempt,
    reconnect: session.reconnect,
    connectionId: session.id,
    handshake: session.ctx.handshake,
  });
  if (ctx.heartbeat.mode !== 'off' && !session.done) {
    session.heartbeat = startHeartbeat(ctx.heartbeat, session.adapter, {
      dead: (error) => {
        metrics.heartbeatTimeouts++;
        events.emit('heartbeat-timeout', error, session.id);
        session.end({ kind: 'heartbeat', error });
      },
      rtt: (rttMs) => {
        metrics.lastRttMs = rttMs;
        events.emit('pong', rttMs);
      },
      gone: (error) => session.end({ kind: 'lost', error }),
    });
  }
  void read(session);
  if (flushing) {
    // The flush lives with the outbox, so that an app without one does not carry it.
    void outbox.flush(
      (type, data) => session.write(type, data),
      () => session.phase === 'flushing',
      () => {
        if (!session.done) session.phase = 'open';
      },
    );
  }
  const end = await session.ended.promise;
  await teardown(session, end);
  return end;
}

async function teardown(session: Session, end: End): Promise<void> {
  const ctx = session.engine;
  session.heartbeat?.stop();
  const uptimeMs = Date.now() - session.openedAt;
  ctx.session = undefined;
  let info: CloseInfo;
  if (end.kind === 'lost') {
    const error = end.error;
    const closed = error instanceof WebSocketCloseError;
    info = { code: closed ? error.code : 1006, reason: closed ? error.reason : '', initiator: 'remote', error };
    // A read failure that is not a close: make sure the socket goes too.
    if (!closed) await close(session, NORMAL_CLOSURE, '', true);
    await closeHook(session, info);
  } else {
    const planned: CloseInfo =
      end.kind === 'heartbeat'
        ? { code: GOING_AWAY, reason: 'heartbeat timeout', initiator: 'local', error: end.error }
        : end.kind === 'restart'
          ? { code: NORMAL_CLOSURE, reason: 'restart', initiator: 'local', error: new RestartRequestedError() }
          : { code: NORMAL_CLOSURE, reason: '', initiator: 'local', error: undefined };
    const choice = await closeHook(session, planned);
    info = { ...planned, code: choice?.code ?? planned.code, reason: choice?.reason ?? planned.reason };
    // A dead connection will not answer: send the close frame without waiting for one back.
    await close(session, info.code, info.reason, end.kind === 'heartbeat');
  }
  session.controller.abort(new EngineStoppedError('The connection ended'));
  ctx.events.emit('close', { ...info, connectionId: session.id, uptimeMs });
}

async function closeHook(session: Session, info: CloseInfo): Promise<CloseChoice | void> {
  const ctx = session.engine;
  const hook = ctx.options.onClose;
  if (!hook) return undefined;
  try {
    return await hook(info, session.ctx);
  } catch (error) {
    ctx.report(error);
    return undefined;
  }
}

async function close(session: Session, code: number, reason: string, noWait: boolean): Promise<void> {
  const ctx = session.engine;
  const controller = new AbortController();
  let timer: ReturnType<typeof globalThis.setTimeout> | undefined;
  if (noWait) controller.abort();
  else timer = globalThis.setTimeout(() => controller.abort(), ctx.closeTimeout);
  const span = ctx.tracing?.close(code);
  try {
    await session.adapter.close(code, reason, { signal: controller.signal });
    span?.();
  } catch (error) {
    span?.(error);
    if (error instanceof InvalidArgumentError && (code !== NORMAL_CLOSURE || reason !== '')) {
      // The close hook chose a code or reason that may not be sent: report it, close normally.
      closeError(session, error);
      return close(session, NORMAL_CLOSURE, '', noWait);
    }
    if (!(error instanceof ConnectionClosedError) && !controller.signal.aborted) closeError(session, error);
  } finally {
    if (timer !== undefined) globalThis.clearTimeout(timer);
  }
}

function closeError(session: Session, error: unknown): void {
  const ctx = session.engine;
  const hook = ctx.options.onCloseError;
  try {
    if (hook) hook(error, session.ctx);
    else ctx.report(error);
  } catch (hookError) {
    ctx.report(hookError);
  }
}
