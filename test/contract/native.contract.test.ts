/**
 * The adapter contract for the native RFC 6455 adapter, against a real `ws` server on
 * loopback: once with defaults, once with permessage-deflate negotiated and writes fragmented.
 */
import { createNativeAdapter } from '../../src/adapters/native/index.js';
import { describeAdapterContract } from '../../src/testing/contract.js';
import { createWsPeer } from '../../src/testing/ws-peer.js';

describeAdapterContract({
  name: 'native',
  createAdapter: () => createNativeAdapter(),
  createPeer: () => createWsPeer(),
});

describeAdapterContract({
  name: 'native (permessage-deflate, 16 KiB fragments)',
  createAdapter: () => createNativeAdapter({ perMessageDeflate: { threshold: 0 }, fragmentSize: 16 * 1024 }),
  createPeer: () => createWsPeer({ perMessageDeflate: true }),
  // Threshold 0: every message is compressed first, so none can go at once.
  capabilities: { tryWrite: 'refuses' },
});
