/**
 * The analytics API: usage and cost read from the AnalyticsStore (`usage_events FINAL`, exact).
 *
 *   GET /api/v1/usage/summary                    totals
 *   GET /api/v1/usage/by-provider|by-model|by-service|by-tenant   grouped, most expensive first (`limit`)
 *   GET /api/v1/usage/by-customer                per end customer (`user_id`), most expensive first
 *   GET /api/v1/usage/timeseries                 per hour or day (`interval`), empty buckets as zeros
 *   GET /api/v1/usage/customers/{user_id}        one end customer: summary and timeseries
 *
 * Range: `days` (1–365, default 7, ending now) or `from` and `to` (ISO-8601, `to` exclusive, at most
 * 366 days apart). Who sees what: the admin key sees every tenant (and may narrow with `tenant`);
 * a virtual key sees its own tenant only (another `tenant` is a 403). Every row carries requests,
 * tokens, cost (integer micro-dollars and USD), cache hit rate, error rate and p50/p95/p99 latency.
 */
import { Elysia } from "elysia";
import { CustomerUsage, GroupedList, UsageQuerySchema, usageResponses } from "./usage-schemas.ts";
import { Type as T } from "@sinclair/typebox";
import type { AnalyticsRuntime, AnalyticsState } from "../analytics/runtime.ts";
import { type UsageFilter, type UsageInterval, usageByCustomer, usageByModel, usageByProvider, usageByService, usageByTenant, usageSummary, usageTimeseries, zeroMetrics } from "../analytics/queries.ts";
import type { ConfigSnapshot } from "../config/snapshot.ts";
import { GatewayError } from "../pipeline/errors.ts";
import { authenticate, credentialFrom } from "../plugins/auth.ts";
import { isWellFormedKey } from "../config/keys.ts";
import { checkAdmin, matchesAdminKey } from "./admin.ts";
import { actorOf } from "../identity/actor.ts";
import type { IdentityService } from "../identity/service.ts";
import { errorResponse } from "./http.ts";
import { ADMIN_SECURITY, adminDetail, errorResponses, KEY_SECURITY, Loose, okResponse } from "./schemas.ts";

/** The query of the usage routes (values checked by parseUsageQuery: 400 `invalid_parameter`). */
const UsageQueryParams = T.Object(
  {
    days: T.Optional(T.String({ description: "Last N days, 1–365 (default 7); not with `from`/`to`" })),
    from: T.Optional(T.String({ description: "ISO-8601 date or time; with `to`" })),
    to: T.Optional(T.String({ description: "ISO-8601 date or time; with `from`" })),
    limit: T.Optional(T.String({ description: "Rows, 1–1000 (default 10)" })),
    interval: T.Optional(T.String({ description: "`hour` or `day` (timeseries)" })),
    tenant: T.Optional(T.String({ description: "Admin only: one tenant" })),
  },
  { additionalProperties: true },
);
/** The admin key, or a virtual key (its own tenant). */
const USAGE_SECURITY = [...ADMIN_SECURITY, ...KEY_SECURITY];
const USAGE_ERRORS = errorResponses({
  400: "Invalid query (`invalid_parameter`)",
  401: "Credential missing or wrong",
  403: "A virtual key asked for another tenant (`tenant_forbidden`), or admin API disabled",
  503: "Analytics off (`analytics_disabled`) or not ready (`analytics_unavailable`)",
});

export interface UsageRoutesDeps {
  analytics: AnalyticsRuntime | undefined;
  config: () => ConfigSnapshot;
  adminKey: string | undefined;
  loopback: boolean;
  identity?: IdentityService | undefined;
}

const DAY_MS = 86_400_000;
const MAX_RANGE_MS = 366 * DAY_MS;
const MAX_BUCKETS = 10_000;

export interface UsageQuery {
  filter: UsageFilter;
  limit: number;
  interval: UsageInterval;
}

const bad = (param: string, message: string) => new GatewayError({ status: 400, code: "invalid_parameter", param, message });

function isoTime(param: string, v: string): Date {
  // ISO-8601 date or date-time only (Date.parse alone takes many ambiguous forms).
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(v)) throw bad(param, `\`${param}\` must be an ISO-8601 date or time, e.g. 2025-03-01 or 2025-03-01T10:00:00Z`);
  const d = new Date(v.length === 10 ? `${v}T00:00:00Z` : v);
  if (Number.isNaN(d.getTime())) throw bad(param, `\`${param}\` is not a valid time: ${v}`);
  return d;
}

function intParam(param: string, v: string | undefined, min: number, max: number, def: number): number {
  if (v === undefined || v === "") return def;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw bad(param, `\`${param}\` must be a whole number from ${min} to ${max}`);
  return Number(v);
}

