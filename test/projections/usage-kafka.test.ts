/**
 * The usage projection over the real Kafka log (consumer group with Kafka's own offsets) into
 * the embedded engine: totals equal the events' sums; a full rebuild by replay from offset 0
 * (twice) changes nothing, rows and rollup alike.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { ChdbAnalyticsStore } from "../../src/analytics/chdb-store.ts";
import { hourlyRollupTotals, usageSummary } from "../../src/analytics/queries.ts";
import { type EventEnvelope, makeEvent } from "../../src/events/envelope.ts";
import { KafkaEventLog } from "../../src/events/kafka-log.ts";
import { deleteTopics, topicNames } from "../../src/events/kafka-topics.ts";
import { rebuildUsage, replayUsage, startUsageProjection } from "../../src/projections/usage.ts";
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { servicesOrFail, uniq } from "../helpers/services.ts";
import { waitFor } from "../helpers/gateway.ts";

const NAME = "usage projection over Kafka";
const services = servicesOrFail(["kafka"], NAME);

if (services) {
  const brokers = services.kafkaBrokers!.split(",");
  const prefix = `usage-${uniq()}.`;
  const dir = mkdtempSync(join(tmpdir(), "tollgate-usage-kafka-"));
  const T0 = Date.UTC(2026, 10, 21, 9, 0, 0);
  const RANGE = { from: new Date(T0 - 3_600_000), to: new Date(T0 + 24 * 3_600_000) };
  const events: EventEnvelope[] = [];
  let log: KafkaEventLog;
  let store: ChdbAnalyticsStore;

  beforeAll(async () => {
    log = await KafkaEventLog.connect({ brokers, topicPrefix: prefix, clientId: "tollgate-test", consumer: { sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 100, rebalanceTimeout: 5000 } });
    store = await ChdbAnalyticsStore.open(join(dir, "chdb"));
    await store.migrate();
    const records = [];
    for (let i = 0; i < 240; i++) {
      const tenant = ["acme", "globex", "initech", "umbrella"][i % 4]!;
      const time = new Date(T0 + i * 5 * 60_000);
      const completed = makeEvent({
        type: "request.completed",
        tenant,
        requestId: `k${i}`,
        time,
        payload: { status: i % 9 === 0 ? "error" : "ok", provider: "openai", model: "gpt-4.1", inputTokens: 10 + i, outputTokens: i % 17, costUsd: (500 + i * 13) / 1e6, latencyMs: 20 + (i % 7), cached: i % 6 === 0 },
      });
      events.push(completed);
      records.push({ key: tenant, event: makeEvent({ type: "request.received", tenant, requestId: `k${i}`, time, payload: {} }) }, { key: tenant, event: completed });
    }
    await log.append("requests", records);
  }, 60_000);
  afterAll(async () => {
    await store?.close();
    await log?.close();
    const kafka = new Kafka({ clientId: "tollgate-test-cleanup", brokers, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await deleteTopics(admin, topicNames(prefix)).catch(() => {});
    await admin.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  const direct = () => ({
    requests: events.length,
    input_tokens: events.reduce((n, e) => n + (e.payload.inputTokens as number), 0),
    cost_micros: events.reduce((n, e) => n + Math.round((e.payload.costUsd as number) * 1e6), 0),
  });
  const totals = async () => {
    const m = await usageSummary(store, RANGE);
    return { requests: m.requests, input_tokens: m.input_tokens, cost_micros: m.cost_micros };
  };

  test("the consumer group projects every request.completed; Kafka's committed offsets reach the end", async () => {
    const sub = startUsageProjection(log, store, { lingerMs: 200 });
    try {
      await waitFor(async () => (await totals()).requests === events.length, 45_000, "projection over Kafka");
      expect(await totals()).toEqual(direct());
      const end = await log.endOffsets("requests");
      await waitFor(async () => JSON.stringify(await log.committed("requests", "usage-projection")) === JSON.stringify(end), 15_000, "offsets committed");
    } finally {
      await sub.stop();
    }
  }, 60_000);

  test("rebuild (drop + replay from offset 0), then a second replay: totals and rollup unchanged and equal to the events", async () => {
    expect(await rebuildUsage(log, store)).toBe(events.length);
    const once = await totals();
    const rollupOnce = await hourlyRollupTotals(store, RANGE);
    expect(await replayUsage(log, store)).toBe(events.length);
    expect(await totals()).toEqual(once);
    expect(await hourlyRollupTotals(store, RANGE)).toEqual(rollupOnce);
    expect(once).toEqual(direct());
    expect({ requests: rollupOnce.requests, input_tokens: rollupOnce.input_tokens, cost_micros: rollupOnce.cost_micros }).toEqual(direct());
  }, 60_000);

  test("`tollgate projections run usage` projects in its own process and stops cleanly on SIGTERM", async () => {
    await store.close(); // this process may hold one chDB directory at a time: the child's is opened below
    const prefix2 = `usage-run-${uniq()}.`;
    const log2 = await KafkaEventLog.connect({ brokers, topicPrefix: prefix2, clientId: "tollgate-test" });
    const dataDir = join(dir, "projector");
    try {
      const evs = events.slice(0, 100);
      await log2.append("requests", evs.map((event) => ({ key: event.tenant, event })));
      const child = spawn(process.execPath, ["run", "src/cli.ts", "projections", "run", "usage"], {
        cwd: resolve(import.meta.dir, "../.."),
        env: { ...process.env, KAFKA_BROKERS: brokers.join(","), TOLLGATE_KAFKA_TOPIC_PREFIX: prefix2, TOLLGATE_DATA_DIR: dataDir, CLICKHOUSE_URL: "", REDIS_URL: "" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (out += d));
      const end = await log2.endOffsets("requests");
      // Kafka + an embedded store: the projector's group is its own, named in its chDB directory.
      const groupFile = join(dataDir, "analytics", "projection-group");
      const group = String(await waitFor(() => existsSync(groupFile) && readFileSync(groupFile, "utf8").trim(), 30_000, "the projector's group"));
      expect(group).toMatch(/^usage-projection\.local-/);
      await waitFor(async () => JSON.stringify(await log2.committed("requests", group)) === JSON.stringify(end), 45_000, "the projector committed everything");
      child.kill("SIGTERM");
      const code = await new Promise<number | null>((r) => child.once("exit", r));
      expect(out).toContain("usage projection running (kafka → chdb");
      expect(out).toContain("usage projection stopped (SIGTERM)");
      expect(code).toBe(0);
      store = await ChdbAnalyticsStore.open(join(dataDir, "analytics"));
      const m = await usageSummary(store, RANGE);
      expect({ requests: m.requests, input_tokens: m.input_tokens, cost_micros: m.cost_micros }).toEqual({
        requests: 100,
        input_tokens: evs.reduce((n, e) => n + (e.payload.inputTokens as number), 0),
        cost_micros: evs.reduce((n, e) => n + Math.round((e.payload.costUsd as number) * 1e6), 0),
      });
    } finally {
      await log2.close();
      const kafka = new Kafka({ clientId: "tollgate-test-cleanup2", brokers, logLevel: logLevel.NOTHING });
      const admin = kafka.admin();
      await admin.connect();
      await deleteTopics(admin, topicNames(prefix2)).catch(() => {});
      await admin.disconnect();
    }
  }, 90_000);
}
