/**
 * The gateway's telemetry in one object: traces (when on), metrics, the request log. The
 * HTTP bridge (api/gateway.ts) starts a request's trace and hands it every event the request
 * emits; the runner tells it about phases and hooks (PipelineObserver). Everything else —
 * metric values, span events, the log line — is derived here from those events.
 */
import type { EventEnvelope } from "../events/envelope.ts";
import type { Ctx, Outcome } from "../pipeline/context.ts";
import type { PipelineObserver } from "../pipeline/observer.ts";
import { PROVIDER_NAMES, requestTraceOf, TRACE_STATE_KEY } from "./genai-span.ts";
import { GatewayMetrics } from "./metrics.ts";
import { requestLogLine } from "./request-log.ts";
import { RequestTrace } from "./request-trace.ts";
import type { Tracing } from "./tracing.ts";

export interface TelemetryOptions {
  tracing?: Tracing | undefined;
  metrics?: GatewayMetrics;
  /** Where the per-request JSON line goes (default: none). main.ts passes `console.info`, so LOG_LEVEL applies. */
  requestLog?: ((line: string) => void) | undefined;
}

export class Telemetry implements PipelineObserver {
  readonly metrics: GatewayMetrics;
  readonly tracing: Tracing | undefined;
  private readonly requestLog: ((line: string) => void) | undefined;

  constructor(opts: TelemetryOptions = {}) {
    this.metrics = opts.metrics ?? new GatewayMetrics();
    this.tracing = opts.tracing;
    this.requestLog = opts.requestLog;
  }

  /** The SERVER span of a request, when tracing is on. */
  startRequest(request: Request, route: string): RequestTrace | undefined {
    return this.tracing ? RequestTrace.start(this.tracing.tracer, request, route) : undefined;
  }

  /** Put a request's trace in its ctx (so phases, attempts and events find it). */
  attach(state: Record<string, unknown>, rt: RequestTrace | undefined): void {
    if (rt) state[TRACE_STATE_KEY] = rt;
  }

  /** Every event a request emits (ctx absent for requests refused before the pipeline). */
  onEvent(event: EventEnvelope, ctx?: Ctx): void {
    const rt = ctx ? requestTraceOf(ctx) : undefined;
    this.metrics.observe(event, ctx ? { operation: ctx.operation, providerName: (id) => providerName(ctx, id) } : {});
    rt?.event(event);
    if (event.type === "request.completed" && this.requestLog) {
      try {
        this.requestLog(JSON.stringify(requestLogLine(event, rt?.spanId)));
      } catch {
        // logging never breaks a request
      }
    }
  }

  phaseStarted(ctx: Ctx, phase: string, hooks: number): ((error?: unknown) => void) | undefined {
    return requestTraceOf(ctx)?.phaseStarted(phase, hooks);
  }

  hookEnded(ctx: Ctx, phase: string, plugin: string, startedAt: number, error?: unknown): void {
    requestTraceOf(ctx)?.hookEnded(phase, plugin, startedAt, error);
  }

  finished(ctx: Ctx, outcome: Outcome): void {
    requestTraceOf(ctx)?.finished(ctx, outcome);
  }

  async flush(): Promise<void> {
    await this.tracing?.flush();
  }
}

function providerName(ctx: Ctx, id: string): string {
  const kind = ctx.providers.get(id)?.kind;
  return kind ? (PROVIDER_NAMES[kind] ?? kind) : id;
}