/** Pure: the query string of a usage request → the filter, limit and interval (or a 400). */
export function parseUsageQuery(q: Record<string, string | undefined>, now: Date, tenant?: string): UsageQuery {
  let from: Date;
  let to: Date;
  if (q.from !== undefined || q.to !== undefined) {
    if (q.days !== undefined) throw bad("days", "give either `days` or `from`/`to`, not both");
    if (q.from === undefined || q.to === undefined) throw bad(q.from === undefined ? "from" : "to", "`from` and `to` go together");
    from = isoTime("from", q.from);
    to = isoTime("to", q.to);
    if (from.getTime() >= to.getTime()) throw bad("from", "`from` must be before `to`");
    if (to.getTime() - from.getTime() > MAX_RANGE_MS) throw bad("from", "the range is at most 366 days");
  } else {
    const days = intParam("days", q.days, 1, 365, 7);
    to = now;
    from = new Date(now.getTime() - days * DAY_MS);
  }
  const limit = intParam("limit", q.limit, 1, 1000, 10);
  const span = to.getTime() - from.getTime();
  let interval: UsageInterval;
  if (q.interval === undefined || q.interval === "") interval = span <= 2 * DAY_MS ? "hour" : "day";
  else if (q.interval === "hour" || q.interval === "day") interval = q.interval;
  else throw bad("interval", "`interval` must be `hour` or `day`");
  if (interval === "hour" && span / 3_600_000 > MAX_BUCKETS) throw bad("interval", "too many hourly buckets: use `interval=day` for a range this long");
  return { filter: { from, to, ...(tenant ? { tenant } : {}) }, limit, interval };
}

/** Pure: the bucket starts (UTC, ISO `…Z` without milliseconds) covering `[from, to)`. */
export function bucketStarts(from: Date, to: Date, interval: UsageInterval): string[] {
  const step = interval === "hour" ? 3_600_000 : DAY_MS;
  const out: string[] = [];
  for (let t = Math.floor(from.getTime() / step) * step; t < to.getTime(); t += step) out.push(new Date(t).toISOString().replace(".000Z", "Z"));
  return out;
}

/**
 * Who is asking: the admin (every tenant, or the one named by `tenant`) or a virtual key (its own
 * tenant). Returns the tenant to restrict to (undefined = all).
 */
export function scope(deps: UsageRoutesDeps, request: Request, requested: string | undefined): string | undefined {
  const credential = credentialFrom(request.headers);
  const isAdminKey = matchesAdminKey(deps.adminKey, credential);
  if (!isAdminKey && credential !== undefined && isWellFormedKey(credential)) {
    const d = authenticate(deps.config().tenancy, credential, { loopback: false, now: Date.now() });
    if (!d.ok) throw new GatewayError({ status: d.status, code: d.code, message: d.message });
    if (requested !== undefined && requested !== d.tenantId) throw new GatewayError({ status: 403, code: "tenant_forbidden", param: "tenant", message: "A virtual key sees its own tenant's usage only" });
    return d.tenantId;
  }
  checkAdmin(deps, request);
  // A tenant_admin sees its own tenant only (the permission table refused any other).
  return actorOf(request)?.tenant ?? (requested || undefined);
}

const unavailable = (message: string) => new GatewayError({ status: 503, code: "analytics_unavailable", message, headers: { "retry-after": "5" } });

/** The analytics runtime when it is in one of the `usable` states, else the 503 to answer. */
export function analyticsIn(deps: UsageRoutesDeps, usable: readonly AnalyticsState[]): AnalyticsRuntime {
  const analytics = deps.analytics;
  if (!analytics) throw new GatewayError({ status: 503, code: "analytics_disabled", message: "Analytics is off on this gateway (TOLLGATE_ANALYTICS=off)" });
  const { state, error } = analytics.status();
  if (!usable.includes(state)) throw unavailable(`The analytics store is ${state}${error ? `: ${error}` : ""}`);
  return analytics;
}

export function failure(err: unknown): Response {
  if (err instanceof GatewayError) return errorResponse(err);
  if (err instanceof RangeError) return errorResponse(bad("query", err.message));
  // AnalyticsUnavailableError, matched by code: the ClickHouse store is loaded only when used.
  if ((err as { code?: unknown })?.code === "analytics_unavailable") return errorResponse(unavailable((err as Error).message));
  console.error("[usage] query failed:", err);
  return errorResponse(new GatewayError({ status: 500, code: "analytics_query_failed", message: `The analytics query failed: ${(err as Error).message}` }));
}

