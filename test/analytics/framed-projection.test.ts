/**
 * The embedded defaults' analytics path: the gateway hands over where the records are, the engine's
 * own process reads them and builds and inserts the rows (src/analytics/framed-projection.ts). Usage totals equal
 * the sums from the events, the request-id index finds every event, a record that is not a valid
 * envelope goes to the dead letters, and a chunk delivered twice counts nothing twice.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeChunk, FramedProgress, projectFramed, readChunk } from "../../src/analytics/framed-projection.ts";
import { ChdbAnalyticsStore } from "../../src/analytics/chdb-store.ts";
import { delegatingStore } from "../helpers/analytics-store.ts";
import { ProcessAnalyticsStore } from "../../src/analytics/process-store.ts";
import { usageSummary } from "../../src/analytics/queries.ts";
import { startAnalytics } from "../../src/analytics/runtime.ts";
import { makeEvent } from "../../src/events/envelope.ts";
import type { StoredEvent } from "../../src/events/event-log.ts";
import { FileEventLog } from "../../src/events/file-log.ts";
import type { FramedChunk } from "../../src/events/polling-consumer.ts";
import { positionsOf } from "../../src/explorer/log-index.ts";

const dir = mkdtempSync(join(tmpdir(), "tollgate-framed-"));
let log: FileEventLog;
let store: ProcessAnalyticsStore;
const T0 = Date.UTC(2026, 10, 20, 8, 0, 0);
const N = 120;

beforeAll(async () => {
  // Small segments: chunks end at segment boundaries, reads go on into the next segment.
  log = await FileEventLog.open({ dir: join(dir, "log"), partitions: { requests: 2 }, segmentBytes: 8192 });
  store = await ProcessAnalyticsStore.open(join(dir, "chdb"));
  for (let i = 0; i < N; i++) {
    const tenant = i % 2 ? "acme" : "globex";
    const time = new Date(T0 + i * 60_000);
    const requestId = `req-${i}`;
    await log.append("requests", [
      { key: tenant, event: makeEvent({ type: "request.received", tenant, requestId, time, payload: { endpoint: "chat.completions" } }) },
      { key: tenant, event: makeEvent({ type: "provider.attempt.succeeded", tenant, requestId, time, payload: { provider: "openai", model: "gpt-4.1", attempt: 0, latencyMs: 12 } }) },
      {
        key: tenant,
        event: makeEvent({
          type: "request.completed",
          v: 2,
          tenant,
          requestId,
          time,
          payload: { status: "ok", httpStatus: 200, provider: "openai", model: "gpt-4.1", requestedModel: "gpt-4.1", inputTokens: 100 + i, outputTokens: 10, cachedTokens: 0, costNanos: 1_000_000 + i, costUsd: (1_000_000 + i) / 1e9, latencyMs: 20, cached: false },
        }),
      },
    ]);
  }
  // Not an envelope (no id, empty type): read by nobody, dead-lettered once.
  await log.append("requests", [{ key: "acme", event: { type: "", tenant: "acme", payload: {} } as never }]);
});
afterAll(async () => {
  await store.close();
  await log.close();
  rmSync(dir, { recursive: true, force: true });
});

test("framed chunks decode to exactly what read() returns, across segments", async () => {
  for (let p = 0; p < log.partitions("requests"); p++) {
    const viaRead = (await log.read("requests", p, 0)).filter((r) => r.event.id);
    const viaFramed: StoredEvent[] = [];
    const chunks: number[] = [];
    const sub = log.consumeFramed("requests", `framed-check-${p}`, async (chunk) => {
      if (chunk.partition !== p) return;
      chunks.push(chunk.count);
      viaFramed.push(...decodeChunk(chunk, await readChunk(chunk)).events);
    }, { maxBatch: 25 });
    const end = (await log.endOffsets("requests"))[p]!;
    for (let i = 0; i < 200 && chunks.reduce((a, b) => a + b, 0) < end; i++) await Bun.sleep(20);
    await sub.stop();
    expect(viaFramed.map((r) => [r.offset, r.event.id, r.event.type])).toEqual(viaRead.map((r) => [r.offset, r.event.id, r.event.type]));
    expect(chunks.length).toBeGreaterThan(1);
    expect(Math.max(...chunks)).toBeLessThanOrEqual(25);
  }
});

test("the analytics runtime on the engine process: usage rows, the request index and dead letters, from framed records", async () => {
  const analytics = startAnalytics(log, store, { project: true });
  try {
    await analytics.ready();
    const range = { from: new Date(T0 - 60_000), to: new Date(T0 + N * 60_000 + 60_000) };
    for (let i = 0; i < 300; i++) {
      const s = await usageSummary(store, range);
      if (Number(s.requests) === N) break;
      await Bun.sleep(50);
    }
    const s = await usageSummary(store, range);
    expect(Number(s.requests)).toBe(N);
    expect(Number(s.input_tokens)).toBe(Array.from({ length: N }, (_, i) => 100 + i).reduce((a, b) => a + b, 0));
    const positions = await positionsOf(store, "req-7");
    expect(positions.map((x) => x.type).sort()).toEqual(["provider.attempt.succeeded", "request.completed", "request.received"]);
    const dead = await log.read("deadletter", 0, 0);
    expect(dead).toHaveLength(1);
    expect(String(dead[0]!.event.payload.reason)).toContain("not a valid event envelope");
    // Once more, the same chunk: nothing counted twice.
    const p = positions[0]!.partition;
    const first = await new Promise<FramedChunk>((resolve) => {
      const sub = log.consumeFramed("requests", `again-${p}`, async (chunk) => {
        if (chunk.partition === p) {
          resolve(chunk);
          void sub.stop();
        }
      });
    });
    await projectFramedTwice(first);
    expect(Number((await usageSummary(store, range)).requests)).toBe(N);
  } finally {
    await analytics.stop();
  }
});

async function projectFramedTwice(chunk: FramedChunk): Promise<void> {
  await store.projectFramed(chunk);
  // Directly in this process too (the same function the engine process runs).
  await projectFramed(store, chunk);
}

/** The chunks of partition `p` as a consumer with `maxBatch` cuts them (a group of its own). */
async function chunksOf(p: number, maxBatch: number): Promise<FramedChunk[]> {
  const chunks: FramedChunk[] = [];
  const end = (await log.endOffsets("requests"))[p]!;
  const sub = log.consumeFramed("requests", `cut-${p}-${maxBatch}-${Math.random()}`, async (chunk) => {
    if (chunk.partition === p) chunks.push(chunk);
  }, { maxBatch });
  for (let i = 0; i < 300 && chunks.reduce((n, c) => n + c.count, 0) < end; i++) await Bun.sleep(20);
  await sub.stop();
  return chunks;
}

