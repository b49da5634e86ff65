/**
 * The spans of one gateway request, made with `@opentelemetry/api`:
 *
 * ```
 * SERVER  POST /v1/chat/completions                (the whole request, stream included)
 *   INTERNAL  phase authenticate / admit / … / respond   (phases that have hooks)
 *     INTERNAL  hook <plugin>                       (a hook that took ≥ HOOK_MIN_MS or threw)
 *     CLIENT    chat <model>                        (each provider attempt: genai-span.ts)
 * ```
 *
 * Facts recorded as events by plugins (cache hit/miss, guardrail actions, admission, circuit
 * changes) become span events on the SERVER span with their numeric/boolean fields and a
 * short list of safe string fields only: never a message, a prompt, a key.
 */
import { type Attributes, type Context, propagation, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, type Tracer, trace } from "@opentelemetry/api";
import type { EventEnvelope } from "../events/envelope.ts";
import type { Ctx, Outcome } from "../pipeline/context.ts";
import { toGatewayError } from "../pipeline/errors.ts";

/** Hooks quicker than this get no span of their own (their phase span covers them). */
export const HOOK_MIN_MS = 1;

/** String fields of an event payload that are safe to copy onto a span (ids and enums, never text). */
const SAFE_STRINGS = new Set(["provider", "model", "limit", "budget", "period", "scope", "target", "code", "direction", "action", "result", "strategy", "kind", "status", "errorCode", "answeredBy"]);

const toEpoch = (t: number) => performance.timeOrigin + t;

export class RequestTrace {
  private readonly phases = new Map<string, Span>();
  readonly traceId: string;
  readonly spanId: string;
  /** False when the sampler dropped this trace: ids still propagate, nothing else is computed. */
  readonly recording: boolean;

  constructor(
    private readonly tracer: Tracer,
    readonly server: Span,
  ) {
    const sc = server.spanContext();
    this.traceId = sc.traceId;
    this.spanId = sc.spanId;
    this.recording = server.isRecording();
  }

