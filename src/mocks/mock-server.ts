/**
 * The scripted WebSocket server a unit test drives: it decides every dial, plays the server's
 * part on each connection, and never touches the network. Pair it with {@link MockAdapter}.
 */
import { capRefusalBody } from '../adapters/core/refusal-body.js';
import { ConnectionClosedError, HandshakeError, InvalidArgumentError, InvalidOptionError } from '../adapters/errors.js';
import { abortReason } from '../adapters/signals.js';
import type { HandshakeResponse, OperationOptions } from '../adapters/types.js';
import { parseWebSocketUrl } from '../adapters/validation.js';
import { Emitter } from './emitter.js';
import { MockAdapter, type MockAdapterOptions } from './mock-adapter.js';
import { MockServerConnection } from './mock-server-connection.js';
import { TimerGroup, checkDelay } from './timers.js';
import type {
  MockAcceptance,
  MockDelays,
  MockDialDecision,
  MockDialHandler,
  MockDialRequest,
  MockProtocolSelector,
  MockRefusal,
} from './types.js';
import { listen, type ClientEndpoint, type WireHandshake } from './wire.js';

/** Options of {@link MockServer}. */
export interface MockServerOptions {
  /** The URL `server.url` reports, for tests to dial. Must be ws: or wss:. Default `"ws://mock.invalid/"`. */
  readonly url?: string;
  /** Answer delays in milliseconds (`dial`, `pong`, `close`), each 0 by default. */
  readonly delays?: Partial<MockDelays>;
  /** Picks the subprotocol from those offered. Default: the first offered one. */
  readonly selectProtocol?: MockProtocolSelector;
  /** Whether new connections answer pings. Default true. */
  readonly answerPings?: boolean;
}

/** Events of a {@link MockServer}. */
export interface MockServerEvents extends Record<string, unknown[]> {
  /** A dial arrived (before it is accepted or refused). */
  request: [request: MockDialRequest];
  /** A dial was accepted; emitted before the client's `dial` resolves. */
  connection: [connection: MockServerConnection];
}

const DEFAULT_DELAYS: MockDelays = { dial: 0, pong: 0, close: 0 };

function checkDelays(delays: Partial<MockDelays> | undefined, base: MockDelays): MockDelays {
  if (delays === undefined) return base;
  if (typeof delays !== 'object' || delays === null) {
    throw new InvalidOptionError('delays', `expected an object, got ${String(delays)}`);
  }
  onlyKeys(delays, ['dial', 'pong', 'close'], 'delays.');
  const out = { ...base };
  for (const name of ['dial', 'pong', 'close'] as const) {
    const value = delays[name];
    if (value !== undefined) out[name] = checkDelay(`delays.${name}`, value);
  }
  return out;
}

/** Refuse a key that is no option (a typo would otherwise change nothing, silently). */
function onlyKeys(options: object, names: readonly string[], prefix = ''): void {
  for (const key of Object.keys(options)) {
    if (!names.includes(key)) throw new InvalidOptionError(prefix + key, `not an option of MockServer (${names.join(', ')})`);
  }
}

function checkRefusal(refusal: MockRefusal): MockRefusal {
  const status = refusal?.status;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599 || status === 101) {
    throw new InvalidArgumentError(
      `Invalid refusal status ${String(status)}: expected an HTTP status 100-599 other than 101`,
    );
  }
  return refusal;
}

function lowerCaseHeaders(headers: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) out[name.toLowerCase()] = String(value);
  return out;
}

function isRefusal(decision: MockDialDecision): decision is { readonly refuse: MockRefusal } {
  return typeof decision === 'object' && decision !== null && 'refuse' in decision && decision.refuse !== undefined;
}

/** Everything the handshake decides before the answer goes out. */
type Answer = { refusal: MockRefusal } | { acceptance: MockAcceptance };

/**
 * An in-memory WebSocket server scripted by a test.
 *
 * ```ts
 * const server = new MockServer();
 * const adapter = server.createAdapter();
 * const [, connection] = await Promise.all([adapter.dial(server.url), server.accept()]);
 * await connection.sendText('hello');
 * ```
 *
 * Every delay uses `globalThis.setTimeout` at call time, so it follows `vi.useFakeTimers()`;
 * without delays everything settles on microtasks.
 */
export class MockServer extends Emitter<MockServerEvents> {
  /** The URL tests dial (any ws: URL reaches an adapter's own server; see `MockAdapter`). */
  readonly url: string;
  /** Every dial the server received, accepted or refused, in order. */
  readonly requests: readonly MockDialRequest[] = [];
  /** Every connection the server accepted, in order (ended ones included). */
  readonly connections: readonly MockServerConnection[] = [];

