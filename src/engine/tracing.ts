/**
 * Optional OpenTelemetry spans. `@opentelemetry/api` is an optional peer dependency: it is
 * loaded once, lazily, with a dynamic import that is allowed to fail. Without it (or with
 * `tracing: false`) every span call is a no-op on an `undefined` tracer: nothing is allocated.
 * Without a registered SDK the API itself hands out non-recording spans, which are cheap too.
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

/** Resolve the `tracing` option: `false`, `true` (the global tracer if installed), or a tracer. */
export async function resolveTracer(option: boolean | TracerLike | undefined): Promise<TracerLike | undefined> {
  if (option === false) return undefined;
  if (option === undefined || option === true) return loadGlobalTracer();
  return option;
}

/** Start a span, or nothing without a tracer. */
export function startSpan(
  tracer: TracerLike | undefined,
  name: string,
  attributes: Record<string, string | number | boolean>,
): SpanLike | undefined {
  return tracer?.startSpan(name, { attributes });
}

/** End a span, recording `error` if the operation failed. */
export function endSpan(span: SpanLike | undefined, error?: unknown): void {
  if (!span) return;
  if (error === undefined) span.setStatus({ code: STATUS_OK });
  else {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({ code: STATUS_ERROR, message: error instanceof Error ? error.message : String(error) });
  }
  span.end();
}

/** `server.address` and `server.port` of a URL string. */
export function urlAttributes(url: string): Record<string, string | number> {
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
