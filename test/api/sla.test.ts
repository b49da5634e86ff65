/**
 * GET /api/v1/usage/providers/sla end to end: real requests through the gateway to a fake upstream
 * with a known pattern of failures (5xx that fall back to echo, 400s, successes) → attempt events →
 * the usage projection (chDB) → the report, checked against hand counts taken from the log.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestGateway, type TestGateway, waitFor } from "../helpers/gateway.ts";
import { startFakeOpenAI, type FakeBehavior } from "../fakes/openai-upstream.ts";

const ADMIN = "sla-admin-key-0123456789abcdef";

describe("provider SLA API", () => {
  let gw: TestGateway;
  const upstream = startFakeOpenAI();
  const admin = (method: string, path: string, body?: unknown) =>
    fetch(`${gw.url}${path}`, { method, headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });

  beforeAll(async () => {
    gw = await startTestGateway({ TOLLGATE_ADMIN_KEY: ADMIN, TOLLGATE_ANALYTICS: "on", TOLLGATE_MASTER_KEY: "sla-master-key-0123456789abcdef" });
    await waitFor(async () => gw.analytics?.status().state === "ready", 30_000, "analytics ready");
  });
  afterAll(async () => {
    await gw.dispose();
    await upstream.close();
  });

  test("the report equals the hand count of the attempts in the log", async () => {
    expect((await admin("POST", "/api/v1/providers", { id: "up", kind: "openai", base_url: upstream.url, api_key: "sk-up", models: ["up-model"] })).status).toBe(201);
    expect((await admin("POST", "/api/v1/routes", { id: "smart", strategy: "priority", max_retries: 0, targets: [{ provider: "up", model: "up-model" }, { provider: "echo", model: "echo" }] })).status).toBe(201);
    expect((await admin("POST", "/api/v1/breakers", { id: "default", failure_rate: 0.99, min_requests: 1000 })).status).toBe(201);
    // 40 requests: every 4th a 500 (falls back to echo), every 10th a 400 (the client's), else ok.
    const pattern: FakeBehavior[] = Array.from({ length: 40 }, (_, i) => (i % 10 === 9 ? { kind: "error", status: 400, message: "bad" } : i % 4 === 0 ? { kind: "error", status: 500, message: "boom" } : { kind: "ok" }));
    upstream.enqueue(...pattern);
    for (let i = 0; i < 40; i++) await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "smart", messages: [{ role: "user", content: `hi ${i}` }] }) }).then((r) => r.arrayBuffer());
    const attempts = (await gw.events("requests")).filter((e) => e.type.startsWith("provider.attempt."));
    await waitFor(async () => (await gw.analytics!.lag()) === 0, 20_000, "the projection caught up");

    const r = await admin("GET", "/api/v1/usage/providers/sla?days=1&interval=day");
    expect(r.status).toBe(200);
    const body = (await r.json()) as { object: string; data: Array<Record<string, any>> };
    expect(body.object).toBe("provider_sla");
    for (const target of ["up/up-model", "echo/echo"]) {
      const mine = attempts.filter((e) => `${e.payload.provider}/${e.payload.model}` === target);
      const ok = mine.filter((e) => e.type.endsWith("succeeded"));
      const client = mine.filter((e) => e.type.endsWith("failed") && e.payload.status === 400);
      const lat = ok.map((e) => e.payload.latencyMs as number).sort((a, b) => a - b);
      const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
      const codes = new Map<string, number>();
      for (const e of mine.filter((x) => x.type.endsWith("failed"))) codes.set(e.payload.code as string, (codes.get(e.payload.code as string) ?? 0) + 1);
      const row = body.data.find((d) => `${d.provider}/${d.model}` === target)!;
      expect(row, target).toBeDefined();
      expect(row).toMatchObject({
        attempts: mine.length,
        succeeded: ok.length,
        failed: mine.length - ok.length,
        client_errors: client.length,
        fallbacks_caused: mine.filter((e) => e.payload.next === "fallback").length,
        latency_ms: { p50: q(0.5), p95: q(0.95), p99: q(0.99) },
      });
      expect(row.availability).toBeCloseTo(ok.length / mine.length, 10);
      expect(row.availability_excluding_client_errors).toBeCloseTo(ok.length / (mine.length - client.length), 10);
      expect(Object.fromEntries(row.errors.map((e: { code: string; count: number }) => [e.code, e.count]))).toEqual(Object.fromEntries(codes));
    }
    const up = body.data.find((d) => d.provider === "up")!;
    expect(up.attempts).toBe(40);
    expect(up.fallbacks_caused).toBe(10); // the 500s: i % 4 === 0 for i in 0..39 (none is also i % 10 === 9)
    expect(up.client_errors).toBe(4);
    expect(body.data.find((d) => d.provider === "echo")!.attempts).toBe(10);
    // Bad input: clear errors
    const bad = await admin("GET", "/api/v1/usage/providers/sla?interval=week");
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("invalid_parameter");
    expect((await fetch(`${gw.url}/api/v1/usage/providers/sla`)).status).toBe(401);
  }, 60_000);
});
