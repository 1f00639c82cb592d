/**
 * What both entry points export: the wire codec, the protocol table, status decoding, errors.
 * Browser-safe.
 */
export {
  K8sProtocol,
  DEFAULT_K8S_PROTOCOLS,
  Channel,
  CLOSE_SIGNAL,
  BEARER_PROTOCOL_PREFIX,
  isK8sProtocol,
  protocolSpec,
  type ProtocolSpec,
} from './protocols.js';
export {
  decodeServerMessage,
  encodeClientMessage,
  encodeCloseSignal,
  encodeResize,
  type ServerFrame,
  type ClientMessage,
} from './codec.js';
export { encodeBase64, encodeBase64Url, decodeBase64 } from './base64.js';
export { decodeStatus, decodeErrorText, type K8sStatus, type K8sStatusCause, type ExecOutcome } from './status.js';
export { K8sProtocolError, ExecStatusError, ExecInterruptedError } from './errors.js';
export { type ExecOptionsBase, type ExecHeartbeatOptions } from './options.js';
