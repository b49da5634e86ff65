/**
 * Analytics queries: typed builders (SQL + bound parameters) and runners over any AnalyticsStore.
 * The SQL is the same on chDB and ClickHouse server. User input only ever reaches the engine as a
 * bound `{name:Type}` parameter; the few SQL fragments chosen by argument (group-by column, time
 * bucket) come from closed whitelists below.
 *
 * Every query reads `usage_events FINAL` (see schema.ts), over the half-open range `[from, to)`,
 * optionally for one tenant. Metrics per row: requests, tokens, cost (exact integer nanos summed in
 * UInt64, USD from them, and the legacy micros rounded half-up from the sum),
 * cache hit rate (cached requests / requests), error rate (status `error` / requests), and latency
 * p50/p95/p99 in ms (`quantileExactInclusive`: linear interpolation between the closest ranks,
 * rounded to 3 decimals).
 */
import { usdFromNanos } from "../pricing/money.ts";
import { rebuildRollupStatements, toClickHouseTime } from "./schema.ts";

/** The cost column every query sums (integer nano-dollars), in one place. */
export const COST_COLUMN = "cost_nanos";
/** The saving column (integer nano-dollars). */
export const SAVED_COLUMN = "saved_nanos";
import type { AnalyticsParams, AnalyticsStore } from "./store.ts";

export interface UsageFilter {
  from: Date;
  to: Date;
  /** Restrict to one tenant (a tenant key's view). */
  tenant?: string;
  /** Restrict to one end customer (`user_id`). */
  user?: string;
}

export interface UsageMetrics {
  requests: number;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  /** Exact: the integer sum of every request's nano-dollar cost. */
  cost_nanos: number;
  /** Legacy: `cost_nanos` rounded half-up to micro-dollars. */
  cost_micros: number;
  /** `cost_nanos` / 10^9 (the double nearest the exact decimal). */
  cost_usd: number;
  /** 0..1; 0 when there are no requests. */
  cache_hit_rate: number;
  /** What cache hits saved (at the price of the day they were served). */
  saved_nanos: number;
  saved_micros: number;
  saved_usd: number;
  /** 0..1; 0 when there are no requests. */
  error_rate: number;
  /** Latency percentiles in ms; 0 when there are no requests. */
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
}

/** The metrics of an empty range. */
export function zeroMetrics(): UsageMetrics {
  return { requests: 0, input_tokens: 0, output_tokens: 0, cached_tokens: 0, cost_nanos: 0, cost_micros: 0, cost_usd: 0, cache_hit_rate: 0, saved_nanos: 0, saved_micros: 0, saved_usd: 0, error_rate: 0, p50_ms: 0, p95_ms: 0, p99_ms: 0 };
}

export type UsageDimension = "provider" | "model" | "service" | "tenant" | "user";
export type UsageInterval = "hour" | "day";

export type GroupedMetrics<K extends string> = UsageMetrics & { [key in K]: string };
export type TimeseriesPoint = UsageMetrics & { bucket: string };

export interface BuiltQuery {
  sql: string;
  params: AnalyticsParams;
}

const METRICS = `
  count() AS m_requests,
  sum(toUInt64(input_tokens)) AS m_input_tokens,
  sum(toUInt64(output_tokens)) AS m_output_tokens,
  sum(toUInt64(cached_tokens)) AS m_cached_tokens,
  sum(${COST_COLUMN}) AS m_cost_nanos,
  if(count() = 0, 0, countIf(cached = 1) / count()) AS m_cache_hit_rate,
  sum(${SAVED_COLUMN}) AS m_saved_nanos,
  if(count() = 0, 0, countIf(status = 'error') / count()) AS m_error_rate,
  if(count() = 0, [0, 0, 0], arrayMap(x -> round(x, 3), quantilesExactInclusive(0.5, 0.95, 0.99)(latency_ms))) AS m_latency_q`;

const WHERE = `
  WHERE time >= {from:DateTime64(3, 'UTC')} AND time < {to:DateTime64(3, 'UTC')}
    AND ({tenant:String} = '' OR tenant = {tenant:String})
    AND ({user:String} = '' OR user = {user:String})`;

/** Group-by columns, a closed list. */
const DIMENSIONS: Record<UsageDimension, string> = { provider: "provider", model: "model", service: "service", tenant: "tenant", user: "user" };
/** Time buckets, a closed list. */
const BUCKETS: Record<UsageInterval, string> = { hour: "toStartOfHour(time)", day: "toStartOfDay(time)" };

