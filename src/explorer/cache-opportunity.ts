/**
 * Cache opportunity: how much of the traffic repeated an identical earlier request (same exact
 * cache key hash, recorded on every usage row whether the cache is on or off) within a window,
 * and what an exact cache would have saved at the recorded costs. Computed in ClickHouse: per
 * (tenant, key hash) the successful requests sorted by time; a request is a repeat when the one
 * before it is at most `window` earlier. Results per service and model.
 */
import type { AnalyticsParams, AnalyticsStore } from "../analytics/store.ts";
import { toClickHouseTime } from "../analytics/schema.ts";
import { COST_COLUMN, SAVED_COLUMN, toUsd } from "./costs.ts";

export interface OpportunityFilter {
  from: Date;
  to: Date;
  tenant?: string;
  service?: string;
  windowMs: number;
}

/** Pure: the query. */
export function opportunitySql(f: OpportunityFilter): { sql: string; params: AnalyticsParams } {
  const params: AnalyticsParams = { from: toClickHouseTime(f.from), to: toClickHouseTime(f.to), window: f.windowMs };
  const where = ["time >= {from:DateTime64(3, 'UTC')}", "time < {to:DateTime64(3, 'UTC')}", "status = 'ok'", "cache_key_hash != ''"];
  if (f.tenant !== undefined) {
    where.push("tenant = {tenant:String}");
    params.tenant = f.tenant;
  }
  const sql = `SELECT x.1 AS service, x.2 AS model, count() AS requests, countIf(x.6) AS repeats,
      countIf(x.6 AND x.7 = 1) AS repeats_cached,
      sumIf(x.3, x.6 AND x.7 = 0) AS savable, sumIf(x.5, x.6 AND x.7 = 1) AS saved,
      sumIf(x.4, x.6 AND x.7 = 0) AS savable_latency_ms
    FROM (
      SELECT arrayJoin(arrayMap((e, i) -> (e.2, e.3, e.4, e.5, e.6, i > 1 AND e.1 - s[i - 1].1 <= {window:UInt64}, e.7), s, arrayEnumerate(s))) AS x
      FROM (
        SELECT arraySort(e -> e.1, groupArray((toUInt64(toUnixTimestamp64Milli(time)), service, model, ${COST_COLUMN}, latency_ms, ${SAVED_COLUMN}, cached))) AS s
        FROM usage_events FINAL WHERE ${where.join(" AND ")}
        GROUP BY tenant, cache_key_hash
      )
    )
    ${f.service !== undefined ? "WHERE x.1 = {service:String}" : ""}
    GROUP BY service, model ORDER BY savable DESC, service, model LIMIT 10000`;
  if (f.service !== undefined) params.service = f.service;
  return { sql, params };
}

interface Row {
  service: string;
  model: string;
  requests: number | string;
  repeats: number | string;
  repeats_cached: number | string;
  savable: number | string;
  saved: number | string;
  savable_latency_ms: number | string;
}

const pct = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 10_000) / 100 : 0);

export async function cacheOpportunity(store: Pick<AnalyticsStore, "query">, f: OpportunityFilter) {
  const { sql, params } = opportunitySql(f);
  const rows = await store.query<Row>(sql, params);
  const data = rows.map((r) => {
    const requests = Number(r.requests);
    const repeats = Number(r.repeats);
    const uncachedRepeats = repeats - Number(r.repeats_cached);
    return {
      service: r.service || null,
      model: r.model || null,
      requests,
      repeats,
      repeat_share_pct: pct(repeats, requests),
      repeats_served_from_cache: Number(r.repeats_cached),
      would_save_usd: toUsd(r.savable),
      already_saved_usd: toUsd(r.saved),
      would_save_latency_ms: Math.round(Number(r.savable_latency_ms)),
      avg_latency_saved_ms: uncachedRepeats > 0 ? Math.round(Number(r.savable_latency_ms) / uncachedRepeats) : 0,
    };
  });
  const requests = data.reduce((s, d) => s + d.requests, 0);
  const repeats = data.reduce((s, d) => s + d.repeats, 0);
  return {
    object: "analysis.cache_opportunity",
    from: f.from.toISOString(),
    to: f.to.toISOString(),
    tenant: f.tenant ?? null,
    window_hours: f.windowMs / 3_600_000,
    total: {
      requests,
      repeats,
      repeat_share_pct: pct(repeats, requests),
      would_save_usd: data.reduce((s, d) => s + Math.round(d.would_save_usd * 1e6), 0) / 1e6,
      already_saved_usd: data.reduce((s, d) => s + Math.round(d.already_saved_usd * 1e6), 0) / 1e6,
      would_save_latency_ms: data.reduce((s, d) => s + d.would_save_latency_ms, 0),
    },
    data,
  };
}