  #delays: MockDelays;
  #selectProtocol: MockProtocolSelector;
  #answerPings: boolean;
  #listening = true;
  #handler: MockDialHandler | undefined;
  readonly #refusals: MockRefusal[] = [];
  /** Dials still to leave unanswered (see hangNext). */
  #hangs = 0;
  readonly #unaccepted: MockServerConnection[] = [];
  readonly #acceptWaiters: Array<{ resolve: (c: MockServerConnection) => void; reject: (e: unknown) => void }> = [];
  readonly #open = new Set<MockServerConnection>();
  readonly #timers = new TimerGroup();
  /** Dials waiting for their answer, failed by `stop()`. */
  readonly #pendingDials = new Set<(error: unknown) => void>();
  #nextId = 1;

  constructor(options: MockServerOptions = {}) {
    super();
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError('Invalid MockServer options: expected an object');
    }
    onlyKeys(options, ['url', 'delays', 'selectProtocol', 'answerPings']);
    const url = options.url ?? 'ws://mock.invalid/';
    try {
      this.url = parseWebSocketUrl(url).href;
    } catch (error) {
      throw new InvalidOptionError('url', (error as Error).message);
    }
    this.#delays = checkDelays(options.delays, DEFAULT_DELAYS);
    if (options.selectProtocol !== undefined && typeof options.selectProtocol !== 'function') {
      throw new InvalidOptionError('selectProtocol', 'expected a function');
    }
    this.#selectProtocol = options.selectProtocol ?? ((offered) => offered[0] ?? false);
    if (options.answerPings !== undefined && typeof options.answerPings !== 'boolean') {
      throw new InvalidOptionError('answerPings', 'expected a boolean');
    }
    this.#answerPings = options.answerPings ?? true;
    // Adapters reach this server through the wire, never by calling into it.
    listen(this, (request, client) => this.#handshake(request, client));
  }

  /** An adapter connected to this server whatever URL it dials. */
  createAdapter(options?: MockAdapterOptions): MockAdapter {
    return new MockAdapter(this, options);
  }

  /** Whether dials reach the server (true until `stop()`). */
  get listening(): boolean {
    return this.#listening;
  }

  /** The answer delays for new dials and new connections. */
  get delays(): MockDelays {
    return this.#delays;
  }

  /** Change the answer delays for dials from now on and for connections accepted from now on. */
  setDelays(delays: Partial<MockDelays>): void {
    this.#delays = checkDelays(delays, this.#delays);
  }

  /** Whether connections accepted from now on answer pings (`ignore` true, the default, means they do not). */
  ignorePings(ignore = true): void {
    this.#answerPings = !ignore;
  }

  /** Refuse the next dial with this HTTP answer (queued: one refusal per call, used in order). */
  refuseNext(refusal: MockRefusal): void {
    this.#refusals.push(checkRefusal(refusal));
  }

  /**
   * Leave the next dial unanswered, as a server that accepted TCP and never answers the
   * upgrade: the client's dial stays pending until it gives up (its signal, its
   * `handshakeTimeout`, `close()`) or the server stops. One hang per call, used in order.
   */
  hangNext(): void {
    this.#hangs++;
  }

  /**
   * Decide each dial with `handler` (after any `refuseNext` refusals are used up): return
   * `{ refuse: { status, headers?, body? } }` to refuse, or `{ protocol?, headers?, extensions? }`
   * (or nothing) to accept. A handler that throws refuses the dial with status 500.
   * `undefined` removes the handler.
   */
  onDial(handler: MockDialHandler | undefined): void {
    if (handler !== undefined && typeof handler !== 'function') {
      throw new InvalidArgumentError('Invalid dial handler: expected a function');
    }
    this.#handler = handler;
  }

  /** Pick the subprotocol from those offered, or `false` for none. Default: the first offered one. */
  selectProtocol(choose: MockProtocolSelector): void {
    if (typeof choose !== 'function') throw new InvalidArgumentError('Invalid protocol selector: expected a function');
    this.#selectProtocol = choose;
  }

  /**
   * The next accepted connection not yet taken by `accept()` (connections wait until asked for).
   * Rejects with `ConnectionClosedError` when the server stops, or the signal's reason.
   */
  accept(options: OperationOptions = {}): Promise<MockServerConnection> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const ready = this.#unaccepted.shift();
    if (ready) return Promise.resolve(ready);
    if (!this.#listening) return Promise.reject(new ConnectionClosedError('The mock server is stopped'));
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (connection: MockServerConnection) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(connection);
        },
        reject: (error: unknown) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      const onAbort = (): void => {
        const index = this.#acceptWaiters.indexOf(waiter);
        if (index >= 0) this.#acceptWaiters.splice(index, 1);
        reject(abortReason(signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#acceptWaiters.push(waiter);
    });
  }

  /** Listen again after `stop()`. */
  start(): void {
    this.#listening = true;
  }

