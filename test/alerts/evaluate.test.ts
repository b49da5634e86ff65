import { describe, expect, test } from "bun:test";
import { makeEvent } from "../../src/events/envelope.ts";
import { AlertWindows, percentile } from "../../src/alerts/windows.ts";
import { alertKey, evaluate, type AlertRule } from "../../src/alerts/evaluate.ts";
import { AlertBook } from "../../src/alerts/book.ts";
import type { AlertRuleFields } from "../../src/alerts/config.ts";

const T0 = Date.parse("2026-03-10T12:00:00Z");
const at = (ms: number) => new Date(T0 + ms);
const rule = (id: string, f: Partial<AlertRuleFields> & Pick<AlertRuleFields, "kind">): AlertRule => ({ id, fields: { enabled: true, ...f } as AlertRuleFields });

function attempt(w: AlertWindows, ms: number, ok: boolean, extra: Record<string, unknown> = {}, tenant = "acme") {
  w.observe(makeEvent({ type: ok ? "provider.attempt.succeeded" : "provider.attempt.failed", tenant, time: at(ms), requestId: crypto.randomUUID(), payload: { provider: "openai", model: "gpt-4o", latencyMs: 100, ...(ok ? {} : { status: 503, code: "provider_unavailable" }), ...extra } }));
}

describe("error_rate", () => {
  const r = rule("errs", { kind: "error_rate", threshold_pct: 20, window_s: 60, min_samples: 10 });
  test("fires at or above the threshold with enough samples, once; resolves below", () => {
    const w = new AlertWindows();
    for (let i = 0; i < 9; i++) attempt(w, i * 100, i % 3 !== 0); // 3/9 failed but too few samples
    expect(evaluate(w, [r], new Set(), { nowMs: T0 + 1000, keys: [] })).toEqual([]);
    attempt(w, 1000, true); // 10 samples, 30 %
    const [t] = evaluate(w, [r], new Set(), { nowMs: T0 + 1100, keys: [] });
    expect(t).toMatchObject({ kind: "fired", rule: "errs", scope: "openai", value: 30, threshold: 20, unit: "pct", samples: 10 });
    // open: nothing new while it still fires
    expect(evaluate(w, [r], new Set([alertKey("errs", "openai")]), { nowMs: T0 + 1100, keys: [] })).toEqual([]);
    // a minute later the old samples left the window; 10 good ones → resolved
    for (let i = 0; i < 10; i++) attempt(w, 70_000 + i, true);
    expect(evaluate(w, [r], new Set([alertKey("errs", "openai")]), { nowMs: T0 + 71_000, keys: [] })).toMatchObject([{ kind: "resolved", scope: "openai", value: 0 }]);
  });
  test("client errors (4xx but 408/429) are not the provider's failures", () => {
    const w = new AlertWindows();
    for (let i = 0; i < 20; i++) attempt(w, i, false, { status: 400, code: "invalid_request" });
    expect(evaluate(w, [r], new Set(), { nowMs: T0 + 100, keys: [] })).toEqual([]);
    for (let i = 0; i < 20; i++) attempt(w, i, false, { status: 429 });
    expect(evaluate(w, [r], new Set(), { nowMs: T0 + 100, keys: [] })).toMatchObject([{ kind: "fired", value: 100 }]);
  });
  test("a tenant's rule sees only that tenant", () => {
    const w = new AlertWindows();
    for (let i = 0; i < 20; i++) attempt(w, i, false, {}, "other");
    expect(evaluate(w, [rule("t", { kind: "error_rate", threshold_pct: 20, tenant: "acme", min_samples: 5 })], new Set(), { nowMs: T0 + 100, keys: [] })).toEqual([]);
    expect(evaluate(w, [rule("t", { kind: "error_rate", threshold_pct: 20, tenant: "other", min_samples: 5 })], new Set(), { nowMs: T0 + 100, keys: [] })).toHaveLength(1);
  });
  test("a window shorter than a minute spans a minute boundary (5 s buckets)", () => {
    const w = new AlertWindows();
    for (let i = 0; i < 20; i++) attempt(w, -5000 + i * 100, i % 2 === 0); // the last 5 s of the previous minute
    expect(evaluate(w, [rule("short", { kind: "error_rate", threshold_pct: 20, window_s: 20, min_samples: 20 })], new Set(), { nowMs: T0 + 5000, keys: [] })).toMatchObject([{ kind: "fired", value: 50, samples: 20 }]);
    expect(evaluate(w, [rule("short", { kind: "error_rate", threshold_pct: 20, window_s: 20, min_samples: 20 })], new Set(), { nowMs: T0 + 16_000, keys: [] })).toEqual([]); // out of the window: undecided
  });
  test("no traffic resolves nothing (no evidence of recovery)", () => {
    const w = new AlertWindows();
    expect(evaluate(w, [r], new Set([alertKey("errs", "openai")]), { nowMs: T0, keys: [] })).toEqual([]);
  });
});

