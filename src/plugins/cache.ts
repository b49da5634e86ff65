/**
 * cache: the exact response cache (lookup phase). A thin shell over src/cache: the plan (policy,
 * Cache-Control, key) is pure; this file does the I/O.
 *
 *   lookup   plan → bypass? header `bypass`
 *            one store GET (a slow or down store = a miss, never an error); on Redis with
 *            limits, started here and read beside admission (cache-pending.ts), the hit then
 *            answered first thing in the `call` phase
 *            hit  → key and tenant RPM still counted (one admission call, no TPM, no budget)
 *                 → answer: the stored completion (JSON), or replayed as a stream in pieces
 *            miss → header `miss`; the request goes on
 *   respond  (first) keeps the provider's answer before output plugins change it
 *   onChunk  (first) collects the provider's stream before output plugins change it
 *   onEnd    only when the request ended normally: stores that answer, after the response
 *            (never awaited on the request path)
 *
 * The entry is the answer as the provider gave it (after input redaction: placeholders, never
 * restored values); output plugins run again on every hit, for the request at hand.
 */
import type { ChatCompletionChunk } from "../canonical/chat.ts";
import { type CacheEntry, decodeEntry, encodeEntry, replayChunks, StreamCollector } from "../cache/entry.ts";
import { type BypassReason, type CachePlan, fresh, observedKeyHash, planRequest, type PlanInput } from "../cache/plan.ts";
import { CACHE_BYPASS_STATE, CACHE_KEY_STATE } from "../pipeline/request-facts.ts";
import { savedUsd } from "../cache/saved.ts";
import { costNanosOf, setCostNanos } from "../pipeline/cost.ts";
import { nanosFromUsd } from "../pricing/money.ts";
import type { CacheStore } from "../cache/store.ts";
import type { Ctx } from "../pipeline/context.ts";
import { type Answer, definePlugin } from "../pipeline/plugin.ts";
import type { StateStore } from "../stores/state-store.ts";
import { admitHit } from "./limits.ts";
import type { SemanticTier } from "../cache/semantic-store.ts";
import { semanticLookup } from "./cache-semantic.ts";
import { LOCAL_EMBEDDINGS_MODEL } from "../cache/policy.ts";
import { CACHE_PENDING_STATE, hasLimits } from "./cache-pending.ts";

export interface CachePluginOptions {
  store: CacheStore;
  /** For the RPM a hit still counts (absent: no rate limits on hits). */
  state?: StateStore;
  /** Seals entries with AES-256-GCM (`TOLLGATE_MASTER_KEY`). */
  masterKey?: Buffer;
  now?: () => number;
  /** The semantic tier (entries in the StateStore); absent: exact only. */
  semantic?: SemanticTier;
  /** Longest an embeddings call may take before the lookup counts a miss (default 2000 ms). */
  embedTimeoutMs?: number;
  /**
   * A Redis store and a request with limits: the exact GET goes beside admission instead of
   * before it (cache-pending.ts; the semantic tier keeps the lookup before routing).
   */
  besideAdmission?: boolean;
}

interface CacheState {
  plan: CachePlan;
  hit?: boolean;
  /** The provider's JSON answer, before output plugins. */
  raw?: Answer;
  /** Semantic miss: the vector to store the answer under. */
  unit?: Float32Array;
  /** Cost of the semantic tier's embeddings call, added to the request's cost at the end. */
  embedCostUsd?: number;
  collector?: StreamCollector;
  /** The exact lookup in flight beside admission: the usable entry, or undefined on a miss. */
  pending?: Promise<CacheEntry | undefined>;
}

const HEADER = "x-tollgate-cache";
/** `x-tollgate-cache-reason` on a bypass: why the cache stayed out of the way. */
export const BYPASS_HEADER: Readonly<Record<BypassReason, string>> = {
  mode_off: "mode-off",
  ttl_zero: "ttl-zero",
  not_deterministic: "nondeterministic",
  no_store: "no-store",
  no_cache: "no-cache",
};

/**
 * @example
 * new Pipeline([authPlugin(…), cachePlugin({ store: new MemoryCacheStore(), state }), routingPlugin(router), …])
 */
