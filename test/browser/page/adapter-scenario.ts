/**
 * Runs in Chromium: the browser adapter over the browser's own WebSocket, against the page
 * server's scripted `ws` server. `runAdapterScenario(wsUrl)` resolves with a report.
 */
import { createBrowserAdapter } from '../../../src/adapters/browser.js';
import { MessageType } from '../../../src/index.js';
import { rejectionOf, reportMessage, type ReportedError, type ReportedMessage } from './report.js';

export interface AdapterScenarioReport {
  readonly nativeWebSocket: boolean;
  readonly handshake: { url: string; status: number | null; headers: Record<string, string>; protocol: string };
  readonly binaryType: string;
  readonly echoes: ReportedMessage[];
  readonly ping: ReportedError;
  readonly headers: ReportedError;
  readonly dropped: ReportedError;
  readonly writeAfterDrop: ReportedError;
  readonly afterReconnect: ReportedMessage[];
  readonly bigEcho: { type: number; length: number; checksum: number };
  readonly serverClose: ReportedError;
  readonly closedLocally: ReportedError;
  readonly refused: ReportedError;
}

function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i++) sum = (sum * 31 + bytes[i]!) >>> 0;
  return sum;
}

export async function runAdapterScenario(wsUrl: string): Promise<AdapterScenarioReport> {
  // A small high-water mark, so that the big write below goes through the bufferedAmount wait.
  const adapter = createBrowserAdapter({ writeHighWaterMark: 16 * 1024 });
  const answer = await adapter.dial(wsUrl, { protocols: ['wsengine.test'] });
  const binaryType = (adapter.underlying() as WebSocket).binaryType;

  await adapter.write(MessageType.Text, 'hello from chromium ✓');
  await adapter.write(MessageType.Binary, new Uint8Array([0, 1, 2, 254, 255]));
  await adapter.write(MessageType.Text, new TextEncoder().encode('text given as bytes'));
  const echoes = [reportMessage(await adapter.read()), reportMessage(await adapter.read()), reportMessage(await adapter.read())];

  const ping = await rejectionOf(adapter.ping());
  const headers = await rejectionOf(adapter.dial(wsUrl, { headers: { authorization: 'Bearer x' } }));

  // The server drops the TCP connection without a close frame.
  await adapter.write(MessageType.Text, 'drop');
  const dropped = await rejectionOf(adapter.read());
  const writeAfterDrop = await rejectionOf(adapter.write(MessageType.Text, 'late'));

  // Reconnect on the same adapter.
  await adapter.dial(wsUrl, { protocols: ['wsengine.test'] });
  await adapter.write(MessageType.Text, 'after reconnect');
  await adapter.write(MessageType.Binary, new Uint8Array([42]));
  const afterReconnect = [reportMessage(await adapter.read()), reportMessage(await adapter.read())];

  // 4 MiB, written as 64 writes of 64 KiB with a 16 KiB high-water mark, echoed back whole.
  const chunk = new Uint8Array(64 * 1024);
  const big = new Uint8Array(4 * 1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
  await Promise.all(
    Array.from({ length: 64 }, (_, i) => adapter.write(MessageType.Binary, big.subarray(i * chunk.length, (i + 1) * chunk.length))),
  );
  const received = new Uint8Array(big.length);
  for (let i = 0; i < 64; i++) {
    const message = await adapter.read();
    if (!(message.data instanceof Uint8Array)) throw new Error('expected binary');
    received.set(message.data, i * chunk.length);
  }
  const bigEcho = { type: MessageType.Binary, length: received.length, checksum: checksum(received) };

  // A server close with a code and reason reaches read.
  await adapter.write(MessageType.Text, 'close 4321 server says bye');
  const serverClose = await rejectionOf(adapter.read());

  // A local close with a code the browser may not send (mapped to 4001).
  await adapter.dial(wsUrl, { protocols: ['wsengine.test'] });
  await adapter.close(1001, 'page done');
  const closedLocally = await rejectionOf(adapter.read());

  const refused = await rejectionOf(adapter.dial(wsUrl.replace(/\/ws$/, '/refuse')));

  return {
    nativeWebSocket: String(WebSocket).includes('[native code]'),
    handshake: { url: answer.url, status: answer.status ?? null, headers: answer.headers, protocol: answer.protocol },
    binaryType,
    echoes,
    ping,
    headers,
    dropped,
    writeAfterDrop,
    afterReconnect,
    bigEcho,
    serverClose,
    closedLocally,
    refused,
  };
}
