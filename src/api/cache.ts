/**
 * Cache management:
 *   GET    /v1/cache/stats               hits, misses, hit rate, entries, bytes, saved USD
 *   DELETE /v1/cache                     purge entries
 * A virtual key sees and purges its own tenant's entries; the admin key any tenant's
 * (`?tenant_id=`) or all. And the cache policy, as config events:
 *   GET|PUT        /api/v1/admin/cache                 the global policy
 *   GET|PUT|DELETE /api/v1/admin/tenants/{id}/cache    a tenant's policy (over the global one)
 */
import { Elysia } from "elysia";
import { Type as T } from "@sinclair/typebox";
import { CachePolicyFields, effectivePolicy, GLOBAL_POLICY_ID } from "../cache/policy.ts";
import type { CacheStore } from "../cache/store.ts";
import type { SemanticTier } from "../cache/semantic-store.ts";
import type { ConfigSnapshot } from "../config/snapshot.ts";
import { GatewayError } from "../pipeline/errors.ts";
import { authenticate, credentialFrom } from "../plugins/auth.ts";
import { type AdminDeps, checkAdmin } from "./admin.ts";
import { actorOf } from "../identity/actor.ts";
import { errorResponse } from "./http.ts";
import { ADMIN_SECURITY, ErrorBodySchema, errorResponses, KEY_SECURITY } from "./schemas.ts";

export interface CacheRouteDeps {
  cache: CacheStore;
  /** The semantic tier (its entries are purged and counted with the exact ones). */
  semantic?: SemanticTier;
  config: () => ConfigSnapshot;
  admin: AdminDeps;
}

const StatsSchema = T.Object({
  tenant_id: T.Union([T.String(), T.Null()], { description: "The tenant, or null for all tenants (admin)" }),
  store: T.String({ description: "`memory` or `redis`" }),
  hits: T.Integer(),
  misses: T.Integer(),
  hit_rate: T.Number({ description: "hits / (hits + misses); 0 before any lookup" }),
  errors: T.Integer({ description: "Lookups or writes the store failed (counted as misses)" }),
  entries: T.Integer(),
  bytes: T.Integer(),
  saved_usd: T.Number({ description: "What the hits would have cost at today's prices" }),
  semantic: T.Object({
    hits: T.Integer(),
    misses: T.Integer({ description: "Semantic lookups without a hit, embeddings failures included" }),
    embedding_errors: T.Integer({ description: "Embeddings calls that failed or timed out (each a miss)" }),
    embedding_cost_usd: T.Number(),
    entries: T.Integer(),
    similarity: T.Record(T.String(), T.Integer(), { description: "Best similarity per semantic lookup, by bucket: `ge_0.99`, `ge_0.98`, `ge_0.97` (the default threshold), `ge_0.95`, `ge_0.90`, `ge_0.85`, `ge_0.80`, `lt_0.80`, `none` (an empty scope)" }),
  }),
});
const PurgedSchema = T.Object({ tenant_id: T.Union([T.String(), T.Null()]), deleted: T.Integer() });
const TenantQuery = T.Object({ tenant_id: T.Optional(T.String({ pattern: "^[a-z0-9][a-z0-9_-]{0,63}$", description: "Admin only: one tenant (default: all)" })) });
const EffectiveSchema = T.Object({ mode: T.String(), ttl_seconds: T.Integer(), scope: T.String(), max_entry_bytes: T.Integer(), semantic: T.Union([T.Null(), T.Object({ embeddings_model: T.String(), threshold: T.Number(), max_messages: T.Integer() })]) });
const PolicyView = T.Object({
  id: T.String({ description: "`_global` or the tenant id" }),
  policy: CachePolicyFields,
  version: T.Integer({ description: "Entity version (0: never set)" }),
  effective: EffectiveSchema,
  config_version: T.Integer(),
});
const errors = (codes: Record<number, string>) => errorResponses(codes);

