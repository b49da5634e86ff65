/**
 * The AnalyticsStore contract, written once and run against every implementation
 * (chdb.test.ts, clickhouse.test.ts). Every analytics query is checked against exact numbers:
 * literal hand-computed values for the summary, and a direct JS computation over the fixture rows
 * for every grouping.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { type AnalyticsStore, toColumns } from "../../src/analytics/store.ts";
import {
  hourlyRollupTotals, rebuildHourlyRollup, usageByCustomer, usageByTenant, usageByModel, usageByProvider, usageByService, NO_SERVICE,
  usageSummary, usageTimeseries,
} from "../../src/analytics/queries.ts";
import { type UsageRow, storedValue } from "../../src/analytics/schema.ts";
import { expectedMetrics, fixtureRows, inRange, RANGE } from "./fixtures.ts";

export interface MadeAnalyticsStore {
  store: AnalyticsStore;
  cleanup: () => Promise<void>;
}

export type AnalyticsStoreFactory = () => Promise<MadeAnalyticsStore>;

function groupBy(rows: UsageRow[], key: (r: UsageRow) => string): Map<string, UsageRow[]> {
  const m = new Map<string, UsageRow[]>();
  for (const r of rows) m.set(key(r), [...(m.get(key(r)) ?? []), r]);
  return m;
}

/** Expected grouped rows, ordered like the queries: cost desc, requests desc, key asc. */
function expectedGroups(rows: UsageRow[], name: string, key: (r: UsageRow) => string): unknown[] {
  return [...groupBy(rows, key)]
    .map(([k, rs]) => ({ k, m: expectedMetrics(rs) }))
    .sort((a, b) => b.m.cost_nanos - a.m.cost_nanos || b.m.requests - a.m.requests || (a.k < b.k ? -1 : a.k > b.k ? 1 : 0))
    .map(({ k, m }) => ({ [name]: k, ...m }));
}

/** The analytics DDL of the version before nano-dollar columns (cost in micros, rollup view `usage_hourly_mv`). */
function legacyStatements(d: string): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${d}.usage_events (
      time DateTime64(3, 'UTC'), event_id String, request_id String, tenant LowCardinality(String), service LowCardinality(String),
      user String, key_prefix String, task_type LowCardinality(String), provider LowCardinality(String), model LowCardinality(String),
      route LowCardinality(String), input_tokens UInt32, output_tokens UInt32, cached_tokens UInt32, cost_micros UInt64,
      saved_micros UInt64 DEFAULT 0, latency_ms Float64, ttft_ms Nullable(Float64), cached UInt8, status LowCardinality(String),
      error_code String, attempts UInt8
    ) ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(time) ORDER BY (tenant, time, event_id) SETTINGS non_replicated_deduplication_window = 10000`,
    `CREATE TABLE IF NOT EXISTS ${d}.usage_hourly (
      hour DateTime('UTC'), tenant LowCardinality(String), provider LowCardinality(String), model LowCardinality(String),
      service LowCardinality(String), requests UInt64, cached_requests UInt64, error_requests UInt64, input_tokens UInt64,
      output_tokens UInt64, cached_tokens UInt64, cost_micros UInt64, latency_ms_sum Float64
    ) ENGINE = SummingMergeTree PARTITION BY toYYYYMM(hour) ORDER BY (tenant, hour, provider, model, service) SETTINGS non_replicated_deduplication_window = 10000`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${d}.usage_hourly_mv TO ${d}.usage_hourly AS
      SELECT toStartOfHour(time) AS hour, tenant, provider, model, service, count() AS requests, countIf(cached = 1) AS cached_requests,
        countIf(status = 'error') AS error_requests, sum(toUInt64(input_tokens)) AS input_tokens, sum(toUInt64(output_tokens)) AS output_tokens,
        sum(toUInt64(cached_tokens)) AS cached_tokens, sum(cost_micros) AS cost_micros, sum(latency_ms) AS latency_ms_sum
      FROM ${d}.usage_events GROUP BY hour, tenant, provider, model, service`,
    `ALTER TABLE ${d}.usage_events ADD COLUMN IF NOT EXISTS cache_write_tokens UInt32 DEFAULT 0`,
    `ALTER TABLE ${d}.usage_events ADD COLUMN IF NOT EXISTS reasoning_tokens UInt32 DEFAULT 0`,
    `ALTER TABLE ${d}.usage_events ADD COLUMN IF NOT EXISTS price_source LowCardinality(String) DEFAULT ''`,
  ];
}

