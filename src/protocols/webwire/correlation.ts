/**
 * Request ids and the table of requests awaiting a reply. WebWire ids are 8 opaque bytes the
 * client chooses and the server echoes; like webwire-go's own client we count up from 1 and write
 * the counter little-endian. The table is keyed by the counter, so a reply's id is checked in one
 * step: ours and pending, ours but given up (a late reply after a timeout or an abort), or never
 * ours.
 *
 * Shaped like a generic request/reply correlator (`next`, `add`, `take`, `drain`), so it can
 * later be swapped for a shared one that accepts a key extractor.
 */
import { ID_LENGTH } from './messages.js';

/** Turn a counter into the 8-byte little-endian id. */
export function idBytes(counter: number): Uint8Array {
  const id = new Uint8Array(ID_LENGTH);
  const view = new DataView(id.buffer);
  view.setUint32(0, counter >>> 0, true);
  view.setUint32(4, Math.floor(counter / 0x1_0000_0000), true);
  return id;
}

/** The counter an id encodes, or -1 when it cannot be one of ours. */
export function idCounter(id: Uint8Array): number {
  if (id.length !== ID_LENGTH) return -1;
  const view = new DataView(id.buffer, id.byteOffset, ID_LENGTH);
  const high = view.getUint32(4, true);
  // Beyond 2^53 the counter would not be exact; we never get there.
  if (high >= 0x20_0000) return -1;
  return high * 0x1_0000_0000 + view.getUint32(0, true);
}

export class Correlator<Entry> {
  readonly #pending = new Map<number, Entry>();
  #last = 0;

  /** A fresh id: its counter (the key) and its bytes. */
  next(): { key: number; id: Uint8Array } {
    const key = ++this.#last;
    return { key, id: idBytes(key) };
  }

  add(key: number, entry: Entry): void {
    this.#pending.set(key, entry);
  }

  /** The entry awaiting `key`, removed from the table. */
  take(key: number): Entry | undefined {
    const entry = this.#pending.get(key);
    if (entry !== undefined) this.#pending.delete(key);
    return entry;
  }

  /** Forget an entry (timed out, aborted). */
  delete(key: number): void {
    this.#pending.delete(key);
  }

  /** Whether `key` was handed out by this correlator (pending or not). */
  issued(key: number): boolean {
    return key >= 1 && key <= this.#last;
  }

  get size(): number {
    return this.#pending.size;
  }

  /** Every pending entry, removed from the table. */
  drain(): Entry[] {
    const entries = [...this.#pending.values()];
    this.#pending.clear();
    return entries;
  }
}