test("FramedProgress: the exactly-once lookups run only where a stored row is possible; nothing is counted twice", async () => {
  const own = await ChdbAnalyticsStore.open(join(dir, "chdb-progress"));
  await own.migrate();
  let lookups = 0;
  const counted = delegatingStore(own, {
    query: (sql, params) => {
      if (sql.includes("SELECT DISTINCT event_id")) lookups++;
      return own.query(sql, params);
    },
  });
  const requests = async () => Number((await usageSummary(own, { from: new Date(T0 - 60_000), to: new Date(T0 + N * 60_000 + 60_000) })).requests);
  try {
    const p = 0;
    const byTen = await chunksOf(p, 10);
    expect(byTen.length).toBeGreaterThan(3);
    const live = new FramedProgress();
    for (const [i, chunk] of byTen.entries()) {
      const before = lookups;
      await projectFramed(counted, chunk, live);
      // An empty store: nothing can be stored, not even for the first chunk (its index is empty).
      expect({ i, lookups: lookups - before }).toEqual({ i, lookups: 0 });
    }
    const all = await requests();
    expect(all).toBeGreaterThan(0);
    // A chunk retried after an error (or delivered again) starts at or below the mark: looked up.
    const before = lookups;
    await projectFramed(counted, byTen[2]!, live);
    expect(lookups - before).toBe(2); // attempts and usage rows
    expect(await requests()).toBe(all);
    // A restarted engine (new progress) with other boundaries: the mark comes from the index, so
    // every chunk that overlaps what was written is looked up, and nothing is counted twice.
    const restarted = new FramedProgress();
    const bySeven = await chunksOf(p, 7);
    const lookupsBefore = lookups;
    for (const chunk of bySeven) await projectFramed(counted, chunk, restarted);
    expect(lookups - lookupsBefore).toBe(2 * bySeven.length);
    expect(await requests()).toBe(all);
  } finally {
    await own.close();
  }
});
