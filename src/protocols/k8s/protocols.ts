/**
 * The Kubernetes remote-command subprotocols (`k8s.io/apimachinery/pkg/util/httpstream/wsstream`)
 * and what each version adds. Browser-safe.
 *
 * - `channel.k8s.io`, `v2.channel.k8s.io`: binary messages, one channel byte then the payload
 *   (0 stdin, 1 stdout, 2 stderr, 3 error); the error channel carries plain text.
 * - `v3.channel.k8s.io`: adds channel 4, terminal resize events (`{"Width":..,"Height":..}`).
 * - `v4.channel.k8s.io`: the error channel carries a JSON `metav1.Status` with the exit code.
 * - `v5.channel.k8s.io`: adds the CLOSE signal, `[255, channel]`, so stdin can end while the
 *   output streams go on.
 * - `base64.channel.k8s.io`, `v4.base64.channel.k8s.io`: text messages, the channel as an ASCII
 *   digit then the payload in standard base64 with padding (RFC 4648 section 4).
 */

/** The subprotocol names, as offered in `Sec-WebSocket-Protocol`. */
export const K8sProtocol = {
  V5: 'v5.channel.k8s.io',
  V4: 'v4.channel.k8s.io',
  V4Base64: 'v4.base64.channel.k8s.io',
  V3: 'v3.channel.k8s.io',
  V2: 'v2.channel.k8s.io',
  V1: 'channel.k8s.io',
  Base64: 'base64.channel.k8s.io',
} as const;
export type K8sProtocol = (typeof K8sProtocol)[keyof typeof K8sProtocol];

/**
 * What `exec` offers by default, best first: the server takes the first one it supports. Binary
 * before base64 at the same version (a third less on the wire, no encoding work).
 */
export const DEFAULT_K8S_PROTOCOLS: readonly K8sProtocol[] = [
  K8sProtocol.V5,
  K8sProtocol.V4,
  K8sProtocol.V4Base64,
  K8sProtocol.V3,
  K8sProtocol.V2,
  K8sProtocol.V1,
  K8sProtocol.Base64,
];

/** The channel numbers, by convention the POSIX descriptors plus error and resize. */
export const Channel = {
  Stdin: 0,
  Stdout: 1,
  Stderr: 2,
  Error: 3,
  Resize: 4,
} as const;
export type Channel = (typeof Channel)[keyof typeof Channel];

/** The first byte of a v5 CLOSE signal; the second is the channel being closed. */
export const CLOSE_SIGNAL = 255;

/** What a negotiated subprotocol allows. */
export interface ProtocolSpec {
  readonly name: K8sProtocol;
  /** 1 for `channel.k8s.io` and `base64.channel.k8s.io`, then 2 to 5. */
  readonly version: number;
  /** Text messages with base64 payloads instead of binary messages. */
  readonly base64: boolean;
  /** Channel 4 carries resize events (v3 and later). */
  readonly resize: boolean;
  /** The error channel carries a JSON `metav1.Status` (v4 and later); before, plain text. */
  readonly status: boolean;
  /** The CLOSE signal `[255, channel]` exists (v5). */
  readonly closeSignal: boolean;
}

const SPECS: Readonly<Record<K8sProtocol, ProtocolSpec>> = {
  [K8sProtocol.V5]: { name: K8sProtocol.V5, version: 5, base64: false, resize: true, status: true, closeSignal: true },
  [K8sProtocol.V4]: { name: K8sProtocol.V4, version: 4, base64: false, resize: true, status: true, closeSignal: false },
  [K8sProtocol.V4Base64]: { name: K8sProtocol.V4Base64, version: 4, base64: true, resize: true, status: true, closeSignal: false },
  [K8sProtocol.V3]: { name: K8sProtocol.V3, version: 3, base64: false, resize: true, status: false, closeSignal: false },
  [K8sProtocol.V2]: { name: K8sProtocol.V2, version: 2, base64: false, resize: false, status: false, closeSignal: false },
  [K8sProtocol.V1]: { name: K8sProtocol.V1, version: 1, base64: false, resize: false, status: false, closeSignal: false },
  [K8sProtocol.Base64]: { name: K8sProtocol.Base64, version: 1, base64: true, resize: false, status: false, closeSignal: false },
};

/** Whether `name` is one of the channel subprotocols. */
export function isK8sProtocol(name: string): name is K8sProtocol {
  return Object.prototype.hasOwnProperty.call(SPECS, name);
}

/**
 * The spec of the subprotocol the server chose, or `undefined` for one we do not speak. A server
 * that chose none speaks `channel.k8s.io`: wsstream maps the empty subprotocol to it.
 */
export function protocolSpec(chosen: string): ProtocolSpec | undefined {
  if (chosen === '') return SPECS[K8sProtocol.V1];
  return isK8sProtocol(chosen) ? SPECS[chosen] : undefined;
}

/** Prefix of the subprotocol that carries a bearer token where headers cannot be sent (browsers). */
export const BEARER_PROTOCOL_PREFIX = 'base64url.bearer.authorization.k8s.io.';
