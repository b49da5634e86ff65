/**
 * OpenTelemetry tracing for the process: on when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, off otherwise. Off means no SDK, no tracer, and
 * no span code on the request path (callers check for `undefined`).
 *
 * `@opentelemetry/sdk-node` reads the standard variables itself: `OTEL_SERVICE_NAME`,
 * `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`,
 * `OTEL_EXPORTER_OTLP_PROTOCOL` (default `http/protobuf`: OTLP over HTTP), `OTEL_BSP_*`,
 * `OTEL_PROPAGATORS` (default W3C `tracecontext,baggage`), `OTEL_SDK_DISABLED`.
 * Only traces are set up: metrics are served by /metrics (prom-client), logs go to stdout.
 */
import { type ContextManager, type Tracer, trace } from "@opentelemetry/api";

export interface Tracing {
  readonly tracer: Tracer;
  /** Export every finished span now (tests, shutdown). */
  flush(): Promise<void>;
}

type Env = Record<string, string | undefined>;

/** Whether the environment asks for traces. */
export function tracingWanted(env: Env = process.env): boolean {
  if ((env.OTEL_SDK_DISABLED ?? "").toLowerCase() === "true") return false;
  if ((env.OTEL_TRACES_EXPORTER ?? "").toLowerCase() === "none") return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

let started: Tracing | undefined;

/**
 * Start the SDK once per process (the tracer provider is global in OpenTelemetry) and return
 * the gateway's tracer; `undefined` when tracing is off.
 *
 * @example
 * const tracing = await startTracing({ version: "0.1.0" });
 * if (tracing) tracing.tracer.startSpan("…");
 */
export async function startTracing(opts: { version: string; env?: Env }): Promise<Tracing | undefined> {
  if (!tracingWanted(opts.env)) return undefined;
  if (started) return started;
  // Loaded only when tracing is on: the SDK and its exporters stay out of a process that does not trace.
  const { NodeSDK } = await import("@opentelemetry/sdk-node");
  if (started) return started;
  const sdk = new NodeSDK({
    serviceName: (opts.env ?? process.env).OTEL_SERVICE_NAME ?? "tollgate",
    // No auto-instrumentation: Bun's fetch and Bun.serve are not covered by it; our spans are explicit.
    instrumentations: [],
    // Traces only: no OTLP metrics or logs push (metrics are scraped from /metrics).
    metricReaders: [],
    logRecordProcessors: [],
    resourceDetectors: [],
    // No global async context manager (AsyncLocalStorage): every span here gets its parent
    // explicitly, so nothing needs context.active(), and the request path pays nothing for it.
    // The SDK skips the manager when given null (its type does not say so).
    contextManager: null as unknown as ContextManager,
  });
  sdk.start();
  const tracer = trace.getTracer("tollgate", opts.version);
  started = {
    tracer,
    async flush() {
      const provider = trace.getTracerProvider() as { getDelegate?: () => { forceFlush?: () => Promise<void> } };
      await provider.getDelegate?.().forceFlush?.();
    },
  };
  return started;
}
