/**
 * The provider SLA report against hand counts: a generated workload with known latencies,
 * failures (5xx, 429, client 400s), fallbacks and TTFTs, written through the projection's own
 * row mapping; the report must equal what a plain loop over the same events counts. On chDB (the
 * modern engine, real schema) and, with CLICKHOUSE_TEST_URL, the same SQL on ClickHouse 18.16
 * over portable tables.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChdbAnalyticsStore } from "../../src/analytics/chdb-store.ts";
import { providerSla, type SlaFilter, type SlaRow } from "../../src/analytics/sla.ts";
import { toAttemptRow, toUsageRow } from "../../src/analytics/schema.ts";
import { writeAttempts } from "../../src/projections/attempts.ts";
import { makeEvent, type EventEnvelope } from "../../src/events/envelope.ts";
import type { StoredEvent } from "../../src/events/event-log.ts";
import { servicesOrFail } from "../helpers/services.ts";

const H0 = Date.UTC(2026, 2, 10, 10, 0, 0);
const TARGETS = [["up-a", "m1"], ["up-a", "m2"], ["up-b", "m1"]] as const;

/** A deterministic workload over two hours: events in log order. */
function workload(): EventEnvelope[] {
  const out: EventEnvelope[] = [];
  for (let i = 0; i < 600; i++) {
    const time = new Date(H0 + i * 12_000); // 300 per hour, whole seconds
    const [provider, model] = TARGETS[i % 3]!;
    const requestId = `req-${i}`;
    const latency = 10 + ((i * 37) % 500);
    const kind = i % 10; // 0: 500 then fallback, 1: 429 retried ok, 2: client 400, else ok
    if (kind === 0) {
      out.push(makeEvent({ type: "provider.attempt.failed", tenant: "t", requestId, time, payload: { provider, model, latencyMs: latency, status: 500, code: "provider_error", next: "fallback" } }));
      out.push(makeEvent({ type: "provider.attempt.succeeded", tenant: "t", requestId, time, payload: { provider: "echo", model: "echo", latencyMs: 3 } }));
      out.push(makeEvent({ type: "request.completed", tenant: "t", requestId, time, payload: { status: "ok", provider: "echo", model: "echo", latencyMs: latency + 3, ttftMs: null } }));
    } else if (kind === 1) {
      out.push(makeEvent({ type: "provider.attempt.failed", tenant: "t", requestId, time, payload: { provider, model, latencyMs: latency, status: 429, code: "rate_limited", next: "retry" } }));
      out.push(makeEvent({ type: "provider.attempt.succeeded", tenant: "t", requestId, time, payload: { provider, model, latencyMs: latency + 1 } }));
      out.push(makeEvent({ type: "request.completed", tenant: "t", requestId, time, payload: { status: "ok", provider, model, latencyMs: latency * 2, ttftMs: latency / 2 } }));
    } else if (kind === 2) {
      out.push(makeEvent({ type: "provider.attempt.failed", tenant: "t", requestId, time, payload: { provider, model, latencyMs: latency, status: 400, code: "invalid_request", next: "fail" } }));
      out.push(makeEvent({ type: "request.completed", tenant: "t", requestId, time, payload: { status: "error", provider, model, latencyMs: latency, errorCode: "invalid_request" } }));
    } else {
      out.push(makeEvent({ type: "provider.attempt.succeeded", tenant: "t", requestId, time, payload: { provider, model, latencyMs: latency } }));
      out.push(makeEvent({ type: "request.completed", tenant: "t", requestId, time, payload: { status: "ok", provider, model, latencyMs: latency + 5, ttftMs: i % 2 ? latency / 4 : null } }));
    }
  }
  return out;
}

/** ClickHouse's quantileExact: the value at index ⌊p·n⌋ of the sorted values. */
const qExact = (xs: number[], p: number) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
};

/** The hand count: a plain loop over the events, no SQL. */
function handCount(events: EventEnvelope[], granularity: "hour" | "day"): SlaRow[] {
  const bucketOf = (t: string) => (granularity === "hour" ? `${t.slice(0, 13)}:00:00Z` : `${t.slice(0, 10)}T00:00:00Z`);
  const rows = new Map<string, { r: SlaRow; lat: number[]; ttft: number[]; errs: Map<string, number> }>();
  const get = (bucket: string, provider: string, model: string) => {
    const k = `${bucket}|${provider}|${model}`;
    let v = rows.get(k);
    if (!v) rows.set(k, (v = { r: { bucket, provider, model, attempts: 0, succeeded: 0, failed: 0, client_errors: 0, availability: null, availability_excluding_client_errors: null, latency_ms: { p50: null, p95: null, p99: null }, ttft_ms: { p50: null, p95: null, p99: null, samples: 0 }, errors: [], fallbacks_caused: 0 }, lat: [], ttft: [], errs: new Map() }));
    return v;
  };
  for (const e of events) {
    const p = e.payload as Record<string, unknown>;
    if (e.type.startsWith("provider.attempt.")) {
      const v = get(bucketOf(e.time), p.provider as string, p.model as string);
      v.r.attempts++;
      if (e.type.endsWith("succeeded")) {
        v.r.succeeded++;
        v.lat.push(p.latencyMs as number);
      } else {
        v.r.failed++;
        if (p.status === 400) v.r.client_errors++;
        if (p.next === "fallback") v.r.fallbacks_caused++;
        v.errs.set(p.code as string, (v.errs.get(p.code as string) ?? 0) + 1);
      }
    }
    if (e.type === "request.completed" && p.status === "ok" && typeof p.ttftMs === "number") get(bucketOf(e.time), p.provider as string, p.model as string).ttft.push(p.ttftMs);
  }
  return [...rows.values()]
    .filter((v) => v.r.attempts > 0)
    .map(({ r, lat, ttft, errs }) => ({
      ...r,
      availability: r.succeeded / r.attempts,
      availability_excluding_client_errors: r.succeeded / (r.attempts - r.client_errors),
      latency_ms: { p50: qExact(lat, 0.5), p95: qExact(lat, 0.95), p99: qExact(lat, 0.99) },
      ttft_ms: { p50: qExact(ttft, 0.5), p95: qExact(ttft, 0.95), p99: qExact(ttft, 0.99), samples: ttft.length },
      errors: [...errs].map(([code, count]) => ({ code, count })).sort((a, b) => b.count - a.count || a.code.localeCompare(b.code)),
    }))
    .sort((a, b) => a.bucket.localeCompare(b.bucket) || a.provider.localeCompare(b.provider) || a.model.localeCompare(b.model));
}

