/**
 * Analytics for end customers at scale, embedded chDB: 1M `usage_events` rows over 30 days,
 * 100k distinct customers (user_id), 20 tenants. Times the by-customer top list, one customer's
 * summary + timeseries and the by-tenant list — with and without the `user` bloom-filter skip
 * index, in the same run (two databases in one chDB session, same rows).
 *
 *   bun run bench/by-customer.ts [rows] [customers]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChdbAnalyticsStore } from "../src/analytics/chdb-store.ts";
import { singlePassCustomerQuery, usageByCustomer, usageByTenant, usageSummary, usageTimeseries } from "../src/analytics/queries.ts";
import type { UsageRow } from "../src/analytics/schema.ts";

const ROWS = Number(process.argv[2] ?? 1_000_000);
const CUSTOMERS = Number(process.argv[3] ?? 100_000);
const BATCH = 50_000;
const END = Date.UTC(2026, 11, 1);
const SPAN = 30 * 86_400_000;
const PROVIDERS = [["openai", "gpt-4o"], ["openai", "gpt-4o-mini"], ["anthropic", "claude-sonnet-4-0"], ["gemini", "gemini-2.5-flash"]] as const;

function rows(from: number, n: number): UsageRow[] {
  const out: UsageRow[] = [];
  for (let i = from; i < from + n; i++) {
    const h = Math.imul(i, 2654435761) >>> 0; // spread customers and times
    const [provider, model] = PROVIDERS[h % PROVIDERS.length]!;
    out.push({
      time: new Date(END - SPAN + (h % SPAN)).toISOString(),
      event_id: `ev-${i}`, request_id: `req-${i}`, tenant: `t${h % 20}`, service: `svc${h % 7}`, user: `cust-${h % CUSTOMERS}`,
      key_prefix: "tg-abcd", task_type: "", provider, model, route: model,
      input_tokens: 100 + (h % 2000), output_tokens: 10 + (h % 500), cached_tokens: h % 3 === 0 ? 64 : 0,
      cost_micros: 100 + (h % 20_000), saved_micros: 0, cost_nanos: (100 + (h % 20_000)) * 1000, saved_nanos: 0, latency_ms: 50 + (h % 900), ttft_ms: null, cached: h % 10 === 0 ? 1 : 0, status: "ok", error_code: "", attempts: 1,
      cache_write_tokens: 0, reasoning_tokens: 0, price_source: "catalog:@pydantic/genai-prices@0.1.8",
    });
  }
  return out;
}

const dir = mkdtempSync(join(tmpdir(), "tg-bench-cust-"));
try {
  const idx = await ChdbAnalyticsStore.open(dir, { database: "bench_idx" });
  await idx.migrate();
  let t0 = performance.now();
  for (let i = 0; i < ROWS; i += BATCH) await idx.insert(rows(i, Math.min(BATCH, ROWS - i)));
  console.log(`inserted ${ROWS} rows (${CUSTOMERS} customers) in ${((performance.now() - t0) / 1000).toFixed(1)} s (JSONEachRow, ${BATCH} per insert)`);
  // The same rows in a second database without the user index (copied inside the engine).
  const noidx = await ChdbAnalyticsStore.open(dir, { database: "bench_noidx" });
  await noidx.migrate();
  await noidx.exec("ALTER TABLE bench_noidx.usage_events DROP INDEX IF EXISTS usage_user_idx");
  await noidx.exec("INSERT INTO bench_noidx.usage_events SELECT * FROM bench_idx.usage_events");
  t0 = performance.now();
  for (const db of ["bench_idx", "bench_noidx"]) await idx.exec(`OPTIMIZE TABLE ${db}.usage_events FINAL`);
  console.log(`OPTIMIZE FINAL of both in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const f = { from: new Date(END - SPAN), to: new Date(END) };
  const single = singlePassCustomerQuery(f, 10);
  const cases: Array<[string, (s: ChdbAnalyticsStore) => Promise<unknown>]> = [
    ["by-customer top 10, 30 days (rank, then metrics of the top: kept)", (s) => usageByCustomer(s, f, 10)],
    ["by-customer top 10, 30 days (single pass: metrics of all 100k)", (s) => s.query(single.sql, single.params)],
    ["by-customer top 1000, 30 days", (s) => usageByCustomer(s, f, 1000)],
    ["one customer, summary + daily timeseries", (s) => Promise.all([usageSummary(s, { ...f, user: "cust-4242" }), usageTimeseries(s, "day", { ...f, user: "cust-4242" })])],
    ["by-tenant, 30 days", (s) => usageByTenant(s, f, 20)],
    ["summary, 30 days", (s) => usageSummary(s, f)],
  ];
  // Same answer both ways.
  const top = await usageByCustomer(idx, f, 10);
  const base = await idx.query<{ key: string; m_cost_nanos: number }>(single.sql, single.params);
  if (top.length !== 10 || JSON.stringify(base.map((r) => [r.key, Number(r.m_cost_nanos)])) !== JSON.stringify(top.map((r) => [r.user_id, r.cost_nanos]))) throw new Error("the two forms disagree");
  const RUNS = 7;
  const times = new Map<string, number[]>();
  for (let r = 0; r < RUNS; r++) {
    // Interleaved: every variant sees the same background load.
    for (const [label, fn] of cases) {
      for (const [name, s] of [["index", idx], ["no index", noidx]] as const) {
        const k = `${label} | ${name}`;
        const t = performance.now();
        await fn(s);
        (times.get(k) ?? times.set(k, []).get(k)!).push(performance.now() - t);
      }
    }
  }
  console.log(`| query | user index | median of ${RUNS} | min–max |\n| --- | --- | --- | --- |`);
  for (const [k, ms] of times) {
    ms.sort((a, b) => a - b);
    console.log(`| ${k} | ${ms[Math.floor(RUNS / 2)]!.toFixed(0)} ms | ${ms[0]!.toFixed(0)}–${ms.at(-1)!.toFixed(0)} ms |`);
  }
  await noidx.close();
  await idx.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