/** Who is asking: a virtual key (its tenant) or the admin (any tenant). */
function caller(deps: CacheRouteDeps, request: Request): { tenant: string } | { admin: true } {
  const credential = credentialFrom(request.headers);
  const firstRun = credential === undefined && deps.admin.loopback && !deps.config().tenancy?.anyKeys;
  if (credential?.startsWith("tg-") || firstRun || (!deps.admin.adminKey && !deps.admin.loopback)) {
    const d = authenticate(deps.config().tenancy, credential, { loopback: deps.admin.loopback, now: Date.now() });
    if (!d.ok) throw new GatewayError({ status: d.status, code: d.code, message: d.message });
    return { tenant: d.tenantId };
  }
  checkAdmin(deps.admin, request);
  const own = actorOf(request)?.tenant; // a tenant_admin: its tenant only
  return own ? { tenant: own } : { admin: true };
}

function scopeOf(who: { tenant: string } | { admin: true }, asked: string | undefined): string | undefined {
  if ("admin" in who) return asked;
  if (asked !== undefined && asked !== who.tenant) throw new GatewayError({ status: 403, code: "tenant_forbidden", message: "A virtual key sees only its own tenant's cache", param: "tenant_id" });
  return who.tenant;
}

const guard = async (fn: () => Promise<Response> | Response): Promise<Response> => {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof GatewayError) return errorResponse(err);
    // Anything else is the cache store failing (Redis down or slow): say so, never a 500.
    return errorResponse(new GatewayError({ status: 503, code: "cache_unavailable", message: "The cache store is unreachable; retry shortly", headers: { "retry-after": "1" } }));
  }
};