function filterParams(f: UsageFilter): AnalyticsParams {
  if (!(f.from.getTime() < f.to.getTime())) throw new RangeError("usage filter: `from` must be before `to`");
  return { from: toClickHouseTime(f.from), to: toClickHouseTime(f.to), tenant: f.tenant ?? "", user: f.user ?? "" };
}

function limitOf(limit: number | undefined): number {
  const n = limit ?? 100;
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new RangeError("limit must be an integer in 1..10000");
  return n;
}

export function summaryQuery(f: UsageFilter): BuiltQuery {
  return { sql: `SELECT ${METRICS} FROM usage_events FINAL ${WHERE}`, params: filterParams(f) };
}

/**
 * Grouped by one dimension, most expensive first (ties by key), at most `limit` rows (default 100).
 * End customers (`user`, ~100k distinct) are ranked first on cost and count alone, and the full
 * metrics (exact latency quantiles are the dear part) computed for the top `limit` only; rows
 * without a user_id are not a customer.
 */
export function groupedQuery(dimension: UsageDimension, f: UsageFilter, limit?: number): BuiltQuery {
  const col = DIMENSIONS[dimension];
  if (!col) throw new RangeError(`unknown dimension: ${String(dimension)}`);
  const order = "ORDER BY m_cost_nanos DESC, m_requests DESC, key ASC LIMIT {limit:UInt32}";
  const params = { ...filterParams(f), limit: limitOf(limit) };
  if (dimension === "user") {
    return {
      sql: `SELECT ${col} AS key, ${METRICS} FROM usage_events FINAL ${WHERE} AND user != ''
        AND user IN (SELECT user AS key FROM usage_events FINAL ${WHERE} AND user != ''
                     GROUP BY key ORDER BY sum(${COST_COLUMN}) DESC, count() DESC, key ASC LIMIT {limit:UInt32})
        GROUP BY key ${order}`,
      params,
    };
  }
  return { sql: `SELECT ${col} AS key, ${METRICS} FROM usage_events FINAL ${WHERE} GROUP BY key ${order}`, params };
}

/** The single-pass form of the by-customer query (the benchmark's baseline). */
export function singlePassCustomerQuery(f: UsageFilter, limit?: number): BuiltQuery {
  return {
    sql: `SELECT user AS key, ${METRICS} FROM usage_events FINAL ${WHERE} AND user != ''
      GROUP BY key ORDER BY m_cost_nanos DESC, m_requests DESC, key ASC LIMIT {limit:UInt32}`,
    params: { ...filterParams(f), limit: limitOf(limit) },
  };
}

/** One row per non-empty bucket (UTC), oldest first. */
export function timeseriesQuery(interval: UsageInterval, f: UsageFilter): BuiltQuery {
  const bucket = BUCKETS[interval];
  if (!bucket) throw new RangeError(`unknown interval: ${String(interval)}`);
  return {
    sql: `SELECT formatDateTime(${bucket}, '%Y-%m-%dT%H:%i:%SZ', 'UTC') AS key, ${METRICS}
      FROM usage_events FINAL ${WHERE} GROUP BY key ORDER BY key ASC`,
    params: filterParams(f),
  };
}

interface RawRow {
  key?: string;
  m_requests: number | string;
  m_input_tokens: number | string;
  m_output_tokens: number | string;
  m_cached_tokens: number | string;
  m_cost_nanos: number | string;
  m_cache_hit_rate: number | string;
  m_saved_nanos: number | string;
  m_error_rate: number | string;
  m_latency_q: Array<number | string | null>;
}

/** Integer nanos (a UInt64, maybe quoted) → micros rounded half-up, in BigInt (exact past 2^53). */
function microsOf(v: number | string | null | undefined): number {
  try {
    const n = BigInt(typeof v === "number" ? Math.round(v) : (v ?? "0"));
    return Number((n + 500n) / 1000n);
  } catch {
    return 0;
  }
}

/** Aliases are `m_`-prefixed so none shadows a column inside another aggregate.
 * 64-bit integers may arrive quoted (ClickHouse's JSON default): normalise to numbers. */
