/**
 * The opening handshake (RFC 6455 section 4.1) over node:http / node:https. Node's client
 * reports both outcomes we need: 'upgrade' hands over the socket of a 101 answer, 'response'
 * gives the status, headers and body of a refusal (HandshakeError carries them).
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect as netConnect, isIP } from 'node:net';
import { request as httpRequest, type ClientRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { HandshakeError, InvalidArgumentError, TimeoutError } from '../errors.js';
import { RefusalBody } from '../core/refusal-body.js';
import { abortReason } from '../signals.js';
import type { HandshakeResponse, HeaderInit } from '../types.js';
import type { ResolvedOptions } from './options.js';
import { acceptExtensions, deflateOffer, type DeflateParams } from './permessage-deflate.js';
import { openTunnel, resolveProxy } from './proxy.js';
import { SocketInput } from './socket-input.js';

/** Section 1.3: the GUID appended to the key to compute Sec-WebSocket-Accept. */
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** RFC 7230 section 3.2.6: a header name or subprotocol is a token. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Header values: visible characters, spaces and tabs; CR, LF and NUL would split the request. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** Headers the handshake sets itself, or that would change the request's framing. */
const RESERVED_HEADERS = new Set([
  'connection',
  'upgrade',
  'host',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-accept',
  'sec-websocket-extensions',
  'sec-websocket-protocol',
  'content-length',
  'transfer-encoding',
  'te',
  'trailer',
  'keep-alive',
  'proxy-connection',
]);

/** Check custom headers; returns them as Node takes them. */
export function validateHeaders(headers: HeaderInit | undefined): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  if (headers === undefined) return out;
  if (typeof headers !== 'object' || headers === null) {
    throw new InvalidArgumentError('Invalid headers: expected an object of header names to values');
  }
  for (const [name, value] of Object.entries(headers)) {
    if (!TOKEN.test(name)) throw new InvalidArgumentError(`Invalid header name ${JSON.stringify(name)}`);
    if (RESERVED_HEADERS.has(name.toLowerCase())) {
      throw new InvalidArgumentError(`Header ${name} is set by the WebSocket handshake and may not be given`);
    }
    const values = typeof value === 'string' ? [value] : Array.isArray(value) ? value : undefined;
    if (!values || values.some((v) => typeof v !== 'string' || !HEADER_VALUE.test(v))) {
      throw new InvalidArgumentError(`Invalid value for header ${name}: a string without CR, LF or NUL is expected`);
    }
    out[name] = typeof value === 'string' ? value : [...values];
  }
  return out;
}

/** Check the offered subprotocols (section 4.1: tokens, no duplicates). */
export function validateProtocols(protocols: readonly string[] | undefined): string[] {
  if (protocols === undefined) return [];
  if (!Array.isArray(protocols)) throw new InvalidArgumentError('Invalid protocols: expected an array of strings');
  const seen = new Set<string>();
  for (const protocol of protocols) {
    if (typeof protocol !== 'string' || !TOKEN.test(protocol)) {
      throw new InvalidArgumentError(`Invalid subprotocol ${JSON.stringify(protocol)}: expected a token`);
    }
    if (seen.has(protocol)) throw new InvalidArgumentError(`Subprotocol ${protocol} is offered twice`);
    seen.add(protocol);
  }
  return [...protocols];
}

