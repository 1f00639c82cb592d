/**
 * The fault matrix for one adapter: the engine, through the fault proxy, against each fault the
 * proxy injects plus a server restart. For every fault it must recover by itself; a black hole
 * must be detected within heartbeat interval + timeout + DETECTION_MARGIN_MS (measured from the
 * engine's own event timestamps); no rejection may go unhandled; after stop() no socket or timer
 * of the client remains (the process's active resources return to what they were before the
 * server, the proxy and the engine existed); and what arrived passes checkDelivery (every
 * message of a connection once, in order; the gap across each reconnect is reported).
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AdapterFactory } from '../../src/adapters/types.js';
import type { FaultProxy } from '../../src/testing/fault-proxy.js';
import {
  checkDelivery,
  DETECTION_MARGIN_MS,
  HEARTBEAT,
  Ledger,
  startSequenceServer,
  Subject,
  type SequenceServer,
} from './harness.js';
import { FaultProxy as Proxy } from '../../src/testing/fault-proxy.js';

interface Context {
  readonly subject: Subject;
  readonly proxy: FaultProxy;
  server: SequenceServer;
}

interface Fault {
  readonly name: string;
  /** Whether the fault ends the connection (else the same connection must carry on). */
  readonly reconnects: boolean;
  /** Applied before start() (a path that is bad from the first byte). */
  readonly before?: (proxy: FaultProxy) => void;
  /** Injected once messages flow; resolves when the fault has had its effect. */
  readonly inject: (context: Context) => Promise<void>;
}

const FAULTS: Fault[] = [
  { name: 'pass through', reconnects: false, inject: async () => {} },
  {
    name: 'reset (RST both ways)',
    reconnects: true,
    inject: async ({ proxy }) => proxy.reset(),
  },
  {
    name: 'black hole (half-open, no FIN, no RST)',
    reconnects: true,
    inject: async ({ proxy, subject }) => {
      const at = Date.now();
      proxy.blackhole();
      await subject.until(() => subject.heartbeatTimeouts.length > 0);
      const detectedIn = subject.heartbeatTimeouts[0]! - at;
      expect(detectedIn).toBeLessThanOrEqual(HEARTBEAT.interval + HEARTBEAT.timeout + DETECTION_MARGIN_MS);
    },
  },
  {
    name: 'delay (40 ms each way)',
    reconnects: false,
    inject: async ({ proxy }) => proxy.setDelay(40),
  },
  {
    name: 'throttled bandwidth (20 KB/s)',
    reconnects: false,
    inject: async ({ proxy }) => proxy.setBandwidth(20_000),
  },
  {
    name: 'one-byte segments, from the handshake on',
    reconnects: false,
    before: (proxy) => proxy.setSegmentSize(1),
    inject: async () => {},
  },
  {
    name: 'refused connections, then accepted again',
    reconnects: true,
    inject: async ({ proxy, subject }) => {
      await proxy.refuse();
      const failed = subject.closes.length;
      proxy.reset();
      await subject.until(() => subject.closes.length > failed);
      // At least one refused attempt before the port opens again.
      await new Promise<void>((resolve) => {
        const off = subject.engine.on('attempt-failed', () => {
          off();
          resolve();
        });
      });
      await proxy.listen();
    },
  },
  {
    name: 'half-close (FIN to the client only)',
    reconnects: true,
    inject: async ({ proxy }) => proxy.halfClose(),
  },
  {
    name: 'server restart on the same port',
    reconnects: true,
    inject: async (context) => {
      const { port, ledger } = context.server;
      await context.server.stop();
      context.server = await startSequenceServer(port, ledger);
    },
  },
];

/** Sockets, servers and timers among the process's active resources. */
function handleCounts(resources: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = { TCPSocketWrap: 0, TCPServerWrap: 0, Timeout: 0 };
  for (const r of resources) if (r in counts) counts[r]!++;
  return counts;
}

/**
 * The counts once closed handles are released (a closed handle leaves the list in the close
 * phase of a later event-loop turn): at most 50 turns. Timers may only be fewer than before
 * (the test runner's own come and go).
 */
async function handlesSettled(baseline: readonly string[]): Promise<Record<string, number>> {
  const want = handleCounts(baseline);
  let now = handleCounts(process.getActiveResourcesInfo());
  for (let turn = 0; turn < 50; turn++) {
    if (now.TCPSocketWrap === want.TCPSocketWrap && now.TCPServerWrap === want.TCPServerWrap && now.Timeout! <= want.Timeout!) {
      return { ...now, Timeout: want.Timeout! };
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
    now = handleCounts(process.getActiveResourcesInfo());
  }
  return now;
}

/** Messages to see on a connection before injecting a fault, and after recovering. */
const BEFORE = 5;
const AFTER = 5;

export function describeFaultMatrix(name: string, createAdapter: AdapterFactory): void {
  describe(`fault matrix: the engine over the ${name} adapter`, () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    afterAll(() => {
      process.off('unhandledRejection', onUnhandled);
    });

    let cleanup: Array<() => Promise<void> | void> = [];
    beforeEach(() => {
      unhandled.length = 0;
    });
    afterEach(async () => {
      for (const clean of cleanup.reverse()) await clean();
      cleanup = [];
    });

    for (const fault of FAULTS) {
      it(fault.name, async () => {
        const baseline = process.getActiveResourcesInfo().sort();
        const ledger = new Ledger();
        const context = {
          server: await startSequenceServer(0, ledger),
        } as { server: SequenceServer; proxy: FaultProxy; subject: Subject };
        cleanup.push(() => context.server.stop());
        const proxy = await Proxy.start({ targetPort: context.server.port });
        cleanup.push(() => proxy.close());
        fault.before?.(proxy);
        const subject = new Subject(proxy.url(), createAdapter);
        cleanup.push(() => subject.engine.stop());
        Object.assign(context, { proxy, subject });

        await subject.engine.start();
        await subject.messagesOnLatest(BEFORE);
        await fault.inject(context as Context);
        if (fault.reconnects) {
          await subject.until(() => subject.opens.length >= 2);
        } else {
          // The same connection carries on through the fault.
          await subject.until(() => subject.received.length >= BEFORE + AFTER);
          expect(subject.opens).toHaveLength(1);
        }
        await subject.messagesOnLatest(AFTER);
        proxy.heal();

        await subject.engine.stop();
        // Every client socket is closed (a replaced connection's too), then the rest goes.
        await proxy.clientsClosed();
        await proxy.close();
        await context.server.stop();
        expect(await handlesSettled(baseline)).toEqual(handleCounts(baseline));

        const report = checkDelivery(subject.received, ledger.written);
        expect(report.connections).toBe(fault.reconnects ? subject.opens.length : 1);
        expect(report.gaps.every((gap) => gap >= 0)).toBe(true);
        if (fault.reconnects) {
          console.log(`${name} / ${fault.name}: ${report.connections} connections, messages lost across reconnects: ${report.gaps.join(', ')}`);
        }
        expect(unhandled).toEqual([]);
        expect(subject.errors).toEqual([]);
      });
    }
  });
}
