/** Rate limits and budgets through HTTP on the embedded (memory) store. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startFakeOpenAI } from "../fakes/openai-upstream.ts";
import { post, startTestGateway, type TestGateway, waitFor } from "../helpers/gateway.ts";

const ADMIN = "limits-embedded-admin-0123456789";
let gw: TestGateway;
const admin = (method: string, path: string, body?: unknown) =>
  fetch(`${gw.url}${path}`, { method, headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` }, ...(body ? { body: JSON.stringify(body) } : {}) });
const newKey = async (body: Record<string, unknown>) => ((await (await admin("POST", "/api/v1/admin/keys", { tenant_id: "t1", ...body })).json()) as { key: string; id: string }).key;
const chat = (key: string, extra: Record<string, unknown> = {}) =>
  post(`${gw.url}/v1/chat/completions`, { model: "echo", messages: [{ role: "user", content: "one two three four five six" }], ...extra }, { authorization: `Bearer ${key}` });
const eventsFor = async (res: Response) => {
  const id = res.headers.get("x-request-id");
  await waitFor(async () => (await gw.events()).some((e) => e.requestId === id && e.type === "request.completed"), 5000, "request.completed");
  return (await gw.events()).filter((e) => e.requestId === id);
};

beforeAll(async () => {
  gw = await startTestGateway({ TOLLGATE_ADMIN_KEY: ADMIN });
  expect((await admin("POST", "/api/v1/admin/tenants", { id: "t1", name: "Tenant One" })).status).toBe(201);
  expect((await admin("POST", "/api/v1/prices", { id: "echo/echo", input: 1000, output: 2000 })).status).toBe(201);
});
afterAll(() => gw.dispose());

describe("limits (embedded store)", () => {
  test("RPM: x-ratelimit headers count down; the request over the limit gets 429 rate_limit_exceeded with Retry-After", async () => {
    const key = await newKey({ name: "rpm3", rpm_limit: 3 });
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await chat(key);
      expect(r.status).toBe(200);
      expect(r.headers.get("x-ratelimit-limit-requests")).toBe("3");
      remaining.push(r.headers.get("x-ratelimit-remaining-requests")!);
      expect(r.headers.get("x-ratelimit-reset-requests")).toMatch(/^\d+s$/);
    }
    expect(remaining).toEqual(["2", "1", "0"]);
    const over = await chat(key);
    expect(over.status).toBe(429);
    expect(Number(over.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(((await over.json()) as { error: { code: string } }).error.code).toBe("rate_limit_exceeded");
    expect((await eventsFor(over)).map((e) => e.type)).toContain("ratelimit.exceeded");
  });

  test("budget: reserve, settle to the actual cost, threshold event at 80%, then 429 budget_exceeded", async () => {
    // prompt ≈ 13 tokens × 1000 + max_tokens 4 × 2000 per request ≈ 21,000 micro-USD; budget fits 4 of them.
    const key = await newKey({ name: "budget4", budget: { amount_usd: 0.1, period: "month" } });
    const types: string[] = [];
    let ok = 0;
    for (let i = 0; i < 8; i++) {
      const r = await chat(key, { max_tokens: 4 });
      if (r.status === 200) ok++;
      else {
        expect(r.status).toBe(429);
        expect(((await r.json()) as { error: { code: string } }).error.code).toBe("budget_exceeded");
      }
      types.push(...(await eventsFor(r)).map((e) => e.type));
    }
    expect(ok).toBe(4);
    expect(types.filter((t) => t === "budget.reserved")).toHaveLength(4);
    expect(types.filter((t) => t === "budget.threshold_crossed")).toHaveLength(1);
    expect(types.filter((t) => t === "budget.exceeded")).toHaveLength(4);
    const self = (await (await fetch(`${gw.url}/api/v1/keys/self`, { headers: { authorization: `Bearer ${key}` } })).json()) as { key: { prefix: string }; budgets: Array<{ scope: string; spent_usd: number; reserved_usd: number; remaining_usd: number; period: string }> };
    expect(self.key.prefix).toBe(key.slice(0, 8));
    expect(self.budgets[0]).toMatchObject({ scope: "key", reserved_usd: 0 });
    expect(self.budgets[0]!.period).toMatch(/^month:\d{4}-\d{2}$/);
    expect(self.budgets[0]!.spent_usd).toBeLessThanOrEqual(0.1);
    expect(self.budgets[0]!.spent_usd).toBeGreaterThan(0.07);
  });

  test("a tenant limit applies to all its keys together", async () => {
    expect((await admin("PATCH", "/api/v1/admin/tenants/t1", { rpm_limit: 100 })).status).toBe(200);
    const k = await newKey({ name: "tenant-bound" });
    const r = await chat(k);
    expect(r.status).toBe(200);
    expect(r.headers.get("x-ratelimit-limit-requests")).toBe("100");
    expect((await admin("PATCH", "/api/v1/admin/tenants/t1", { rpm_limit: null })).status).toBe(200);
  });

  test("a model without a price is recorded as price.missing (cost 0)", async () => {
    const fake = startFakeOpenAI();
    try {
      expect((await admin("POST", "/api/v1/providers", { id: "unpriced", kind: "custom", base_url: fake.url, models: ["free-model"] })).status).toBe(201);
      const k = await newKey({ name: "unpriced-user" });
      const r = await chat(k, { model: "unpriced/free-model" });
      expect(r.status).toBe(200);
      const events = await eventsFor(r);
      expect(events.find((e) => e.type === "price.missing")?.payload).toEqual({ provider: "unpriced", model: "free-model" });
      expect(events.find((e) => e.type === "request.completed")?.payload.costUsd).toBe(0);
    } finally {
      await fake.close();
    }
  });

  test("/api/v1/keys/self without a key → 401 missing_api_key", async () => {
    const r = await fetch(`${gw.url}/api/v1/keys/self`);
    expect(r.status).toBe(401);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe("missing_api_key");
  });
});

describe("provider quota", () => {
  test("a provider's rpm_limit protects the upstream across all keys", async () => {
    expect((await admin("POST", "/api/v1/providers", { id: "quota", kind: "echo", models: ["q"], rpm_limit: 2 })).status).toBe(201);
    const [k1, k2] = [await newKey({ name: "quota-a" }), await newKey({ name: "quota-b" })];
    expect((await chat(k1, { model: "quota/q" })).status).toBe(200);
    expect((await chat(k2, { model: "quota/q" })).status).toBe(200);
    const third = await chat(k1, { model: "quota/q" });
    expect(third.status).toBe(429);
    expect(((await third.json()) as { error: { code: string; message: string } }).error.message).toContain("rpm:provider:quota");
    expect((await chat(k1, { model: "echo" })).status).toBe(200); // other providers are not affected
  });
});
