/**
 * The semantic tier's I/O for the cache plugin: embed the conversation through the gateway's own
 * providers (any that offers embeddings), search the scope's index, and count what happened. An
 * embeddings call that fails or is slower than its timeout is a miss, never an error.
 */
import { type CacheEntry, decodeEntry } from "../cache/entry.ts";
import type { CachePlan } from "../cache/plan.ts";
import { savedUsd } from "../cache/saved.ts";
import { normalized, similarityBucket } from "../cache/semantic.ts";
import type { SemanticTier } from "../cache/semantic-store.ts";
import type { CacheStore } from "../cache/store.ts";
import type { Ctx } from "../pipeline/context.ts";
import { resolveModel } from "./routing.ts";
import { LOCAL_EMBEDDINGS_MODEL } from "../cache/policy.ts";
import { withTimeout } from "../util/with-timeout.ts";

export interface SemanticOutcome {
  entry?: CacheEntry;
  similarity?: number;
  /** The request's unit vector, to store the answer under after a miss. */
  unit?: Float32Array;
  /** What the embeddings call cost (recorded on this request). */
  costUsd: number;
}

/** Embeds `text` with `model` (an alias or provider/model); the unit vector and the call's cost. */
export async function embedText(ctx: Ctx, model: string, text: string, timeoutMs: number): Promise<{ unit: Float32Array; costUsd: number }> {
  const m = resolveModel(model, ctx.config, ctx.providers.list());
  const provider = m ? ctx.providers.get(m.provider) : undefined;
  if (!m || !provider?.embed) throw new Error(`embeddings model \`${model}\` is not available`);
  const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(timeoutMs)]);
  const res = await provider.embed({ model: m.model, input: text, encoding_format: "float" }, { model: m.model, signal, timeoutMs });
  const vector = res.data[0]?.embedding;
  const unit = Array.isArray(vector) ? normalized(vector) : undefined;
  if (!unit) throw new Error("the embeddings provider returned no usable vector");
  const costUsd = savedUsd(ctx.config, m.provider, m.model, { prompt_tokens: res.usage.prompt_tokens, completion_tokens: 0, total_tokens: res.usage.total_tokens });
  return { unit, costUsd };
}

/** Look the request up in its semantic scope; every outcome is counted. */
export async function semanticLookup(ctx: Ctx, plan: CachePlan, tier: SemanticTier, store: CacheStore, opts: { masterKey?: Buffer; timeoutMs: number }): Promise<SemanticOutcome> {
  const sem = plan.semantic!;
  let unit: Float32Array;
  let costUsd = 0;
  try {
    if (sem.embeddingsModel === LOCAL_EMBEDDINGS_MODEL) {
      // The built-in embedder (a worker thread): free, no provider.
      if (!tier.embedder) throw new Error("no local embedder in this gateway");
      unit = await embedTimeout(tier.embedder.embed(sem.text), opts.timeoutMs);
    } else ({ unit, costUsd } = await embedText(ctx, sem.embeddingsModel, sem.text, opts.timeoutMs));
  } catch (err) {
    store.count(plan.tenant, "embedding_errors");
    store.count(plan.tenant, "semantic_misses");
    ctx.emit({ type: "cache.semantic_miss", payload: { reason: "embeddings_failed", detail: isTimeout(err) ? "timeout" : (err as Error).message.slice(0, 200) } });
    return { costUsd: 0 };
  }
  if (costUsd > 0) store.count(plan.tenant, "embedding_micros", Math.round(costUsd * 1e6));
  let match: Awaited<ReturnType<SemanticTier["nearest"]>> = {};
  try {
    match = await tier.nearest(plan.tenant, sem.scope, unit, sem.threshold);
  } catch {
    store.count(plan.tenant, "errors");
  }
  store.count(plan.tenant, `sim_${similarityBucket(match.similarity)}`);
  const entry = match.entry ? decodeEntry(match.entry, opts.masterKey, plan.sealScope) : undefined;
  if (!entry || entry.answer.kind !== "response") {
    store.count(plan.tenant, "semantic_misses");
    ctx.emit({ type: "cache.semantic_miss", payload: { reason: match.similarity === undefined ? "empty" : "below_threshold", similarity: match.similarity ?? null, embeddingCostUsd: costUsd } });
    return { unit, costUsd, ...(match.similarity !== undefined ? { similarity: match.similarity } : {}) };
  }
  return { entry, unit, costUsd, similarity: match.similarity! };
}

function isTimeout(err: unknown): boolean {
  const e = err as { name?: string; code?: string };
  return e?.name === "TimeoutError" || e?.code === "upstream_timeout";
}

/** `p`, or a TimeoutError after `ms` (the work itself is not cancelled: the worker finishes it). */
function embedTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return withTimeout(p, ms, () => Object.assign(new Error(`timed out after ${ms} ms`), { name: "TimeoutError" }));
}
