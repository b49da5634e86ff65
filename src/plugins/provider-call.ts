/**
 * provider-call: tries the route's targets in order. Each attempt passes the target's circuit
 * breaker, has a timeout (until the first byte) within the request's deadline, and is
 * recorded; retryable failures are retried with full-jitter backoff (Retry-After wins), then
 * the next target is tried. A stream falls back only before its first chunk. An upstream 4xx
 * is returned as is. When every target failed: 503 `all_targets_failed` with the attempts.
 */
import { checkTarget, toUpstreamResponses } from "../canonical/responses-request.ts";
import { type ChatCompletionChunk, contentText } from "../canonical/chat.ts";
import type { EmbeddingsRequest } from "../canonical/embeddings.ts";
import type { Ctx, Target } from "../pipeline/context.ts";
import { GatewayError, toGatewayError } from "../pipeline/errors.ts";
import { type Answer, definePlugin } from "../pipeline/plugin.ts";
import { sleep as abortableSleep } from "../providers/attempt.ts";
import { ProviderError } from "../providers/errors.ts";
import type { ProviderCallOptions } from "../providers/types.ts";
import { planRetry } from "../routing/backoff.ts";
import type { Router } from "../routing/router.ts";
import { targetKey } from "../routing/types.ts";
import { startAttemptSpan } from "../telemetry/genai-span.ts";

export interface AttemptRecord {
  provider: string;
  model: string;
  attempt: number;
  status: number;
  code: string;
  message: string;
  latency_ms: number;
}

const DEFAULT_DEADLINE_MS = 120_000;

/**
 * @example
 * const router = new Router();
 * new Pipeline([routingPlugin(router), providerCallPlugin(router)])
 */
export function providerCallPlugin(router: Router, opts: { sleep?: (ms: number, signal: AbortSignal) => Promise<void> } = {}) {
  const sleep = opts.sleep ?? abortableSleep;
  return definePlugin({
    name: "provider-call",
    version: "2.0.0",
    enforce: "post",
    phases: {
      async call(ctx) {
        const targets = servable(ctx, ctx.targets ?? (ctx.target ? [ctx.target] : []));
        if (targets.length === 0) throw new GatewayError({ status: 500, code: "no_target", message: "No route target was selected" });
        const route = ctx.route;
        const deadline = performance.now() + (route?.deadlineMs ?? DEFAULT_DEADLINE_MS);
        const attempts: AttemptRecord[] = [];
        let last: GatewayError | undefined;
        for (const target of targets) {
          const key = targetKey({ provider: target.provider.id, model: target.model });
          for (let attempt = 0; ; attempt++) {
            const gate = router.admit(key);
            if (gate.transition) circuit(ctx, key, gate.transition);
            if (!gate.allowed) {
              attempts.push({ provider: target.provider.id, model: target.model, attempt, status: 503, code: "circuit_open", message: "circuit breaker open", latency_ms: 0 });
              break;
            }
            ctx.target = target;
            const remaining = deadline - performance.now();
            const limit = Math.min(route?.attemptTimeoutMs ?? Number.POSITIVE_INFINITY, remaining);
            const span = startAttemptSpan(ctx, target, attempt); // undefined when tracing is off
            const callOpts: ProviderCallOptions = { model: target.model, signal: ctx.signal, ...(Number.isFinite(limit) ? { timeoutMs: Math.max(1, limit) } : {}), ...(span ? { headers: span.headers } : {}) };
            const t0 = performance.now();
            ctx.attempts++;
            try {
              const answer = await callOnce(ctx, target, callOpts);
              const latency = performance.now() - t0;
              const transition = router.record(key, true, latency);
              if (transition) circuit(ctx, key, transition);
              report(ctx, "succeeded", target, attempt, latency);
              return span ? span.succeeded(answer) : answer;
            } catch (err) {
              span?.failed(err);
              const latency = performance.now() - t0;
              if (ctx.signal.aborted) throw err; // the client left: no retry, no fallback
              const error = toGatewayError(err);
              last = error;
              const upstreamFault = !(error.status >= 400 && error.status < 500) || error.status === 429;
              if (upstreamFault) {
                const transition = router.record(key, false);
                if (transition) circuit(ctx, key, transition);
              }
              attempts.push({ provider: target.provider.id, model: target.model, attempt, status: error.status, code: error.code, message: error.message, latency_ms: round(latency) });
              const plan = planRetry({
                attempt,
                maxRetries: route?.maxRetries ?? 0,
                error: { retryable: error instanceof ProviderError && error.retryable, ...(error instanceof ProviderError && error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}), status: error.status, code: error.code },
                deadlineRemainingMs: deadline - performance.now(),
                ...(route ? { backoff: route.backoff } : {}),
                rand: router.rand,
              });
              // `next` (issue 29, provider SLA "fallbacks caused"): what this failure led to.
              const isLast = target === targets[targets.length - 1];
              report(ctx, "failed", target, attempt, latency, error, plan.action === "retry" ? "retry" : plan.action === "fail" || isLast ? "fail" : "fallback");
              if (plan.action === "fail") throw withAttempts(error, attempts);
              if (plan.action === "retry") {
                await sleep(plan.delayMs, ctx.signal);
                continue;
              }
              break; // fall back to the next target
            }
          }
          if (deadline - performance.now() <= 0) break;
        }
        if (targets.length === 1 && last) throw withAttempts(last, attempts);
        throw new GatewayError({
          status: 503,
          code: "all_targets_failed",
          message: `Every target failed (${attempts.length} attempts)${last ? `; last: ${last.message}` : ""}`,
          details: { attempts },
          headers: { "retry-after": "1" },
        });
      },
    },
  });
}

