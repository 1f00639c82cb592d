/**
 * `wsengine demo`: run in-process against its embedded feed server, ended by the test once every
 * kind of fault has been ridden out, and its summary checked.
 */
import { describe, expect, it } from 'vitest';
import { formatSummary, parseDemoArgs, parseDuration, runDemo, SequenceTracker } from '../../src/cli/demo.js';

describe('demo', () => {
  it('rides out a reset, a 1012 close and a silent server, without losing a tick', async () => {
    const controller = new AbortController();
    const text: string[] = [];
    let sawHeartbeat = false;
    const out = {
      write(chunk: string) {
        text.push(chunk);
        if (chunk.includes(' heartbeat ')) sawHeartbeat = true;
        // Once the heartbeat has found the silent connection dead and a new one is open, stop.
        if (sawHeartbeat && chunk.includes(' open ')) controller.abort();
      },
    };
    const summary = await runDemo({
      durationMs: 15_000,
      tickMs: 10,
      dropEveryMs: 500,
      heartbeatMs: 100,
      resume: true,
      adapter: 'ws',
      out,
      signal: controller.signal,
    });
    expect(controller.signal.aborted).toBe(true);
    expect(summary.faults.reset).toBeGreaterThanOrEqual(1);
    expect(summary.faults.restart).toBeGreaterThanOrEqual(1);
    expect(summary.faults.silence).toBeGreaterThanOrEqual(1);
    expect(summary.heartbeatTimeouts).toBeGreaterThanOrEqual(1);
    expect(summary.reconnects).toBeGreaterThanOrEqual(3);
    expect(summary.connections).toBe(summary.reconnects + 1);
    expect(summary.messages).toBeGreaterThan(0);
    // The open hook resumes after the last tick seen: nothing is missing.
    expect(summary.gaps).toBe(0);
    expect(summary.missed).toBe(0);
    const output = text.join('');
    expect(output).toMatch(/close\s+1006 \(connection lost\) \[remote\]/);
    expect(output).toMatch(/close\s+1012 service restart \[remote\]/);
    expect(output).toMatch(/close\s+1001 heartbeat timeout \[local\]/);
    expect(output).toContain('Summary after');
    expect(output).toContain('gaps:               0 (0 ticks missed)');
  });

  it('ends by itself after --duration', async () => {
    const text: string[] = [];
    const summary = await runDemo({
      durationMs: 300,
      tickMs: 20,
      dropEveryMs: 10_000,
      resume: true,
      adapter: 'ws',
      out: { write: (chunk: string) => text.push(chunk) },
      signal: new AbortController().signal,
    });
    expect(summary.connections).toBe(1);
    expect(summary.durationMs).toBeGreaterThanOrEqual(300);
    expect(text.join('')).toContain('Summary after');
  });
});

describe('SequenceTracker', () => {
  it('counts gaps and the ticks they miss', () => {
    const tracker = new SequenceTracker();
    expect(tracker.see(1)).toBeUndefined();
    expect(tracker.see(2)).toBeUndefined();
    expect(tracker.see(5)).toEqual({ from: 3, to: 4 });
    expect(tracker.see(6)).toBeUndefined();
    expect(tracker.see(8)).toEqual({ from: 7, to: 7 });
    expect(tracker).toMatchObject({ messages: 5, gaps: 2, missed: 3, last: 8 });
  });
});

describe('arguments', () => {
  it('parses durations and flags', () => {
    expect(parseDuration('20s', 'duration')).toBe(20_000);
    expect(parseDuration('1500ms', 'duration')).toBe(1500);
    expect(parseDuration('1m', 'duration')).toBe(60_000);
    expect(parseDuration('2', 'duration')).toBe(2000);
    expect(() => parseDuration('soon', 'duration')).toThrow('--duration');
    expect(parseDemoArgs([])).toEqual({ durationMs: 20_000, tickMs: 250, dropEveryMs: 4000, resume: true, adapter: 'ws' });
    expect(parseDemoArgs(['--duration', '5s', '--no-resume', '--adapter', 'native'])).toMatchObject({
      durationMs: 5000,
      resume: false,
      adapter: 'native',
    });
    expect(parseDemoArgs(['--help'])).toBeUndefined();
    expect(() => parseDemoArgs(['--adapter', 'x'])).toThrow('--adapter');
  });

  it('formats the summary', () => {
    const text = formatSummary(
      {
        durationMs: 20_000,
        connections: 6,
        reconnects: 5,
        messages: 80,
        gaps: 2,
        missed: 7,
        heartbeatTimeouts: 1,
        faults: { reset: 2, restart: 2, silence: 1 },
      },
      false,
    );
    expect(text).toContain('Summary after 20.0 s');
    expect(text).toContain('6 (5 reconnects, 1 found dead by the heartbeat)');
    expect(text).toContain('2 (7 ticks missed)');
  });
});
