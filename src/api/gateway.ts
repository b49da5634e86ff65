/**
 * The bridge between an HTTP request and the pipeline: builds the ctx, runs it, and turns a
 * stream into a Server-Sent Events response that cancels upstream when the client leaves.
 */
import type { ChatCompletionChunk, ChatCompletionRequest } from "../canonical/chat.ts";
import type { EmbeddingsRequest } from "../canonical/embeddings.ts";
import type { ConfigSnapshot } from "../config/snapshot.ts";
import type { BatchingEmitter } from "../events/emitter.ts";
import { makeEvent } from "../events/envelope.ts";
import { uuidv7 } from "../events/uuidv7.ts";
import type { Ctx, ProviderLookup } from "../pipeline/context.ts";
import { errors, GatewayError, toGatewayError } from "../pipeline/errors.ts";
import { boundIdentifier } from "../canonical/limits.ts";
import { credentialFrom } from "../plugins/auth.ts";
import { COMPLETED_VERSION, type Pipeline, type PipelineResult } from "../pipeline/runner.ts";
import type { Telemetry } from "../telemetry/telemetry.ts";
import { requestTraceOf } from "../telemetry/genai-span.ts";

export interface GatewayDeps {
  pipeline: Pipeline;
  /** The current configuration snapshot (read per request, never fetched). */
  config: () => ConfigSnapshot;
  providers: ProviderLookup;
  emitter: BatchingEmitter;
  /** Traces, metrics and the request log; every request event passes through it. */
  telemetry?: Telemetry;
}

export interface GatewayInput {
  endpoint: Ctx["endpoint"];
  request: ChatCompletionRequest;
  meta?: Ctx["meta"];
  /** For embeddings: the original request (`request.messages` then holds its text inputs). */
  embeddings?: EmbeddingsRequest;
  /** For /v1/responses: the client's Responses request and the checks a target must pass. */
  responses?: Ctx["responses"];
}

export type GatewayOutcome =
  | { ok: true; ctx: Ctx; result: PipelineResult }
  | { ok: false; ctx: Ctx; error: GatewayError };

/**
 * Run one request through the pipeline. Never throws: errors come back as values.
 * Resolves only once the request's events are stored (group-committed, see
 * BatchingEmitter.settled): an answered request is never missing from the log. A stream does
 * the same before its last event (sseResponse).
 */
export async function runGateway(deps: GatewayDeps, httpRequest: Request, input: GatewayInput): Promise<GatewayOutcome> {
  const ctx = createCtx(deps, httpRequest, input);
  if (deps.emitter.saturated) {
    const error = errors.overloaded("The event log is behind; retry shortly");
    recordRejected(deps, ctx.requestId, input.request.model, input.endpoint, error);
    requestTraceOf(ctx)?.refused(error.status, error.code);
    return { ok: false, ctx, error };
  }
  let outcome: GatewayOutcome;
  try {
    outcome = { ok: true, ctx, result: await deps.pipeline.run(ctx) };
    if (outcome.result.kind === "stream") return outcome; // settles before its last event
  } catch (err) {
    outcome = { ok: false, ctx, error: toGatewayError(err) };
  }
  await deps.emitter.settled();
  return outcome;
}

function createCtx(deps: GatewayDeps, httpRequest: Request, input: GatewayInput): Ctx {
  const requestId = uuidv7();
  const config = deps.config();
  const aborter = new AbortController();
  if (httpRequest.signal.aborted) aborter.abort();
  else httpRequest.signal.addEventListener("abort", () => aborter.abort(new Error("client disconnected")), { once: true });
  const rt = deps.telemetry?.tracing ? deps.telemetry.startRequest(httpRequest, new URL(httpRequest.url).pathname) : undefined;
  // With tracing on, the SERVER span's trace (the caller's when it sent a traceparent).
  const traceId = rt?.traceId ?? traceIdOf(httpRequest);
  const ctx: Ctx = {
    requestId,
    ...(traceId ? { traceId } : {}),
    startedAt: performance.now(),
    endpoint: input.endpoint,
    request: input.request,
    operation: input.embeddings ? "embeddings" : "chat",
    ...(input.embeddings ? { embeddings: input.embeddings } : {}),
    ...(input.responses ? { responses: input.responses } : {}),
    stream: input.request.stream === true,
    principal: { tenant: "default" },
    meta: input.meta ?? {},
    config,
    providers: deps.providers,
    attempts: 0,
    costUsd: 0,
    signal: aborter.signal,
    responseHeaders: traceId ? { "x-trace-id": traceId } : {},
    timings: {},
    state: { "gateway.abort": aborter, "gateway.settled": deps.emitter, "auth.credential": credentialFrom(httpRequest.headers), ...(httpRequest.headers.get("x-tollgate-strategy") ? { "routing.strategy": httpRequest.headers.get("x-tollgate-strategy") } : {}), ...(httpRequest.headers.get("cache-control") ? { "cache.control": httpRequest.headers.get("cache-control") } : {}) },
    emit(e) {
      const event = makeEvent({ ...e, tenant: ctx.principal.tenant, requestId, configVersion: config.version, ...(traceId ? { traceId } : {}) });
      deps.emitter.emit("requests", ctx.principal.tenant, event);
      deps.telemetry?.onEvent(event, ctx);
    },
  };
  deps.telemetry?.attach(ctx.state, rt);
  return ctx;
}

