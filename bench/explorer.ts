/**
 * The request explorer at scale, embedded defaults (chDB under a temp dir, the file log):
 *   - USAGE_ROWS usage rows over 30 days (default 1,000,000), generated inside chDB;
 *   - INDEX_ROWS rows in the request-id → log-position index (default 5,000,000): the real
 *     events of LOG_REQUESTS requests written to a file log (5 events each, indexed by the
 *     projection's own code), the rest generated in chDB;
 * then p50/p99 of: the list's first page with two filters, a timeline, an explain, a 30-day
 * reprice for 3 candidates, and the cache opportunity.
 *
 *   bun run bench/explorer.ts                      (USAGE_ROWS=… INDEX_ROWS=… LOG_REQUESTS=… to scale)
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChdbAnalyticsStore } from "../src/analytics/chdb-store.ts";
import { makeEvent } from "../src/events/envelope.ts";
import { FileEventLog } from "../src/events/file-log.ts";
import { readBatches } from "../src/events/event-log.ts";
import { uuidv7 } from "../src/events/uuidv7.ts";
import { emptySnapshot } from "../src/config/snapshot.ts";
import { cacheOpportunity } from "../src/explorer/cache-opportunity.ts";
import { ConfigHistoryReader } from "../src/explorer/config-at.ts";
import { explainRequest } from "../src/explorer/explain-request.ts";
import { listRequests } from "../src/explorer/list.ts";
import { indexRows, writeIndexRows } from "../src/explorer/log-index.ts";
import { reprice, resolveCandidate } from "../src/explorer/reprice.ts";
import { timelineOf } from "../src/explorer/timeline.ts";

const USAGE_ROWS = Number(process.env.USAGE_ROWS ?? 1_000_000);
const INDEX_ROWS = Number(process.env.INDEX_ROWS ?? 5_000_000);
const LOG_REQUESTS = Number(process.env.LOG_REQUESTS ?? 100_000);
const RUNS = Number(process.env.RUNS ?? 100);
const DAY = 86_400_000;

const dir = await mkdtemp(join(tmpdir(), "tollgate-bench-explorer-"));
const store = await ChdbAnalyticsStore.open(join(dir, "analytics"), { database: "bench" });
const log = await FileEventLog.open({ dir: join(dir, "log"), fsync: false });
await store.migrate();
const now = Date.now();

let t0 = performance.now();
await store.exec(`INSERT INTO usage_events (time, event_id, request_id, tenant, service, user, key_prefix, key_id, task_type, provider, model, route,
    input_tokens, output_tokens, cached_tokens, reasoning_tokens, cost_micros, saved_micros, latency_ms, ttft_ms, cached, status, error_code, attempts,
    price_source, cache_key_hash, cache_result, route_level, guardrail_action, guardrail_detections, config_version, http_status)
  SELECT fromUnixTimestamp64Milli(toInt64(${now} - (number * 2654435761) % ${30 * DAY}), 'UTC'), toString(generateUUIDv4(number)), toString(generateUUIDv4(number + 1)),
    concat('t', toString(number % 20)), ['web', 'batch', 'api'][number % 3 + 1], concat('u', toString(number % 5000)), 'tg-abc', concat('key_', toString(number % 200)), '',
    ['openai', 'anthropic'][number % 2 + 1], ['gpt-4o', 'claude-3-5-sonnet', 'gpt-4o-mini'][number % 3 + 1], 'smart',
    100 + number % 3000, 10 + number % 700, (number % 4) * 50, (number % 5) * 10, 100 + number % 9000, 0, 50 + (number % 2000) / 3, 20 + number % 300, 0,
    if(number % 20 = 0, 'error', 'ok'), if(number % 20 = 0, 'rate_limit_exceeded', ''), 1 + number % 2,
    'catalog:bench', hex(cityHash64(number % 300000)), 'miss', ['global', 'tenant', 'customer_service'][number % 3 + 1], if(number % 50 = 0, 'redacted', ''), 0, 3, 200
  FROM numbers(${USAGE_ROWS})`);
const usageMs = performance.now() - t0;

// The real log: LOG_REQUESTS requests × 5 events, then indexed by the projection's code.
t0 = performance.now();
const ids: string[] = [];
for (let i = 0; i < LOG_REQUESTS; i += 1000) {
  const records = [];
  for (let j = i; j < Math.min(i + 1000, LOG_REQUESTS); j++) {
    const requestId = uuidv7();
    ids.push(requestId);
    const tenant = `t${j % 20}`;
    const e = (type: string, payload: Record<string, unknown>) => ({ key: tenant, event: makeEvent({ type, tenant, requestId, configVersion: 3, payload }) });
    records.push(
      e("request.received", { endpoint: "chat.completions", model: "smart", stream: false, messages: 1 }),
      e("route.selected", { requested: "smart", level: "global", strategy: "priority", provider: "openai", model: "gpt-4o", targets: ["openai/gpt-4o", "anthropic/claude-3-5-sonnet"], reason: "priority" }),
      e("provider.attempt.succeeded", { provider: "openai", model: "gpt-4o", attempt: 0, latencyMs: 120 }),
      e("cache.miss", { key: "ab".repeat(32) }),
      e("request.completed", { status: "ok", httpStatus: 200, requestedModel: "smart", provider: "openai", model: "gpt-4o", inputTokens: 100, outputTokens: 20, costUsd: 0.0005, latencyMs: 130, keyId: `key_${j % 200}`, service: "web", timings: { authenticate: 0.1, route: 0.2, call: 120 }, cacheResult: "miss", routeLevel: "global" }),
    );
  }
  await log.append("requests", records);
}
for (let p = 0; p < log.partitions("requests"); p++) for await (const batch of readBatches(log, "requests", p, 0, 5000)) await writeIndexRows(store, indexRows(batch));
const logMs = performance.now() - t0;
const realIndex = LOG_REQUESTS * 5;
t0 = performance.now();
if (INDEX_ROWS > realIndex) {
  await store.exec(`INSERT INTO request_log_index SELECT toString(generateUUIDv4(intDiv(number, 5))), concat('t', toString(number % 20)), 'request.received', ${now} - number, number % 12, 1000000000 + number FROM numbers(${INDEX_ROWS - realIndex})`);
}
const indexMs = performance.now() - t0;
// A small config log (what explain replays): a route, then a change after the requests.
const cfg = (type: string, kind: string, id: string, version: number, fields: Record<string, unknown>) => ({ key: `${kind}:${id}`, event: makeEvent({ type, tenant: "_config", actor: "bench", payload: { kind, id, version, fields } }) });
await log.append("config", [
  cfg("provider.created", "provider", "openai", 1, { kind: "openai", models: ["gpt-4o"], enabled: true, priority: 0 }),
  cfg("provider.created", "provider", "anthropic", 1, { kind: "anthropic", models: ["claude-3-5-sonnet"], enabled: true, priority: 0 }),
  cfg("route.created", "route", "smart", 1, { strategy: "priority", targets: [{ provider: "openai", model: "gpt-4o" }, { provider: "anthropic", model: "claude-3-5-sonnet" }] }),
  cfg("route.updated", "route", "smart", 2, { strategy: "priority", targets: [{ provider: "anthropic", model: "claude-3-5-sonnet" }, { provider: "openai", model: "gpt-4o" }] }),
]);
const history = new ConfigHistoryReader(log, () => []);
const current = (await history.at(4)).snapshot;

function stats(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return { p50_ms: Math.round(q(0.5) * 100) / 100, p99_ms: Math.round(q(0.99) * 100) / 100, runs: s.length };
}
async function measure(runs: number, fn: (i: number) => Promise<unknown>) {
  for (let i = 0; i < 3; i++) await fn(i); // warm-up
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn(i);
    ms.push(performance.now() - t);
  }
  return stats(ms);
}

const to = new Date(now + 1000);
const from30 = new Date(now - 30 * DAY);
const from7 = new Date(now - 7 * DAY);
const pick = (i: number) => ids[(i * 7919) % ids.length]!;
const results = {
  list_first_page_two_filters: await measure(RUNS, (i) => listRequests(store, { from: from7, to, tenant: `t${i % 20}`, service: "web", limit: 50 })),
  list_first_page_status_error_all_tenants: await measure(RUNS, () => listRequests(store, { from: from7, to, status: "rate_limit_exceeded", minLatencyMs: 100, limit: 50 })),
  timeline: await measure(RUNS, (i) => timelineOf(store, log, pick(i))),
  explain: await measure(RUNS, async (i) => {
    const t = (await timelineOf(store, log, pick(i + 5000)))!; // other requests than the timeline row's
    const [at, since] = await Promise.all([history.at(t.config_version ?? 0), history.since(t.config_version ?? 0)]);
    const x = explainRequest(t, at.snapshot, current, since);
    if (x.current.same) throw new Error("explain should see the route change");
  }),
  reprice_30d_3_candidates: await measure(Math.min(RUNS, 30), () => reprice(store, { from: from30, to }, [resolveCandidate({ provider: "openai", model: "gpt-4o" }, emptySnapshot()), resolveCandidate({ provider: "openai", model: "o3-mini" }, emptySnapshot()), resolveCandidate({ price: { input: 1, output: 2 } }, emptySnapshot())])),
  cache_opportunity_30d: await measure(Math.min(RUNS, 5), () => cacheOpportunity(store, { from: from30, to, windowMs: DAY })),
};
const counts = await store.query<{ u: number; x: number }>("SELECT (SELECT count() FROM usage_events) AS u, (SELECT count() FROM request_log_index) AS x");
console.log(JSON.stringify({ usage_rows: Number(counts[0]!.u), index_rows: Number(counts[0]!.x), log_events: LOG_REQUESTS * 5, setup_ms: { usage: Math.round(usageMs), log_and_index: Math.round(logMs), synthetic_index: Math.round(indexMs) }, results }, null, 2));
await log.close();
await store.close();
await rm(dir, { recursive: true, force: true });
