/**
 * Outstanding pings of one connection, each waiting for its pong. The transport sends the ping
 * frame with a payload derived from the id it gets here, and reports each pong's id back.
 */
import { abortReason } from '../signals.js';

interface PendingPing {
  readonly id: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: (() => void) | undefined;
}

export class PingRegistry {
  private next = 1;
  /** In send order, so ids ascend. */
  private pending: PendingPing[] = [];

  /** Pings waiting for their pong. */
  get size(): number {
    return this.pending.length;
  }

  /**
   * Register a ping: `send(id)` is called at once to put the frame on the wire; the promise
   * resolves on the matching pong, or rejects with the signal's reason (the ping is then
   * forgotten) or with the error given to {@link fail}. If `send` throws, the ping is forgotten
   * and the promise rejects with that error.
   */
  add(signal: AbortSignal | undefined, send: (id: number) => void): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const id = this.next++;
    return new Promise<void>((resolve, reject) => {
      let onAbort: (() => void) | undefined;
      if (signal) {
        onAbort = () => {
          this.remove(id);
          reject(abortReason(signal));
        };
        signal.addEventListener('abort', onAbort, { once: true });
      }
      const entry: PendingPing = { id, resolve, reject, signal, onAbort };
      this.pending.push(entry);
      try {
        send(id);
      } catch (error) {
        this.remove(id);
        this.settle(entry);
        reject(error);
      }
    });
  }

  /**
   * A pong for ping `id` arrived. RFC 6455 section 5.5.3: a peer may answer only the most
   * recent of several pings, so it answers every ping sent before it too. A pong that matches
   * nothing (unsolicited, or for a forgotten ping) is ignored; returns whether it matched.
   */
  answer(id: number): boolean {
    const index = this.pending.findIndex((ping) => ping.id === id);
    if (index < 0) return false;
    for (const ping of this.pending.splice(0, index + 1)) {
      this.settle(ping);
      ping.resolve();
    }
    return true;
  }

  /** Reject one ping (its frame could not be sent). */
  reject(id: number, error: unknown): void {
    const ping = this.pending.find((p) => p.id === id);
    if (!ping) return;
    this.remove(id);
    this.settle(ping);
    ping.reject(error);
  }

  /** Reject every outstanding ping (the connection closed). */
  fail(error: unknown): void {
    const pings = this.pending;
    this.pending = [];
    for (const ping of pings) {
      this.settle(ping);
      ping.reject(error);
    }
  }

  private remove(id: number): void {
    const index = this.pending.findIndex((ping) => ping.id === id);
    if (index >= 0) this.pending.splice(index, 1);
  }

  private settle(ping: PendingPing): void {
    if (ping.onAbort) ping.signal!.removeEventListener('abort', ping.onAbort);
  }
}
