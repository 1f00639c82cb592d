/**
 * A WebSocket server on 127.0.0.1 for the command-line tests: echoes text as "echo: <text>",
 * answers "bin" with the bytes 01 02 ff, drops the connection (no close frame) on "drop", holds
 * the echo of "hold ..." until `release()`, and records every message and every close it sees.
 */
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface EchoServer {
  readonly url: string;
  readonly wss: WebSocketServer;
  /** Text messages received, in order, over all connections. */
  readonly received: string[];
  /** The close code and reason of the next connection to close. */
  nextClose(): Promise<{ code: number; reason: string }>;
  /** Resolves once `n` messages have been received. */
  receivedCount(n: number): Promise<void>;
  /** Send the echoes held back for "hold ..." messages. */
  release(): void;
  /** The connections still open. */
  readonly open: Set<WebSocket>;
  close(): Promise<void>;
}

/** Start on `port` (0: any free one; another: to come back where a stopped server was). */
export async function startEchoServer(port = 0): Promise<EchoServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  const received: string[] = [];
  const open = new Set<WebSocket>();
  const closes: Array<{ code: number; reason: string }> = [];
  const wakers = new Set<() => void>();
  const wake = (): void => {
    for (const waker of [...wakers]) waker();
  };
  const until = <T>(test: () => T | undefined): Promise<T> =>
    new Promise((resolve) => {
      const check = (): void => {
        const value = test();
        if (value !== undefined) {
          wakers.delete(check);
          resolve(value);
        }
      };
      wakers.add(check);
      check();
    });
  let closesTaken = 0;
  const held: Array<() => void> = [];
  wss.on('connection', (ws) => {
    open.add(ws);
    ws.on('message', (data, isBinary) => {
      const text = String(data);
      received.push(text);
      wake();
      if (text === 'drop') ws.terminate();
      else if (text === 'bin') ws.send(Buffer.from([1, 2, 255]));
      else if (text.startsWith('hold')) held.push(() => ws.send(`echo: ${text}`));
      else ws.send(isBinary ? data : `echo: ${text}`);
    });
    ws.on('close', (code, reason) => {
      open.delete(ws);
      closes.push({ code, reason: String(reason) });
      wake();
    });
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`,
    wss,
    received,
    open,
    release: () => {
      for (const send of held.splice(0)) send();
    },
    nextClose: () => until(() => (closes.length > closesTaken ? closes[closesTaken++] : undefined)),
    receivedCount: (n) => until(() => (received.length >= n ? true : undefined)).then(() => {}),
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      }),
  };
}
