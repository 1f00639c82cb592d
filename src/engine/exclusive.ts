/**
 * A read mutex: `exclusive(engine, fn)`. A separate function, so that an app that never takes
 * the reads over does not ship the handover.
 */
import type { WebSocketConnectionAdapter } from '../adapters/types.js';
import { contextOf, type Engine, type HookContext } from './engine.js';
import { NotConnectedError } from './errors.js';
import { hold, holderView } from './reader.js';
import type { Session } from './session.js';

function live(session: Session | undefined): session is Session {
  return session !== undefined && (session.phase === 'open' || session.phase === 'flushing');
}

/**
 * Run `fn` with the adapter while the engine holds its reads, from this call on: the engine
 * finishes delivering the message in hand, then delivers nothing until `fn` settles, so `fn` can
 * exchange messages with the server directly (a message that arrives after the call is `fn`'s).
 * A read the engine had in flight is handed over: it is `fn`'s first read, so nothing is lost or
 * reordered. Calls are served one at a time. Rejects with `NotConnectedError`
 * when no connection is open. Do not await it inside the message hook with
 * `delivery.concurrency` 1: the hook already owns the reads there (it would wait for itself);
 * use `ctx.adapter` directly instead.
 */
export function exclusive<T>(
  engine: Engine,
  fn: (adapter: WebSocketConnectionAdapter, ctx: HookContext) => T | Promise<T>,
): Promise<T> {
  const ctx = contextOf(engine);
  if (!live(ctx.session)) return Promise.reject(new NotConnectedError());
  return hold(ctx, () => {
    const session = ctx.session;
    if (!live(session)) throw new NotConnectedError();
    return fn(holderView(session), session.ctx);
  });
}