export function cacheRoutes(deps: CacheRouteDeps) {
  const policyView = (id: string) => {
    const e = deps.admin.config.state.entities.cache_policy[id];
    const snapshot = deps.config();
    const eff = effectivePolicy(snapshot.cache, id === GLOBAL_POLICY_ID ? "\u0000none" : id);
    return { id, policy: e?.fields ?? {}, version: e?.version ?? 0, effective: { mode: eff.mode, ttl_seconds: eff.ttlSeconds, scope: eff.scope, max_entry_bytes: eff.maxEntryBytes, semantic: eff.semantic ? { embeddings_model: eff.semantic.embeddingsModel, threshold: eff.semantic.threshold, max_messages: eff.semantic.maxMessages } : null }, config_version: deps.admin.config.state.version };
  };
  /** PUT replaces the policy: fields left out go back to their defaults. */
  const put = async (request: Request, id: string, body: CachePolicyFields) => {
    const actor = checkAdmin(deps.admin, request);
    const existing = deps.admin.config.state.entities.cache_policy[id];
    const fields = Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
    if (existing) {
      const changes: Record<string, unknown> = { mode: null, ttl_seconds: null, scope: null, max_entry_bytes: null, semantic: null, ...fields };
      await deps.admin.config.execute({ type: "update", kind: "cache_policy", id, changes }, actor);
    } else await deps.admin.config.execute({ type: "create", kind: "cache_policy", id, fields }, actor);
    return Response.json(policyView(id));
  };
  const adminDetail = (summary: string, codes: Record<number, string> = {}) => ({
    security: ADMIN_SECURITY,
    tags: ["Admin: cache"],
    summary,
    responses: { 200: { description: "The policy as set, and the effective one" }, ...errors({ 400: "Invalid policy (`invalid_config`, `unknown_tenant`)", 401: "Admin key missing or wrong", ...codes }) },
  });
  const adminResponse = { 200: PolicyView, 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema, 404: ErrorBodySchema };

  return new Elysia({ name: "cache-routes", normalize: false })
    .get("/v1/cache/stats", ({ request, query }) => guard(async () => {
      const tenant = scopeOf(caller(deps, request), query.tenant_id);
      const [c, u, semEntries] = await Promise.all([deps.cache.counters(tenant), deps.cache.usage(tenant), deps.semantic ? deps.semantic.size(tenant) : 0]);
      const n = (k: string) => c[k] ?? 0;
      // A semantic hit follows an exact miss: hits of either tier over lookups.
      const hits = n("hits") + n("semantic_hits");
      const looked = n("hits") + n("misses");
      const similarity = Object.fromEntries(Object.entries(c).filter(([k]) => k.startsWith("sim_")).map(([k, v]) => [k.slice(4), v]));
      return Response.json({
        tenant_id: tenant ?? null, store: deps.cache.kind, hits, misses: looked - hits, hit_rate: looked ? hits / looked : 0, errors: n("errors"), entries: u.entries, bytes: u.bytes, saved_usd: n("saved_micros") / 1e6,
        semantic: { hits: n("semantic_hits"), misses: n("semantic_misses"), embedding_errors: n("embedding_errors"), embedding_cost_usd: n("embedding_micros") / 1e6, entries: semEntries, similarity },
      });
    }), {
      query: TenantQuery,
      response: { 200: StatsSchema, 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema, 503: ErrorBodySchema },
      detail: { security: [...KEY_SECURITY, ...ADMIN_SECURITY], tags: ["Cache"], summary: "Cache statistics of the caller's tenant (admin: `?tenant_id=` or all)", responses: { 200: { description: "Counters and size" }, ...errors({ 401: "No valid key", 403: "Another tenant's statistics", 503: "The cache store is unreachable" }) } },
    })
    .delete("/v1/cache", ({ request, query }) => guard(async () => {
      const tenant = scopeOf(caller(deps, request), query.tenant_id);
      const deleted = (await deps.cache.purge(tenant)) + (deps.semantic ? await deps.semantic.purge(tenant) : 0);
      return Response.json({ tenant_id: tenant ?? null, deleted });
    }), {
      query: TenantQuery,
      response: { 200: PurgedSchema, 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema, 503: ErrorBodySchema },
      detail: { security: [...KEY_SECURITY, ...ADMIN_SECURITY], tags: ["Cache"], summary: "Purge the caller's tenant's entries (admin: `?tenant_id=`, or every tenant's)", responses: { 200: { description: "How many entries were deleted" }, ...errors({ 401: "No valid key", 403: "Another tenant's entries", 503: "The cache store is unreachable" }) } },
    })
    .get("/api/v1/admin/cache", ({ request }) => guard(() => {
      checkAdmin(deps.admin, request);
      return Response.json(policyView(GLOBAL_POLICY_ID));
    }), { response: adminResponse, detail: adminDetail("The global cache policy") })
    .put("/api/v1/admin/cache", ({ request, body }) => guard(() => put(request, GLOBAL_POLICY_ID, body)), {
      body: CachePolicyFields,
      response: adminResponse,
      detail: adminDetail("Set the global cache policy: `{mode: off|deterministic|all, ttl_seconds, scope: tenant|key, max_entry_bytes}` (fields left out: defaults)"),
    })
    .get("/api/v1/admin/tenants/:id/cache", ({ request, params }) => guard(() => {
      checkAdmin(deps.admin, request);
      return Response.json(policyView(params.id));
    }), { params: T.Object({ id: T.String({ pattern: "^[a-z0-9][a-z0-9_-]{0,63}$" }) }), response: adminResponse, detail: adminDetail("A tenant's cache policy (over the global one)") })
    .put("/api/v1/admin/tenants/:id/cache", ({ request, params, body }) => guard(() => put(request, params.id, body)), {
      params: T.Object({ id: T.String({ pattern: "^[a-z0-9][a-z0-9_-]{0,63}$" }) }),
      body: CachePolicyFields,
      response: adminResponse,
      detail: adminDetail("Set a tenant's cache policy (fields left out: the global policy's)"),
    })
    .delete("/api/v1/admin/tenants/:id/cache", ({ request, params }) => guard(async () => {
      const actor = checkAdmin(deps.admin, request);
      await deps.admin.config.execute({ type: "delete", kind: "cache_policy", id: params.id }, actor);
      return Response.json(policyView(params.id));
    }), { params: T.Object({ id: T.String({ pattern: "^[a-z0-9][a-z0-9_-]{0,63}$" }) }), response: adminResponse, detail: adminDetail("Remove a tenant's cache policy (the global one applies)", { 404: "The tenant has no policy of its own" }) });
}