describe("latency, fallback, guardrails, breaker", () => {
  test("p95 latency per provider/model", () => {
    const w = new AlertWindows();
    for (let i = 1; i <= 100; i++) w.observe(makeEvent({ type: "request.completed", tenant: "acme", time: at(i), payload: { status: "ok", provider: "openai", model: "gpt-4o", latencyMs: i * 10, ttftMs: i } }));
    const lat = rule("lat", { kind: "latency", p95_ms: 900, min_samples: 50 });
    expect(evaluate(w, [lat], new Set(), { nowMs: T0 + 200, keys: [] })).toMatchObject([{ kind: "fired", scope: "openai/gpt-4o", value: 950, threshold: 900, unit: "ms" }]);
    expect(evaluate(w, [rule("tt", { kind: "latency", metric: "ttft", p95_ms: 95, min_samples: 50 })], new Set(), { nowMs: T0 + 200, keys: [] })).toEqual([]);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
  });
  test("fallback rate on a route: answered by another target than the first tried", () => {
    const w = new AlertWindows();
    for (let i = 0; i < 10; i++) {
      const requestId = `r${i}`;
      const fallback = i < 4;
      w.observe(makeEvent({ type: fallback ? "provider.attempt.failed" : "provider.attempt.succeeded", tenant: "acme", requestId, time: at(i), payload: { provider: "openai", model: "gpt-4o", status: 503 } }));
      if (fallback) w.observe(makeEvent({ type: "provider.attempt.succeeded", tenant: "acme", requestId, time: at(i), payload: { provider: "anthropic", model: "claude" } }));
      w.observe(makeEvent({ type: "request.completed", tenant: "acme", requestId, time: at(i), payload: { status: "ok", requestedModel: "smart", provider: fallback ? "anthropic" : "openai", model: fallback ? "claude" : "gpt-4o", latencyMs: 5 } }));
    }
    expect(evaluate(w, [rule("fb", { kind: "fallback_rate", threshold_pct: 30, min_samples: 10 })], new Set(), { nowMs: T0 + 100, keys: [] })).toMatchObject([{ kind: "fired", scope: "smart", value: 40 }]);
  });
  test("guardrail blocks per hour per tenant", () => {
    const w = new AlertWindows();
    for (let i = 0; i < 6; i++) w.observe(makeEvent({ type: "guardrail.blocked", tenant: "acme", time: at(i * 60_000), payload: { direction: "input", types: ["secret"] } }));
    const g = rule("g", { kind: "guardrail_blocks", max_per_hour: 5 });
    expect(evaluate(w, [g], new Set(), { nowMs: T0 + 400_000, keys: [] })).toMatchObject([{ kind: "fired", scope: "acme", tenant: "acme", value: 6 }]);
    expect(evaluate(w, [g], new Set([alertKey("g", "acme")]), { nowMs: T0 + 3_700_000, keys: [] })).toMatchObject([{ kind: "resolved", scope: "acme" }]);
  });
  test("breaker open / closed", () => {
    const w = new AlertWindows();
    w.observe(makeEvent({ type: "circuit.opened", tenant: "acme", time: at(0), payload: { target: "openai/gpt-4o" } }));
    const b = rule("b", { kind: "breaker_open", provider: "openai" });
    expect(evaluate(w, [b], new Set(), { nowMs: T0, keys: [] })).toMatchObject([{ kind: "fired", scope: "openai/gpt-4o" }]);
    w.observe(makeEvent({ type: "circuit.closed", tenant: "acme", time: at(1), payload: { target: "openai/gpt-4o" } }));
    expect(evaluate(w, [b], new Set([alertKey("b", "openai/gpt-4o")]), { nowMs: T0, keys: [] })).toMatchObject([{ kind: "resolved" }]);
  });
});

