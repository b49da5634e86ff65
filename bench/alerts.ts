/**
 * Cost of the alert evaluator (off the request path): folding request events into the windows,
 * and one evaluation of a rule set, in-process; plus reading + folding the same events back from
 * the embedded file log, as the alert projection does.
 *
 *   bun run bench/alerts.ts
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeEvent, type EventEnvelope } from "../src/events/envelope.ts";
import { FileEventLog } from "../src/events/file-log.ts";
import { AlertWindows } from "../src/alerts/windows.ts";
import { evaluate, type AlertRule } from "../src/alerts/evaluate.ts";

const N = 200_000;
const now = Date.now();
const events: EventEnvelope[] = [];
for (let i = 0; i < N / 4; i++) {
  const time = new Date(now - 600_000 + (i * 600_000) / (N / 4));
  const tenant = `t${i % 20}`;
  const requestId = `r${i}`;
  const provider = `p${i % 5}`;
  events.push(makeEvent({ type: "budget.reserved", tenant, requestId, time, payload: { budgets: [{ key: `budget:tenant:${tenant}`, period: "day", spentMicros: i, reservedMicros: 10, limitMicros: 1e9 }] } }));
  events.push(makeEvent({ type: i % 10 ? "provider.attempt.succeeded" : "provider.attempt.failed", tenant, requestId, time, payload: { provider, model: "m", latencyMs: 100 + (i % 300), status: 503 } }));
  events.push(makeEvent({ type: "request.completed", tenant, requestId, time, payload: { status: "ok", provider, model: "m", requestedModel: "smart", latencyMs: 120 + (i % 300), ttftMs: 40, costUsd: 0.001, service: "s" } }));
  events.push(makeEvent({ type: "request.received", tenant, requestId, time, payload: { model: "smart" } }));
}
const rules: AlertRule[] = [
  { id: "err", fields: { kind: "error_rate", threshold_pct: 5, enabled: true } },
  { id: "lat", fields: { kind: "latency", p95_ms: 350, enabled: true } },
  { id: "ttft", fields: { kind: "latency", metric: "ttft", p95_ms: 1000, enabled: true } },
  { id: "fb", fields: { kind: "fallback_rate", threshold_pct: 10, enabled: true } },
  { id: "bud", fields: { kind: "budget", tenant: "t1", enabled: true } },
  { id: "spike", fields: { kind: "spend_spike", enabled: true } },
  { id: "g", fields: { kind: "guardrail_blocks", max_per_hour: 10, enabled: true } },
];

const w = new AlertWindows();
let t0 = performance.now();
for (const e of events) w.observe(e);
const observeNs = ((performance.now() - t0) / N) * 1e6;
t0 = performance.now();
const R = 50;
for (let i = 0; i < R; i++) evaluate(w, rules, new Set(), { nowMs: now, keys: [] });
const evalMs = (performance.now() - t0) / R;

const dir = mkdtempSync(join(tmpdir(), "tollgate-bench-alerts-"));
const log = await FileEventLog.open({ dir, fsync: false });
for (let i = 0; i < events.length; i += 5000) await log.append("requests", events.slice(i, i + 5000).map((event) => ({ key: event.tenant, event })));
t0 = performance.now();
const w2 = new AlertWindows();
for (let offset = 0; ; ) {
  const batch = await log.read("requests", 0, offset, 2000);
  if (!batch.length) break;
  for (const r of batch) w2.observe(r.event);
  offset = batch.at(-1)!.offset + 1;
}
const readNs = ((performance.now() - t0) / N) * 1e6;
await log.close();
rmSync(dir, { recursive: true, force: true });

console.log(`| observe (fold one event) | ${(observeNs / 1000).toFixed(2)} µs/event |`);
console.log(`| evaluate ${rules.length} rules over 10 min of ${N} events (20 tenants, 5 providers) | ${evalMs.toFixed(1)} ms |`);
console.log(`| read back from the file log + observe | ${(readNs / 1000).toFixed(2)} µs/event (${Math.round(1e9 / readNs).toLocaleString("en-US")} events/s) |`);
