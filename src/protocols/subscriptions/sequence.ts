/**
 * Sequence numbers per stream: a gap means messages were lost (an order book built from deltas
 * is then wrong until it is resynchronised); a number seen before means a duplicate, typically
 * replayed by the server after a resubscribe, which must not be applied twice.
 */

/**
 * `contiguous`: each message carries the previous number + 1 (an exchange's update ids); a
 * larger jump is a gap. `monotonic`: numbers only grow (timestamps, trade ids); jumps are fine.
 * In both, a number not above the last one seen is a duplicate.
 */
export type SequenceMode = 'contiguous' | 'monotonic';

export type SequenceVerdict =
  | { readonly kind: 'first' }
  | { readonly kind: 'next' }
  | { readonly kind: 'duplicate' }
  | { readonly kind: 'gap'; readonly expected: number; readonly got: number };

const FIRST: SequenceVerdict = { kind: 'first' };
const NEXT: SequenceVerdict = { kind: 'next' };
const DUPLICATE: SequenceVerdict = { kind: 'duplicate' };

export class SequenceTracker {
  readonly mode: SequenceMode;
  #last: number | undefined;
  /** Duplicates dropped so far. */
  duplicates = 0;
  /** Gaps seen so far. */
  gaps = 0;

  constructor(mode: SequenceMode, last?: number) {
    this.mode = mode;
    this.#last = last;
  }

  /** The last number accepted. */
  get last(): number | undefined {
    return this.#last;
  }

  /** Judge `seq`; a first, next or gap message is accepted (becomes the last), a duplicate is not. */
  check(seq: number): SequenceVerdict {
    const last = this.#last;
    if (last === undefined) {
      this.#last = seq;
      return FIRST;
    }
    if (seq <= last) {
      this.duplicates++;
      return DUPLICATE;
    }
    this.#last = seq;
    if (this.mode === 'contiguous' && seq !== last + 1) {
      this.gaps++;
      return { kind: 'gap', expected: last + 1, got: seq };
    }
    return NEXT;
  }

  /** Forget the last number: the next message starts afresh (after a snapshot, say). */
  reset(last?: number): void {
    this.#last = last;
  }
}
