/**
 * `exec` for browsers (and any runtime with WHATWG streams and `WebSocket`): the channels as
 * WHATWG streams, the token as the `base64url.bearer.authorization.k8s.io.<token>` subprotocol,
 * since a browser cannot send an `Authorization` header. Imports nothing from `node:`, `ws` or
 * undici.
 *
 * The WHATWG `WebSocket` cannot stop reading from its socket, nor send ping frames: the output
 * streams still push back on this session, but messages the browser has received wait in the
 * adapter's queue, and there is no heartbeat (the server's pings are answered by the browser).
 */
export * from './shared.js';

import { createBrowserAdapter } from '../../adapters/browser.js';
import type { AdapterFactory, HandshakeResponse } from '../../adapters/types.js';
import { encodeBase64Url } from './base64.js';
import { ChannelSession, type OutputSink } from './channel-session.js';
import { resolveExecOptions, type ExecOptionsBase } from './options.js';
import { BEARER_PROTOCOL_PREFIX, type K8sProtocol, type ProtocolSpec } from './protocols.js';

export interface BrowserExecOptions extends ExecOptionsBase {
  /** Makes the adapter. Default: the browser adapter over `globalThis.WebSocket`. */
  readonly adapter?: AdapterFactory;
}

/** A running remote command, with WHATWG streams. */
export interface BrowserExecSession {
  readonly protocol: K8sProtocol;
  readonly spec: ProtocolSpec;
  readonly handshake: HandshakeResponse;
  /** The command's stdin. Closing it sends the v5 CLOSE signal; before v5 see `closeOnStdinEnd`. */
  readonly stdin: WritableStream<Uint8Array>;
  /**
   * The command's output. Chunks are typed `Uint8Array<ArrayBuffer>` (what DOM APIs call a
   * `BufferSource`), so that `stdout.pipeThrough(new TextDecoderStream())` type-checks.
   */
  readonly stdout: ReadableStream<Uint8Array<ArrayBuffer>>;
  readonly stderr: ReadableStream<Uint8Array<ArrayBuffer>>;
  resize(cols: number, rows: number): Promise<void>;
  readonly exitCode: Promise<number>;
  readonly closed: Promise<void>;
  close(): Promise<void>;
}

/** The subprotocol that carries `token`: URL-safe base64 of its UTF-8 bytes, without padding. */
export function bearerProtocol(token: string): string {
  return BEARER_PROTOCOL_PREFIX + encodeBase64Url(new TextEncoder().encode(token));
}

/** `chunk` over a plain `ArrayBuffer` (a copy only in the unusual case of shared memory). */
function overArrayBuffer(chunk: Uint8Array): Uint8Array<ArrayBuffer> {
  return chunk.buffer instanceof ArrayBuffer ? (chunk as Uint8Array<ArrayBuffer>) : new Uint8Array(chunk);
}

function outputStream(highWaterMark: number): { stream: ReadableStream<Uint8Array<ArrayBuffer>>; sink: OutputSink } {
  let controller!: ReadableStreamDefaultController<Uint8Array<ArrayBuffer>>;
  let wake: (() => void) | undefined;
  let gone = false;
  const wakeUp = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const stream = new ReadableStream<Uint8Array<ArrayBuffer>>(
    {
      start: (c) => {
        controller = c;
      },
      pull: wakeUp,
      cancel: () => {
        gone = true;
        wakeUp();
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark }),
  );
  return {
    stream,
    sink: {
      push: (chunk) => {
        if (gone) return true;
        controller.enqueue(overArrayBuffer(chunk));
        return (controller.desiredSize ?? 0) > 0;
      },
      demand: () => (gone ? Promise.resolve() : new Promise<void>((resolve) => (wake = resolve))),
      end: () => {
        if (!gone) controller.close();
      },
    },
  };
}

/** Run a command; see the Node `exec` for the URL, the options and the outcomes. */
export async function exec(url: string | URL, options: BrowserExecOptions = {}): Promise<BrowserExecSession> {
  const resolved = resolveExecOptions(url, options, () => createBrowserAdapter());
  const stdout = outputStream(resolved.highWaterMark);
  const stderr = outputStream(resolved.highWaterMark);
  const protocols = resolved.token === undefined ? resolved.protocols : [...resolved.protocols, bearerProtocol(resolved.token)];
  const session = await ChannelSession.open(resolved, { protocols }, stdout.sink, stderr.sink);
  const stdin = new WritableStream<Uint8Array>({
    write: (chunk) => session.writeStdin(chunk),
    close: () => session.endStdin(),
  });
  return {
    protocol: session.protocol.name,
    spec: session.protocol,
    handshake: session.handshake,
    stdin,
    stdout: stdout.stream,
    stderr: stderr.stream,
    resize: (cols, rows) => session.resize(cols, rows),
    exitCode: session.exitCode,
    closed: session.done,
    close: () => session.close(),
  };
}
