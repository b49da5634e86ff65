/**
 * The request explorer's routes (thin: the work is in src/explorer).
 *
 *   GET  /api/v1/requests                       the request list (analytics), newest first, cursor pages
 *   GET  /api/v1/requests/{id}                  one request's timeline (request-id index → the log)
 *   GET  /api/v1/requests/{id}/explain          its decisions replayed at its config version
 *   POST /api/v1/analysis/reprice               the same usage at other prices (computed in ClickHouse)
 *   GET  /api/v1/analysis/cache-opportunity     repeated identical requests and what an exact cache would save
 *
 * Who sees what: the admin key sees every tenant; a virtual key sees its own tenant only — its
 * list and analyses are restricted to it (naming another tenant is a 403), and another tenant's
 * request is a 404, exactly like an unknown one.
 */
import type { IdentityService } from "../identity/service.ts";
import { Elysia } from "elysia";
import { Type as T } from "@sinclair/typebox";
import type { ConfigSnapshot } from "../config/snapshot.ts";
import type { EventLog } from "../events/event-log.ts";
import type { AnalyticsRuntime } from "../analytics/runtime.ts";
import { ConfigHistoryReader } from "../explorer/config-at.ts";
import { explainRequest } from "../explorer/explain-request.ts";
import { listRequests } from "../explorer/list.ts";
import { reprice, resolveCandidate } from "../explorer/reprice.ts";
import { cacheOpportunity } from "../explorer/cache-opportunity.ts";
import { timelineOf } from "../explorer/timeline.ts";
import type { ConfigService } from "../projections/config/service.ts";
import { GatewayError } from "../pipeline/errors.ts";
import { ADMIN_SECURITY, errorResponses, KEY_SECURITY, Loose, okResponse } from "./schemas.ts";
import { analyticsFailure, analyticsIn, callerTenant } from "./usage.ts";
import { CacheOpportunityQuery, parseListQuery, parseReprice, parseWindowHours, rangeOf, RepriceBody, type RepriceInput, RequestListQuery } from "./explorer-query.ts";

export interface ExplorerRoutesDeps {
  analytics: AnalyticsRuntime | undefined;
  config: () => ConfigSnapshot;
  /** The config projection (current state: which providers are config entities). */
  configService: ConfigService;
  log: EventLog;
  adminKey: string | undefined;
  loopback: boolean;
  /** Named admins and roles (issue 28): an analyst or tenant_admin reads the explorer too. */
  identity?: IdentityService | undefined;
}

