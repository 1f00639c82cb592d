import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InvalidOptionError } from '../../../src/engine/errors.js';
import { TokenBucket } from '../../../src/protocols/subscriptions/rate-limit.js';

describe('TokenBucket', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('allows a burst of `count`, then one token every per/count ms', () => {
    const bucket = new TokenBucket({ count: 10, per: 1000 });
    let taken = 0;
    while (bucket.tryTake()) taken++;
    expect(taken).toBe(10);
    expect(bucket.delayFor()).toBe(100);
    vi.advanceTimersByTime(99);
    expect(bucket.tryTake()).toBe(false);
    vi.advanceTimersByTime(1);
    expect(bucket.tryTake()).toBe(true);
    expect(bucket.tryTake()).toBe(false);
  });

  it('never saves more than `burst` tokens', () => {
    const bucket = new TokenBucket({ count: 10, per: 1000, burst: 3 });
    vi.advanceTimersByTime(10_000);
    let taken = 0;
    while (bucket.tryTake()) taken++;
    expect(taken).toBe(3);
  });

  it('serves waiters in call order at the refill rate', async () => {
    const bucket = new TokenBucket({ count: 2, per: 100 });
    const order: Array<[number, number]> = [];
    const start = Date.now();
    const all = Array.from({ length: 6 }, (_, i) => bucket.take().then(() => order.push([i, Date.now() - start])));
    await vi.advanceTimersByTimeAsync(200);
    await Promise.all(all);
    expect(order.map(([i]) => i)).toEqual([0, 1, 2, 3, 4, 5]);
    // Two at once, then one per 50 ms.
    expect(order.map(([, t]) => t)).toEqual([0, 0, 50, 100, 150, 200]);
  });

  it('an aborted waiter leaves the line and the next one is served', async () => {
    const bucket = new TokenBucket({ count: 1, per: 100 });
    expect(bucket.tryTake()).toBe(true);
    const controller = new AbortController();
    const first = bucket.take(1, controller.signal);
    const second = bucket.take();
    controller.abort(new Error('gone'));
    await expect(first).rejects.toThrow('gone');
    expect(bucket.waiting).toBe(1);
    await vi.advanceTimersByTimeAsync(100);
    await expect(second).resolves.toBeUndefined();
  });

  it('cancelAll rejects waiters and leaves no timer', async () => {
    const bucket = new TokenBucket({ count: 1, per: 1000 });
    bucket.tryTake();
    const waiting = bucket.take();
    bucket.cancelAll(new Error('stopped'));
    await expect(waiting).rejects.toThrow('stopped');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('validates its options, naming the field', () => {
    expect(() => new TokenBucket({ count: 0, per: 1000 })).toThrow(InvalidOptionError);
    expect(() => new TokenBucket({ count: 1, per: Number.NaN })).toThrow(/rate\.per/);
    expect(() => new TokenBucket({ count: 1, per: 1, burst: 0 })).toThrow(/rate\.burst/);
    expect(() => new TokenBucket({ count: 1, per: 2 ** 32 })).toThrow(/rate\.per/);
  });
});
