/**
 * The scripted mock server as a contract-suite peer, so that the suite runs against the mock
 * adapter like against any other:
 *
 * ```ts
 * import { describeAdapterContract, createMockPair } from 'wsengine/testing';
 * describeAdapterContract({ name: 'mock', ...createMockPair() });
 * ```
 *
 * Each peer is a fresh {@link MockServer} with its own URL (`ws://mock-N.invalid/`); adapters
 * made by the same pair find the server by the dialled URL's host, at dial time. So it does not
 * matter whether a test creates its adapter before or after its peer: the adapter reaches the
 * peer whose URL it dials. Nothing touches the network (`.invalid` never resolves, RFC 2606).
 */
import { MockAdapter, type MockAdapterOptions } from '../mocks/mock-adapter.js';
import type { MockServerConnection } from '../mocks/mock-server-connection.js';
import { MockServer, type MockServerOptions } from '../mocks/mock-server.js';
import type { Message, MessageType } from '../adapters/types.js';
import type { ContractPeer, PeerConnection, PeerRefusal } from './peer.js';

/** A {@link PeerConnection} over one {@link MockServerConnection}. */
class MockPeerConnection implements PeerConnection {
  readonly #connection: MockServerConnection;

  constructor(connection: MockServerConnection) {
    this.#connection = connection;
  }

  get requestHeaders(): Readonly<Record<string, string>> {
    return this.#connection.requestHeaders;
  }

  get protocol(): string {
    return this.#connection.protocol;
  }

  get closed(): Promise<{ code: number; reason: string }> {
    return this.#connection.closed;
  }

  send(type: MessageType, data: string | Uint8Array): Promise<void> {
    return this.#connection.send(type, data);
  }

  receive(): Promise<Message> {
    return this.#connection.received();
  }

  close(code: number, reason: string): Promise<void> {
    return this.#connection.close(code, reason);
  }

  drop(): void {
    this.#connection.drop();
  }

  ignorePings(ignore: boolean): void {
    this.#connection.ignorePings(ignore);
  }
}

/** A {@link ContractPeer} over a {@link MockServer}. */
export class MockContractPeer implements ContractPeer {
  /** The scripted server behind this peer. */
  readonly server: MockServer;
  readonly #onStop: (() => void) | undefined;

  constructor(server: MockServer, onStop?: () => void) {
    this.server = server;
    this.#onStop = onStop;
  }

  async start(): Promise<string> {
    this.server.start();
    return this.server.url;
  }

  async stop(): Promise<void> {
    await this.server.stop();
    this.#onStop?.();
  }

  async accept(): Promise<PeerConnection> {
    return new MockPeerConnection(await this.server.accept());
  }

  refuseNext(refusal: PeerRefusal): void {
    this.server.refuseNext(refusal);
  }

  selectProtocol(choose: (offered: readonly string[]) => string | false): void {
    this.server.selectProtocol(choose);
  }

  hangNext(): Promise<void> {
    this.server.hangNext();
    // The dial reaches the server on the microtasks after dial() is called.
    return new Promise((resolve) => {
      const arrived = (): void => {
        this.server.off('request', arrived);
        resolve();
      };
      this.server.on('request', arrived);
    });
  }
}

/** What {@link createMockPair} returns: the two factories the contract suite takes. */
export interface MockPair {
  /** A fresh mock adapter that reaches whichever of this pair's peers it dials. */
  readonly createAdapter: () => MockAdapter;
  /** A fresh peer over a fresh {@link MockServer} with its own URL. */
  readonly createPeer: () => MockContractPeer;
}

/** Options of {@link createMockPair}. */
export interface MockPairOptions {
  /** Options for every adapter. */
  readonly adapter?: MockAdapterOptions;
  /** Options for every server (`url` is set by the pair). */
  readonly server?: Omit<MockServerOptions, 'url'>;
}

/** Factories of mock adapters and mock peers that find each other by URL. */
export function createMockPair(options: MockPairOptions = {}): MockPair {
  const servers = new Map<string, MockServer>();
  let next = 1;
  return {
    createAdapter: () => new MockAdapter((url) => servers.get(url.host), options.adapter),
    createPeer: () => {
      const host = `mock-${next++}.invalid`;
      const server = new MockServer({ ...options.server, url: `ws://${host}/` });
      servers.set(host, server);
      return new MockContractPeer(server, () => servers.delete(host));
    },
  };
}
