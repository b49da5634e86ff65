/**
 * The admin routes the console adds (public API like the rest): resolution, budgets and the
 * guardrails dry run — each admin-only, each exact, and the dry run records nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { post, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const ADMIN = "console-routes-admin-key-0123456789";
let gw: TestGateway;
const call = async (method: string, path: string, body?: unknown, key = ADMIN) => {
  const r = await fetch(`${gw.url}${path}`, { method, headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: r.status, body: (await r.json()) as Record<string, any> };
};

beforeAll(async () => {
  gw = await startTestGateway({ TOLLGATE_ADMIN_KEY: ADMIN });
  expect((await call("POST", "/api/v1/admin/tenants", { id: "acme", name: "Acme", budget: { amount_usd: 5, period: "month" } })).status).toBe(201);
  expect((await call("POST", "/api/v1/routes", { id: "chat", strategy: "priority", targets: [{ provider: "echo", model: "echo" }] })).status).toBe(201);
  expect((await call("POST", "/api/v1/route-overrides", { id: "acme/web/chat", strategy: "priority", targets: [{ provider: "echo", model: "echo-web" }] })).status).toBe(201);
  expect((await call("POST", "/api/v1/overrides", { user_id: "vip", tenant: "acme", provider: "echo", model: "echo-vip" })).status).toBe(201);
});
afterAll(() => gw?.dispose());

describe("GET /api/v1/admin/resolution", () => {
  const resolve = async (q: Record<string, string>) => (await call("GET", `/api/v1/admin/resolution?${new URLSearchParams(q)}`)).body;

  test("the most specific level wins, and every level says why", async () => {
    const vip = await resolve({ model: "chat", tenant: "acme", service: "web", user_id: "vip" });
    expect(vip.winner).toBe("customer");
    expect(vip.levels.map((l: any) => l.level)).toEqual(["customer_service", "customer", "tenant_service", "tenant", "global", "model"]);
    expect(vip.levels.find((l: any) => l.level === "customer").targets).toEqual([{ provider: "echo", model: "echo-vip" }]);
    expect(vip.levels.find((l: any) => l.level === "tenant_service")).toMatchObject({ matched: false, why: "a more specific level matched first" });

    const web = await resolve({ model: "chat", tenant: "acme", service: "web", user_id: "someone" });
    expect(web.winner).toBe("tenant_service");
    expect(web.levels.find((l: any) => l.level === "tenant_service").targets).toEqual([{ provider: "echo", model: "echo-web" }]);

    const other = await resolve({ model: "chat", tenant: "acme", service: "batch" });
    expect(other.winner).toBe("global");
    expect(other.levels[0]).toMatchObject({ level: "customer_service", matched: false, why: "no end customer (user_id) given" });

    expect((await resolve({ model: "echo" })).winner).toBe("model");
    expect((await resolve({ model: "no-such-model" })).winner).toBeNull();
  });

  test("what it says is what the next request does", async () => {
    const r = await post(`${gw.url}/v1/chat/completions`, { model: "chat", user: "vip", messages: [{ role: "user", content: "hi" }] }, { authorization: `Bearer ${ADMIN}`, "x-tollgate-tenant": "acme" });
    // The admin key calls as tenant `default`: the acme-scoped override does not apply to it.
    expect(r.headers.get("x-tollgate-route-level")).toBe((await resolve({ model: "chat", tenant: "default", user_id: "vip" })).winner);
  });

  test("admin only; `model` required", async () => {
    expect((await call("GET", "/api/v1/admin/resolution?model=chat", undefined, "wrong-key-0123456789")).status).toBe(401);
    expect((await call("GET", "/api/v1/admin/resolution")).status).toBe(400);
  });
});

describe("GET /api/v1/admin/budgets", () => {
  test("limits from config from the first moment, spend from the counters", async () => {
    const key = await call("POST", "/api/v1/admin/keys", { tenant_id: "acme", name: "b", budget: { amount_usd: 2, period: "day" } });
    const budgets = (await call("GET", "/api/v1/admin/budgets?tenant_id=acme")).body.data as any[];
    expect(budgets).toContainEqual({ scope: "tenant", id: "acme", tenant_id: "acme", period: "month", limit_usd: 5, spent_usd: 0, reserved_usd: 0, remaining_usd: 5 });
    expect(budgets).toContainEqual({ scope: "key", id: key.body.id, tenant_id: "acme", period: "day", limit_usd: 2, spent_usd: 0, reserved_usd: 0, remaining_usd: 2 });
    expect((await call("GET", "/api/v1/admin/budgets", undefined, key.body.key)).status).toBe(401);
  });
});

describe("POST /api/v1/admin/guardrails/test", () => {
  test("shows what the effective policy does, and records nothing", async () => {
    expect((await call("PUT", "/api/v1/admin/tenants/acme/guardrails", { pii: { action: "off", actions: { email: "redact", card: "block" } } })).status).toBe(200);
    const before = (await gw.events("requests")).length;
    const configBefore = (await gw.events("config")).length;
    const r = await call("POST", "/api/v1/admin/guardrails/test", { text: "write to jane@example.com or jane@example.com", tenant: "acme" });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ text: "write to [EMAIL_1] or [EMAIL_1]", blocked: false, detected: { email: 2 }, redacted: { email: 2 } });
    const blocked = await call("POST", "/api/v1/admin/guardrails/test", { text: "card 4111 1111 1111 1111", tenant: "acme" });
    expect(blocked.body).toMatchObject({ blocked: true, blocked_types: ["card"] });
    // The global policy (off) changes nothing.
    expect((await call("POST", "/api/v1/admin/guardrails/test", { text: "jane@example.com" })).body).toMatchObject({ text: "jane@example.com", blocked: false });
    expect((await gw.events("requests")).length).toBe(before);
    expect((await gw.events("config")).length).toBe(configBefore);
    expect((await call("POST", "/api/v1/admin/guardrails/test", { text: "x", tenant: "nope" })).status).toBe(404);
    expect((await call("POST", "/api/v1/admin/guardrails/test", { nope: 1 })).status).toBe(400);
  });
});
