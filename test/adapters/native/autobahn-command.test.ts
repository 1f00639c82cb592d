/**
 * `wsengine autobahn` against a small fuzzing server of our own on loopback, which speaks the
 * Autobahn fuzzing-server protocol (getCaseCount, getCaseInfo, runCase, getCaseStatus,
 * updateReports) and judges each case by whether its messages came back unchanged.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { casePattern, run } from '../../../src/cli/autobahn.js';

interface FakeCase {
  id: string;
  /** Messages the server sends: [data, binary, fragments]. */
  send: Array<[string | Buffer, boolean, number?]>;
  /** What the server expects back; defaults to what it sent. */
  expect?: Array<string | Buffer>;
}

interface FakeServer {
  url: string;
  ran: string[];
  reports: string[];
  stop(): Promise<void>;
}

async function startFakeFuzzingServer(cases: FakeCase[]): Promise<FakeServer> {
  const http: Server = createServer();
  const wss = new WebSocketServer({ server: http, perMessageDeflate: true });
  const sockets = new Set<Socket>();
  http.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const verdicts = new Map<string, string>();
  const ran: string[] = [];
  const reports: string[] = [];
  wss.on('connection', (ws: WebSocket, request) => {
    const url = new URL(request.url ?? '/', 'http://x');
    const n = Number(url.searchParams.get('case'));
    const agent = url.searchParams.get('agent') ?? '';
    const answer = (text: string): void => {
      ws.send(text, () => ws.close(1000));
    };
    switch (url.pathname) {
      case '/getCaseCount':
        return answer(String(cases.length));
      case '/getCaseInfo':
        return answer(JSON.stringify({ id: cases[n - 1]?.id, description: 'fake case' }));
      case '/getCaseStatus':
        return answer(JSON.stringify({ behavior: verdicts.get(`${agent}/${n}`) ?? 'UNKNOWN' }));
      case '/updateReports':
        reports.push(agent);
        return ws.close(1000);
      case '/runCase': {
        const c = cases[n - 1]!;
        ran.push(c.id);
        const expected = (c.expect ?? c.send.map(([data]) => data)).map((d) => Buffer.from(d));
        const received: Buffer[] = [];
        ws.on('message', (data: RawData) => {
          received.push(Buffer.from(data as Buffer));
          if (received.length === expected.length) {
            const ok = received.every((r, i) => r.equals(expected[i]!));
            verdicts.set(`${agent}/${n}`, ok ? 'OK' : 'FAILED');
            ws.close(1000);
          }
        });
        for (const [data, binary, fragments] of c.send) {
          const bytes = Buffer.from(data);
          const parts = fragments ?? 1;
          const size = Math.ceil(bytes.length / parts);
          for (let i = 0; i < parts; i++) {
            ws.send(bytes.subarray(i * size, (i + 1) * size), { binary, fin: i === parts - 1 });
          }
        }
        ws.ping('fake');
        return;
      }
      default:
        ws.close(1008, 'unknown endpoint');
    }
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  return {
    url: `ws://127.0.0.1:${(http.address() as { port: number }).port}`,
    ran,
    reports,
    stop: async () => {
      for (const s of sockets) s.destroy();
      wss.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

const CASES: FakeCase[] = [
  { id: '1.1.1', send: [['Hello, Autobahn', false]] },
  { id: '1.2.1', send: [[Buffer.from([0, 1, 2, 255]), true]] },
  { id: '5.6', send: [['fragmented in three', false, 3]] },
  { id: '6.2.1', send: [['κόσμε €', false, 2]] },
  { id: '9.1.1', send: [['x'.repeat(64 * 1024), false]] },
  { id: '12.1.1', send: [['compress me '.repeat(100), false]] },
];

let server: FakeServer | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await server?.stop();
  server = undefined;
});

function captureStdout(): string[] {
  const lines: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  return lines;
}

describe('wsengine autobahn', () => {
  it('runs every case, echoing messages unchanged, and updates the reports', async () => {
    server = await startFakeFuzzingServer(CASES);
    const lines = captureStdout();
    const code = await run([server.url, '--agent', 'test-agent']);
    expect(code).toBe(0);
    expect(server.ran).toEqual(CASES.map((c) => c.id));
    expect(server.reports).toEqual(['test-agent']);
    expect(lines.join('')).toContain('Ran 6 cases: OK 6');
  });

  it('runs only the cases matching --cases', async () => {
    server = await startFakeFuzzingServer(CASES);
    captureStdout();
    expect(await run([server.url, '--cases', '1.*,9.1.1', '--adapter', 'native', '--no-deflate'])).toBe(0);
    expect(server.ran).toEqual(['1.1.1', '1.2.1', '9.1.1']);
    expect(server.reports).toEqual(['wsengine-native']);
  });

  it('drives the other adapters too (--adapter ws)', async () => {
    server = await startFakeFuzzingServer(CASES.slice(0, 3));
    const lines = captureStdout();
    expect(await run([server.url, '--adapter', 'ws', '--agent', 'via-ws'])).toBe(0);
    expect(server.ran).toEqual(['1.1.1', '1.2.1', '5.6']);
    expect(server.reports).toEqual(['via-ws']);
    expect(lines.join('')).toContain('adapter ws');
  });

  it('exits with 1 and names the case when the server judges one failed', async () => {
    server = await startFakeFuzzingServer([...CASES.slice(0, 1), { id: '3.1', send: [['lower', false]], expect: ['LOWER'] }]);
    const lines = captureStdout();
    expect(await run([server.url])).toBe(1);
    expect(lines.join('')).toContain('Failed: 3.1 FAILED');
  });

  it('refuses bad arguments with exit code 2', async () => {
    const errors: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      errors.push(String(chunk));
      return true;
    });
    expect(await run([])).toBe(2);
    expect(await run(['ftp://127.0.0.1/'])).toBe(2);
    expect(await run(['ws://127.0.0.1:9/', '--adapter', 'nope'])).toBe(2);
    expect(errors.join('')).toMatch(/unknown adapter "nope"/);
  });

  it('matches case patterns with wildcards', () => {
    const match = casePattern('1.*, 9.1.6,12.2.*');
    expect(['1.1.1', '9.1.6', '12.2.10'].every(match)).toBe(true);
    expect(['2.1', '9.1.60', '12.3.1', '11.1'].some(match)).toBe(false);
  });
});
