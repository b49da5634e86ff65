/**
 * One structured JSON line per request at info level, built from the `request.completed`
 * event (ids, tenant, key prefix, provider, model, status, code, latency, tokens, cost) and the
 * request's span id when tracing is on. Never the prompt, the completion, a key or an error
 * message (upstream messages may echo input): the error `code` says what went wrong.
 */
import { payloadNanos, usdFromNanos } from "../pricing/money.ts";
import type { EventEnvelope } from "../events/envelope.ts";

export interface RequestLogLine {
  time: string;
  level: "info";
  msg: "request";
  request_id: string | null;
  trace_id: string | null;
  span_id: string | null;
  tenant: string;
  key_prefix: string | null;
  endpoint: string | null;
  provider: string | null;
  model: string | null;
  status: string | null;
  http_status: number | null;
  code: string | null;
  latency_ms: number | null;
  ttft_ms: number | null;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  cached: boolean;
  attempts: number;
}

const s = (v: unknown) => (typeof v === "string" ? v : null);
const n = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : null);

/** The log line of a `request.completed` event. */
export function requestLogLine(event: EventEnvelope, spanId?: string): RequestLogLine {
  const p = (event.payload ?? {}) as Record<string, unknown>;
  return {
    time: event.time,
    level: "info",
    msg: "request",
    request_id: event.requestId ?? null,
    trace_id: event.traceId ?? null,
    span_id: spanId ?? null,
    tenant: event.tenant,
    key_prefix: s(p.keyPrefix),
    endpoint: s(p.endpoint),
    provider: s(p.provider),
    model: s(p.model) ?? s(p.requestedModel),
    status: s(p.status),
    http_status: n(p.httpStatus),
    code: s(p.errorCode),
    latency_ms: n(p.latencyMs),
    ttft_ms: n(p.ttftMs),
    input_tokens: n(p.inputTokens) ?? 0,
    output_tokens: n(p.outputTokens) ?? 0,
    cost_usd: usdFromNanos(payloadNanos(p, "cost")),
    cached: p.cached === true,
    attempts: n(p.attempts) ?? 0,
  };
}
