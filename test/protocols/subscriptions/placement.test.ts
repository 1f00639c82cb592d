import { describe, expect, it } from 'vitest';
import { chooseSlot, planMoves } from '../../../src/protocols/subscriptions/placement.js';

const limits = { maxPerConnection: 3, maxConnections: 3 };
const up = (hosted: number) => ({ usable: true, hosted });
const down = (hosted: number) => ({ usable: false, hosted });

describe('placement', () => {
  it('spreads over usable connections with room, least loaded first, lowest index on a tie', () => {
    expect(chooseSlot([up(1), up(0), up(0)], limits)).toBe(1);
    expect(chooseSlot([up(2), up(2)], limits)).toBe(0);
    expect(chooseSlot([down(0), up(2)], limits)).toBe(1);
  });

  it('opens a new connection only when every usable one is full, up to maxConnections', () => {
    expect(chooseSlot([up(3), up(3)], limits)).toBe(2);
    expect(chooseSlot([up(3), up(3), up(3)], limits)).toBe(-1);
    expect(chooseSlot([up(3), down(0)], limits, { allowNew: false })).toBe(-1);
    expect(chooseSlot([], limits)).toBe(0);
  });

  it('moves a failed connection\'s subscriptions within the others\' caps; the rest stay', () => {
    const slots = [down(3), up(1), up(2)];
    expect(planMoves(slots, limits, 0, 3)).toEqual([1, 1, 2]);
    expect(planMoves([down(3), up(3), up(2)], limits, 0, 3)).toEqual([2, -1, -1]);
  });

  it('never plans more than a connection can take, whatever the count', () => {
    const big = { maxPerConnection: 1024, maxConnections: 4 };
    const slots = [up(750), down(750), up(750), up(750)];
    const plan = planMoves(slots, big, 1, 750);
    const per = [0, 0, 0, 0];
    for (const target of plan) per[target]!++;
    expect(per).toEqual([250, 0, 250, 250]);
    const tight = planMoves([up(1000), down(1024), up(1020)], { maxPerConnection: 1024, maxConnections: 3 }, 1, 1024);
    expect(tight.filter((t) => t >= 0)).toHaveLength(28);
  });
});