const SECURITY = [...ADMIN_SECURITY, ...KEY_SECURITY];
const ERRORS = errorResponses({
  400: "Invalid parameter (`invalid_parameter`)",
  401: "Credential missing or wrong",
  403: "A virtual key named another tenant (`tenant_forbidden`), or admin API disabled",
  503: "Analytics off (`analytics_disabled`) or not ready (`analytics_unavailable`)",
});
const ITEM_ERRORS = { ...ERRORS, ...errorResponses({ 404: "No such request, or not the caller's tenant (`request_not_found`)" }) };
const IdParam = T.Object({ id: T.String({ minLength: 1, maxLength: 64, description: "The request id (`x-request-id`)" }) });
const notFound = (id: string) => new GatewayError({ status: 404, code: "request_not_found", param: "id", message: `No request ${JSON.stringify(id.slice(0, 64))} is visible to this caller` });
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function explorerRoutes(deps: ExplorerRoutesDeps) {
  // Providers that exist without config (env built-ins): the live snapshot's minus the config entities.
  const builtins = () => deps.config().providers.filter((p) => !Object.hasOwn(deps.configService.state.entities.provider, p.id));
  const history = new ConfigHistoryReader(deps.log, builtins);
  const run = async (fn: () => Promise<Response>) => {
    try {
      return await fn();
    } catch (err) {
      return analyticsFailure(err);
    }
  };
  const timeline = async (request: Request, id: string) => {
    const tenant = callerTenant(deps, request, undefined);
    const a = analyticsIn(deps, ["ready"]);
    if (!UUID.test(id)) throw notFound(id);
    const t = await timelineOf(a.store, deps.log, id, tenant);
    if (!t) throw notFound(id);
    return t;
  };
  return new Elysia({ name: "explorer-routes", normalize: false })
    .get(
      "/api/v1/requests",
      ({ request, query }) =>
        run(async () => {
          const tenant = callerTenant(deps, request, query.tenant || undefined);
          const f = parseListQuery(query, tenant);
          const page = await listRequests(analyticsIn(deps, ["ready"]).store, f);
          return Response.json({ object: "list", from: f.from.toISOString(), to: f.to.toISOString(), tenant: f.tenant ?? null, ...page });
        }),
      { query: RequestListQuery, detail: { tags: ["Explorer"], summary: "Requests, newest first, filtered, one page per cursor (from analytics)", security: SECURITY, responses: { ...okResponse(Loose({ object: T.Literal("list"), data: T.Array(Loose({ id: T.String() })), next_cursor: T.Union([T.String(), T.Null()]) }), "A page of requests"), ...ERRORS } } },
    )
    .get(
      "/api/v1/requests/:id",
      ({ request, params }) =>
        run(async () => {
          const { completed: _c, ...t } = await timeline(request, params.id);
          return Response.json({ object: "request.timeline", ...t });
        }),
      { params: IdParam, detail: { tags: ["Explorer"], summary: "One request's timeline: every event in order, with phase timings (from the log)", security: SECURITY, responses: { ...okResponse(Loose({ object: T.Literal("request.timeline"), id: T.String(), events: T.Array(Loose({ type: T.String() })) }), "The timeline"), ...ITEM_ERRORS } } },
    )
    .get(
      "/api/v1/requests/:id/explain",
      ({ request, params }) =>
        run(async () => {
          const t = await timeline(request, params.id);
          const version = t.config_version ?? 0;
          const [at, since] = await Promise.all([history.at(version), history.since(version)]);
          return Response.json({ object: "request.explanation", ...explainRequest(t, at.snapshot, deps.config(), since) });
        }),
      { params: IdParam, detail: { tags: ["Explorer"], summary: "Why the request was routed, limited, redacted and cached as it was, at its config version; and what changed since", security: SECURITY, responses: { ...okResponse(Loose({ object: T.Literal("request.explanation"), reasons: T.Array(T.String()) }), "The explanation"), ...ITEM_ERRORS } } },
    )
    .post(
      "/api/v1/analysis/reprice",
      ({ request, body }) =>
        run(async () => {
          const input = body as RepriceInput;
          const tenant = callerTenant(deps, request, input.filter?.tenant || undefined);
          const f = parseReprice(input, tenant);
          const snapshot = deps.config();
          const candidates = input.candidates.map((c) => resolveCandidate(c, snapshot));
          return Response.json(await reprice(analyticsIn(deps, ["ready"]).store, f, candidates));
        }),
      { body: RepriceBody, detail: { tags: ["Explorer"], summary: "What the recorded usage would cost at other models' or given prices (computed in ClickHouse)", security: SECURITY, responses: { ...okResponse(Loose({ object: T.Literal("analysis.reprice"), catalog_version: T.String() }), "The comparison"), ...ERRORS, ...errorResponses({ 413: "Body too large" }) } } },
    )
    .get(
      "/api/v1/analysis/cache-opportunity",
      ({ request, query }) =>
        run(async () => {
          const tenant = callerTenant(deps, request, query.tenant || undefined);
          const range = rangeOf(query);
          const windowMs = Math.round(parseWindowHours(query.window_hours) * 3_600_000);
          const out = await cacheOpportunity(analyticsIn(deps, ["ready"]).store, { ...range, windowMs, ...(tenant !== undefined ? { tenant } : {}), ...(query.service ? { service: query.service } : {}) });
          return Response.json(out);
        }),
      { query: CacheOpportunityQuery, detail: { tags: ["Explorer"], summary: "Share of requests that repeated an identical earlier one within a window, and what an exact cache would have saved", security: SECURITY, responses: { ...okResponse(Loose({ object: T.Literal("analysis.cache_opportunity") }), "The opportunity"), ...ERRORS } } },
    );
}


