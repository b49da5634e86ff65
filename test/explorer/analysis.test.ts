/**
 * Reprice and cache opportunity on embedded chDB, with rows inserted directly: reprice checked
 * against hand computation to the micro-dollar (a catalog model with cached-token prices, a
 * reasoning model, a given price, and one the catalog cannot price); cache opportunity on a
 * generated workload with a known repeat rate (±1 percentage point). Plus the explorer columns'
 * migration on a table created before them, and the list query's filters.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChdbAnalyticsStore } from "../../src/analytics/chdb-store.ts";
import { EXPLORER_COLUMNS, migrateExplorer } from "../../src/analytics/explorer-columns.ts";
import type { UsageRow } from "../../src/analytics/schema.ts";
import { cacheOpportunity } from "../../src/explorer/cache-opportunity.ts";
import { listRequests } from "../../src/explorer/list.ts";
import { reprice, resolveCandidate } from "../../src/explorer/reprice.ts";
import { CATALOG_VERSION } from "../../src/pricing/catalog.ts";

let dir: string;
let store: ChdbAnalyticsStore;
const T0 = Date.UTC(2026, 0, 10, 0, 0, 0);
const FROM = new Date(T0 - 86_400_000);
const TO = new Date(T0 + 3 * 86_400_000);
let seq = 0;
const uuid = (n: number) => `00000000-0000-7000-8000-${n.toString(16).padStart(12, "0")}`;

function row(p: Partial<UsageRow> & { time: string }): UsageRow {
  seq++;
  const r = {
    event_id: uuid(seq), request_id: uuid(1_000_000 + seq), tenant: "t1", service: "web", user: "", key_prefix: "", task_type: "", provider: "up", model: "m1", route: "m1",
    input_tokens: 0, output_tokens: 0, cached_tokens: 0, cost_micros: 0, saved_micros: 0, latency_ms: 10, ttft_ms: null, cached: 0, status: "ok", error_code: "", attempts: 1,
    cache_write_tokens: 0, reasoning_tokens: 0, price_source: "catalog:x", ...p,
  };
  // Costs are stored in nano-dollars (issue 23); the fixtures below are written in micro-dollars.
  return { ...r, cost_nanos: p.cost_nanos ?? r.cost_micros * 1000, saved_nanos: p.saved_nanos ?? r.saved_micros * 1000 } as UsageRow;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tollgate-explorer-"));
  store = await ChdbAnalyticsStore.open(dir, { database: "explorer_test" });
  await store.migrate();
});
afterAll(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe("reprice (computed in ClickHouse)", () => {
  test("three candidates by hand, to the micro-dollar; unpriceable usage listed; actual beside it", async () => {
    const at = (m: number) => new Date(T0 + m * 60_000).toISOString();
    await store.insert([
      // web/m1: 1000 input of which 400 cache reads, 500 output of which 300 reasoning
      row({ time: at(1), input_tokens: 1000, cached_tokens: 400, output_tokens: 500, reasoning_tokens: 300, cost_micros: 1234 }),
      row({ time: at(2), input_tokens: 2000, output_tokens: 100, cost_micros: 2000 }),
      // batch/m2: 10,000 input (8,000 cache reads), 2,000 output (1,500 reasoning)
      row({ time: at(3), service: "batch", model: "m2", input_tokens: 10_000, cached_tokens: 8000, output_tokens: 2000, reasoning_tokens: 1500, cost_micros: 5000 }),
      // not counted: a cache hit (no provider usage) and another tenant
      row({ time: at(4), cached: 1, input_tokens: 999, output_tokens: 999, saved_micros: 77 }),
      row({ time: at(5), tenant: "t2", input_tokens: 5000, output_tokens: 5000, cost_micros: 9 }),
    ]);
    const snapshot = { prices: {}, providers: [] };
    const candidates = [
      resolveCandidate({ provider: "openai", model: "gpt-4o" }, snapshot), // $2.50 in, $1.25 cached, $10 out
      resolveCandidate({ provider: "openai", model: "o3-mini" }, snapshot), // $1.10 in, $0.55 cached, $4.40 out (reasoning billed as output)
      resolveCandidate({ price: { input: 0.35, output: 1.5 }, name: "given" }, snapshot), // cache reads at the input rate
      resolveCandidate({ provider: "openai", model: "no-such-model-x" }, snapshot),
    ];
    const out = await reprice(store, { from: FROM, to: TO, tenant: "t1" }, candidates);
    // web/m1: uncached 600 + 2000 = 2600, cached 400, output 600; batch/m2: uncached 2000, cached 8000, output 2000.
    const gpt4o = { web: 2600 * 2.5 + 400 * 1.25 + 600 * 10, batch: 2000 * 2.5 + 8000 * 1.25 + 2000 * 10 }; // 13,000 + 35,000
    const o3 = { web: 2600 * 1.1 + 400 * 0.55 + 600 * 4.4, batch: 2000 * 1.1 + 8000 * 0.55 + 2000 * 4.4 }; // 5,720 + 15,400
    const given = { web: 3000 * 0.35 + 600 * 1.5, batch: 10_000 * 0.35 + 2000 * 1.5 }; // 1,950 + 6,500
    expect(out.candidates.map((c) => c.cost_micros)).toEqual([48_000, 21_120, 8_450, null]);
    expect(out.candidates[0]!.cost_micros).toBe(Math.round(gpt4o.web + gpt4o.batch));
    expect(out.candidates[1]!.cost_micros).toBe(Math.round(o3.web + o3.batch));
    expect(out.candidates[2]!.cost_micros).toBe(Math.round(given.web + given.batch));
    expect(out.candidates.map((c) => c.cost_usd)).toEqual([0.048, 0.02112, 0.00845, null]);
    expect(out.candidates[0]!.price_source).toBe(`catalog:${CATALOG_VERSION}`);
    expect(out.catalog_version).toBe(CATALOG_VERSION);
    expect(out.candidates[3]).toMatchObject({ priceable: false, cost_usd: null });
    expect(out.candidates[3]!.unpriced.map((u) => [u.service, u.model, u.requests])).toEqual([["batch", "m2", 1], ["web", "m1", 2]]);
    expect(out.actual).toMatchObject({ cost_micros: 8234, cost_usd: 0.008234, unpriced_requests: 0 });
    const web = out.breakdown.find((b) => b.service === "web")!;
    expect(web).toMatchObject({ model: "m1", requests: 2, tokens: { uncached_input: 2600, cached_input: 400, cache_write: 0, output: 600, reasoning: 300 }, actual_usd: 0.003234 });
    expect(web.candidates.map((c) => c.cost_micros)).toEqual([13_000, 5_720, 1_950, null]);
  });

  test("a tiered rate is applied per request by its input size, inside the sum", async () => {
    const tier = { input: { base: 1, tiers: [{ start: 5000, price: 2 }] }, output: 0 };
    const out = await reprice(store, { from: FROM, to: TO, tenant: "t1" }, [{ name: "tiered", price: tier, source: "given" }]);
    // 1000-input row: 600 uncached + 400 cached at 1 → 1000; 2000-input row: 2000; 10,000-input row: (2000 + 8000) × 2 = 20,000.
    expect(out.candidates[0]!.cost_micros).toBe(23_000);
  });
});

describe("cache opportunity", () => {
  test("a generated workload with a known repeat rate comes out within ±1 percentage point; savings at the recorded costs", async () => {
    const WINDOW = 3_600_000;
    let rand = 42;
    const next = () => ((rand = (rand * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const rows: UsageRow[] = [];
    const lastUse = new Map<string, number>();
    let repeats = 0;
    let savable = 0;
    let hashes = 0;
    const N = 5000;
    for (let i = 0; i < N; i++) {
      const t = T0 + 86_400_000 + i * 10_000; // every 10 s over ~14 h
      const recent = [...lastUse].filter(([, u]) => t - u <= WINDOW);
      const stale = [...lastUse].filter(([, u]) => t - u > WINDOW);
      const r = next();
      let hash: string;
      if (r < 0.3 && recent.length) hash = recent[Math.floor(next() * recent.length)]![0];
      else if (r < 0.35 && stale.length) hash = stale[Math.floor(next() * stale.length)]![0]; // repeats, but outside the window
      else hash = `h${hashes++}`.padEnd(64, "0");
      const isRepeat = lastUse.has(hash) && t - lastUse.get(hash)! <= WINDOW;
      const cost = 100 + (i % 7);
      if (isRepeat) {
        repeats++;
        savable += cost;
      }
      lastUse.set(hash, t);
      rows.push(row({ time: new Date(t).toISOString(), tenant: "gen", service: i % 2 ? "a" : "b", model: "m", cache_key_hash: hash, cost_micros: cost, latency_ms: 100 }));
    }
    // Errors never make an entry: they are not counted (neither as requests nor as earlier ones).
    rows.push(row({ time: new Date(T0 + 86_400_000 + 5).toISOString(), tenant: "gen", status: "error", cache_key_hash: rows[0]!.cache_key_hash!, cost_micros: 0 }));
    for (let i = 0; i < rows.length; i += 1000) await store.insert(rows.slice(i, i + 1000));
    const truth = (repeats / N) * 100;
    expect(truth).toBeGreaterThan(25);
    const out = await cacheOpportunity(store, { from: FROM, to: TO, tenant: "gen", windowMs: WINDOW });
    expect(out.total.requests).toBe(N);
    expect(Math.abs(out.total.repeat_share_pct - truth)).toBeLessThanOrEqual(1);
    expect(out.total.would_save_usd).toBeCloseTo(savable / 1e6, 9);
    expect(out.total.would_save_latency_ms).toBe(repeats * 100);
    expect(out.data.map((d) => d.service).sort()).toEqual(["a", "b"]);
    // A shorter window finds fewer repeats.
    const short = await cacheOpportunity(store, { from: FROM, to: TO, tenant: "gen", windowMs: 60_000 });
    expect(short.total.repeats).toBeLessThan(out.total.repeats);
  });
});

describe("the list query", () => {
  test("filters combine; min cost and min latency; tenant scoping", async () => {
    const page = await listRequests(store, { from: FROM, to: TO, tenant: "t1", service: "web", limit: 10 });
    expect(page.data.length).toBe(3);
    expect(page.data.every((r) => r.tenant === "t1" && r.service === "web")).toBe(true);
    expect((await listRequests(store, { from: FROM, to: TO, tenant: "t1", minCostUsd: 0.002, limit: 10 })).data.map((r) => r.cost_usd).sort()).toEqual([0.002, 0.005]);
    expect((await listRequests(store, { from: FROM, to: TO, tenant: "t2", limit: 10 })).data.length).toBe(1);
    expect((await listRequests(store, { from: FROM, to: TO, tenant: "gen", minLatencyMs: 101, limit: 10 })).data.length).toBe(0);
  });
});

describe("explorer columns migration", () => {
  test("adds the missing columns to a table created before them, idempotently", async () => {
    const cols = async () => (await store.query<{ name: string }>("SELECT name FROM system.columns WHERE database = 'explorer_test' AND table = 'usage_events'")).map((r) => r.name);
    for (const c of EXPLORER_COLUMNS) expect(await cols()).toContain(c.name);
    await store.exec("ALTER TABLE explorer_test.usage_events DROP COLUMN cache_key_hash");
    expect(await cols()).not.toContain("cache_key_hash");
    await migrateExplorer(store, "explorer_test");
    await migrateExplorer(store, "explorer_test");
    expect(await cols()).toContain("cache_key_hash");
  });
});