const stored = (events: EventEnvelope[]): StoredEvent[] => events.map((event, offset) => ({ stream: "requests", partition: 0, offset, key: "t", event }));
const filter = (granularity: "hour" | "day"): SlaFilter => ({ from: new Date(H0 - 3_600_000), to: new Date(H0 + 3 * 3_600_000), granularity });

describe("provider SLA report on chDB (real schema)", () => {
  let dir: string;
  let store: ChdbAnalyticsStore;
  const events = workload();
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "tollgate-sla-"));
    store = await ChdbAnalyticsStore.open(dir);
    await store.migrate();
    await writeAttempts(store, stored(events));
    await store.insert(events.flatMap((e) => toUsageRow(e) ?? []));
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("per hour and per day equal the hand counts", async () => {
    for (const g of ["hour", "day"] as const) {
      const got = await providerSla(store, filter(g));
      expect(got).toEqual(handCount(events, g));
    }
    const hourly = await providerSla(store, filter("hour"));
    expect(hourly.map((r) => r.bucket)).toContain("2026-03-10T11:00:00Z");
    expect(hourly.filter((r) => r.provider === "echo").map((r) => r.attempts)).toEqual([30, 30]); // the fallbacks' target, each hour
  });

  test("a replayed batch counts nothing twice; filters narrow", async () => {
    expect(await writeAttempts(store, stored(events))).toBe(0);
    const got = await providerSla(store, { ...filter("day"), provider: "up-a", model: "m2" });
    expect(got).toEqual(handCount(events, "day").filter((r) => r.provider === "up-a" && r.model === "m2"));
    expect(await providerSla(store, { ...filter("day"), provider: "it's \\ 'quoted'" })).toEqual([]);
  });
});

const NAME = "provider SLA SQL on ClickHouse 18.16";
const URL_18 = servicesOrFail(["clickhouse"], NAME)?.clickhouseTestUrl;
if (URL_18) {
  describe(NAME, () => {
    test("the same queries over portable tables give the same report", async () => {
      const { ClickHouseAnalyticsStore } = await import("../../src/analytics/clickhouse-store.ts");
      const db = `tollgate_sla_${crypto.randomUUID().replaceAll("-", "")}`;
      const admin = await ClickHouseAnalyticsStore.connect({ url: URL_18, database: "default" });
      await admin.exec(`CREATE DATABASE ${db}`);
      const store = await ClickHouseAnalyticsStore.connect({ url: URL_18, database: db });
      try {
        await store.exec(`CREATE TABLE ${db}.provider_attempts (time DateTime('UTC'), event_id String, request_id String, tenant String, provider String, model String, ok UInt8, client_error UInt8, http_status UInt16, error_code String, latency_ms Float64, fallback UInt8) ENGINE = MergeTree ORDER BY (provider, model, time, event_id)`);
        await store.exec(`CREATE TABLE ${db}.usage_events (time DateTime('UTC'), provider String, model String, status String, cached UInt8, ttft_ms Nullable(Float64)) ENGINE = MergeTree ORDER BY time`);
        const events = workload();
        const sec = (t: string) => t.slice(0, 19).replace("T", " ");
        const attempts = events.flatMap((e) => toAttemptRow(e) ?? []).map((r) => JSON.stringify({ ...r, time: sec(r.time) })).join("\n");
        await store.exec(`INSERT INTO ${db}.provider_attempts FORMAT JSONEachRow\n${attempts}\n`);
        const usage = events.flatMap((e) => toUsageRow(e) ?? []).map((r) => JSON.stringify({ time: sec(r.time), provider: r.provider, model: r.model, status: r.status, cached: r.cached, ttft_ms: r.ttft_ms })).join("\n");
        await store.exec(`INSERT INTO ${db}.usage_events FORMAT JSONEachRow\n${usage}\n`);
        for (const g of ["hour", "day"] as const) expect(await providerSla(store, { ...filter(g), final: false })).toEqual(handCount(events, g));
      } finally {
        await admin.exec(`DROP DATABASE IF EXISTS ${db}`);
        await Promise.all([store.close(), admin.close()]);
      }
    });
  });
}