/** The expected Sec-WebSocket-Accept for a key (section 4.2.2, step 5.4). */
export function acceptKey(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

export interface HandshakeRequest {
  readonly url: URL;
  readonly headers: Record<string, string | string[]>;
  readonly protocols: readonly string[];
  readonly signal: AbortSignal | undefined;
  readonly options: ResolvedOptions;
}

export interface HandshakeResult {
  readonly socket: Socket;
  /** Bytes that arrived after the response head: the first frames. */
  readonly head: Buffer;
  readonly response: HandshakeResponse;
  readonly deflate: DeflateParams | undefined;
  /** How the socket is read when it was created with `onread` (plain TCP, no proxy). */
  readonly input: SocketInput | undefined;
}

function flattenHeaders(raw: IncomingMessage['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Perform the opening handshake, following redirects if allowed. */
export async function handshake(request: HandshakeRequest): Promise<HandshakeResult> {
  const { options } = request;
  let url = request.url;
  let headers = request.headers;
  for (let redirects = 0; ; redirects++) {
    const outcome = await attempt({ ...request, url, headers });
    if ('socket' in outcome) return outcome;
    // A redirect (section 4.1: "the client MAY follow" 3xx; off unless asked for).
    const next = new URL(outcome.location, url);
    if (next.protocol === 'http:') next.protocol = 'ws:';
    else if (next.protocol === 'https:') next.protocol = 'wss:';
    if (next.protocol !== 'ws:' && next.protocol !== 'wss:') {
      throw new HandshakeError(`Redirect from ${url.href} to a non-WebSocket URL ${next.href}`, outcome.error);
    }
    if (redirects >= options.maxRedirects) {
      throw new HandshakeError(`More than ${options.maxRedirects} redirects from ${request.url.href}`, outcome.error);
    }
    if (next.origin !== url.origin) {
      // Credentials meant for one origin are not handed to another.
      headers = Object.fromEntries(
        Object.entries(headers).filter(([name]) => !['authorization', 'cookie'].includes(name.toLowerCase())),
      );
    }
    next.hash = '';
    url = next;
  }
}

interface Redirect {
  readonly location: string;
  readonly error: { status: number; headers: Record<string, string> };
}

function attempt(request: HandshakeRequest): Promise<HandshakeResult | Redirect> {
  const { url, options, signal } = request;
  const key = randomBytes(16).toString('base64');
  const headers: OutgoingHttpHeaders = {
    ...request.headers,
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Key': key,
    'Sec-WebSocket-Version': '13',
  };
  if (request.protocols.length > 0) headers['Sec-WebSocket-Protocol'] = request.protocols.join(', ');
  const deflate = options.perMessageDeflate;
  if (deflate) headers['Sec-WebSocket-Extensions'] = deflateOffer(deflate);

  const secure = url.protocol === 'wss:';
  const tls = options.tls;
  const common = {
    method: 'GET',
    host: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
    port: url.port || (secure ? 443 : 80),
    path: (url.pathname || '/') + url.search,
    headers,
    agent: false as const,
    setHost: true,
  };

  const proxy = resolveProxy(url, options.proxy, options.proxyFromEnv);

  return new Promise((resolve, reject) => {
    let settled = false;
    let req: ClientRequest | undefined;
    let input: SocketInput | undefined;
    let cancelTunnel: (() => void) | undefined;
    // Every socket this attempt opened. A refusal with a keep-alive response (the HTTP/1.1
    // default) detaches the socket from the request once the response ends, so destroying the
    // request would leave it open: it is destroyed here unless the upgrade hands it over.
    const sockets: Socket[] = [];
    const destroySockets = (): void => {
      for (const socket of sockets.splice(0)) socket.destroy();
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const fail = (error: unknown): void => {
      if (settled) return;
      settled = true;
      cleanup();
      cancelTunnel?.();
      req?.destroy();
      destroySockets();
      reject(error);
    };
    const onAbort = (): void => fail(abortReason(signal!));
    const timer = setTimeout(() => {
      fail(new TimeoutError(`The opening handshake with ${url.href} did not complete within ${options.handshakeTimeout} ms`));
    }, options.handshakeTimeout);
    signal?.addEventListener('abort', onAbort, { once: true });

    const tlsOptions = {
      ...(tls.ca !== undefined ? { ca: tls.ca as string | Buffer | Array<string | Buffer> } : {}),
      ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
      ...(tls.key !== undefined ? { key: tls.key } : {}),
      rejectUnauthorized: tls.rejectUnauthorized ?? true,
    };
    const start = (tunnel: Socket | undefined): void => {
      if (settled) {
        tunnel?.destroy();
        return;
      }
      if (tunnel) sockets.push(tunnel);
      // Through a proxy, the request (and TLS, for wss:) runs inside the CONNECT tunnel.
      // Otherwise the connection is opened here, with a SocketInput reading it (see
      // socket-input.ts); for wss: the SNI name is what node:https would send.
      const servername = tls.servername ?? (isIP(common.host) ? undefined : common.host);
      const createConnection = tunnel
        ? () => {
            if (!secure) return tunnel;
            const socket = tlsConnect({ ...tlsOptions, socket: tunnel, servername });
            sockets.push(socket);
            return socket;
          }
        : () => {
            const reader = new SocketInput();
            input = reader;
            const target = { host: common.host, port: Number(common.port), onread: reader.onread };
            const socket = secure ? tlsConnect({ ...tlsOptions, ...target, servername }) : netConnect(target);
            reader.bind(socket);
            sockets.push(socket);
            return socket;
          };
      // Node uses `createConnection` only when no agent is given: `agent: false` would make a
      // fresh Agent that connects directly.
      const connection = { agent: undefined, createConnection };
      const r: ClientRequest = secure ? httpsRequest({ ...common, ...connection }) : httpRequest({ ...common, ...connection });
      req = r;
      attach(r);
      r.end();
    };
    /** Wire the upgrade request's outcomes: refusal, redirect, upgrade or failure. */
    const attach = (req: ClientRequest): void => {
      req.on('error', (error) => {
        fail(new HandshakeError(`The opening handshake with ${url.href} failed: ${error.message}`, { cause: error }));
      });

      req.on('response', (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        const responseHeaders = flattenHeaders(res.headers);
        const location = res.headers.location;
        if (options.followRedirects && REDIRECTS.has(status) && location) {
          res.resume();
          if (settled) return;
          settled = true;
          cleanup();
          req.destroy();
          destroySockets();
          resolve({ location, error: { status, headers: responseHeaders } });
          return;
        }
        // Section 4.1: anything but 101 means the server refused; keep a little of the body.
        const body = new RefusalBody();
        const finish = (): void => {
          const text = body.text();
          fail(
            new HandshakeError(`The server refused the WebSocket upgrade of ${url.href} with HTTP ${status}`, {
              status,
              headers: responseHeaders,
              ...(text === undefined ? {} : { body: text }),
            }),
          );
        };
        res.on('data', (chunk: Buffer) => {
          if (body.push(chunk)) finish();
        });
        res.on('end', finish);
        res.on('error', finish);
        res.on('close', finish);
      });

      req.on('upgrade', (res: IncomingMessage, socket: Socket, head: Buffer) => {
        if (settled) {
          socket.destroy();
          return;
        }
        const status = res.statusCode ?? 0;
        const responseHeaders = flattenHeaders(res.headers);
        const refuse = (why: string): void => {
          socket.destroy();
          fail(new HandshakeError(`Invalid WebSocket handshake answer from ${url.href}: ${why}`, { status, headers: responseHeaders }));
        };
        // Section 4.1, the client's checks of the server's answer, in order.
        if (status !== 101) return refuse(`status ${status} instead of 101`);
        if (responseHeaders['upgrade']?.toLowerCase() !== 'websocket') return refuse('the Upgrade header is not "websocket"');
        const connection = (responseHeaders['connection'] ?? '').toLowerCase().split(',').map((s) => s.trim());
        if (!connection.includes('upgrade')) return refuse('the Connection header does not include "Upgrade"');
        if (responseHeaders['sec-websocket-accept'] !== acceptKey(key)) return refuse('Sec-WebSocket-Accept does not match the key');
        let negotiated: DeflateParams | undefined;
        try {
          negotiated = acceptExtensions(res.headers['sec-websocket-extensions'] as string | undefined, deflate);
        } catch (error) {
          return refuse(`Sec-WebSocket-Extensions: ${(error as Error).message}`);
        }
        const protocol = responseHeaders['sec-websocket-protocol'] ?? '';
        if (protocol !== '' && !request.protocols.includes(protocol)) {
          return refuse(`the server chose subprotocol "${protocol}", which was not offered`);
        }
        settled = true;
        cleanup();
        // The socket is the connection's now; a TLS socket over a proxy tunnel owns the tunnel.
        sockets.length = 0;
        resolve({
          socket,
          head,
          input: socket === input?.socket ? input : undefined,
          deflate: negotiated,
          response: {
            url: url.href,
            status,
            headers: responseHeaders,
            protocol,
            extensions: responseHeaders['sec-websocket-extensions'] ?? '',
          },
        });
      });
    };

    if (proxy) {
      openTunnel(proxy, common.host, Number(common.port), (cancel) => {
        cancelTunnel = cancel;
      }).then(start, fail);
    } else {
      start(undefined);
    }
    if (signal?.aborted) onAbort();
  });
}
