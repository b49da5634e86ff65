import { GatewayMetrics } from "../src/telemetry/metrics.ts";
const m = new GatewayMetrics();
const base = { id: "x", v: 1, time: new Date().toISOString(), tenant: "default", requestId: "r", configVersion: 0 };
const evs: any[] = [
  { ...base, type: "request.received", payload: { endpoint: "chat.completions", model: "echo" } },
  { ...base, type: "route.selected", payload: { provider: "mock", model: "gpt-4o-mini" } },
  { ...base, type: "cache.miss", payload: { key: "abc" } },
  { ...base, type: "provider.attempt.succeeded", payload: { provider: "mock", model: "gpt-4o-mini", attempt: 0, latencyMs: 2.3 } },
  { ...base, type: "request.completed", v: 2, payload: { status: "ok", httpStatus: 200, errorCode: null, provider: "mock", model: "gpt-4o-mini", requestedModel: "gpt-4o-mini", latencyMs: 3.1, inputTokens: 20, outputTokens: 12, costNanos: 12000, cached: false } },
];
const ec = { operation: "chat", providerName: (id: string) => "openai" };
const N = 200000;
for (let i = 0; i < 20000; i++) for (const e of evs) m.observe(e, ec);
const t = performance.now();
for (let i = 0; i < N; i++) for (const e of evs) m.observe(e, ec);
console.log("per request", ((performance.now() - t) * 1000 / N).toFixed(2), "µs");
console.log((await m.registry.metrics()).split("\n").filter(l => l.startsWith("llm_requests_total")).join("\n"));
