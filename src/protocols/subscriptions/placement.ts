/**
 * Where a pool puts a subscription: pure decisions, kept apart from the connections so that
 * they can be checked on their own.
 */

/** What placement needs to know about one connection of the pool. */
export interface SlotLoad {
  /** It can take subscriptions: open, or still opening for the first time (not down, not stopped). */
  readonly usable: boolean;
  /** Subscriptions it holds now. */
  readonly hosted: number;
}

export interface PlacementLimits {
  readonly maxPerConnection: number;
  readonly maxConnections: number;
}

/**
 * The connection for one more subscription: the least loaded usable one with room (the lowest
 * index on a tie), else a new one (`slots.length`) when `allowNew` and `maxConnections` allow,
 * else -1. Spreading rather than filling keeps room everywhere for the subscriptions of a
 * connection that fails.
 */
export function chooseSlot(
  slots: readonly SlotLoad[],
  limits: PlacementLimits,
  options: { readonly allowNew?: boolean; readonly exclude?: number } = {},
): number {
  let best = -1;
  for (let i = 0; i < slots.length; i++) {
    const slot = slots[i]!;
    if (i === options.exclude || !slot.usable || slot.hosted >= limits.maxPerConnection) continue;
    if (best === -1 || slot.hosted < slots[best]!.hosted) best = i;
  }
  if (best !== -1) return best;
  if ((options.allowNew ?? true) && slots.length < limits.maxConnections) return slots.length;
  return -1;
}

/**
 * Where the subscriptions of a failed connection go: for each of `count` subscriptions, the
 * connection chosen (least loaded with room, never `failed`, never a new one), or -1 when no
 * room is left (those stay with the failed connection and come back with it).
 */
export function planMoves(slots: readonly SlotLoad[], limits: PlacementLimits, failed: number, count: number): number[] {
  const loads = slots.map((slot) => ({ usable: slot.usable, hosted: slot.hosted }));
  const out: number[] = [];
  for (let k = 0; k < count; k++) {
    const target = chooseSlot(loads, limits, { allowNew: false, exclude: failed });
    out.push(target);
    if (target >= 0) loads[target]!.hosted++;
  }
  return out;
}
