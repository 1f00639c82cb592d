/**
 * The wire format of the channel protocols, both directions, for the client side. Browser-safe.
 *
 * Binary protocols: one message per write, `[channel, ...payload]`; v5 adds the CLOSE signal
 * `[255, channel]`. Base64 protocols: one text message, the channel as an ASCII digit, then the
 * payload in standard base64 with padding.
 */
import { MessageType, type Message } from '../../adapters/types.js';
import { decodeBase64, encodeBase64 } from './base64.js';
import { K8sProtocolError } from './errors.js';
import { Channel, CLOSE_SIGNAL, type ProtocolSpec } from './protocols.js';

/** What one server message means. */
export type ServerFrame =
  /** Output or status on a channel; an empty payload is a readiness frame, not data. */
  | { readonly kind: 'data'; readonly channel: typeof Channel.Stdout | typeof Channel.Stderr | typeof Channel.Error; readonly payload: Uint8Array }
  /** v5: the server closed one of its streams. */
  | { readonly kind: 'close'; readonly channel: number }
  /** A message with no channel at all: a keep-alive some servers send; carries nothing. */
  | { readonly kind: 'empty' };

/** A client message, ready for `adapter.write(type, data)`. */
export interface ClientMessage {
  readonly type: MessageType;
  readonly data: Uint8Array | string;
}

const DIGIT_0 = 48;

function outputChannel(channel: number): channel is 1 | 2 | 3 {
  return channel === Channel.Stdout || channel === Channel.Stderr || channel === Channel.Error;
}

/**
 * Decode one message from the server. Throws {@link K8sProtocolError} for a message of the wrong
 * type for the protocol, an unknown channel (the server only writes on 1, 2 and 3, and, in v5, the
 * CLOSE signal), or invalid base64.
 */
export function decodeServerMessage(spec: ProtocolSpec, message: Message): ServerFrame {
  if (spec.base64) {
    if (message.type !== MessageType.Text) {
      throw new K8sProtocolError(`A binary message on the text protocol ${spec.name}`);
    }
    const text = message.data;
    if (text.length === 0) return { kind: 'empty' };
    const channel = text.charCodeAt(0) - DIGIT_0;
    if (!outputChannel(channel)) {
      throw new K8sProtocolError(`A message on unknown channel ${JSON.stringify(text[0])} (${spec.name})`);
    }
    const payload = decodeBase64(text, 1);
    if (payload === undefined) {
      throw new K8sProtocolError(`Invalid base64 on channel ${channel} (${spec.name}): ${JSON.stringify(text.slice(0, 40))}`);
    }
    return { kind: 'data', channel, payload };
  }
  if (message.type !== MessageType.Binary) {
    throw new K8sProtocolError(`A text message on the binary protocol ${spec.name}`);
  }
  const data = message.data;
  if (data.byteLength === 0) return { kind: 'empty' };
  const channel = data[0]!;
  if (channel === CLOSE_SIGNAL && spec.closeSignal) {
    if (data.byteLength !== 2) throw new K8sProtocolError(`A CLOSE signal of ${data.byteLength} bytes instead of 2`);
    return { kind: 'close', channel: data[1]! };
  }
  if (!outputChannel(channel)) throw new K8sProtocolError(`A message on unknown channel ${channel} (${spec.name})`);
  return { kind: 'data', channel, payload: data.subarray(1) };
}

/** Encode `payload` for `channel` (stdin or resize). */
export function encodeClientMessage(spec: ProtocolSpec, channel: number, payload: Uint8Array): ClientMessage {
  if (spec.base64) {
    return { type: MessageType.Text, data: String.fromCharCode(DIGIT_0 + channel) + encodeBase64(payload) };
  }
  const data = new Uint8Array(payload.byteLength + 1);
  data[0] = channel;
  data.set(payload, 1);
  return { type: MessageType.Binary, data };
}

/** The v5 CLOSE signal for `channel`: `[255, channel]`. */
export function encodeCloseSignal(spec: ProtocolSpec, channel: number): ClientMessage {
  if (!spec.closeSignal) throw new K8sProtocolError(`${spec.name} has no CLOSE signal`);
  return { type: MessageType.Binary, data: Uint8Array.of(CLOSE_SIGNAL, channel) };
}

/** The resize event of channel 4: `{"Width":cols,"Height":rows}` (`remotecommand.TerminalSize`). */
export function encodeResize(spec: ProtocolSpec, cols: number, rows: number): ClientMessage {
  return encodeClientMessage(spec, Channel.Resize, new TextEncoder().encode(JSON.stringify({ Width: cols, Height: rows })));
}
