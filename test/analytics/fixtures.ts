/** Known `request.completed` events for the analytics tests, and a reference calculator. */
import type { EventEnvelope } from "../../src/events/envelope.ts";
import { toUsageRow, type UsageRow } from "../../src/analytics/schema.ts";

interface Spec {
  time: string;
  tenant: string;
  provider: string | null;
  model: string | null;
  service: string | null;
  inputTokens: number;
  outputTokens: number;
  cachedTokens: number;
  costUsd: number;
  latencyMs: number;
  ttftMs: number | null;
  cached: boolean;
  status: string;
  errorCode: string | null;
  savedUsd?: number;
}

const SPECS: Spec[] = [
  { time: "2025-03-01T10:05:00.000Z", tenant: "acme", provider: "openai", model: "gpt-4o", service: "web", inputTokens: 100, outputTokens: 50, cachedTokens: 0, costUsd: 0.00125, latencyMs: 200, ttftMs: 80, cached: false, status: "ok", errorCode: null },
  { time: "2025-03-01T10:40:00.000Z", tenant: "acme", provider: "openai", model: "gpt-4o", service: "web", inputTokens: 300, outputTokens: 120, cachedTokens: 100, costUsd: 0.0034, latencyMs: 400, ttftMs: 120, cached: false, status: "ok", errorCode: null },
  { time: "2025-03-01T11:10:00.000Z", tenant: "acme", provider: "anthropic", model: "claude-3-5-sonnet", service: "batch", inputTokens: 1000, outputTokens: 500, cachedTokens: 0, costUsd: 0.0105, latencyMs: 1200, ttftMs: 300, cached: false, status: "ok", errorCode: null },
  { time: "2025-03-01T11:20:00.000Z", tenant: "acme", provider: "openai", model: "gpt-4o", service: "web", inputTokens: 100, outputTokens: 50, cachedTokens: 0, costUsd: 0, latencyMs: 5, ttftMs: null, cached: true, status: "ok", errorCode: null, savedUsd: 0.00125 },
  { time: "2025-03-01T12:00:00.000Z", tenant: "globex", provider: "openai", model: "gpt-4o-mini", service: "web", inputTokens: 200, outputTokens: 0, cachedTokens: 0, costUsd: 0, latencyMs: 300, ttftMs: null, cached: false, status: "error", errorCode: "upstream_timeout" },
  { time: "2025-03-02T09:30:00.000Z", tenant: "globex", provider: "anthropic", model: "claude-3-5-sonnet", service: "batch", inputTokens: 400, outputTokens: 200, cachedTokens: 0, costUsd: 0.0042, latencyMs: 800, ttftMs: 200, cached: false, status: "ok", errorCode: null },
  { time: "2025-03-02T23:59:59.999Z", tenant: "globex", provider: "openai", model: "gpt-4o-mini", service: null, inputTokens: 50, outputTokens: 25, cachedTokens: 0, costUsd: 0.000045, latencyMs: 100, ttftMs: 40, cached: false, status: "client_disconnected", errorCode: null },
  // Outside the test range [2025-03-01, 2025-03-03): must never be counted.
  { time: "2025-03-03T00:00:00.000Z", tenant: "acme", provider: "openai", model: "gpt-4o", service: "web", inputTokens: 999, outputTokens: 999, cachedTokens: 0, costUsd: 1, latencyMs: 9999, ttftMs: 1, cached: false, status: "ok", errorCode: null },
];

export const RANGE = { from: new Date("2025-03-01T00:00:00.000Z"), to: new Date("2025-03-03T00:00:00.000Z") };

export function fixtureEvents(): EventEnvelope[] {
  return SPECS.map((s, i) => ({
    id: `0195${String(i).padStart(4, "0")}-0000-7000-8000-000000000000`,
    type: "request.completed",
    v: 1,
    time: s.time,
    tenant: s.tenant,
    requestId: `req-${i}`,
    payload: {
      status: s.status, httpStatus: s.status === "ok" ? 200 : 504, errorCode: s.errorCode, errorMessage: null,
      endpoint: "chat", operation: "chat", stream: false, requestedModel: s.model === "gpt-4o" ? "smart" : s.model,
      provider: s.provider, model: s.model, answeredBy: null, cached: s.cached,
      inputTokens: s.inputTokens, outputTokens: s.outputTokens, cachedTokens: s.cachedTokens,
      costUsd: s.costUsd, ...(s.savedUsd ? { savedUsd: s.savedUsd } : {}), latencyMs: s.latencyMs, ttftMs: s.ttftMs,
      service: s.service, user: `user-${i % 3}`, taskType: null, timings: {},
    },
  }));
}

export function fixtureRows(): UsageRow[] {
  return fixtureEvents().map((e) => {
    const row = toUsageRow(e);
    if (!row) throw new Error("fixture event did not map");
    return row;
  });
}

/** Inclusive-interpolated quantile (ClickHouse quantileExactInclusive), rounded to 3 decimals. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return 0;
  const a = [...values].sort((x, y) => x - y);
  const pos = q * (a.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const v = (a[lo] as number) + ((a[hi] as number) - (a[lo] as number)) * (pos - lo);
  return Math.round(v * 1000) / 1000;
}

/** The expected metrics of `rows`, computed directly in JS. */
export function expectedMetrics(rows: UsageRow[]) {
  const n = rows.length;
  const sum = (f: (r: UsageRow) => number) => rows.reduce((acc, r) => acc + f(r), 0);
  const lat = rows.map((r) => r.latency_ms);
  const cost = sum((r) => r.cost_nanos);
  const saved = sum((r) => r.saved_nanos);
  return {
    requests: n,
    input_tokens: sum((r) => r.input_tokens),
    output_tokens: sum((r) => r.output_tokens),
    cached_tokens: sum((r) => r.cached_tokens),
    cost_nanos: cost,
    cost_micros: Math.floor((cost + 500) / 1000),
    cost_usd: cost / 1e9,
    cache_hit_rate: n ? rows.filter((r) => r.cached === 1).length / n : 0,
    saved_nanos: saved,
    saved_micros: Math.floor((saved + 500) / 1000),
    saved_usd: saved / 1e9,
    error_rate: n ? rows.filter((r) => r.status === "error").length / n : 0,
    p50_ms: quantile(lat, 0.5),
    p95_ms: quantile(lat, 0.95),
    p99_ms: quantile(lat, 0.99),
  };
}

/** Rows inside RANGE. */
export function inRange(rows: UsageRow[]): UsageRow[] {
  return rows.filter((r) => r.time >= RANGE.from.toISOString() && r.time < RANGE.to.toISOString());
}
