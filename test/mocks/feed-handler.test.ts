// The example of docs/mocks.md, verbatim but for the import paths: a user's own feed handler,
// unit-tested with the mock. Keep the two in step.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { MessageType, WebSocketCloseError, type WebSocketConnectionAdapter } from '../../src/adapters/index.js';
import { MockServer } from '../../src/mocks/index.js';

async function followPrices(adapter: WebSocketConnectionAdapter, url: string, prices: Map<string, number>) {
  await adapter.dial(url);
  await adapter.write(MessageType.Text, JSON.stringify({ subscribe: ['EURUSD'] }));
  for (;;) {
    try {
      const message = await adapter.read();
      if (message.type !== MessageType.Text) continue;
      const tick = JSON.parse(message.data) as { symbol: string; price: number };
      prices.set(tick.symbol, tick.price);
    } catch (error) {
      if (error instanceof WebSocketCloseError) return error.code;
      throw error;
    }
  }
}

let server: MockServer;
beforeEach(() => (server = new MockServer()));
afterEach(() => server.stop());

it('keeps the last price of each symbol until the feed closes', async () => {
  const prices = new Map<string, number>();
  const done = followPrices(server.createAdapter(), server.url, prices);
  const feed = await server.accept();
  expect(JSON.parse((await feed.received()).data as string)).toEqual({ subscribe: ['EURUSD'] });
  await feed.sendText(JSON.stringify({ symbol: 'EURUSD', price: 1.08 }));
  await feed.sendText(JSON.stringify({ symbol: 'EURUSD', price: 1.09 }));
  await feed.close(1001, 'market closed');
  expect(await done).toBe(1001);
  expect(prices.get('EURUSD')).toBe(1.09);
});

it('ignores binary frames and reports 1006 when the feed drops without a close frame', async () => {
  const prices = new Map<string, number>();
  const done = followPrices(server.createAdapter(), server.url, prices);
  const feed = await server.accept();
  await feed.received(); // the subscription
  await feed.sendBinary(new Uint8Array([0]));
  await feed.sendText(JSON.stringify({ symbol: 'EURUSD', price: 1.07 }));
  feed.drop();
  expect(await done).toBe(1006);
  expect(prices).toEqual(new Map([['EURUSD', 1.07]]));
});

it('fails with the handshake error when the feed refuses the login', async () => {
  server.refuseNext({ status: 401, body: 'bad token' });
  const adapter = server.createAdapter();
  const error = await followPrices(adapter, server.url, new Map()).catch((e: unknown) => e);
  expect(error).toMatchObject({ name: 'HandshakeError', status: 401, body: 'bad token' });
  expect(adapter.calls.map((call) => [call.method, call.result])).toEqual([['dial', 'rejected']]);
});