export function cachePlugin(opts: CachePluginOptions) {
  const { store } = opts;
  const now = opts.now ?? Date.now;
  const stateOf = (ctx: Ctx) => ctx.state["cache"] as CacheState | undefined;

  async function read(plan: CachePlan): Promise<CacheEntry | undefined> {
    try {
      const text = await store.get(plan.tenant, plan.hash!);
      return text ? decodeEntry(text, opts.masterKey, plan.sealScope) : undefined;
    } catch {
      store.count(plan.tenant, "errors");
      return undefined;
    }
  }

  function missed(ctx: Ctx, plan: CachePlan): void {
    ctx.responseHeaders[HEADER] = "miss";
    store.count(plan.tenant, "misses");
    ctx.emit({ type: "cache.miss", payload: { key: plan.hash } });
  }

  function exactHit(ctx: Ctx, s: CacheState, entry: CacheEntry): Answer {
    s.hit = true;
    delete s.collector;
    ctx.responseHeaders[HEADER] = "hit";
    store.count(s.plan.tenant, "hits");
    return answerFrom(ctx, entry, s.plan, store, now());
  }

  return definePlugin({
    name: "cache",
    version: "1.0.0",
    // First in every phase: its onChunk and respond hooks must see the provider's answer.
    enforce: "pre",
    phases: {
      async lookup(ctx): Promise<Answer | undefined> {
        const control = ctx.state["cache.control"];
        const input: PlanInput = {
          config: ctx.config,
          tenant: ctx.principal.tenant,
          ...(ctx.principal.keyId ? { keyId: ctx.principal.keyId } : {}),
          ...((ctx.meta.user ?? ctx.principal.user) ? { user: (ctx.meta.user ?? ctx.principal.user)! } : {}),
          ...((ctx.meta.service ?? ctx.principal.service) ? { service: (ctx.meta.service ?? ctx.principal.service)! } : {}),
          operation: ctx.operation,
          request: ctx.request,
          ...(ctx.embeddings ? { embeddings: ctx.embeddings } : {}),
          cacheControl: typeof control === "string" ? control : null,
        };
        const plan = planRequest(input);
        // Recorded on request.completed whether the cache is on or off (the explorer's cache-opportunity
        // analysis); a hash computed in-process, no store round trip.
        const observed = observedKeyHash(input, plan);
        if (observed) ctx.state[CACHE_KEY_STATE] = observed;
        if (plan.bypass) ctx.state[CACHE_BYPASS_STATE] = plan.bypass;
        const s: CacheState = { plan };
        ctx.state["cache"] = s;
        if (plan.store && ctx.stream) s.collector = new StreamCollector();
        if (plan.hash) ctx.responseHeaders["x-tollgate-cache-key"] = plan.hash;
        if (!plan.lookup) {
          ctx.responseHeaders[HEADER] = "bypass";
          if (plan.bypass) ctx.responseHeaders[`${HEADER}-reason`] = BYPASS_HEADER[plan.bypass];
          return undefined;
        }
        const usable = (e: CacheEntry | undefined) => (e && (e.answer.kind === "embeddings") === (ctx.operation === "embeddings") && fresh(e.storedAt, now(), plan.directives) ? e : undefined);
        if (opts.besideAdmission && store.kind === "redis" && opts.state && !(plan.semantic && opts.semantic) && hasLimits(ctx)) {
          // In flight beside admission (cache-pending.ts): answered first thing in the call phase.
          s.pending = read(plan).then(usable);
          ctx.state[CACHE_PENDING_STATE] = s.pending.then(Boolean);
          return undefined;
        }
        let entry = usable(await read(plan));
        if (!entry) {
          missed(ctx, plan);
          if (!plan.semantic || !opts.semantic) return undefined;
          const sem = await semanticLookup(ctx, plan, opts.semantic, store, { ...(opts.masterKey ? { masterKey: opts.masterKey } : {}), timeoutMs: opts.embedTimeoutMs ?? 2000 });
          s.embedCostUsd = sem.costUsd;
          if (sem.similarity !== undefined) ctx.responseHeaders["x-tollgate-cache-similarity"] = sem.similarity.toFixed(4);
          if (!sem.entry || !fresh(sem.entry.storedAt, now(), plan.directives)) {
            if (sem.unit) s.unit = sem.unit;
            return undefined;
          }
          entry = sem.entry;
          await admitHit(ctx, opts.state);
          s.hit = true;
          delete s.collector;
          ctx.responseHeaders[HEADER] = "semantic-hit";
          store.count(plan.tenant, "semantic_hits");
          return answerFrom(ctx, entry, plan, store, now(), { semantic: true, similarity: sem.similarity! });
        }
        await admitHit(ctx, opts.state);
        return exactHit(ctx, s, entry);
      },
      // The lookup that went beside admission: the limits plugin admitted a hit as a hit.
      async call(ctx): Promise<Answer | undefined> {
        const s = stateOf(ctx);
        if (!s?.pending) return undefined;
        const entry = await s.pending;
        delete s.pending;
        if (entry) return exactHit(ctx, s, entry);
        missed(ctx, s.plan);
        return undefined;
      },
      respond(ctx) {
        const s = stateOf(ctx);
        if (s && !s.hit && ctx.answer && ctx.answer.kind !== "stream") s.raw = ctx.answer;
      },
      onChunk(ctx, chunk) {
        stateOf(ctx)?.collector?.add(chunk);
      },
      onEnd(ctx, outcome) {
        const s = stateOf(ctx);
        // The semantic tier's embeddings call is part of this request's cost (settled with it).
        if (s?.embedCostUsd) setCostNanos(ctx, costNanosOf(ctx) + nanosFromUsd(s.embedCostUsd));
        if (!s || s.hit || !s.plan.store || outcome.status !== "ok" || !ctx.answer || ctx.answer.cached) return;
        // The budget capped max_tokens (limits plugin): a shortened answer must not serve the uncapped request later.
        if (ctx.state["limits.capped_max_tokens"] !== undefined) return;
        const answer = s.raw ?? ctx.answer;
        const plan = s.plan;
        const collector = s.collector;
        const target = ctx.target;
        // Never on the request path: encode, seal and write after the response went out.
        setImmediate(() => {
          let stored: CacheEntry["answer"] | undefined;
          if (answer.kind === "response") stored = { kind: "response", response: answer.response };
          else if (answer.kind === "embeddings") stored = { kind: "embeddings", response: answer.response };
          else {
            const r = collector?.result();
            // Only a stream that ended normally, with a finish reason on every choice.
            if (r && r.choices.length && r.choices.every((c) => c.finish_reason)) stored = { kind: "response", response: r };
          }
          if (!stored) return;
          const text = encodeEntry({ v: 1, storedAt: now(), provider: target?.provider.id ?? null, model: target?.model ?? null, answer: stored }, opts.masterKey, plan.sealScope);
          if (Buffer.byteLength(text) > plan.policy.maxEntryBytes) return;
          store.set(plan.tenant, plan.hash!, text, plan.policy.ttlSeconds * 1000).catch(() => store.count(plan.tenant, "errors"));
          if (s.unit && plan.semantic && opts.semantic && stored.kind === "response") {
            opts.semantic.add(plan.tenant, plan.semantic.scope, s.unit, text, now() + plan.policy.ttlSeconds * 1000).catch(() => store.count(plan.tenant, "errors"));
          } else if (!s.unit && plan.semantic?.embeddingsModel === LOCAL_EMBEDDINGS_MODEL && opts.semantic?.embedder && opts.semantic.embedder.health().state !== "degraded" && stored.kind === "response") {
            // Issue 31: the local embedder missed the lookup (e.g. its worker was still loading): embed now, off the request, and store.
            const { scope, text: convo } = plan.semantic;
            const tier = opts.semantic;
            tier.embedder!.embed(convo).then((unit) => tier.add(plan.tenant, scope, unit, text, now() + plan.policy.ttlSeconds * 1000)).catch(() => store.count(plan.tenant, "errors"));
          }
        });
      },
    },
  });
}

