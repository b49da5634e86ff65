/**
 * GET /metrics after known traffic through a real gateway: exact counter values and histogram
 * counts for cache hits and misses, an error, a rate-limit 429, budgets; the series /metrics
 * had before are still there; and the label cardinality cap.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { makeEvent } from "../../src/events/envelope.ts";
import { definePlugin } from "../../src/pipeline/plugin.ts";
import { GatewayMetrics } from "../../src/telemetry/metrics.ts";
import { startTestGateway, type TestGateway, waitFor } from "../helpers/gateway.ts";

const ADMIN = "metrics-admin-key-0123456789";
let gw: TestGateway;

/**
 * Stands in for the response cache (built elsewhere) through the public plugin contract: it
 * emits `cache.hit` / `cache.miss` and answers a hit itself, as the cache plugin does.
 */
const fakeCache = definePlugin({
  name: "fake-cache",
  version: "1.0.0",
  phases: {
    lookup(ctx) {
      const last = ctx.request.messages.at(-1)?.content;
      if (last === "cached question") {
        ctx.emit({ type: "cache.hit", payload: { tier: "exact" } });
        const usage = { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 };
        return { kind: "response", cached: true, response: { id: "chatcmpl-cached", object: "chat.completion", created: 0, model: "echo", choices: [{ index: 0, message: { role: "assistant", content: "from cache" }, finish_reason: "stop" }], usage } };
      }
      ctx.emit({ type: "cache.miss", payload: { tier: "exact" } });
    },
  },
});

const admin = (method: string, path: string, body?: unknown) =>
  fetch(`${gw.url}${path}`, { method, headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` }, ...(body ? { body: JSON.stringify(body) } : {}) });
const newKey = async (body: Record<string, unknown>) => ((await (await admin("POST", "/api/v1/admin/keys", { tenant_id: "t1", ...body })).json()) as { key: string }).key;
const chat = (key: string, model: string, content: string) =>
  fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${key}` }, body: JSON.stringify({ model, messages: [{ role: "user", content }], max_tokens: 8 }) });

/** Parse Prometheus text into `name{labels} → value`. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}
/** The value of `name` with exactly these labels (any order); undefined when absent. */
function value(m: Map<string, number>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const [k, v] of m) {
    const b = k.indexOf("{");
    const n = b < 0 ? k : k.slice(0, b);
    if (n !== name) continue;
    const got = Object.fromEntries([...(b < 0 ? "" : k.slice(b + 1, -1)).matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.keys(got).length === Object.keys(labels).length && Object.entries(labels).every(([l, x]) => got[l] === x)) return v;
  }
  return undefined;
}
/** Sum of every series of `name` whose labels include `labels`. */
function sum(m: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const [k, v] of m) {
    const b = k.indexOf("{");
    if ((b < 0 ? k : k.slice(0, b)) !== name) continue;
    if (Object.entries(labels).every(([l, x]) => k.includes(`${l}="${x}"`))) total += v;
  }
  return total;
}

beforeAll(async () => {
  gw = await startTestGateway({ TOLLGATE_ADMIN_KEY: ADMIN }, { plugins: [fakeCache] });
  expect((await admin("POST", "/api/v1/admin/tenants", { id: "t1", name: "Tenant One" })).status).toBe(201);
  expect((await admin("POST", "/api/v1/prices", { id: "echo/echo", input: 1000, output: 2000 })).status).toBe(201);
});
afterAll(async () => {
  await gw?.dispose();
});

