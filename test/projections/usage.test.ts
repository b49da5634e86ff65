/**
 * The usage projection on the embedded engine (chdb) over the file log: totals equal the sums
 * computed directly from the events; replaying the whole stream twice changes nothing (rows and
 * hourly rollup); a failing store makes the projection lag, never lose.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChdbAnalyticsStore } from "../../src/analytics/chdb-store.ts";
import { hourlyRollupTotals, usageByTenant, usageSummary } from "../../src/analytics/queries.ts";
import type { AnalyticsStore } from "../../src/analytics/store.ts";
import { delegatingStore } from "../helpers/analytics-store.ts";
import { type EventEnvelope, makeEvent } from "../../src/events/envelope.ts";
import { FileEventLog } from "../../src/events/file-log.ts";
import { rebuildUsage, replayUsage, startUsageProjection, usageBatch } from "../../src/projections/usage.ts";

const dir = mkdtempSync(join(tmpdir(), "tollgate-usage-"));
let log: FileEventLog;
let store: ChdbAnalyticsStore;
const events: EventEnvelope[] = [];
const T0 = Date.UTC(2026, 10, 20, 8, 0, 0);
const RANGE = { from: new Date(T0 - 3_600_000), to: new Date(T0 + 48 * 3_600_000) };

beforeAll(async () => {
  log = await FileEventLog.open({ dir: join(dir, "log"), partitions: { requests: 3 } });
  store = await ChdbAnalyticsStore.open(join(dir, "chdb"));
  await store.migrate();
  // 150 requests over two days, three tenants, known tokens and costs; other event types mixed in.
  for (let i = 0; i < 150; i++) {
    const tenant = ["acme", "globex", "initech"][i % 3]!;
    const time = new Date(T0 + i * 17 * 60_000);
    const completed = makeEvent({
      type: "request.completed",
      tenant,
      requestId: `r${i}`,
      time,
      payload: {
        status: i % 10 === 0 ? "error" : "ok",
        httpStatus: i % 10 === 0 ? 502 : 200,
        errorCode: i % 10 === 0 ? "upstream_error" : null,
        provider: i % 2 ? "openai" : "claude",
        model: i % 2 ? "gpt-4.1" : "claude-sonnet-4-5",
        requestedModel: "smart",
        inputTokens: 100 + i,
        outputTokens: 10 * (i % 7),
        cachedTokens: i % 5 === 0 ? 50 : 0,
        costUsd: (1000 + i * 37) / 1e6,
        latencyMs: 50 + (i % 13) * 10,
        ttftMs: null,
        cached: i % 11 === 0,
        service: "search",
        user: `u${i % 4}`,
        taskType: "qa",
      },
    });
    events.push(completed);
    await log.append("requests", [
      { key: tenant, event: makeEvent({ type: "request.received", tenant, requestId: `r${i}`, time, payload: {} }) },
      { key: tenant, event: completed },
    ]);
  }
});
afterAll(async () => {
  await store.close();
  await log.close();
  rmSync(dir, { recursive: true, force: true });
});

const direct = (tenant?: string) => {
  const rows = events.filter((e) => !tenant || e.tenant === tenant).map((e) => e.payload as Record<string, number>);
  return {
    requests: rows.length,
    input_tokens: rows.reduce((n, p) => n + p.inputTokens!, 0),
    output_tokens: rows.reduce((n, p) => n + p.outputTokens!, 0),
    cost_nanos: rows.reduce((n, p) => n + Math.round(p.costUsd! * 1e6) * 1000, 0),
    cost_micros: rows.reduce((n, p) => n + Math.round(p.costUsd! * 1e6), 0),
  };
};
const totals = async (s: AnalyticsStore, tenant?: string) => {
  const m = await usageSummary(s, { ...RANGE, ...(tenant ? { tenant } : {}) });
  return { requests: m.requests, input_tokens: m.input_tokens, output_tokens: m.output_tokens, cost_nanos: m.cost_nanos, cost_micros: m.cost_micros };
};

describe("usage projection", () => {
  test("the consumer group fills usage_events with totals equal to the events' sums", async () => {
    const sub = startUsageProjection(log, store);
    const deadline = Date.now() + 20_000;
    while ((await totals(store)).requests < 150 && Date.now() < deadline) await Bun.sleep(50);
    await sub.stop();
    expect(await totals(store)).toEqual(direct());
    for (const t of ["acme", "globex", "initech"]) expect(await totals(store, t)).toEqual(direct(t));
    const customers = await usageByTenant(store, RANGE, 10);
    expect(customers.map((c) => c.tenant).sort()).toEqual(["acme", "globex", "initech"]);
    expect(await log.committed("requests", "usage-projection")).toEqual(await log.endOffsets("requests"));
  });

  test("replaying the whole stream twice into a fresh store gives the totals of one replay (rows and hourly rollup)", async () => {
    expect(await rebuildUsage(log, store)).toBe(150); // fresh store + one replay
    const once = await totals(store);
    const rollupOnce = await hourlyRollupTotals(store, RANGE);
    expect(await replayUsage(log, store)).toBe(150); // the second replay
    expect(await totals(store)).toEqual(once);
    expect(await hourlyRollupTotals(store, RANGE)).toEqual(rollupOnce);
    // …and both equal the sums computed directly from the events.
    expect(once).toEqual(direct());
    expect(rollupOnce).toEqual(direct());
    expect(await store.query<{ c: number }>("SELECT count() AS c FROM usage_events")).toEqual([{ c: 150 }]);
  });

  test("a batch re-delivered with other boundaries (crash before the commit) counts once, in the rows and the rollup", async () => {
    await store.drop();
    await store.migrate();
    // A consumer inserted the first 40 records of a partition in batches of 7 and crashed before committing.
    let first: Awaited<ReturnType<typeof log.read>> = [];
    for (let p = 0; first.length === 0; p++) first = await log.read("requests", p, 0, 40);
    for (let i = 0; i < first.length; i += 7) {
      const { rows, token } = usageBatch(first.slice(i, i + 7));
      if (rows.length) await store.insert(rows, token);
    }
    expect((await totals(store)).requests).toBeGreaterThan(0);
    // The group starts over from offset 0 with its own (different) batch boundaries.
    const sub = startUsageProjection(log, store, { group: "usage-redelivered" });
    const deadline = Date.now() + 20_000;
    while ((await totals(store)).requests < 150 && Date.now() < deadline) await Bun.sleep(50);
    await sub.stop();
    expect(await totals(store)).toEqual(direct());
    expect(await hourlyRollupTotals(store, RANGE)).toEqual(direct());
    expect(await store.query<{ c: number }>("SELECT count() AS c FROM usage_events")).toEqual([{ c: 150 }]);
  });

  test("a trickle of appends is inserted in a few blocks (linger), and stop() does not wait out the linger", async () => {
    const trickle = await FileEventLog.open({ dir: join(dir, "trickle"), partitions: { requests: 1 } });
    await store.drop();
    await store.migrate();
    let inserts = 0;
    let lookups = 0;
    const counting = delegatingStore(store, {
      insert: (rows, token) => {
        inserts++;
        return store.insert(rows, token);
      },
      query: (sql, params) => {
        lookups++;
        return store.query(sql, params);
      },
    });
    const sub = startUsageProjection(trickle, counting, { group: "usage-trickle", lingerMs: 400 });
    for (let i = 0; i < 60; i++) {
      await trickle.append("requests", [{ key: "acme", event: makeEvent({ type: "request.completed", tenant: "acme", time: new Date(T0), payload: { costUsd: 0.000001 } }) }]);
      await Bun.sleep(10);
    }
    const deadline = Date.now() + 20_000;
    while ((await totals(store)).requests < 60 && Date.now() < deadline) await Bun.sleep(50);
    expect((await totals(store)).requests).toBe(60);
    expect(inserts).toBeLessThanOrEqual(10); // 60 appends over ≥ 600 ms, one block per linger
    await sub.stop(); // in a linger now: resolves without waiting it out (a 60 s linger would time the test out)
    const seen = lookups;
    const long = startUsageProjection(trickle, counting, { group: "usage-trickle-2", lingerMs: 60_000 });
    while (lookups === seen && Date.now() < deadline) await Bun.sleep(20); // its first batch is written (all rows known: no insert)…
    await Bun.sleep(50);
    await long.stop(); // …and it lingers for 60 s, unless stopped
    expect(await trickle.committed("requests", "usage-trickle-2")).toEqual([60]); // the batch was written, so stop commits it
    await trickle.close();
  });

  test("a store that fails makes the projection lag, never lose", async () => {
    await rebuildUsage(log, store); // the same totals as before: start clean
    await store.drop();
    await store.migrate();
    let failures = 3;
    const flaky = delegatingStore(store, {
      insert: async (rows, token) => {
        if (failures-- > 0) throw new Error("clickhouse unavailable");
        return store.insert(rows, token);
      },
    });
    const errors: string[] = [];
    const sub = startUsageProjection(log, flaky, { group: "usage-flaky", onError: (e) => errors.push((e as Error).message) });
    const deadline = Date.now() + 30_000;
    while ((await totals(store)).requests < 150 && Date.now() < deadline) await Bun.sleep(50);
    await sub.stop();
    expect(errors.length).toBeGreaterThanOrEqual(3);
    expect(await totals(store)).toEqual(direct());
  });
});