export function usageRoutes(deps: UsageRoutesDeps) {
  const handle = (run: (analytics: AnalyticsRuntime, q: UsageQuery) => Promise<Record<string, unknown>>) =>
    async ({ request, query }: { request: Request; query: Record<string, string | undefined> }) => {
      try {
        const tenant = scope(deps, request, query.tenant);
        const q = parseUsageQuery(query, new Date(), tenant);
        const body = await run(analyticsIn(deps, ["ready"]), q);
        return Response.json({ from: q.filter.from.toISOString(), to: q.filter.to.toISOString(), tenant: q.filter.tenant ?? null, ...body });
      } catch (err) {
        return failure(err);
      }
    };
  const detail = (summary: string) => ({ query: UsageQueryParams, detail: { tags: ["Analytics"], summary, security: USAGE_SECURITY, responses: { ...okResponse(Loose({ from: T.String(), to: T.String() }), "The usage"), ...USAGE_ERRORS } } });
  const grouped = (name: string, fn: (store: AnalyticsRuntime["store"], f: UsageFilter, limit?: number) => Promise<unknown[]>) =>
    handle(async (a, q) => ({ object: "list", group_by: name, data: await fn(a.store, q.filter, q.limit) }));
  return new Elysia({ name: "usage-routes", normalize: false })
    .get("/api/v1/usage/summary", handle(async (a, q) => ({ object: "usage.summary", data: await usageSummary(a.store, q.filter) })), detail("Totals: requests, tokens, cost, cache hit rate, error rate, latency percentiles"))
    .get("/api/v1/usage/by-provider", grouped("provider", usageByProvider), detail("Usage per provider, most expensive first"))
    .get("/api/v1/usage/by-model", grouped("model", usageByModel), detail("Usage per model, most expensive first"))
    .get("/api/v1/usage/by-service", grouped("service", usageByService), detail("Usage per service, most expensive first"))
    .get("/api/v1/usage/by-customer", grouped("user_id", usageByCustomer), { query: UsageQuerySchema, detail: { tags: ["Analytics"], security: USAGE_SECURITY, summary: "Usage per end customer (`user_id`: the generate API's `user_id`, OpenAI `user`, `x-tollgate-user`), most expensive first", responses: usageResponses(GroupedList("user_id")) } })
    .get("/api/v1/usage/by-tenant", grouped("tenant", usageByTenant), { query: UsageQuerySchema, detail: { tags: ["Analytics"], security: USAGE_SECURITY, summary: "Usage per tenant, most expensive first", responses: usageResponses(GroupedList("tenant")) } })
    .get(
      "/api/v1/usage/customers/:user_id",
      async ({ request, query, params }) => {
        try {
          const tenant = scope(deps, request, query.tenant);
          const q = parseUsageQuery(query, new Date(), tenant);
          const filter = { ...q.filter, user: params.user_id };
          const a = analyticsIn(deps, ["ready"]);
          const [summary, series] = await Promise.all([usageSummary(a.store, filter), usageTimeseries(a.store, q.interval, filter)]);
          const points = new Map(series.map((p) => [p.bucket, p]));
          const timeseries = bucketStarts(filter.from, filter.to, q.interval).map((bucket) => points.get(bucket) ?? { bucket, ...zeroMetrics() });
          return Response.json({ object: "usage.customer", user_id: params.user_id, from: filter.from.toISOString(), to: filter.to.toISOString(), tenant: filter.tenant ?? null, interval: q.interval, summary, timeseries });
        } catch (err) {
          return failure(err);
        }
      },
      { params: T.Object({ user_id: T.String({ minLength: 1, maxLength: 256 }) }), query: UsageQuerySchema, detail: { tags: ["Analytics"], security: USAGE_SECURITY, summary: "One end customer's usage: summary and timeseries (per `interval`, empty buckets as zeros)", responses: usageResponses(CustomerUsage) } },
    )
    .post(
      "/api/v1/admin/projections/usage/rebuild",
      async ({ request }) => {
        try {
          checkAdmin(deps, request);
          const analytics = analyticsIn(deps, ["ready", "rebuilding"]);
          const t0 = performance.now();
          const replayed = await analytics.rebuild(); // a rebuild under way is joined, not repeated
          return Response.json({ object: "projection.rebuilt", projection: "usage", replayed, took_ms: Math.round(performance.now() - t0) });
        } catch (err) {
          return failure(err);
        }
      },
      { detail: adminDetail("Analytics", "Drop the usage tables and replay the requests stream from offset 0 (admin key)", { ...okResponse(Loose({ object: T.Literal("projection.rebuilt"), replayed: T.Integer() }), "Rebuilt"), ...USAGE_ERRORS }) },
    )
    .get(
      "/api/v1/usage/timeseries",
      handle(async (a, q) => {
        const points = new Map((await usageTimeseries(a.store, q.interval, q.filter)).map((p) => [p.bucket, p]));
        const data = bucketStarts(q.filter.from, q.filter.to, q.interval).map((bucket) => points.get(bucket) ?? { bucket, ...zeroMetrics() });
        return { object: "list", interval: q.interval, data };
      }),
      detail("Usage per hour or day, oldest first; buckets without requests are zeros"),
    );
}

/** Shared with the request explorer's routes (src/api/explorer.ts): who is asking, the store, errors. */
export { failure as analyticsFailure, scope as callerTenant };
