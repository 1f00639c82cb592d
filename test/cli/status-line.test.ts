/** The live status line and the rate meter behind the demo's summary line. */
import { describe, expect, it } from 'vitest';
import { formatLiveSummary } from '../../src/cli/demo.js';
import { RateMeter, StatusLine } from '../../src/cli/status-line.js';

function output(isTTY: boolean, columns = 80) {
  const chunks: string[] = [];
  return { chunks, isTTY, columns, write: (text: string) => chunks.push(text) };
}

describe('StatusLine', () => {
  it('on a terminal, keeps the status under printed lines and redraws it in place', () => {
    const out = output(true);
    const status = new StatusLine(out);
    expect(status.live).toBe(true);
    status.print('first\n');
    status.set('open | 1 msg/s');
    status.print('second\n');
    status.set('open | 2 msg/s');
    status.clear();
    expect(out.chunks).toEqual([
      'first\n',
      'open | 1 msg/s',
      '\r\x1b[2Ksecond\nopen | 1 msg/s',
      '\r\x1b[2Kopen | 2 msg/s',
      '\r\x1b[2K',
    ]);
  });

  it('cuts a status wider than the terminal, so it never wraps', () => {
    const out = output(true, 20);
    new StatusLine(out).set('x'.repeat(50));
    expect(out.chunks).toEqual(['x'.repeat(19)]);
  });

  it('elsewhere, writes the printed lines as they are and no status', () => {
    const out = output(false);
    const status = new StatusLine(out);
    status.print('first\n');
    status.set('open | 1 msg/s');
    status.print('second\n');
    status.clear();
    expect(out.chunks).toEqual(['first\n', 'second\n']);
  });
});

describe('RateMeter', () => {
  it('counts per second over the window', () => {
    const meter = new RateMeter(1000);
    expect(meter.sample(0, 0)).toBe(0);
    expect(meter.sample(5, 500)).toBe(10);
    expect(meter.sample(10, 1000)).toBe(10);
    // The window slides: the samples older than it are dropped, but for the one that starts it.
    expect(meter.sample(10, 2000)).toBe(0);
    expect(meter.sample(30, 2500)).toBeCloseTo((20 * 1000) / 1500, 5);
  });
});

describe('formatLiveSummary', () => {
  it('shows state, messages/s, reconnects, gaps, last RTT and elapsed time', () => {
    expect(formatLiveSummary({ state: 'open', messagesPerSecond: 3.96, reconnects: 1, gaps: 0, rttMs: 1.4, elapsedMs: 12_400 })).toBe(
      'open | 4.0 msg/s | 1 reconnect | 0 gaps | rtt 1 ms | 12 s',
    );
    expect(formatLiveSummary({ state: 'reconnecting', messagesPerSecond: 0, reconnects: 2, gaps: 1, rttMs: undefined, elapsedMs: 0 })).toBe(
      'reconnecting | 0.0 msg/s | 2 reconnects | 1 gap | rtt - | 0 s',
    );
  });
});
