/**
 * provider-call: calls the target chosen by the route phase (streaming or not) and records
 * the attempt. Retries, breakers and fallbacks arrive with the resilience work.
 */
import { type ChatCompletionChunk, contentText } from "../canonical/chat.ts";
import type { EmbeddingsRequest } from "../canonical/embeddings.ts";
import type { Ctx } from "../pipeline/context.ts";
import { GatewayError, toGatewayError } from "../pipeline/errors.ts";
import { definePlugin } from "../pipeline/plugin.ts";

/**
 * @example
 * new Pipeline([routingPlugin(), providerCallPlugin()])
 */
export function providerCallPlugin() {
  return definePlugin({
    name: "provider-call",
    version: "1.0.0",
    enforce: "post",
    phases: {
      async call(ctx) {
        const target = ctx.target;
        if (!target) throw new GatewayError({ status: 500, code: "no_target", message: "No route target was selected" });
        const opts = { model: target.model, signal: ctx.signal };
        const t0 = performance.now();
        if (ctx.operation === "embeddings") {
          const embed = target.provider.embed?.bind(target.provider);
          if (!embed) throw new GatewayError({ status: 400, code: "embeddings_not_supported", message: `Provider \`${target.provider.id}\` does not offer embeddings`, param: "model" });
          try {
            const response = await embed(embeddingsRequest(ctx), opts);
            attempt(ctx, "succeeded", t0);
            return { kind: "embeddings", response };
          } catch (err) {
            attempt(ctx, "failed", t0, err);
            throw err;
          }
        }
        if (!ctx.stream) {
          try {
            const response = await target.provider.complete(ctx.request, opts);
            attempt(ctx, "succeeded", t0);
            return { kind: "response", response };
          } catch (err) {
            attempt(ctx, "failed", t0, err);
            throw err;
          }
        }
        return { kind: "stream", chunks: recorded(ctx, target.provider.stream(ctx.request, opts), t0) };
      },
    },
  });
}

/** The embeddings request as the plugins left it: text inputs come from `ctx.request.messages`. */
function embeddingsRequest(ctx: Ctx): EmbeddingsRequest {
  const original = ctx.embeddings!;
  const texts = ctx.request.messages.map((m) => contentText(m.content ?? null));
  const textual = typeof original.input === "string" || (Array.isArray(original.input) && original.input.every((x) => typeof x === "string"));
  if (!textual) return original; // token arrays pass through untouched
  return { ...original, input: typeof original.input === "string" ? (texts[0] ?? "") : texts };
}

/** Wraps a provider stream to record the attempt once it ends (or fails). */
async function* recorded(ctx: Ctx, chunks: AsyncIterable<ChatCompletionChunk>, t0: number) {
  try {
    yield* chunks;
    attempt(ctx, "succeeded", t0);
  } catch (err) {
    attempt(ctx, "failed", t0, err);
    throw err;
  }
}

function attempt(ctx: Ctx, result: "succeeded" | "failed", t0: number, err?: unknown): void {
  const error = err === undefined ? undefined : toGatewayError(err);
  ctx.emit({
    type: `provider.attempt.${result}`,
    payload: {
      provider: ctx.target?.provider.id ?? null,
      model: ctx.target?.model ?? null,
      latencyMs: Math.round((performance.now() - t0) * 100) / 100,
      ...(error ? { status: error.status, code: error.code, message: error.message } : {}),
    },
  });
}
