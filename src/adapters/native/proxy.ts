/**
 * HTTP(S) proxies for the opening handshake: a CONNECT tunnel (RFC 9110 section 9.3.6) to the
 * WebSocket server, through which the upgrade (and TLS, for wss:) then runs. The proxy comes
 * from the `proxy` option, or from HTTPS_PROXY / HTTP_PROXY and NO_PROXY when `proxyFromEnv`
 * is set.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { HandshakeError } from '../errors.js';

function env(name: string): string | undefined {
  return process.env[name] ?? process.env[name.toLowerCase()] ?? undefined;
}

/** Whether NO_PROXY (comma-separated names, `.suffix` or `*`, optional `:port`) covers this host. */
export function bypassesProxy(url: URL, noProxy: string | undefined): boolean {
  if (!noProxy) return false;
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = url.port || (url.protocol === 'wss:' ? '443' : '80');
  for (const raw of noProxy.split(/[,\s]+/)) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') return true;
    const [name, entryPort] = entry.split(/:(?=\d+$)/) as [string, string | undefined];
    if (entryPort && entryPort !== port) continue;
    const bare = name.replace(/^\*?\./, '');
    if (host === bare || host.endsWith(`.${bare}`)) return true;
  }
  return false;
}

/** The proxy to use for `url`, if any. */
export function resolveProxy(url: URL, proxy: string | undefined, fromEnv: boolean): URL | undefined {
  let chosen = proxy;
  if (chosen === undefined && fromEnv) {
    if (bypassesProxy(url, env('NO_PROXY'))) return undefined;
    chosen = url.protocol === 'wss:' ? (env('HTTPS_PROXY') ?? env('ALL_PROXY')) : (env('HTTP_PROXY') ?? env('ALL_PROXY'));
  }
  if (!chosen) return undefined;
  const parsed = new URL(chosen.includes('://') ? chosen : `http://${chosen}`);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new HandshakeError(`Unsupported proxy scheme ${parsed.protocol}: expected http: or https:`);
  }
  return parsed;
}

/**
 * Open a CONNECT tunnel to `host:port` through `proxy`. `register` receives a function that
 * tears the attempt down (for the handshake's timeout and abort).
 */
export function openTunnel(proxy: URL, host: string, port: number, register: (cancel: () => void) => void): Promise<Socket> {
  const authority = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const headers: Record<string, string> = { Host: authority };
  if (proxy.username || proxy.password) {
    const credentials = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
    headers['Proxy-Authorization'] = `Basic ${Buffer.from(credentials).toString('base64')}`;
  }
  const options = {
    host: proxy.hostname.replace(/^\[|\]$/g, ''),
    port: proxy.port || (proxy.protocol === 'https:' ? 443 : 80),
    method: 'CONNECT',
    path: authority,
    headers,
    agent: false as const,
  };
  return new Promise<Socket>((resolve, reject) => {
    const req = proxy.protocol === 'https:' ? httpsRequest(options) : httpRequest(options);
    register(() => req.destroy());
    req.on('connect', (res: IncomingMessage, socket: Socket, head: Buffer) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        reject(
          new HandshakeError(`The proxy ${proxy.host} refused to tunnel to ${authority} with HTTP ${res.statusCode}`, {
            ...(res.statusCode !== undefined ? { status: res.statusCode } : {}),
            headers: Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)])),
          }),
        );
        return;
      }
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    req.on('response', (res: IncomingMessage) => {
      res.resume();
      reject(new HandshakeError(`The proxy ${proxy.host} answered CONNECT with HTTP ${res.statusCode}`, res.statusCode !== undefined ? { status: res.statusCode } : {}));
    });
    req.on('error', (error) => reject(new HandshakeError(`The proxy ${proxy.host} failed: ${error.message}`, { cause: error })));
    req.end();
  });
}
