/**
 * Public types of the mock server.
 */

/** A dial as the mock server received it (the opening handshake's request, RFC 6455 section 4.1). */
export interface MockDialRequest {
  /** The URL the client dialled (`http:`/`https:` already mapped to `ws:`/`wss:`). */
  readonly url: string;
  /** Request headers, names in lower case, repeated values joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  /** Subprotocols the client offered, in its order of preference. */
  readonly protocols: readonly string[];
}

/** A refused upgrade: the HTTP answer the client gets instead of `101 Switching Protocols`. */
export interface MockRefusal {
  /** HTTP status, 100-599 except 101; `200` means "answered 200 instead of 101". */
  readonly status: number;
  /** Response headers. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Response body. */
  readonly body?: string;
}

/** How the server answers an accepted dial. Every field is optional. */
export interface MockAcceptance {
  /** The subprotocol to choose (must be one the client offered), or `""` for none. Default: the server's `selectProtocol`. */
  readonly protocol?: string;
  /** Extra response headers. */
  readonly headers?: Readonly<Record<string, string>>;
  /** The `Sec-WebSocket-Extensions` value to report. Default `""`. */
  readonly extensions?: string;
}

/** What an `onDial` handler returns: `{ refuse }` to refuse, anything else (or nothing) to accept. */
export type MockDialDecision = { readonly refuse: MockRefusal } | MockAcceptance | undefined | void;

/** Decides each dial; may be async (the client's dial waits for it). */
export type MockDialHandler = (request: MockDialRequest) => MockDialDecision | Promise<MockDialDecision>;

/** Picks a subprotocol from the offered ones, or `false` for none. */
export type MockProtocolSelector = (offered: readonly string[]) => string | false;

/** A close frame: its status code (1005 when it had none, 1006 when none came) and reason. */
export interface MockCloseFrame {
  readonly code: number;
  readonly reason: string;
}

/** Delays of the server's answers, in milliseconds. 0 answers on a microtask, without a timer. */
export interface MockDelays {
  /** Before answering a dial (accept or refusal). Default 0. */
  readonly dial: number;
  /** Before answering a ping with its pong. Default 0. */
  readonly pong: number;
  /** Before answering the client's close frame with the server's. Default 0. */
  readonly close: number;
}

/** A connection's state as the server sees it. */
export type MockConnectionState = 'open' | 'closing' | 'closed';