  /**
   * Start the SERVER span of a request, continuing the caller's `traceparent`/`tracestate`.
   *
   * @example
   * const rt = RequestTrace.start(tracer, request, "/v1/chat/completions");
   */
  static start(tracer: Tracer, request: Request, route: string): RequestTrace {
    const carrier: Record<string, string> = {};
    const tp = request.headers.get("traceparent");
    if (tp) carrier.traceparent = tp;
    const ts = request.headers.get("tracestate");
    if (ts) carrier.tracestate = ts;
    const parent = tp ? propagation.extract(ROOT_CONTEXT, carrier) : ROOT_CONTEXT;
    const url = new URL(request.url);
    const span = tracer.startSpan(
      `${request.method} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          "http.request.method": request.method,
          "http.route": route,
          "url.path": url.pathname,
          "url.scheme": url.protocol.replace(":", ""),
          ...(request.headers.get("user-agent") ? { "user_agent.original": request.headers.get("user-agent")!.slice(0, 200) } : {}),
        },
      },
      parent,
    );
    return new RequestTrace(tracer, span);
  }

  /** The context whose active span is the innermost open phase (or the server span). */
  contextFor(phase?: string): Context {
    const parent = (phase && this.phases.get(phase)) || this.server;
    return trace.setSpan(ROOT_CONTEXT, parent);
  }

  /** Headers that carry `span`'s context upstream (W3C traceparent/tracestate). */
  static headersFor(span: Span): Record<string, string> {
    const carrier: Record<string, string> = {};
    propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier);
    return carrier;
  }

  startSpan(name: string, attributes: Attributes, kind: SpanKind, parentPhase?: string): Span {
    return this.tracer.startSpan(name, { kind, attributes }, this.contextFor(parentPhase));
  }

  phaseStarted(phase: string, hooks: number): ((error?: unknown) => void) | undefined {
    if (hooks === 0 || !this.recording) return undefined; // a phase that did no work gets no span
    const span = this.tracer.startSpan(`phase ${phase}`, { attributes: { "tollgate.phase": phase, "tollgate.phase.hooks": hooks } }, trace.setSpan(ROOT_CONTEXT, this.server));
    this.phases.set(phase, span);
    return (error) => {
      if (error !== undefined) markError(span, error);
      span.end();
    };
  }

  hookEnded(phase: string, plugin: string, startedAt: number, error?: unknown): void {
    const now = performance.now();
    if (!this.recording || (error === undefined && now - startedAt < HOOK_MIN_MS)) return;
    const span = this.tracer.startSpan(`hook ${plugin}`, { startTime: toEpoch(startedAt), attributes: { "tollgate.phase": phase, "tollgate.plugin": plugin } }, this.contextFor(phase));
    if (error !== undefined) markError(span, error);
    span.end(toEpoch(now));
  }

  /** A request event as a span event (safe fields only). */
  event(event: EventEnvelope): void {
    if (!this.recording || event.type === "request.received" || event.type === "request.completed") return;
    this.server.addEvent(event.type, safeAttributes(event.payload));
  }

  /** The request ended: outcome attributes on the SERVER span, then end it. */
  finished(ctx: Ctx, outcome: Outcome): void {
    const s = this.server;
    if (!this.recording) return s.end();
    s.setAttributes({
      "http.response.status_code": outcome.httpStatus,
      "tollgate.request_id": ctx.requestId,
      "tollgate.tenant": ctx.principal.tenant,
      "tollgate.config_version": ctx.config.version,
      "tollgate.status": outcome.status,
      "tollgate.cache.hit": ctx.answer?.cached === true,
      "tollgate.attempts": ctx.attempts,
      "tollgate.cost_usd": ctx.costUsd,
      "gen_ai.usage.input_tokens": outcome.usage.prompt_tokens,
      "gen_ai.usage.output_tokens": outcome.usage.completion_tokens,
      ...(ctx.target ? { "tollgate.provider": ctx.target.provider.id, "gen_ai.request.model": ctx.target.model } : {}),
      ...(ctx.principal.keyPrefix ? { "tollgate.key_prefix": ctx.principal.keyPrefix } : {}),
      ...(outcome.ttftMs !== undefined ? { "tollgate.ttft_ms": outcome.ttftMs } : {}),
    });
    if (outcome.error) s.setAttribute("error.type", outcome.error.code);
    // Server spans: only 5xx are errors of ours (a 4xx is the caller's).
    if (outcome.httpStatus >= 500) s.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error?.code ?? String(outcome.httpStatus) });
    for (const span of this.phases.values()) span.end(); // ending an ended span is a no-op
    s.end();
  }

  /** A request refused before the pipeline finished it (e.g. the emitter is saturated). */
  refused(status: number, code: string): void {
    this.server.setAttributes({ "http.response.status_code": status, "error.type": code });
    if (status >= 500) this.server.setStatus({ code: SpanStatusCode.ERROR, message: code });
    this.server.end();
  }
}

export function markError(span: Span, error: unknown): void {
  const e = toGatewayError(error);
  span.setAttribute("error.type", e.code);
  // The code, never the message: upstream messages may echo input.
  span.setStatus({ code: SpanStatusCode.ERROR, message: e.code });
}

/** Numbers, booleans and safe enum-like strings of a payload; string arrays and count maps flattened. */
export function safeAttributes(payload: unknown, prefix = ""): Attributes {
  const out: Attributes = {};
  if (!payload || typeof payload !== "object") return out;
  for (const [k, v] of Object.entries(payload as Record<string, unknown>)) {
    const key = prefix + k;
    if (typeof v === "number" || typeof v === "boolean") out[key] = v;
    else if (typeof v === "string" && SAFE_STRINGS.has(k) && v.length <= 200) out[key] = v;
    else if (Array.isArray(v) && (k === "types" || k === "detectors") && v.every((x) => typeof x === "string")) out[key] = v as string[];
    else if (v && typeof v === "object" && !Array.isArray(v) && (k === "types" || k === "counts")) Object.assign(out, safeAttributes(v, `${key}.`));
  }
  return out;
}