function toMetrics(r: RawRow): UsageMetrics {
  const n = (v: number | string | null | undefined): number => (v === null || v === undefined ? 0 : Number(v));
  const cost = n(r.m_cost_nanos);
  const saved = n(r.m_saved_nanos);
  return {
    requests: n(r.m_requests),
    input_tokens: n(r.m_input_tokens),
    output_tokens: n(r.m_output_tokens),
    cached_tokens: n(r.m_cached_tokens),
    cost_nanos: cost,
    cost_micros: microsOf(r.m_cost_nanos),
    cost_usd: usdFromNanos(r.m_cost_nanos ?? 0),
    cache_hit_rate: n(r.m_cache_hit_rate),
    saved_nanos: saved,
    saved_micros: microsOf(r.m_saved_nanos),
    saved_usd: usdFromNanos(r.m_saved_nanos ?? 0),
    error_rate: n(r.m_error_rate),
    p50_ms: n(r.m_latency_q[0]),
    p95_ms: n(r.m_latency_q[1]),
    p99_ms: n(r.m_latency_q[2]),
  };
}

export async function usageSummary(store: AnalyticsStore, f: UsageFilter): Promise<UsageMetrics> {
  const q = summaryQuery(f);
  const [row] = await store.query<RawRow>(q.sql, q.params);
  if (!row) throw new Error("summary query returned no row");
  return toMetrics(row);
}

async function grouped<K extends string>(store: AnalyticsStore, q: BuiltQuery, name: K): Promise<GroupedMetrics<K>[]> {
  const rows = await store.query<RawRow>(q.sql, q.params);
  return rows.map((r) => ({ [name]: r.key ?? "", ...toMetrics(r) }) as GroupedMetrics<K>);
}

export async function usageByProvider(store: AnalyticsStore, f: UsageFilter, limit?: number): Promise<GroupedMetrics<"provider">[]> {
  return grouped(store, groupedQuery("provider", f, limit), "provider");
}

export async function usageByModel(store: AnalyticsStore, f: UsageFilter, limit?: number): Promise<GroupedMetrics<"model">[]> {
  return grouped(store, groupedQuery("model", f, limit), "model");
}

/** The by-service row of requests that named no service (the dashboard shows the same label). */
export const NO_SERVICE = "(none)";

export async function usageByService(store: AnalyticsStore, f: UsageFilter, limit?: number): Promise<GroupedMetrics<"service">[]> {
  const rows = await grouped(store, groupedQuery("service", f, limit), "service");
  return rows.map((r) => (r.service === "" ? { ...r, service: NO_SERVICE } : r));
}

/** End customers (`user_id`; requests without one left out), most expensive first. */
export async function usageByCustomer(store: AnalyticsStore, f: UsageFilter, limit?: number): Promise<GroupedMetrics<"user_id">[]> {
  return grouped(store, groupedQuery("user", f, limit), "user_id");
}

/** Tenants, most expensive first. */
export async function usageByTenant(store: AnalyticsStore, f: UsageFilter, limit?: number): Promise<GroupedMetrics<"tenant">[]> {
  return grouped(store, groupedQuery("tenant", f, limit), "tenant");
}

export async function usageTimeseries(store: AnalyticsStore, interval: UsageInterval, f: UsageFilter): Promise<GroupedMetrics<"bucket">[]> {
  return grouped(store, timeseriesQuery(interval, f), "bucket");
}

/** Recomputes `usage_hourly` from `usage_events FINAL` (after a replay with different batch boundaries). */
export async function rebuildHourlyRollup(store: AnalyticsStore): Promise<void> {
  for (const sql of rebuildRollupStatements(store.database)) await store.exec(sql);
}

export interface RollupTotals {
  requests: number;
  cost_nanos: number;
  cost_micros: number;
  input_tokens: number;
  output_tokens: number;
}

/** Grand totals of the hourly rollup over `[from, to)` (hour buckets), optionally for one tenant. */
export async function hourlyRollupTotals(store: AnalyticsStore, f: UsageFilter): Promise<RollupTotals> {
  const rows = await store.query<Record<keyof RollupTotals, number | string>>(
    `SELECT sum(requests) AS requests, sum(cost_nanos) AS cost_nanos, sum(cost_micros) AS cost_micros, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens
     FROM usage_hourly
     WHERE hour >= toStartOfHour({from:DateTime64(3, 'UTC')}) AND hour < {to:DateTime64(3, 'UTC')}
       AND ({tenant:String} = '' OR tenant = {tenant:String})`,
    filterParams(f),
  );
  const r = rows[0];
  return {
    requests: Number(r?.requests ?? 0),
    cost_nanos: Number(r?.cost_nanos ?? 0),
    cost_micros: Number(r?.cost_micros ?? 0),
    input_tokens: Number(r?.input_tokens ?? 0),
    output_tokens: Number(r?.output_tokens ?? 0),
  };
}
