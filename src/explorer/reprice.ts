/**
 * Cost comparison: what the recorded usage would have cost at other prices. Computed inside
 * ClickHouse: the tokens are aggregated by service, provider and model (input split into
 * uncached, cache-read and cache-write; output including reasoning), then priced per candidate
 * in the same query — flat rates multiply the sums; a tiered rate (priced by each request's
 * input size, as genai-prices does) is applied per row inside the sum. No row leaves the store.
 *
 * Prices are USD per 1M tokens, so tokens × rate is micro-dollars: results are exact to the
 * micro-dollar (rounded once per group and candidate).
 */
import type { AnalyticsParams, AnalyticsStore } from "../analytics/store.ts";
import { toClickHouseTime } from "../analytics/schema.ts";
import type { ConfigSnapshot } from "../config/snapshot.ts";
import { CATALOG_VERSION, catalogPrice } from "../pricing/catalog.ts";
import { type EffectivePrice, priceFor, type Rate, sourceLabel } from "../pricing/price.ts";
import { COST_COLUMN, toUsd } from "./costs.ts";

export interface GivenPrice {
  input: number;
  output: number;
  cached_input?: number;
  cache_write?: number;
}

export type Candidate = { provider: string; model: string } | { price: GivenPrice; name?: string };

export interface RepriceFilter {
  from: Date;
  to: Date;
  tenant?: string;
  service?: string;
  provider?: string;
  model?: string;
  user?: string;
}

export interface ResolvedCandidate {
  name: string;
  /** Undefined: the catalog has no price for it (all usage is listed as unpriced). */
  price?: Omit<EffectivePrice, "source">;
  source: string | null;
}

/** The candidate's price: the given one, else config or catalog (a gateway provider id, else a catalog vendor/kind). */
export function resolveCandidate(c: Candidate, snapshot: Pick<ConfigSnapshot, "prices" | "providers">): ResolvedCandidate {
  if ("price" in c) {
    const p = c.price;
    return { name: c.name ?? `price(in=${p.input},out=${p.output}${p.cached_input !== undefined ? `,cached=${p.cached_input}` : ""})`, price: { input: p.input, output: p.output, ...(p.cached_input !== undefined ? { cachedInput: p.cached_input } : {}), ...(p.cache_write !== undefined ? { cacheWrite: p.cache_write } : {}) }, source: "given" };
  }
  const name = `${c.provider}/${c.model}`;
  const known = snapshot.providers.some((p) => p.id === c.provider);
  const eff = known ? priceFor(snapshot, c.provider, c.model) : undefined;
  if (eff) return { name, price: eff, source: sourceLabel(eff.source) };
  const cat = catalogPrice({ kind: c.provider, model: c.model });
  if (cat) return { name, price: cat, source: `catalog:${CATALOG_VERSION}` };
  return { name, source: null };
}

/** SQL for `sum(tokens) × rate` (flat) or `sum(tokens × tier rate by the row's input size)` (tiered). */
function priced(tokensExpr: string, sumName: string, rate: Rate, params: AnalyticsParams, p: string): string {
  if (typeof rate === "number") {
    params[p] = rate;
    return `${sumName} * {${p}:Float64}`;
  }
  const parts: string[] = [];
  const tiers = [...rate.tiers].sort((a, b) => b.start - a.start);
  tiers.forEach((t, i) => {
    params[`${p}_s${i}`] = t.start;
    params[`${p}_r${i}`] = t.price;
    parts.push(`input_tokens > {${p}_s${i}:UInt64}, {${p}_r${i}:Float64}`);
  });
  params[`${p}_b`] = rate.base;
  return `sum(${tokensExpr} * multiIf(${parts.join(", ")}, {${p}_b:Float64}))`;
}

const UNCACHED = "toUInt64(input_tokens - least(input_tokens, cached_tokens + cache_write_tokens))";

