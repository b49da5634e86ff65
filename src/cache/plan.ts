/**
 * Pure: what the cache does with one request — look up, store, or stay out of the way (and
 * why) — and under which key. Inputs are plain values, so this is tested without a gateway.
 */
import type { ChatCompletionRequest } from "../canonical/chat.ts";
import type { EmbeddingsRequest } from "../canonical/embeddings.ts";
import type { ConfigSnapshot } from "../config/snapshot.ts";
import { cacheKey, isDeterministic, type KeyInput, routeDefinition, scopeOf } from "./key.ts";
import { type SemanticInput, semanticInput } from "./semantic.ts";
import { type CacheDirectives, type CachePolicy, effectivePolicy, parseCacheControl } from "./policy.ts";

export type BypassReason = "mode_off" | "ttl_zero" | "not_deterministic" | "no_store" | "no_cache";

export interface CachePlan {
  tenant: string;
  /** The key (SHA-256 hex); absent when the request bypasses the cache entirely. */
  hash?: string;
  policy: CachePolicy;
  directives: CacheDirectives;
  lookup: boolean;
  store: boolean;
  /** Why the lookup was skipped. */
  bypass?: BypassReason;
  /** The semantic tier's scope and text, when the tenant turned it on and the request fits it. */
  semantic?: SemanticInput & { embeddingsModel: string; threshold: number };
  /** The scope sealed entries are bound to (AES-GCM additional data, see cache/entry.ts). */
  sealScope?: string;
}

export interface PlanInput {
  config: Pick<ConfigSnapshot, "routes" | "models" | "cache">;
  tenant: string;
  keyId?: string;
  /** The end customer (`user` scope). */
  user?: string;
  service?: string;
  operation: "chat" | "embeddings";
  request: ChatCompletionRequest;
  embeddings?: EmbeddingsRequest;
  cacheControl?: string | null;
}

export function planRequest(input: PlanInput): CachePlan {
  const policy = effectivePolicy(input.config.cache, input.tenant);
  const directives = parseCacheControl(input.cacheControl);
  const base = { tenant: input.tenant, policy, directives, lookup: false, store: false };
  if (policy.mode === "off") return { ...base, bypass: "mode_off" };
  if (policy.ttlSeconds === 0) return { ...base, bypass: "ttl_zero" };
  if (policy.mode === "deterministic" && !isDeterministic(input.request, input.operation)) return { ...base, bypass: "not_deterministic" };
  if (directives.noStore) return { ...base, bypass: "no_store" };
  const keyInput: KeyInput = {
    scope: scopeOf(input.tenant, input.keyId, policy.scope, input.user),
    operation: input.operation,
    request: input.request,
    ...(input.embeddings ? { embeddings: input.embeddings } : {}),
    route: routeDefinition(input.request.model, input.config, input.tenant, input.service),
  };
  const hash = cacheKey(keyInput);
  const sealScope = `${input.tenant}|${keyInput.scope}`;
  const sem = policy.semantic ? semanticInput(keyInput, policy.semantic.maxMessages) : undefined;
  const semantic = sem && policy.semantic ? { semantic: { ...sem, embeddingsModel: policy.semantic.embeddingsModel, threshold: policy.semantic.threshold } } : {};
  if (directives.noCache) return { ...base, hash, sealScope, store: true, bypass: "no_cache", ...semantic };
  return { ...base, hash, sealScope, lookup: true, store: true, ...semantic };
}

/** Pure: whether an entry stored at `storedAt` may answer now (`max-age`; the TTL is the store's job). */
export function fresh(storedAt: number, now: number, directives: CacheDirectives): boolean {
  if (directives.maxAgeSeconds === undefined) return true;
  return now - storedAt <= directives.maxAgeSeconds * 1000;
}

/**
 * Pure: the exact-cache key this request has (or would have, with the cache on), for the
 * request explorer's cache-opportunity analysis. The plan's own hash when it has one; else the
 * same derivation under the tenant's scope. Undefined when the request cannot be serialized.
 */
export function observedKeyHash(input: PlanInput, plan: CachePlan): string | undefined {
  if (plan.hash) return plan.hash;
  try {
    return cacheKey({
      scope: scopeOf(input.tenant, input.keyId, plan.policy.scope),
      operation: input.operation,
      request: input.request,
      ...(input.embeddings ? { embeddings: input.embeddings } : {}),
      route: routeDefinition(input.request.model, input.config, input.tenant, input.service),
    });
  } catch {
    return undefined;
  }
}