/** W3C traceparent → trace id. */
function traceIdOf(req: Request): string | undefined {
  const tp = req.headers.get("traceparent");
  const m = tp && /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(tp.trim());
  return m ? m[1] : undefined;
}

/**
 * Record a request refused before the pipeline ran (bad JSON, failed validation, too large):
 * `request.received` and `request.completed` with the error code, like every other request.
 */
export function recordRejected(deps: Pick<GatewayDeps, "emitter" | "telemetry">, requestId: string, model: unknown, endpoint: string, error: GatewayError): void {
  const base = { tenant: "default", requestId };
  // Never trust the size of what was refused: the identifier is cut before it reaches an event.
  const requestedModel = typeof model === "string" ? boundIdentifier(model) : null;
  deps.emitter.emit("requests", "default", makeEvent({ ...base, type: "request.received", payload: { endpoint, model: requestedModel, rejected: true } }));
  const completed = makeEvent({
    ...base,
    type: "request.completed",
    v: COMPLETED_VERSION,
    payload: {
      status: "error",
      httpStatus: error.status,
      errorCode: error.code,
      errorMessage: error.message,
      endpoint,
      requestedModel,
      provider: null,
      model: null,
      inputTokens: 0,
      outputTokens: 0,
      cachedTokens: 0,
      costNanos: 0,
      costUsd: 0,
      attempts: 0,
      cached: false,
      latencyMs: 0,
    },
  });
  deps.emitter.emit("requests", "default", completed);
  deps.telemetry?.onEvent(completed);
}

/** Turns canonical chunks into a client's SSE framing (OpenAI, Anthropic…). */
export interface SseWriter {
  /** The text for one chunk (null = nothing to send for it). */
  write(chunk: ChatCompletionChunk): string | null;
  /** What closes a good stream (e.g. `data: [DONE]`). */
  end(): string;
  /** The last event of a stream that failed midway. */
  error(error: GatewayError): string;
}

/**
 * A Server-Sent Events response over a pipeline stream. If the client disconnects, the
 * stream's iterator is returned, which stops the upstream call and records the request as
 * `client_disconnected`.
 */
export function sseResponse(ctx: Ctx, chunks: AsyncIterableIterator<ChatCompletionChunk>, writer: SseWriter, headers: Record<string, string> = {}): Response {
  const encoder = new TextEncoder();
  const aborter = ctx.state["gateway.abort"] as AbortController | undefined;
  // The request's events are stored before the stream's last event goes out.
  const emitter = ctx.state["gateway.settled"] as Pick<BatchingEmitter, "settled"> | undefined;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        // Loop until something is enqueued: a pull that enqueues nothing is not called again.
        for (;;) {
          const r = await chunks.next();
          if (r.done) {
            await emitter?.settled();
            controller.enqueue(encoder.encode(writer.end()));
            controller.close();
            return;
          }
          const text = writer.write(r.value);
          if (text) {
            controller.enqueue(encoder.encode(text));
            return;
          }
        }
      } catch (err) {
        await emitter?.settled();
        controller.enqueue(encoder.encode(writer.error(toGatewayError(err))));
        controller.close();
      }
    },
    async cancel() {
      aborter?.abort(new Error("client disconnected"));
      await chunks.return?.(undefined);
    },
  });
  return new Response(body, {
    status: 200,
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
      "x-accel-buffering": "no",
      ...headers,
    },
  });
}