/**
 * /v1/responses: the targets that can honour every field of the request (a provider that speaks
 * Responses honours all). Others are skipped, not tried: not a failure, the breaker is untouched.
 * None left: the first refusal, a 400 naming the field (`param`).
 */
function servable(ctx: Ctx, targets: Target[]): Target[] {
  const r = ctx.responses;
  if (!r || r.checks.length === 0) return targets;
  const ok = targets.filter((t) => t.provider.responses || !checkTarget(r.checks, t.provider.kind));
  if (ok.length === 0 && targets[0]) throw checkTarget(r.checks, targets[0].provider.kind)!;
  return ok;
}

/** One attempt. For a stream, waits for the first chunk (within the timeout) so failures before it can fall back. */
async function callOnce(ctx: Ctx, target: Target, opts: ProviderCallOptions): Promise<Answer> {
  const provider = target.provider;
  if (ctx.operation === "embeddings") {
    const embed = provider.embed?.bind(provider);
    if (!embed) throw new GatewayError({ status: 400, code: "embeddings_not_supported", message: `Provider \`${provider.id}\` does not offer embeddings`, param: "model" });
    return { kind: "embeddings", response: await embed(embeddingsRequest(ctx), opts) };
  }
  // /v1/responses: a provider that speaks Responses gets it in Responses format (the others were checked by `servable`).
  const native = ctx.responses && provider.responses;
  const body = native ? toUpstreamResponses(ctx.request, ctx.responses!.request, opts.model, ctx.stream) : undefined;
  if (!ctx.stream) return { kind: "response", response: await (native && body ? native.complete(body, opts) : provider.complete(ctx.request, opts)) };
  const started = performance.now();
  const it = (native && body ? native.stream(body, opts) : provider.stream(ctx.request, opts))[Symbol.asyncIterator]();
  const first = await firstChunk(it, Math.max(1, (opts.timeoutMs ?? 60_000) - (performance.now() - started)), provider.id);
  return { kind: "stream", chunks: rest(first, it) };
}

/** The first chunk, or a retryable 504 when it does not come in time (the upstream is cancelled). */
async function firstChunk(it: AsyncIterator<ChatCompletionChunk>, ms: number, provider: string): Promise<IteratorResult<ChatCompletionChunk>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ProviderError({ provider, status: 504, code: "upstream_timeout", message: `no first chunk within ${Math.round(ms)} ms`, retryable: true })), ms);
  });
  try {
    return await Promise.race([it.next(), timeout]);
  } catch (err) {
    void Promise.resolve(it.return?.()).catch(() => {});
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

async function* rest(first: IteratorResult<ChatCompletionChunk>, it: AsyncIterator<ChatCompletionChunk>): AsyncGenerator<ChatCompletionChunk> {
  try {
    for (let r = first; !r.done; r = await it.next()) yield r.value;
  } finally {
    await it.return?.();
  }
}

/** The embeddings request as the plugins left it: text inputs come from `ctx.request.messages`. */
function embeddingsRequest(ctx: Ctx): EmbeddingsRequest {
  const original = ctx.embeddings!;
  const texts = ctx.request.messages.map((m) => contentText(m.content ?? null));
  const textual = typeof original.input === "string" || (Array.isArray(original.input) && original.input.every((x) => typeof x === "string"));
  if (!textual) return original; // token arrays pass through untouched
  return { ...original, input: typeof original.input === "string" ? (texts[0] ?? "") : texts };
}

function withAttempts(error: GatewayError, attempts: AttemptRecord[]): GatewayError {
  if (attempts.length <= 1) return error;
  return new GatewayError({
    status: error.status,
    code: error.code,
    message: error.message,
    type: error.type,
    param: error.param,
    details: { ...error.details, attempts },
    ...(error.headers ? { headers: error.headers } : {}),
    cause: error,
  });
}

function report(ctx: Ctx, result: "succeeded" | "failed", target: Target, attempt: number, latencyMs: number, error?: GatewayError, next?: "retry" | "fallback" | "fail"): void {
  ctx.emit({
    type: `provider.attempt.${result}`,
    payload: {
      provider: target.provider.id,
      model: target.model,
      attempt,
      latencyMs: round(latencyMs),
      ...(error ? { status: error.status, code: error.code, message: error.message, retryable: error instanceof ProviderError && error.retryable } : {}),
      ...(next ? { next } : {}),
    },
  });
}

function circuit(ctx: Ctx, target: string, transition: string): void {
  const type = transition === "opened" ? "circuit.opened" : transition === "closed" ? "circuit.closed" : "circuit.half_opened";
  ctx.emit({ type, payload: { target } });
}

const round = (x: number) => Math.round(x * 100) / 100;