export function analyticsStoreContract(name: string, factory: AnalyticsStoreFactory): void {
  describe(`AnalyticsStore contract: ${name}`, () => {
    let made: MadeAnalyticsStore;
    let store: AnalyticsStore;
    const rows = fixtureRows();
    const counted = inRange(rows);

    beforeAll(async () => {
      made = await factory();
      store = made.store;
    });
    afterAll(async () => {
      await made?.cleanup();
    });
    beforeEach(async () => {
      await store.drop();
      await store.migrate();
    });

    test("health reports ok and a version", async () => {
      const h = await store.health();
      expect(h.ok).toBe(true);
      expect(h.kind).toBe(store.kind);
      expect(h.version).toMatch(/^\d+\./);
    });

    test("migrate is idempotent and an empty store answers zeros", async () => {
      await store.migrate();
      const s = await usageSummary(store, RANGE);
      expect(s).toEqual({ requests: 0, input_tokens: 0, output_tokens: 0, cached_tokens: 0, cost_nanos: 0, cost_micros: 0, cost_usd: 0, cache_hit_rate: 0, saved_nanos: 0, saved_micros: 0, saved_usd: 0, error_rate: 0, p50_ms: 0, p95_ms: 0, p99_ms: 0 });
      expect(await usageByProvider(store, RANGE)).toEqual([]);
    });

    test("inserted rows round-trip column by column", async () => {
      await store.insert(rows);
      const got = await store.query<Record<string, unknown>>(
        "SELECT event_id, request_id, tenant, service, user, route, cost_micros, ttft_ms, cached, status, error_code, attempts, formatDateTime(time, '%Y-%m-%dT%H:%i:%S', 'UTC') AS t FROM usage_events FINAL WHERE event_id = {id:String}",
        { id: rows[6]!.event_id },
      );
      expect(got).toHaveLength(1);
      const r = got[0]!;
      expect(r.tenant).toBe("globex");
      expect(r.request_id).toBe("req-6");
      expect(r.service).toBe("");
      expect(r.route).toBe("gpt-4o-mini");
      expect(Number(r.cost_micros)).toBe(45);
      expect(r.ttft_ms).toBe(40);
      expect(Number(r.cached)).toBe(0);
      expect(r.status).toBe("client_disconnected");
      expect(Number(r.attempts)).toBe(1);
      expect(r.t).toBe("2025-03-02T23:59:59");
      const [nullTtft] = await store.query<{ ttft_ms: number | null }>("SELECT ttft_ms FROM usage_events WHERE event_id = {id:String}", { id: rows[3]!.event_id });
      expect(nullTtft?.ttft_ms).toBeNull();
    });

    test("insertRows: value arrays in column order; a missing value is the column's DEFAULT", async () => {
      const [row] = rows;
      const { columns, values } = toColumns([{ ...row!, user: 'quote " back \\ ünï 😂' }, { ...row!, event_id: "no-cache-write", cache_write_tokens: undefined }], storedValue);
      expect(columns).toContain("cache_write_tokens");
      await store.insertRows("usage_events", columns, values);
      const got = await store.query<{ event_id: string; user: string; w: number | string }>("SELECT event_id, user, cache_write_tokens AS w FROM usage_events ORDER BY event_id");
      expect(got.map((r) => [r.event_id, r.user, Number(r.w)])).toEqual([
        [row!.event_id, 'quote " back \\ ünï 😂', row!.cache_write_tokens ?? 0],
        ["no-cache-write", row!.user, 0],
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))));
      await store.insertRows("request_log_index", ["request_id", "tenant", "type", "time_ms", "partition", "offset"], [["r-1", "acme", "request.completed", 1700000000123, 2, 41]]);
      expect(await store.query<Record<string, unknown>>("SELECT request_id, tenant, type, toString(time_ms) AS t, toString(partition) AS p, toString(offset) AS o FROM request_log_index")).toEqual([
        { request_id: "r-1", tenant: "acme", type: "request.completed", t: "1700000000123", p: "2", o: "41" },
      ]);
      await expect(store.insertRows("users; DROP TABLE usage_events" as never, ["a"], [[1]])).rejects.toThrow("unknown table");
    });

    test("summary: exact numbers over the half-open range", async () => {
      await store.insert(rows);
      const s = await usageSummary(store, RANGE);
      // Hand-computed from fixtures.ts (row 8 is at `to` and is excluded).
      expect(s).toEqual({
        requests: 7,
        input_tokens: 2150,
        output_tokens: 945,
        cached_tokens: 100,
        cost_nanos: 19395000,
        cost_micros: 19395,
        cost_usd: 0.019395,
        cache_hit_rate: 1 / 7,
        saved_nanos: 1250000,
        saved_micros: 1250,
        saved_usd: 0.00125,
        error_rate: 1 / 7,
        p50_ms: 300,
        p95_ms: 1080,
        p99_ms: 1176,
      });
      expect(s).toEqual(expectedMetrics(counted));
    });

    test("by provider: exact numbers, most expensive first", async () => {
      await store.insert(rows);
      const got = await usageByProvider(store, RANGE);
      expect(got.map((g) => g.provider)).toEqual(["anthropic", "openai"]);
      expect(got[0]).toEqual({ provider: "anthropic", requests: 2, input_tokens: 1400, output_tokens: 700, cached_tokens: 0, cost_nanos: 14700000, cost_micros: 14700, cost_usd: 0.0147, cache_hit_rate: 0, saved_nanos: 0, saved_micros: 0, saved_usd: 0, error_rate: 0, p50_ms: 1000, p95_ms: 1180, p99_ms: 1196 });
      expect(got as unknown[]).toEqual(expectedGroups(counted, "provider", (r) => r.provider));
    });

    test("by model and by service: exact numbers", async () => {
      await store.insert(rows);
      const models = await usageByModel(store, RANGE);
      expect(models.map((m) => m.model)).toEqual(["claude-3-5-sonnet", "gpt-4o", "gpt-4o-mini"]);
      expect(models as unknown[]).toEqual(expectedGroups(counted, "model", (r) => r.model));
      const services = await usageByService(store, RANGE);
      expect(services.map((m) => m.service)).toEqual(["batch", "web", NO_SERVICE]); // requests without a service: one named row
      expect(services as unknown[]).toEqual(expectedGroups(counted, "service", (r) => r.service || NO_SERVICE));
    });

    test("by tenant: exact numbers and limit", async () => {
      await store.insert(rows);
      const all = await usageByTenant(store, RANGE);
      expect(all as unknown[]).toEqual(expectedGroups(counted, "tenant", (r) => r.tenant));
      expect(all.map((c) => [c.tenant, c.cost_micros])).toEqual([["acme", 15150], ["globex", 4245]]);
      const top = await usageByTenant(store, RANGE, 1);
      expect(top).toEqual([all[0]!]);
    });

    test("by customer: grouped by the end customer's user_id (rows without one left out), exact numbers, one customer's filter", async () => {
      await store.insert([...rows, { ...rows[0]!, event_id: "no-user", user: "" }]);
      const all = await usageByCustomer(store, RANGE);
      expect(all as unknown[]).toEqual(expectedGroups(counted, "user_id", (r) => r.user));
      expect(all.map((c) => c.user_id).sort()).toEqual(["user-0", "user-1", "user-2"]);
      const one = await usageSummary(store, { ...RANGE, user: "user-1" });
      expect(one).toEqual(expectedMetrics(counted.filter((r) => r.user === "user-1")));
    });

    test("timeseries by hour and by day: exact numbers, UTC buckets, oldest first", async () => {
      await store.insert(rows);
      const hours = await usageTimeseries(store, "hour", RANGE);
      expect(hours.map((h) => [h.bucket, h.requests])).toEqual([
        ["2025-03-01T10:00:00Z", 2], ["2025-03-01T11:00:00Z", 2], ["2025-03-01T12:00:00Z", 1],
        ["2025-03-02T09:00:00Z", 1], ["2025-03-02T23:00:00Z", 1],
      ]);
      const hourOf = (r: UsageRow) => `${r.time.slice(0, 13)}:00:00Z`;
      expect(hours).toEqual(
        [...groupBy(counted, hourOf)].map(([bucket, rs]) => ({ bucket, ...expectedMetrics(rs) })).sort((a, b) => a.bucket.localeCompare(b.bucket)),
      );
      const days = await usageTimeseries(store, "day", RANGE);
      expect(days.map((d) => [d.bucket, d.requests, d.cost_micros])).toEqual([["2025-03-01T00:00:00Z", 5, 15150], ["2025-03-02T00:00:00Z", 2, 4245]]);
    });

    test("tenant filter: a tenant sees only its own rows", async () => {
      await store.insert(rows);
      const acme = { ...RANGE, tenant: "acme" };
      const s = await usageSummary(store, acme);
      expect(s).toEqual(expectedMetrics(counted.filter((r) => r.tenant === "acme")));
      expect(s.requests).toBe(4);
      expect(s.cost_micros).toBe(15150);
      expect(s.cache_hit_rate).toBe(0.25);
      expect(s.error_rate).toBe(0);
      expect((await usageByTenant(store, acme)).map((c) => c.tenant)).toEqual(["acme"]);
      expect((await usageByProvider(store, acme)).map((p) => [p.provider, p.requests])).toEqual([["anthropic", 1], ["openai", 3]]);
      expect((await usageSummary(store, { ...RANGE, tenant: "nobody" })).requests).toBe(0);
    });

    test("parameters are bound, never concatenated", async () => {
      await store.insert(rows);
      const s = await usageSummary(store, { ...RANGE, tenant: "acme' OR '1'='1" });
      expect(s.requests).toBe(0);
    });

    test("replay: the same rows inserted again (any batching) leave every total unchanged", async () => {
      await store.insert(rows);
      const once = {
        summary: await usageSummary(store, RANGE),
        customers: await usageByTenant(store, RANGE),
        hours: await usageTimeseries(store, "hour", RANGE),
      };
      await store.insert(rows);
      for (const r of rows) await store.insert([r]); // different batch boundaries
      expect(await usageSummary(store, RANGE)).toEqual(once.summary);
      expect(await usageByTenant(store, RANGE)).toEqual(once.customers);
      expect(await usageTimeseries(store, "hour", RANGE)).toEqual(once.hours);
      expect(once.summary).toEqual(expectedMetrics(counted));
    });

    test("rollup: a batch replayed with its dedup token is not counted twice", async () => {
      const half = Math.ceil(rows.length / 2);
      await store.insert(rows.slice(0, half), "requests:0:0-3");
      await store.insert(rows.slice(half), "requests:0:4-7");
      const want = { requests: 7, cost_nanos: 19_395_000, cost_micros: 19395, input_tokens: 2150, output_tokens: 945 };
      expect(await hourlyRollupTotals(store, RANGE)).toEqual(want);
      await store.insert(rows.slice(0, half), "requests:0:0-3");
      await store.insert(rows.slice(half), "requests:0:4-7");
      expect(await hourlyRollupTotals(store, RANGE)).toEqual(want);
      expect((await usageSummary(store, RANGE)).requests).toBe(7);
    });

    test("rollup: after a replay without tokens, a rebuild makes it equal the events again", async () => {
      await store.insert(rows);
      await store.insert(rows); // no token: the MV sees the rows twice
      expect((await hourlyRollupTotals(store, RANGE)).requests).toBe(14);
      await rebuildHourlyRollup(store);
      const rebuilt = await hourlyRollupTotals(store, RANGE);
      const s = await usageSummary(store, RANGE);
      expect(rebuilt).toEqual({ requests: s.requests, cost_nanos: s.cost_nanos, cost_micros: s.cost_micros, input_tokens: s.input_tokens, output_tokens: s.output_tokens });
      expect(rebuilt.requests).toBe(7);
    });

    test("upgrade: rows written in micro-dollars before the nano columns existed read back exactly (×1000); new rows keep their nanos; the rollup counts each row once", async () => {
      const d = store.database;
      // The schema as the previous version left it (cost in micros only, the old rollup view).
      for (const sql of [`DROP TABLE IF EXISTS ${d}.usage_hourly_nanos_mv`, `DROP TABLE IF EXISTS ${d}.usage_hourly`, `DROP TABLE IF EXISTS ${d}.usage_events`, ...legacyStatements(d)]) await store.exec(sql);
      const old = [["2025-03-01 10:00:00.000", "old-1", "acme", 14, 0], ["2025-03-01 10:30:00.000", "old-2", "acme", 1250, 500], ["2025-03-02 09:00:00.000", "old-3", "globex", 45, 0]] as const;
      const values = old.map(([t, id, tenant, cost, saved]) => `('${t}', '${id}', 'req-${id}', '${tenant}', 'openai', 'gpt-4o-mini', 10, 20, 0, ${cost}, ${saved}, 5, ${saved ? 1 : 0}, 'ok', '', 1)`).join(", ");
      await store.exec(`INSERT INTO ${d}.usage_events (time, event_id, request_id, tenant, provider, model, input_tokens, output_tokens, cached_tokens, cost_micros, saved_micros, latency_ms, cached, status, error_code, attempts) VALUES ${values}`);
      await store.migrate(); // the upgrade
      await store.migrate(); // idempotent
      const s = await usageSummary(store, RANGE);
      expect(s).toMatchObject({ requests: 3, cost_nanos: 1_309_000, cost_micros: 1309, cost_usd: 0.001309, saved_nanos: 500_000, saved_usd: 0.0005 });
      const [oldRow] = await store.query<{ n: number | string }>("SELECT cost_nanos AS n FROM usage_events FINAL WHERE event_id = 'old-1'");
      expect(Number(oldRow!.n)).toBe(14_000);
      expect(await hourlyRollupTotals(store, RANGE)).toMatchObject({ requests: 3, cost_nanos: 1_309_000, cost_micros: 1309 });
      // A new row priced below the micro-dollar (gpt-4o-mini, 10 in / 20 out = 13,500 nanos).
      const fresh = { ...rows[0]!, event_id: "new-1", request_id: "req-new-1", cost_nanos: 13_500, cost_micros: 14, saved_nanos: 0, saved_micros: 0 };
      await store.insert([fresh]);
      const after = await usageSummary(store, RANGE);
      expect(after).toMatchObject({ requests: 4, cost_nanos: 1_322_500, cost_usd: 0.0013225 });
      expect(await hourlyRollupTotals(store, RANGE)).toMatchObject({ requests: 4, cost_nanos: 1_322_500 });
      await rebuildHourlyRollup(store);
      expect(await hourlyRollupTotals(store, RANGE)).toMatchObject({ requests: 4, cost_nanos: 1_322_500 });
    });

    test("drop removes everything; migrate recreates an empty store", async () => {
      await store.insert(rows);
      await store.drop();
      await store.migrate();
      expect((await usageSummary(store, RANGE)).requests).toBe(0);
    });

    test("bad arguments are rejected before reaching the engine", async () => {
      await expect(usageSummary(store, { from: RANGE.to, to: RANGE.from })).rejects.toThrow(RangeError);
      await expect(usageByTenant(store, RANGE, 0)).rejects.toThrow(RangeError);
    });
  });
}
