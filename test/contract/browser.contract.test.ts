/**
 * The adapter contract for the browser adapter, on Node through undici's WHATWG WebSocket,
 * against a real `ws` server on loopback. What the WHATWG API cannot do is declared as
 * capabilities, and the suite checks the documented fallback instead.
 */
import { WebSocket } from 'undici';
import { createBrowserAdapter } from '../../src/adapters/browser.js';
import { describeAdapterContract } from '../../src/testing/contract.js';
import type { ContractPeer, PeerRefusal } from '../../src/testing/peer.js';
import { createWsPeer } from '../../src/testing/ws-peer.js';

/**
 * The WHATWG handshake is a fetch (https://fetch.spec.whatwg.org/#http-network-or-cache-fetch,
 * step 14): after a 401 the runtime may retry the upgrade once, as an authentication fetch.
 * A server that refuses with 401 refuses that retry too, so a 401 refusal covers both requests.
 */
function refusingLikeAServer(peer: ContractPeer): ContractPeer {
  const refuseOnce = peer.refuseNext.bind(peer);
  peer.refuseNext = (refusal: PeerRefusal): void => {
    refuseOnce(refusal);
    if (refusal.status === 401) refuseOnce(refusal);
  };
  return peer;
}

describeAdapterContract({
  name: 'browser (undici WebSocket)',
  createAdapter: () => createBrowserAdapter({ WebSocket }),
  createPeer: () => refusingLikeAServer(createWsPeer()),
  capabilities: { ping: false, requestHeaders: false, handshakeDetails: false },
});
