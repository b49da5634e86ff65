/**
 * One CLIENT span per provider attempt, after the OpenTelemetry GenAI semantic conventions:
 * named `{gen_ai.operation.name} {gen_ai.request.model}`, with the request parameters, the
 * response model/id/finish reasons, token usage, `server.address`/`server.port`, and
 * `error.type` + status ERROR when the attempt failed. Retries and fallbacks are siblings
 * under the `call` phase span. Never the messages, never the completion text.
 */
import { type Span, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import type { ChatCompletion, ChatCompletionChunk } from "../canonical/chat.ts";
import type { Ctx, Target } from "../pipeline/context.ts";
import { toGatewayError } from "../pipeline/errors.ts";
import type { Answer } from "../pipeline/plugin.ts";
import { RequestTrace } from "./request-trace.ts";

/** Our provider kinds → `gen_ai.provider.name` well-known values (others: the kind itself). */
export const PROVIDER_NAMES: Record<string, string> = {
  openai: "openai",
  azure: "azure.ai.openai",
  anthropic: "anthropic",
  gemini: "gcp.gemini",
  mistral: "mistral_ai",
  together: "together_ai",
  echo: "tollgate.echo",
};

const DEFAULT_HOSTS: Record<string, string> = {
  openai: "https://api.openai.com",
  anthropic: "https://api.anthropic.com",
  gemini: "https://generativelanguage.googleapis.com",
  mistral: "https://api.mistral.ai",
  together: "https://api.together.xyz",
};

export interface AttemptSpan {
  /** Headers to send upstream: the attempt's `traceparent` (and `tracestate`). */
  readonly headers: Record<string, string>;
  /** The attempt answered: record the response (a stream is recorded as it ends) and pass the answer on. */
  succeeded(answer: Answer): Answer;
  failed(error: unknown): void;
}

export const TRACE_STATE_KEY = "telemetry.trace";

/** The request's trace, when tracing is on. */
export function requestTraceOf(ctx: Ctx): RequestTrace | undefined {
  return ctx.state[TRACE_STATE_KEY] as RequestTrace | undefined;
}

/**
 * @example
 * const span = startAttemptSpan(ctx, target, attempt); // undefined when tracing is off
 * const answer = await call({ headers: span?.headers });
 * return span ? span.succeeded(answer) : answer;
 */
export function startAttemptSpan(ctx: Ctx, target: Target, attempt: number): AttemptSpan | undefined {
  const rt = requestTraceOf(ctx);
  if (!rt) return undefined;
  if (!rt.recording) {
    // Not sampled: the upstream still gets the trace context (sampled flag 00), nothing is recorded.
    const headers = RequestTrace.headersFor(rt.server);
    return { headers, succeeded: (answer) => answer, failed: () => {} };
  }
  const operation = ctx.operation === "embeddings" ? "embeddings" : "chat";
  const req = ctx.request;
  const maxTokens = req.max_completion_tokens ?? req.max_tokens;
  const server = serverOf(ctx, target);
  const span = rt.startSpan(
    `${operation} ${target.model}`,
    {
      "gen_ai.operation.name": operation,
      "gen_ai.provider.name": PROVIDER_NAMES[target.provider.kind] ?? target.provider.kind,
      "gen_ai.request.model": target.model,
      "tollgate.provider": target.provider.id,
      "tollgate.attempt": attempt,
      ...(typeof req.temperature === "number" ? { "gen_ai.request.temperature": req.temperature } : {}),
      ...(typeof maxTokens === "number" ? { "gen_ai.request.max_tokens": maxTokens } : {}),
      ...(typeof req.top_p === "number" ? { "gen_ai.request.top_p": req.top_p } : {}),
      ...(ctx.stream ? { "gen_ai.request.stream": true } : {}),
      ...(server ? { "server.address": server.address, "server.port": server.port } : {}),
    },
    SpanKind.CLIENT,
    "call",
  );
  return {
    headers: RequestTrace.headersFor(span),
    succeeded(answer) {
      if (answer.kind === "response") {
        recordResponse(span, answer.response);
        span.end();
        return answer;
      }
      if (answer.kind === "embeddings") {
        span.setAttributes({ "gen_ai.response.model": answer.response.model, "gen_ai.usage.input_tokens": answer.response.usage.prompt_tokens });
        span.end();
        return answer;
      }
      return { ...answer, chunks: recordStream(span, answer.chunks) };
    },
    failed(error) {
      const e = toGatewayError(error);
      span.setAttributes({ "error.type": e.code, "http.response.status_code": e.status });
      span.setStatus({ code: SpanStatusCode.ERROR, message: e.code });
      span.end();
    },
  };
}

function recordResponse(span: Span, r: ChatCompletion): void {
  span.setAttributes({
    "gen_ai.response.model": r.model,
    "gen_ai.response.id": r.id,
    "gen_ai.response.finish_reasons": r.choices.map((c) => c.finish_reason ?? "unknown"),
    ...(r.usage ? { "gen_ai.usage.input_tokens": r.usage.prompt_tokens, "gen_ai.usage.output_tokens": r.usage.completion_tokens } : {}),
  });
}

/** Pass the chunks on, noting model, id, finish reasons and usage; the span ends with the stream. */
async function* recordStream(span: Span, chunks: AsyncIterable<ChatCompletionChunk>): AsyncGenerator<ChatCompletionChunk> {
  const reasons: string[] = [];
  let ok = false;
  try {
    for await (const c of chunks) {
      if (c.model) span.setAttribute("gen_ai.response.model", c.model);
      if (c.id) span.setAttribute("gen_ai.response.id", c.id);
      for (const ch of c.choices) if (ch.finish_reason) reasons[ch.index ?? 0] = ch.finish_reason;
      if (c.usage) span.setAttributes({ "gen_ai.usage.input_tokens": c.usage.prompt_tokens, "gen_ai.usage.output_tokens": c.usage.completion_tokens });
      yield c;
    }
    ok = true;
  } catch (err) {
    const e = toGatewayError(err);
    span.setAttribute("error.type", e.code);
    span.setStatus({ code: SpanStatusCode.ERROR, message: e.code });
    throw err;
  } finally {
    if (reasons.length) span.setAttribute("gen_ai.response.finish_reasons", reasons.filter(Boolean));
    if (!ok && !reasons.length) span.setAttribute("tollgate.stream.incomplete", true);
    span.end();
  }
}

function serverOf(ctx: Ctx, target: Target): { address: string; port: number } | undefined {
  const cfg = ctx.config.providers.find((p) => p.id === target.provider.id);
  const base = cfg?.baseUrl ?? DEFAULT_HOSTS[target.provider.kind];
  if (!base) return undefined;
  try {
    const u = new URL(base);
    return { address: u.hostname, port: u.port ? Number(u.port) : u.protocol === "https:" ? 443 : 80 };
  } catch {
    return undefined;
  }
}