/** The answer of a hit (exact or semantic): headers, target, savings, counters, events. */
function answerFrom(ctx: Ctx, entry: CacheEntry, plan: CachePlan, store: CacheStore, nowMs: number, semantic?: { semantic: true; similarity: number }): Answer {
  const ageMs = Math.max(0, nowMs - entry.storedAt);
  ctx.responseHeaders["age"] = String(Math.floor(ageMs / 1000));
  const provider = entry.provider ? ctx.providers.get(entry.provider) : undefined;
  if (provider && entry.model) ctx.target = { provider, model: entry.model, requested: ctx.request.model };
  const usage = entry.answer.kind === "response" ? entry.answer.response.usage : { ...entry.answer.response.usage, completion_tokens: 0 };
  const saved = savedUsd(ctx.config, entry.provider, entry.model, usage);
  ctx.savedUsd = saved;
  ctx.savedNanos = nanosFromUsd(saved);
  if (saved > 0) store.count(plan.tenant, "saved_micros", Math.round(saved * 1e6));
  ctx.emit({ type: semantic ? "cache.semantic_hit" : "cache.hit", payload: { key: plan.hash, ageMs, savedUsd: saved, ...(semantic ? { similarity: semantic.similarity } : {}) } });
  if (entry.answer.kind === "embeddings") return { kind: "embeddings", response: entry.answer.response, cached: true };
  if (ctx.stream) return { kind: "stream", chunks: replay(entry), cached: true };
  return { kind: "response", response: entry.answer.response, cached: true };
}

async function* replay(entry: CacheEntry): AsyncGenerator<ChatCompletionChunk> {
  if (entry.answer.kind !== "response") return;
  yield* replayChunks(entry.answer.response);
}
