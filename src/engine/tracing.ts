/**
 * Optional OpenTelemetry spans: `createEngine({ ..., tracing: otelTracing() })`. A separate
 * function, so that an app without tracing ships none of it. `@opentelemetry/api` is an optional
 * peer dependency: `otelTracing()` without a tracer loads it once, lazily, with a dynamic import
 * that is allowed to fail (then nothing is traced); spans of attempts made before it loaded are
 * skipped. Without a registered SDK the API itself hands out non-recording spans, which are cheap.
 *
 * Spans: `wsengine.connect` for each connection attempt (dial plus the open hook), and
 * `wsengine.close` for each local close. Attribute names follow the OpenTelemetry semantic
 * conventions where one exists (`server.address`, `server.port`, `url.full`).
 */

/** The part of an OpenTelemetry span the engine uses. */
export interface SpanLike {
  setAttribute(key: string, value: string | number | boolean): unknown;
  recordException(exception: Error | string): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  end(): void;
}

/** The part of an OpenTelemetry tracer the engine uses (a real `Tracer` fits). */
export interface TracerLike {
  startSpan(name: string, options?: { attributes?: Record<string, string | number | boolean> }): SpanLike;
}

interface OtelApi {
  trace: { getTracer(name: string, version?: string): TracerLike };
}

/** SpanStatusCode.ERROR of the OpenTelemetry API. */
const STATUS_ERROR = 2;
/** SpanStatusCode.OK. */
const STATUS_OK = 1;

let loading: Promise<TracerLike | undefined> | undefined;

/**
 * The global tracer of `@opentelemetry/api`, or `undefined` when the package is not installed.
 * The specifier is held in a variable so that bundlers leave the import alone.
 */
export function loadGlobalTracer(): Promise<TracerLike | undefined> {
  loading ??= (async () => {
    const specifier = '@opentelemetry/api';
    try {
      const api = (await import(/* @vite-ignore */ specifier)) as OtelApi;
      return api.trace.getTracer('wsengine');
    } catch {
      return undefined;
    }
  })();
  return loading;
}

/** Ends a span: with no argument it succeeded, with one it failed with that error. */
export type SpanEnd = (error?: unknown) => void;

/** What the engine asks of its `tracing` option: a span per connection attempt and per local close. */
export interface EngineTracing {
  /** An attempt (dial plus open hooks) to `url` begins. */
  connect(url: string, attempt: number): SpanEnd | undefined;
  /** A local close with `code` begins. */
  close(code: number): SpanEnd | undefined;
}

/**
 * Spans on an OpenTelemetry tracer: `wsengine.connect` per attempt (`server.address`,
 * `server.port`, `url.full` without query or credentials, `wsengine.attempt`) and
 * `wsengine.close` per local close (`websocket.close.code`). Without `tracer`, the global tracer
 * of `@opentelemetry/api` when that package is installed.
 */
export function otelTracing(tracer?: TracerLike): EngineTracing {
  let current = tracer;
  if (!current) void loadGlobalTracer().then((loaded) => (current = loaded));
  const span = (name: string, attributes: Record<string, string | number | boolean>): SpanEnd | undefined => {
    const started = current?.startSpan(name, { attributes });
    return started && ((error) => endSpan(started, error));
  };
  return {
    connect: (url, attempt) => span('wsengine.connect', { ...urlAttributes(url), 'wsengine.attempt': attempt }),
    close: (code) => span('wsengine.close', { 'websocket.close.code': code }),
  };
}

/** End a span, recording `error` if the operation failed. */
function endSpan(span: SpanLike, error?: unknown): void {
  if (error === undefined) span.setStatus({ code: STATUS_OK });
  else {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({ code: STATUS_ERROR, message: error instanceof Error ? error.message : String(error) });
  }
  span.end();
}

/** `server.address` and `server.port` of a URL string. */
function urlAttributes(url: string): Record<string, string | number> {
  try {
    const parsed = new URL(url);
    const port = parsed.port ? Number(parsed.port) : parsed.protocol === 'wss:' || parsed.protocol === 'https:' ? 443 : 80;
    parsed.username = '';
    parsed.password = '';
    parsed.search = '';
    return { 'server.address': parsed.hostname, 'server.port': port, 'url.full': parsed.href };
  } catch {
    return {};
  }
}