  /**
   * Stop: drop every open connection (the clients see 1006), refuse later dials as a closed
   * port would (`HandshakeError` without a status), reject pending `accept()` calls, and
   * cancel every timer the server started.
   */
  async stop(): Promise<void> {
    this.#listening = false;
    this.#timers.clear();
    const refused = new HandshakeError('Connection refused: the mock server stopped during the handshake');
    for (const fail of [...this.#pendingDials]) fail(refused);
    for (const connection of [...this.#open]) connection.drop();
    const stopped = new ConnectionClosedError('The mock server is stopped');
    for (const waiter of this.#acceptWaiters.splice(0)) waiter.reject(stopped);
  }

  #handshake(request: MockDialRequest, client: ClientEndpoint): WireHandshake {
    let cancelled = false;
    let created: MockServerConnection | undefined;
    let cancelTimer: (() => void) | undefined;
    let rejectWait: ((error: unknown) => void) | undefined;
    const promise = (async (): Promise<HandshakeResponse> => {
      if (!this.#listening) {
        throw new HandshakeError(`Connection refused: the mock server for ${request.url} is stopped`);
      }
      (this.requests as MockDialRequest[]).push(request);
      const hang = this.#hangs > 0;
      if (hang) this.#hangs--;
      this.emit('request', request);
      const answer = await this.#decide(request);
      if (cancelled) throw new HandshakeError('The dial was cancelled');
      if (!this.#listening) throw new HandshakeError('Connection refused: the mock server stopped during the handshake');
      // The answer leaves after the dial delay (RFC 6455 section 4.2.2: the server's response).
      await new Promise<void>((resolve, reject) => {
        const fail = (error: unknown): void => {
          this.#pendingDials.delete(fail);
          cancelTimer?.();
          reject(error);
        };
        rejectWait = fail;
        this.#pendingDials.add(fail);
        // A hung dial waits for nothing but its end (cancel or stop).
        if (hang) return;
        cancelTimer = this.#timers.schedule(this.#delays.dial, () => {
          this.#pendingDials.delete(fail);
          resolve();
        });
      });
      if (cancelled || !this.#listening) throw new HandshakeError('The dial was cancelled');
      if ('refusal' in answer) {
        const { status, headers } = answer.refusal;
        // The same cap on the body as every adapter that sees one.
        const body = capRefusalBody(answer.refusal.body);
        throw new HandshakeError(`Unexpected server response: ${status}`, {
          status,
          headers: lowerCaseHeaders(headers),
          ...(body === undefined ? {} : { body }),
        });
      }
      const acceptance = answer.acceptance;
      const protocol = acceptance.protocol ?? this.#chooseProtocol(request.protocols);
      const headers: Record<string, string> = {
        upgrade: 'websocket',
        connection: 'Upgrade',
        ...(protocol ? { 'sec-websocket-protocol': protocol } : {}),
        ...(acceptance.extensions ? { 'sec-websocket-extensions': acceptance.extensions } : {}),
        ...lowerCaseHeaders(acceptance.headers),
      };
      // RFC 6455 section 4.1 (client requirements, point 6 of the response checks): a
      // subprotocol the client did not offer fails the connection.
      if (protocol !== '' && !request.protocols.includes(protocol)) {
        throw new HandshakeError(`The server chose subprotocol "${protocol}", which the client did not offer`, {
          status: 101,
          headers,
        });
      }
      const connection = new MockServerConnection({
        id: this.#nextId++,
        request,
        protocol,
        client,
        delays: this.#delays,
        answerPings: this.#answerPings,
        onEnd: (ended) => this.#open.delete(ended),
      });
      created = connection;
      this.#open.add(connection);
      (this.connections as MockServerConnection[]).push(connection);
      const response: HandshakeResponse = {
        url: request.url,
        status: 101,
        headers,
        protocol,
        extensions: acceptance.extensions ?? '',
      };
      const waiter = this.#acceptWaiters.shift();
      if (waiter) waiter.resolve(connection);
      else this.#unaccepted.push(connection);
      try {
        this.emit('connection', connection);
      } catch (error) {
        // A broken script fails this dial, and the connection goes away as a lost one.
        connection.drop();
        throw error;
      }
      return response;
    })();
    const cancel = (): void => {
      if (cancelled) return;
      cancelled = true;
      cancelTimer?.();
      rejectWait?.(new HandshakeError('The dial was cancelled'));
      // Cancelled after the server accepted: the client goes away without a close frame.
      created?.drop();
    };
    return { promise, cancel };
  }

  async #decide(request: MockDialRequest): Promise<Answer> {
    const refusal = this.#refusals.shift();
    if (refusal) return { refusal };
    if (!this.#handler) return { acceptance: {} };
    let decision: MockDialDecision;
    try {
      decision = await this.#handler(request);
    } catch (error) {
      return { refusal: { status: 500, body: error instanceof Error ? error.message : String(error) } };
    }
    if (isRefusal(decision)) return { refusal: checkRefusal(decision.refuse) };
    return { acceptance: decision ?? {} };
  }

  #chooseProtocol(offered: readonly string[]): string {
    if (offered.length === 0) return '';
    const chosen = this.#selectProtocol(offered);
    return chosen === false ? '' : chosen;
  }
}