describe("budget, spike, key expiry", () => {
  test("each budget threshold fires once in a period and resolves in the next", () => {
    const w = new AlertWindows();
    const b = rule("bud", { kind: "budget", budget: "tenant:acme" });
    const reserved = (ms: number, spent: number) => w.observe(makeEvent({ type: "budget.reserved", tenant: "acme", time: at(ms), payload: { budgets: [{ key: "budget:tenant:acme", period: "day", spentMicros: spent, reservedMicros: 0, limitMicros: 1000 }] } }));
    const book = new Set<string>();
    const run = (ms: number) => {
      const ts = evaluate(w, [b], book, { nowMs: T0 + ms, keys: [] });
      for (const t of ts) (t.kind === "fired" ? book.add(alertKey(t.rule, t.scope)) : book.delete(alertKey(t.rule, t.scope)));
      return ts.map((t) => `${t.kind}:${t.scope}`);
    };
    reserved(0, 100);
    expect(run(0)).toEqual([]);
    reserved(1, 600);
    reserved(2, 450); // another instance's older reading, appended later: the max counts
    expect(run(2)).toEqual(["fired:tenant:acme@50"]);
    reserved(3, 850);
    expect(run(3)).toEqual(["fired:tenant:acme@80"]);
    w.observe(makeEvent({ type: "budget.exceeded", tenant: "acme", time: at(4), payload: { budget: "budget:tenant:acme", reserveMicros: 10 } }));
    expect(run(4)).toEqual(["fired:tenant:acme@100"]);
    expect(run(5)).toEqual([]);
    // The next day, before any traffic: the old period's reading no longer counts
    expect(run(86_400_000)).toEqual(["resolved:tenant:acme@50", "resolved:tenant:acme@80", "resolved:tenant:acme@100"]);
    reserved(86_400_000, 10);
    expect(run(86_400_001)).toEqual([]);
    reserved(86_400_002, 600);
    expect(run(86_400_002)).toEqual(["fired:tenant:acme@50"]);
  });
  test("a budget reading of a past period (a replay of old history) fires nothing", () => {
    const w = new AlertWindows();
    w.observe(makeEvent({ type: "budget.reserved", tenant: "acme", time: at(-40 * 86_400_000), payload: { budgets: [{ key: "budget:tenant:acme", period: "month", spentMicros: 990, reservedMicros: 0, limitMicros: 1000 }] } }));
    expect(evaluate(w, [rule("bud", { kind: "budget", budget: "tenant:acme" })], new Set(), { nowMs: T0, keys: [] })).toEqual([]);
  });
  test("a customer's budget (the rule's amount per period) over the customer's spend", () => {
    const w = new AlertWindows();
    const c = rule("cust", { kind: "budget", budget: "customer:cust-7", amount_usd: 10, period: "day", thresholds_pct: [50, 100] });
    const spend = (ms: number, usd: number, user = "cust-7") => w.observe(makeEvent({ type: "request.completed", tenant: "acme", time: at(ms), payload: { status: "ok", costUsd: usd, user } }));
    spend(0, 3);
    spend(1, 100, "someone-else");
    expect(evaluate(w, [c], new Set(), { nowMs: T0 + 10, keys: [] })).toEqual([]);
    spend(2, 2.5);
    expect(evaluate(w, [c], new Set(), { nowMs: T0 + 10, keys: [] })).toMatchObject([{ kind: "fired", scope: "customer:cust-7@50", value: 55 }]);
    // The next day: resolved (spend starts again)
    expect(evaluate(w, [c], new Set([alertKey("cust", "customer:cust-7@50")]), { nowMs: T0 + 86_400_000, keys: [] })).toMatchObject([{ kind: "resolved", scope: "customer:cust-7@50" }]);
  });
  test("spend spike: fires on a spike, not on steady traffic, and needs 7 days of baseline", () => {
    const w = new AlertWindows();
    const s = rule("spike", { kind: "spend_spike", factor: 3, min_usd: 1 });
    const spend = (ms: number, usd: number) => w.observe(makeEvent({ type: "request.completed", tenant: "acme", time: at(ms), payload: { status: "ok", costUsd: usd } }));
    const H = 3_600_000;
    for (let h = -200; h < 0; h++) for (let m = 0; m < 4; m++) spend(h * H + m * 900_000, 0.5 + (h % 3) * 0.1); // ~2 USD/hour
    expect(evaluate(w, [s], new Set(), { nowMs: T0 - 1, keys: [] })).toEqual([]);
    for (let m = 0; m < 10; m++) spend(m * 60_000, 1);
    const [t] = evaluate(w, [s], new Set(), { nowMs: T0 + 600_000, keys: [] });
    expect(t).toMatchObject({ kind: "fired", scope: "acme", tenant: "acme", unit: "usd" });
    expect(t!.value).toBeGreaterThan(t!.threshold);
    // A tenant with only two days behind it: the same spike is undecided
    const young = new AlertWindows();
    for (let h = -48; h < 0; h++) young.observe(makeEvent({ type: "request.completed", tenant: "new", time: at(h * H), payload: { status: "ok", costUsd: 2 } }));
    for (let m = 0; m < 10; m++) young.observe(makeEvent({ type: "request.completed", tenant: "new", time: at(m * 60_000), payload: { status: "ok", costUsd: 1 } }));
    expect(evaluate(young, [s], new Set(), { nowMs: T0 + 600_000, keys: [] })).toEqual([]);
  });
  test("key expiring within N days", () => {
    const w = new AlertWindows();
    const k = rule("exp", { kind: "key_expiry", days: 7 });
    const keys = [
      { id: "key_a", tenant: "acme", expiresAt: new Date(T0 + 3 * 86_400_000).toISOString(), revoked: false },
      { id: "key_b", tenant: "acme", expiresAt: new Date(T0 + 30 * 86_400_000).toISOString(), revoked: false },
      { id: "key_c", tenant: "acme", expiresAt: new Date(T0 + 1 * 86_400_000).toISOString(), revoked: true },
    ];
    expect(evaluate(w, [k], new Set(), { nowMs: T0, keys })).toMatchObject([{ kind: "fired", scope: "key_a", value: 3 }]);
    expect(evaluate(w, [k], new Set([alertKey("exp", "key_a")]), { nowMs: T0, keys: keys.slice(1) })).toMatchObject([{ kind: "resolved", scope: "key_a" }]);
  });
});

describe("AlertBook", () => {
  const fired = (rule: string, scope: string, watermark: number[] = [1]) => makeEvent({ type: "alert.fired", tenant: "default", payload: { rule, scope, watermark } });
  const resolved = (rule: string, scope: string) => makeEvent({ type: "alert.resolved", tenant: "default", payload: { rule, scope, watermark: [2] } });
  test("a duplicate fired or resolved changes nothing; episodes count", () => {
    const b = new AlertBook();
    expect(b.apply(fired("r", "s"))).toBe(true);
    expect(b.apply(fired("r", "s"))).toBe(false);
    expect(b.get("r", "s")?.episode).toBe(1);
    expect(b.apply(resolved("r", "s"))).toBe(true);
    expect(b.apply(resolved("r", "s"))).toBe(false);
    expect(b.nextEpisode("r", "s")).toBe(2);
    expect(b.apply(fired("r", "s", [7, 3]))).toBe(true);
    expect(b.watermark).toEqual([7, 3]);
    expect(b.duplicates).toBe(2);
  });
});
