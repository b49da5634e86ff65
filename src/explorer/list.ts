/**
 * The request list: one row per request from `usage_events` (analytics, never the log), newest
 * first, filtered, with an opaque cursor. Pure parts (filter → SQL, cursor codec, row view) are
 * exported for tests; `listRequests` runs the one query.
 */
import type { AnalyticsParams, AnalyticsStore } from "../analytics/store.ts";
import { toClickHouseTime } from "../analytics/schema.ts";
import { COST_COLUMN, fromUsd, SAVED_COLUMN, toUsd } from "./costs.ts";

export interface ListFilter {
  from: Date;
  to: Date;
  /** Undefined = every tenant (admin only). */
  tenant?: string;
  service?: string;
  user?: string;
  /** The model or alias the client asked for. */
  requestedModel?: string;
  /** The model that served it. */
  model?: string;
  provider?: string;
  /** `ok`, `error`, `client_disconnected`, or an error code (e.g. `rate_limit_exceeded`). */
  status?: string;
  /** `exact`, `semantic`, `any` (either), `none` (not from the cache). */
  cached?: "exact" | "semantic" | "any" | "none";
  /** `blocked`, `redacted`, `detected`, `none`. */
  guardrailAction?: string;
  /** `customer_service`, `customer`, `tenant_service`, `tenant`, `global`, `alias`, `qualified`, `listed`; or the group names `override` (customer or tenant levels) and `default`. */
  routeLevel?: string;
  minCostUsd?: number;
  minLatencyMs?: number;
  limit: number;
  cursor?: Cursor;
}

export interface Cursor {
  time: string;
  eventId: string;
}

export const STATUSES = new Set(["ok", "error", "client_disconnected"]);
const OVERRIDE_LEVELS = ["customer_service", "customer", "tenant_service", "tenant"];

/** Opaque cursor: base64url of `time|event_id` of the last row of the page. */
export function encodeCursor(c: Cursor): string {
  return Buffer.from(`${c.time}|${c.eventId}`).toString("base64url");
}

export function decodeCursor(text: string): Cursor | undefined {
  let raw: string;
  try {
    raw = Buffer.from(text, "base64url").toString("utf8");
  } catch {
    return undefined;
  }
  const m = /^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d{1,3})?)\|([0-9a-f-]{36})$/i.exec(raw);
  return m ? { time: m[1]!, eventId: m[2]! } : undefined;
}

/** Pure: the WHERE clause and its bound parameters. */
export function listWhere(f: ListFilter): { where: string; params: AnalyticsParams } {
  const c: string[] = ["time >= {from:DateTime64(3, 'UTC')}", "time < {to:DateTime64(3, 'UTC')}"];
  const params: AnalyticsParams = { from: toClickHouseTime(f.from), to: toClickHouseTime(f.to) };
  const eq = (col: string, name: string, v: string | undefined) => {
    if (v === undefined) return;
    c.push(`${col} = {${name}:String}`);
    params[name] = v;
  };
  eq("tenant", "tenant", f.tenant);
  eq("service", "service", f.service);
  eq("user", "user", f.user);
  eq("route", "requested", f.requestedModel);
  eq("model", "model", f.model);
  eq("provider", "provider", f.provider);
  if (f.status !== undefined) {
    if (STATUSES.has(f.status)) eq("status", "status", f.status);
    else eq("error_code", "error_code", f.status);
  }
  if (f.cached === "exact" || f.cached === "semantic") eq("cache_result", "cache_result", f.cached);
  else if (f.cached === "any") c.push("cached = 1");
  else if (f.cached === "none") c.push("cached = 0");
  if (f.guardrailAction !== undefined) eq("guardrail_action", "guardrail_action", f.guardrailAction === "none" ? "" : f.guardrailAction);
  if (f.routeLevel === "override") c.push(`route_level IN (${OVERRIDE_LEVELS.map((l) => `'${l}'`).join(", ")})`);
  else if (f.routeLevel === "default") c.push(`route_level NOT IN (${OVERRIDE_LEVELS.map((l) => `'${l}'`).join(", ")})`);
  else eq("route_level", "route_level", f.routeLevel);
  if (f.minCostUsd !== undefined) {
    c.push(`${COST_COLUMN} >= {min_cost:UInt64}`);
    params.min_cost = fromUsd(f.minCostUsd);
  }
  if (f.minLatencyMs !== undefined) {
    c.push("latency_ms >= {min_latency:Float64}");
    params.min_latency = f.minLatencyMs;
  }
  if (f.cursor) {
    c.push("(time < {ct:DateTime64(3, 'UTC')} OR (time = {ct:DateTime64(3, 'UTC')} AND event_id < {cid:String}))");
    params.ct = f.cursor.time;
    params.cid = f.cursor.eventId;
  }
  return { where: c.join(" AND "), params };
}

