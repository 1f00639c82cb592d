/**
 * `wsengine/testing`: the adapter contract suite and the peers it runs against.
 */
export {
  describeAdapterContract,
  CONTRACT_MESSAGE_SIZES,
  type AdapterContractOptions,
  type ContractCapabilities,
} from './contract.js';
export type { ContractPeer, PeerConnection, PeerRefusal, PeerFactory } from './peer.js';
export { createMockPair, MockContractPeer, type MockPair, type MockPairOptions } from './mock-peer.js';
export { createWsPeer, type WsPeer, type WsPeerConnection, type WsPeerOptions } from './ws-peer.js';
export { rejection } from './rejection.js';
export { FaultProxy, type FaultProxyOptions } from './fault-proxy.js';
