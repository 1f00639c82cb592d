/**
 * Request/reply over the engine, and the JSON-RPC 2.0 preset: `wsengine/rpc`. Browser-safe.
 */
export {
  createRequester,
  type Requester,
  type RequesterCodec,
  type RequesterEngine,
  type RequesterEvents,
  type RequesterOptions,
  type RequestOptions,
  type Reply,
  type RequestId,
} from './requester.js';
export {
  createJsonRpcClient,
  type JsonRpcClient,
  type JsonRpcClientOptions,
  type JsonRpcEvents,
  type JsonRpcBatchItem,
  type JsonRpcRequest,
  type NotificationMap,
} from './json-rpc.js';
export {
  JsonRpcError,
  decodeJsonRpc,
  encodeRequest,
  type JsonRpcCall,
  type JsonRpcNotification,
  type JsonRpcParams,
  type DecodedJsonRpc,
} from './json-rpc-codec.js';
export {
  RequestTimeoutError,
  RequestNotSentError,
  RequestOutcomeUnknownError,
  RequestQueueFullError,
  ReplyError,
  RequesterClosedError,
} from './errors.js';
