/**
 * The adapter contract for the ws adapter, against a real `ws` server on loopback: with
 * defaults, with permessage-deflate negotiated, and with the smallest queue marks (every write
 * waits for the socket to drain, every unread message pauses the socket).
 */
import { createWsAdapter } from '../../src/adapters/ws.js';
import { describeAdapterContract } from '../../src/testing/contract.js';
import { createWsPeer } from '../../src/testing/ws-peer.js';

describeAdapterContract({
  name: 'ws',
  createAdapter: () => createWsAdapter(),
  createPeer: () => createWsPeer(),
});

describeAdapterContract({
  name: 'ws (permessage-deflate)',
  createAdapter: () => createWsAdapter({ perMessageDeflate: { threshold: 0 } }),
  createPeer: () => createWsPeer({ perMessageDeflate: true }),
});

describeAdapterContract({
  name: 'ws (smallest queue marks)',
  createAdapter: () =>
    createWsAdapter({ writeHighWaterMark: 0, readQueue: { messages: 1, bytes: 1 } }),
  createPeer: () => createWsPeer(),
  queuedMessages: 1,
});