/** Pure: the one query (tokens aggregated per group, every candidate priced in it). */
export function repriceSql(f: RepriceFilter, candidates: readonly ResolvedCandidate[]): { sql: string; params: AnalyticsParams } {
  const params: AnalyticsParams = { from: toClickHouseTime(f.from), to: toClickHouseTime(f.to) };
  const where = ["time >= {from:DateTime64(3, 'UTC')}", "time < {to:DateTime64(3, 'UTC')}", "cached = 0"];
  for (const [col, name, v] of [["tenant", "tenant", f.tenant], ["service", "service", f.service], ["provider", "provider", f.provider], ["model", "model", f.model], ["user", "user", f.user]] as const) {
    if (v === undefined) continue;
    where.push(`${col} = {${name}:String}`);
    params[name] = v;
  }
  const cols = candidates.map((c, i) => {
    if (!c.price) return `toInt64(-1) AS c${i}`;
    const pr = c.price;
    const terms = [
      priced(UNCACHED, "sum(" + UNCACHED + ")", pr.input, params, `c${i}_in`),
      priced("toUInt64(cached_tokens)", "sum(toUInt64(cached_tokens))", pr.cachedInput ?? pr.input, params, `c${i}_cr`),
      priced("toUInt64(cache_write_tokens)", "sum(toUInt64(cache_write_tokens))", pr.cacheWrite ?? pr.input, params, `c${i}_cw`),
      priced("toUInt64(output_tokens)", "sum(toUInt64(output_tokens))", pr.output, params, `c${i}_out`),
    ];
    return `toInt64(round(${terms.join(" + ")})) AS c${i}`;
  });
  const sql = `SELECT service, provider, model, count() AS requests,
      sum(${UNCACHED}) AS uncached_input, sum(toUInt64(cached_tokens)) AS cached_input, sum(toUInt64(cache_write_tokens)) AS cache_write,
      sum(toUInt64(output_tokens)) AS output, sum(toUInt64(reasoning_tokens)) AS reasoning,
      sum(${COST_COLUMN}) AS actual, countIf(price_source = '' AND ${COST_COLUMN} = 0 AND (input_tokens + output_tokens) > 0) AS actual_unpriced
      ${cols.length ? ", " + cols.join(", ") : ""}
    FROM usage_events FINAL WHERE ${where.join(" AND ")}
    GROUP BY service, provider, model ORDER BY actual DESC, service, provider, model LIMIT 10000`;
  return { sql, params };
}

interface GroupRow {
  service: string;
  provider: string;
  model: string;
  requests: number | string;
  uncached_input: number | string;
  cached_input: number | string;
  cache_write: number | string;
  output: number | string;
  reasoning: number | string;
  actual: number | string;
  actual_unpriced: number | string;
  [candidate: string]: unknown;
}

/** Runs the comparison. Costs in USD (exact to the micro-dollar); `*_micros` beside them. */
export async function reprice(store: Pick<AnalyticsStore, "query">, f: RepriceFilter, candidates: readonly ResolvedCandidate[]) {
  const { sql, params } = repriceSql(f, candidates);
  const rows = await store.query<GroupRow>(sql, params);
  const n = (v: unknown) => Number(v ?? 0);
  const totals = candidates.map(() => 0);
  let actualMicros = 0;
  const breakdown = rows.map((r) => {
    const actualUnits = n(r.actual);
    actualMicros += Math.round(toUsd(actualUnits) * 1e6);
    return {
      service: r.service || null,
      provider: r.provider || null,
      model: r.model || null,
      requests: n(r.requests),
      tokens: { uncached_input: n(r.uncached_input), cached_input: n(r.cached_input), cache_write: n(r.cache_write), output: n(r.output), reasoning: n(r.reasoning) },
      actual_usd: toUsd(actualUnits),
      actual_unpriced_requests: n(r.actual_unpriced),
      candidates: candidates.map((c, i) => {
        const micros = n(r[`c${i}`]);
        if (c.price) totals[i]! += micros;
        return { name: c.name, cost_usd: c.price ? micros / 1e6 : null, cost_micros: c.price ? micros : null };
      }),
    };
  });
  return {
    object: "analysis.reprice",
    from: f.from.toISOString(),
    to: f.to.toISOString(),
    tenant: f.tenant ?? null,
    catalog_version: CATALOG_VERSION,
    actual: { cost_usd: actualMicros / 1e6, cost_micros: actualMicros, unpriced_requests: breakdown.reduce((s, b) => s + b.actual_unpriced_requests, 0) },
    candidates: candidates.map((c, i) => ({
      name: c.name,
      price_source: c.source,
      priceable: c.price !== undefined,
      cost_usd: c.price ? totals[i]! / 1e6 : null,
      cost_micros: c.price ? totals[i]! : null,
      // Usage this candidate cannot price is listed, never counted as zero.
      unpriced: c.price ? [] : breakdown.map((b) => ({ service: b.service, provider: b.provider, model: b.model, requests: b.requests, tokens: b.tokens })),
    })),
    breakdown,
  };
}
