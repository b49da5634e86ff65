/**
 * Pure: the query strings and bodies of the request explorer's routes → typed filters (or a
 * 400 `invalid_parameter` naming the parameter).
 */
import { Type as T } from "@sinclair/typebox";
import { type Candidate, type RepriceFilter } from "../explorer/reprice.ts";
import { decodeCursor, type ListFilter } from "../explorer/list.ts";
import { GatewayError } from "../pipeline/errors.ts";
import { parseUsageQuery } from "./usage.ts";

const bad = (param: string, message: string) => new GatewayError({ status: 400, code: "invalid_parameter", param, message });

const S = (description: string) => T.Optional(T.String({ maxLength: 256, description }));

export const RequestListQuery = T.Object(
  {
    days: S("Last N days, 1–365 (default 7); not with `from`/`to`"),
    from: S("ISO-8601 start (with `to`)"),
    to: S("ISO-8601 end, exclusive (with `from`)"),
    tenant: S("One tenant (admin key); a virtual key sees its own"),
    service: S("Service"),
    user_id: S("End customer"),
    requested_model: S("Model or alias the client asked for"),
    model: S("Model that served it"),
    provider: S("Provider that served it"),
    status: S("`ok`, `error`, `client_disconnected`, or an error code such as `rate_limit_exceeded`"),
    cached: S("`exact`, `semantic`, `any`, `none`"),
    guardrail_action: S("`blocked`, `redacted`, `detected`, `none`"),
    route_level: S("`override` (any override level), `default`, or one level: `customer_service`, `customer`, `tenant_service`, `tenant`, `global`, `alias`, `qualified`, `listed`"),
    min_cost: S("Minimum cost, USD"),
    min_latency_ms: S("Minimum latency, ms"),
    limit: S("Rows per page, 1–200 (default 50)"),
    cursor: S("`next_cursor` of the previous page"),
  },
  { additionalProperties: true },
);

export const CacheOpportunityQuery = T.Object(
  {
    days: S("Last N days, 1–365 (default 7)"),
    from: S("ISO-8601 start (with `to`)"),
    to: S("ISO-8601 end, exclusive (with `from`)"),
    tenant: S("One tenant (admin key)"),
    service: S("One service"),
    window_hours: S("How far back an identical request counts, hours (default 24, at most 720)"),
  },
  { additionalProperties: true },
);

const LEVELS = new Set(["override", "default", "customer_service", "customer", "tenant_service", "tenant", "global", "alias", "qualified", "listed"]);

function num(param: string, v: string | undefined, max: number): number | undefined {
  if (v === undefined || v === "") return undefined;
  if (!/^\d+(\.\d+)?$/.test(v) || Number(v) > max) throw bad(param, `\`${param}\` must be a number from 0 to ${max}`);
  return Number(v);
}

/** The range of a query (`days`, or `from`+`to`), as the usage routes take it. */
export function rangeOf(q: Record<string, string | undefined>, now = new Date()): { from: Date; to: Date } {
  const { filter } = parseUsageQuery({ days: q.days, from: q.from, to: q.to }, now);
  return { from: filter.from, to: filter.to };
}

