/**
 * The deadlines of the requests in flight, behind one timer. A timer per request (a `setTimeout`
 * on the way out, a `clearTimeout` with the reply) cost about 1,200 instructions of a round trip
 * of about 38,000 over the ws adapter; here a request joins and leaves a linked list instead.
 *
 * Requests with the same timeout are due in the order they were made, so each timeout has a list
 * in that order (appending keeps it sorted); the timer is armed for the earliest head of all lists.
 * A request that settles leaves its list at once, so nothing settled stays behind however many
 * requests pass; once none is left, the timer is cleared. A timer that fires for a head that has
 * settled meanwhile finds nothing due and is armed for the next one.
 */

/** What a deadline list holds: the request's own links, so joining and leaving allocate nothing. */
export interface Timed {
  /** Creation order: requests due at the same time expire in it. */
  readonly id: number;
  readonly timeoutMs: number;
  /** `Date.now()` at which it expires. */
  readonly deadline: number;
  dueList: DueList | undefined;
  duePrev: Timed | undefined;
  dueNext: Timed | undefined;
}

export interface DueList {
  head: Timed | undefined;
  tail: Timed | undefined;
}

export class Deadlines<T extends Timed> {
  /** One list per timeout, in order of deadline. */
  private readonly lists = new Map<number, DueList>();
  private count = 0;
  private timer: ReturnType<typeof globalThis.setTimeout> | undefined;
  /** The deadline the timer is armed for; Infinity while it is not. */
  private armedFor = Infinity;

  constructor(private readonly expire: (item: T) => void) {}

  /** Requests holding a deadline. */
  get size(): number {
    return this.count;
  }

  /** Add `item` (its `deadline` set, `Date.now()` being `now`); it expires unless removed first. */
  add(item: T, now: number): void {
    let list = this.lists.get(item.timeoutMs);
    if (list === undefined) {
      list = { head: undefined, tail: undefined };
      this.lists.set(item.timeoutMs, list);
    }
    const tail = list.tail;
    item.dueList = list;
    item.duePrev = tail;
    item.dueNext = undefined;
    if (tail === undefined) list.head = item;
    else tail.dueNext = item;
    list.tail = item;
    this.count++;
    if (item.deadline < this.armedFor) this.arm(item.deadline, now);
  }

  /** Take `item` out (settled); nothing happens if it holds no deadline. */
  remove(item: T): void {
    const list = item.dueList;
    if (list === undefined) return;
    const prev = item.duePrev;
    const next = item.dueNext;
    if (prev === undefined) list.head = next;
    else prev.dueNext = next;
    if (next === undefined) list.tail = prev;
    else next.duePrev = prev;
    item.dueList = undefined;
    item.duePrev = undefined;
    item.dueNext = undefined;
    if (list.head === undefined) this.lists.delete(item.timeoutMs);
    if (--this.count === 0 && this.timer !== undefined) {
      globalThis.clearTimeout(this.timer);
      this.timer = undefined;
      this.armedFor = Infinity;
    }
  }

  private arm(deadline: number, now: number): void {
    if (this.timer !== undefined) globalThis.clearTimeout(this.timer);
    this.armedFor = deadline;
    this.timer = globalThis.setTimeout(this.fire, Math.max(0, deadline - now));
  }

  private readonly fire = (): void => {
    // The timer waited its whole delay: what it was armed for is due even if the clock was set back.
    const now = Math.max(Date.now(), this.armedFor);
    this.timer = undefined;
    this.armedFor = Infinity;
    const due: T[] = [];
    for (const list of this.lists.values()) {
      for (let item = list.head; item !== undefined && item.deadline <= now; item = item.dueNext) due.push(item as T);
    }
    // Several lists: in order of deadline, then of creation (as timers of their own would fire).
    if (due.length > 1) due.sort((a, b) => a.deadline - b.deadline || a.id - b.id);
    for (const item of due) {
      // An earlier expiry may have settled it (a listener, a batch).
      if (item.dueList === undefined) continue;
      this.remove(item);
      this.expire(item);
    }
    let next = Infinity;
    for (const list of this.lists.values()) if (list.head !== undefined && list.head.deadline < next) next = list.head.deadline;
    if (next < this.armedFor) this.arm(next, Date.now());
  };
}
