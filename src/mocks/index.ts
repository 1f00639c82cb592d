/**
 * `wsengine/mocks`: an in-memory adapter and the scripted server it talks to, for unit tests.
 * Nothing here touches the network or `node:` modules; delays follow the test's (fake) timers.
 */
export { MockServer, type MockServerOptions, type MockServerEvents } from './mock-server.js';
export { MockServerConnection, type MockServerConnectionEvents } from './mock-server-connection.js';
export {
  MockAdapter,
  type MockAdapterOptions,
  type MockAdapterState,
  type MockServerResolver,
} from './mock-adapter.js';
export type {
  MockCall,
  MockCallArgs,
  MockCallMethod,
  MockCallOf,
  MockCallResult,
  MockCallValues,
} from './calls.js';
export type {
  MockAcceptance,
  MockCloseFrame,
  MockConnectionState,
  MockDelays,
  MockDialDecision,
  MockDialHandler,
  MockDialRequest,
  MockProtocolSelector,
  MockRefusal,
} from './types.js';