export function parseListQuery(q: Record<string, string | undefined>, tenant: string | undefined): ListFilter {
  const f: ListFilter = { ...rangeOf(q), limit: 50 };
  if (tenant !== undefined) f.tenant = tenant;
  const set = <K extends keyof ListFilter>(k: K, v: string | undefined) => {
    if (v !== undefined && v !== "") f[k] = v as ListFilter[K];
  };
  set("service", q.service);
  set("user", q.user_id);
  set("requestedModel", q.requested_model);
  set("model", q.model);
  set("provider", q.provider);
  set("status", q.status);
  if (q.cached !== undefined && q.cached !== "") {
    if (!["exact", "semantic", "any", "none"].includes(q.cached)) throw bad("cached", "`cached` must be `exact`, `semantic`, `any` or `none`");
    f.cached = q.cached as ListFilter["cached"];
  }
  if (q.guardrail_action !== undefined && q.guardrail_action !== "") {
    if (!["blocked", "redacted", "detected", "none"].includes(q.guardrail_action)) throw bad("guardrail_action", "`guardrail_action` must be `blocked`, `redacted`, `detected` or `none`");
    f.guardrailAction = q.guardrail_action;
  }
  if (q.route_level !== undefined && q.route_level !== "") {
    if (!LEVELS.has(q.route_level)) throw bad("route_level", `\`route_level\` must be one of ${[...LEVELS].join(", ")}`);
    f.routeLevel = q.route_level;
  }
  const minCost = num("min_cost", q.min_cost, 1e9);
  if (minCost !== undefined) f.minCostUsd = minCost;
  const minLatency = num("min_latency_ms", q.min_latency_ms, 1e9);
  if (minLatency !== undefined) f.minLatencyMs = minLatency;
  if (q.limit !== undefined && q.limit !== "") {
    if (!/^\d+$/.test(q.limit) || Number(q.limit) < 1 || Number(q.limit) > 200) throw bad("limit", "`limit` must be a whole number from 1 to 200");
    f.limit = Number(q.limit);
  }
  if (q.cursor !== undefined && q.cursor !== "") {
    const c = decodeCursor(q.cursor);
    if (!c) throw bad("cursor", "`cursor` is not a cursor this API gave out");
    f.cursor = c;
  }
  return f;
}

export function parseWindowHours(v: string | undefined): number {
  const h = num("window_hours", v, 720);
  if (h === undefined) return 24;
  if (h <= 0) throw bad("window_hours", "`window_hours` must be more than 0");
  return h;
}

const Price = T.Object(
  {
    input: T.Number({ minimum: 0, maximum: 1e6, description: "USD per 1M input tokens" }),
    output: T.Number({ minimum: 0, maximum: 1e6, description: "USD per 1M output tokens (reasoning tokens included)" }),
    cached_input: T.Optional(T.Number({ minimum: 0, maximum: 1e6, description: "USD per 1M cache-read tokens (default: input)" })),
    cache_write: T.Optional(T.Number({ minimum: 0, maximum: 1e6, description: "USD per 1M cache-write tokens (default: input)" })),
  },
  { additionalProperties: false },
);

export const RepriceBody = T.Object(
  {
    from: T.Optional(T.String({ maxLength: 64, description: "ISO-8601 start (default: 30 days ago)" })),
    to: T.Optional(T.String({ maxLength: 64, description: "ISO-8601 end, exclusive (default: now)" })),
    filter: T.Optional(
      T.Object(
        { tenant: T.Optional(T.String({ maxLength: 256 })), service: T.Optional(T.String({ maxLength: 256 })), provider: T.Optional(T.String({ maxLength: 256 })), model: T.Optional(T.String({ maxLength: 256 })), user_id: T.Optional(T.String({ maxLength: 256 })) },
        { additionalProperties: false },
      ),
    ),
    candidates: T.Array(
      T.Union([
        T.Object({ provider: T.String({ minLength: 1, maxLength: 128 }), model: T.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false }),
        T.Object({ price: Price, name: T.Optional(T.String({ maxLength: 128 })) }, { additionalProperties: false }),
      ]),
      { minItems: 1, maxItems: 10 },
    ),
  },
  { additionalProperties: false },
);

export interface RepriceInput {
  from?: string;
  to?: string;
  filter?: { tenant?: string; service?: string; provider?: string; model?: string; user_id?: string };
  candidates: Candidate[];
}

/** The reprice filter; a virtual key's tenant overrides (and must match) the body's. */
export function parseReprice(body: RepriceInput, tenant: string | undefined, now = new Date()): RepriceFilter {
  const DAY = 86_400_000;
  let from = new Date(now.getTime() - 30 * DAY);
  let to = now;
  if (body.from !== undefined || body.to !== undefined) {
    const r = parseUsageQuery({ from: body.from ?? from.toISOString(), to: body.to ?? to.toISOString() }, now);
    from = r.filter.from;
    to = r.filter.to;
  }
  const f: RepriceFilter = { from, to };
  const x = body.filter ?? {};
  if (tenant !== undefined) f.tenant = tenant;
  if (x.service) f.service = x.service;
  if (x.provider) f.provider = x.provider;
  if (x.model) f.model = x.model;
  if (x.user_id) f.user = x.user_id;
  return f;
}
