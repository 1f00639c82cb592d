import { describe, expect, it } from 'vitest';
import { SequenceTracker } from '../../../src/protocols/subscriptions/sequence.js';

describe('SequenceTracker', () => {
  it('contiguous: accepts n+1, reports a jump as a gap and accepts it, drops what it has seen', () => {
    const t = new SequenceTracker('contiguous');
    expect(t.check(5)).toEqual({ kind: 'first' });
    expect(t.check(6)).toEqual({ kind: 'next' });
    expect(t.check(9)).toEqual({ kind: 'gap', expected: 7, got: 9 });
    expect(t.check(10)).toEqual({ kind: 'next' });
    expect(t.check(8)).toEqual({ kind: 'duplicate' });
    expect(t.check(10)).toEqual({ kind: 'duplicate' });
    expect(t.last).toBe(10);
    expect(t.duplicates).toBe(2);
    expect(t.gaps).toBe(1);
  });

  it('monotonic: jumps are fine, repeats and regressions are duplicates', () => {
    const t = new SequenceTracker('monotonic');
    t.check(100);
    expect(t.check(250)).toEqual({ kind: 'next' });
    expect(t.check(250)).toEqual({ kind: 'duplicate' });
    expect(t.check(120)).toEqual({ kind: 'duplicate' });
    expect(t.gaps).toBe(0);
  });

  it('carries a last number over (a moved subscription) and can be reset', () => {
    const t = new SequenceTracker('contiguous', 41);
    expect(t.check(41)).toEqual({ kind: 'duplicate' });
    expect(t.check(42)).toEqual({ kind: 'next' });
    t.reset();
    expect(t.check(7)).toEqual({ kind: 'first' });
  });
});