interface RawRow {
  t: string;
  event_id: string;
  request_id: string;
  tenant: string;
  key_id: string;
  key_prefix: string;
  service: string;
  user: string;
  route: string;
  model: string;
  provider: string;
  status: string;
  error_code: string;
  http_status: number;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  reasoning_tokens: number;
  cost: number | string;
  saved: number | string;
  latency_ms: number;
  ttft_ms: number | null;
  attempts: number;
  cached: number;
  cache_result: string;
  route_level: string;
  route_override: string;
  guardrail_action: string;
  guardrail_detections: number;
  config_version: number | string;
}

/** The columns the list reads (the row view below names them for the API). */
const COLUMNS = `toString(time) AS t, event_id, request_id, tenant, key_id, key_prefix, service, user, route, model, provider, status, error_code,
  http_status, input_tokens, output_tokens, cached_tokens, reasoning_tokens, ${COST_COLUMN} AS cost, ${SAVED_COLUMN} AS saved, latency_ms, ttft_ms,
  attempts, cached, cache_result, route_level, route_override, guardrail_action, guardrail_detections, config_version`;

/** Pure: a row as the API shows it. */
export function rowView(r: RawRow) {
  return {
    id: r.request_id,
    time: `${r.t.replace(" ", "T")}${r.t.includes(".") ? "" : ".000"}Z`,
    tenant: r.tenant,
    key_id: r.key_id || null,
    key_prefix: r.key_prefix || null,
    service: r.service || null,
    user_id: r.user || null,
    requested_model: r.route || null,
    model: r.model || null,
    provider: r.provider || null,
    status: r.status,
    error_code: r.error_code || null,
    http_status: Number(r.http_status) || null,
    tokens: { input: Number(r.input_tokens), output: Number(r.output_tokens), cached: Number(r.cached_tokens), reasoning: Number(r.reasoning_tokens) },
    cost_usd: toUsd(r.cost),
    saved_usd: toUsd(r.saved),
    latency_ms: Number(r.latency_ms),
    ttft_ms: r.ttft_ms === null ? null : Number(r.ttft_ms),
    attempts: Number(r.attempts),
    cache: r.cached ? (r.cache_result === "semantic" ? "semantic" : "exact") : (r.cache_result || "none"),
    route_level: r.route_level || null,
    route_override: r.route_override || null,
    guardrails: { action: r.guardrail_action || null, detections: Number(r.guardrail_detections) },
    config_version: Number(r.config_version),
  };
}
export type RequestRow = ReturnType<typeof rowView>;

/** One page, newest first; `next_cursor` is null on the last page. */
export async function listRequests(store: Pick<AnalyticsStore, "query">, f: ListFilter): Promise<{ data: RequestRow[]; next_cursor: string | null }> {
  const { where, params } = listWhere(f);
  const rows = await store.query<RawRow>(`SELECT ${COLUMNS} FROM usage_events FINAL WHERE ${where} ORDER BY time DESC, event_id DESC LIMIT ${f.limit + 1}`, params);
  const page = rows.slice(0, f.limit);
  const last = page.at(-1);
  return { data: page.map(rowView), next_cursor: rows.length > f.limit && last ? encodeCursor({ time: last.t, eventId: last.event_id }) : null };
}