describe("/metrics after known traffic", () => {
  test("exact counters, histogram counts, rates, budgets, existing series", async () => {
    const limited = await newKey({ name: "one-per-minute", rpm_limit: 1 });
    const budgeted = await newKey({ name: "budgeted", budget: { amount_usd: 5, period: "month" } });

    const r1 = await chat(limited, "echo", "first question"); // miss, answered by echo
    expect(r1.status).toBe(200);
    const r2 = await chat(limited, "echo", "second question"); // a cache miss, then 429 (limits run once the target is known)
    expect(r2.status).toBe(429);
    const r3 = await chat(budgeted, "echo", "cached question"); // hit
    expect(r3.status).toBe(200);
    const r4 = await chat(budgeted, "no-such-model", "third question"); // miss, then an error
    expect(r4.status).toBeGreaterThanOrEqual(400);
    const code4 = ((await r4.json()) as { error: { code: string } }).error.code;
    const r5 = await chat(budgeted, "echo", "fourth question"); // miss, answered by echo
    expect(r5.status).toBe(200);
    const r6 = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${budgeted}` }, body: JSON.stringify({ model: "echo", stream: true, max_tokens: 8, messages: [{ role: "user", content: "a streamed one" }] }) });
    expect(r6.status).toBe(200);
    expect(await r6.text()).toContain("[DONE]"); // miss, streamed by echo

    const ids = [r1, r2, r3, r4, r5, r6].map((r) => r.headers.get("x-request-id"));
    const completed = await waitFor(async () => {
      const evs = (await gw.events()).filter((e) => e.type === "request.completed" && ids.includes(e.requestId ?? ""));
      return evs.length === 6 ? evs : undefined;
    }, 5000, "6 request.completed");
    const byId = (r: Response) => completed.find((e) => e.requestId === r.headers.get("x-request-id"))!.payload as Record<string, number>;

    const res = await fetch(`${gw.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const m = parse(await res.text());
    if (process.env.DEBUG_METRICS) console.log([...m].filter(([k]) => k.startsWith("llm_")).join("\n"));

    expect(value(m, "llm_requests_total", { tenant: "t1", provider: "echo", model: "echo", status: "200", code: "ok" })).toBe(3);
    expect(value(m, "llm_requests_total", { tenant: "t1", provider: "none", model: "echo", status: "200", code: "ok" })).toBe(1); // the hit
    expect(value(m, "llm_requests_total", { tenant: "t1", provider: "echo", model: "echo", status: "429", code: "rate_limit_exceeded" })).toBe(1);
    expect(value(m, "llm_requests_total", { tenant: "t1", provider: "none", model: "no-such-model", status: String(r4.status), code: code4 })).toBe(1);
    expect(sum(m, "llm_requests_total")).toBe(6);
    expect(sum(m, "llm_request_duration_seconds_count")).toBe(6);

    expect(value(m, "llm_cache_requests_total", { result: "hit" })).toBe(1);
    expect(value(m, "llm_cache_requests_total", { result: "miss" })).toBe(5);
    expect(value(m, "llm_cache_hit_rate")).toBeCloseTo(1 / 6, 10);
    expect(value(m, "llm_ratelimited_total", { scope: "key" })).toBe(1);

    // Tokens and cost: provider-answered requests only (the hit spent nothing).
    const p1 = byId(r1);
    const p5 = byId(r5);
    const p6 = byId(r6);
    expect(value(m, "llm_tokens_total", { type: "input", tenant: "t1", provider: "echo", model: "echo" })).toBe(p1.inputTokens! + p5.inputTokens! + p6.inputTokens!);
    expect(value(m, "llm_tokens_total", { type: "output", tenant: "t1", provider: "echo", model: "echo" })).toBe(p1.outputTokens! + p5.outputTokens! + p6.outputTokens!);
    expect(value(m, "llm_cost_usd_total", { tenant: "t1", provider: "echo", model: "echo" })).toBeCloseTo(p1.costUsd! + p5.costUsd! + p6.costUsd!, 12);
    expect(p1.costUsd!).toBeGreaterThan(0);

    // GenAI client metrics: one operation per provider attempt; token usage per call and type.
    const genai = { gen_ai_operation_name: "chat", gen_ai_provider_name: "tollgate.echo", gen_ai_request_model: "echo" };
    expect(value(m, "gen_ai_client_operation_duration_seconds_count", { ...genai, error_type: "" })).toBe(3);
    expect(value(m, "gen_ai_client_token_usage_count", { ...genai, gen_ai_token_type: "input" })).toBe(3);
    expect(value(m, "gen_ai_client_token_usage_sum", { ...genai, gen_ai_token_type: "input" })).toBe(p1.inputTokens! + p5.inputTokens! + p6.inputTokens!);
    expect(value(m, "gen_ai_client_token_usage_count", { ...genai, gen_ai_token_type: "output" })).toBe(3);
    // Time to first chunk: the one stream.
    expect(value(m, "gen_ai_client_operation_time_to_first_chunk_seconds_count", genai)).toBe(1);
    expect(value(m, "gen_ai_client_operation_time_to_first_chunk_seconds_sum", genai)).toBeCloseTo(p6.ttftMs! / 1000, 9);

    // Budget left after the last reservation of the budgeted key (its reservation is still held when recorded).
    const budgetSeries = [...m.keys()].filter((k) => k.startsWith("llm_budget_remaining_usd{"));
    expect(budgetSeries).toHaveLength(1);
    const left = m.get(budgetSeries[0]!)!;
    expect(left).toBeLessThan(5);
    expect(left).toBeGreaterThan(4.9);

    // The series /metrics served before prom-client are still there.
    expect(value(m, "tollgate_events_emitted_total")).toBeGreaterThan(0);
    expect(value(m, "tollgate_emitter_pending")).toBeGreaterThanOrEqual(0);
    expect(value(m, "tollgate_event_append_errors_total")).toBe(0);
  });

  test("a circuit breaker's state is a gauge per target", async () => {
    const m = parse(await (await fetch(`${gw.url}/metrics`)).text());
    expect(value(m, "llm_circuit_state", { target: "echo/echo" })).toBe(0);
  });
});

describe("cardinality cap", () => {
  test("tenants and models past the cap fold into `other`", async () => {
    const metrics = new GatewayMetrics({}, { maxTenants: 2, maxModels: 3 });
    const completed = (tenant: string, model: string) =>
      makeEvent({ type: "request.completed", tenant, requestId: "r", payload: { status: "ok", httpStatus: 200, errorCode: null, provider: "p", model, cached: false, inputTokens: 1, outputTokens: 1, costUsd: 0, latencyMs: 5 } });
    for (let i = 0; i < 1000; i++) metrics.observe(completed(`tenant-${i}`, `model-${i % 10}`));
    const m = parse(await metrics.text());
    const tenants = new Set([...m.keys()].filter((k) => k.startsWith("llm_requests_total{")).map((k) => /tenant="([^"]*)"/.exec(k)![1]));
    expect([...tenants].sort()).toEqual(["other", "tenant-0", "tenant-1"]);
    const models = new Set([...m.keys()].filter((k) => k.startsWith("llm_requests_total{")).map((k) => /model="([^"]*)"/.exec(k)![1]));
    expect([...models].sort()).toEqual(["model-0", "model-1", "model-2", "other"]);
    expect(sum(m, "llm_requests_total")).toBe(1000);
    expect(value(m, "llm_requests_total", { tenant: "tenant-0", provider: "p", model: "model-0", status: "200", code: "ok" })).toBe(1);
    // Series are bounded by caps, not by traffic: (2 tenants + other) × (3 models + other) at most.
    expect([...m.keys()].filter((k) => k.startsWith("llm_requests_total{")).length).toBeLessThanOrEqual(12);
  });

  test("guardrail events count by type and action, whatever shape their counts take", async () => {
    const metrics = new GatewayMetrics();
    const ev = (type: string, payload: Record<string, unknown>) => makeEvent({ type, tenant: "t", requestId: "r", payload });
    metrics.observe(ev("guardrail.redacted", { direction: "input", counts: { email: 2, phone: 1 } }));
    metrics.observe(ev("guardrail.blocked", { direction: "output", types: ["credit_card"] }));
    metrics.observe(ev("guardrail.redacted", { direction: "input", types: { email: 1 } }));
    metrics.observe(ev("ratelimit.exceeded", { limit: "tpm:tenant:acme", retryAfterMs: 10 }));
    metrics.observe(ev("budget.exceeded", { budget: "budget:key:k1", reserveMicros: 5 }));
    const m = parse(await metrics.text());
    expect(value(m, "llm_guardrail_violations_total", { type: "email", action: "redacted" })).toBe(3);
    expect(value(m, "llm_guardrail_violations_total", { type: "phone", action: "redacted" })).toBe(1);
    expect(value(m, "llm_guardrail_violations_total", { type: "credit_card", action: "blocked" })).toBe(1);
    expect(value(m, "llm_ratelimited_total", { scope: "tenant" })).toBe(1);
    expect(value(m, "llm_budget_exceeded_total", { scope: "key" })).toBe(1);
  });
});
