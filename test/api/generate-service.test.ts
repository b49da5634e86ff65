/**
 * The contract of a service built for the original generate gateway, tried as such a service
 * would: `X-Service-Key` auth, `GET /api/v1/health`, the `/api/v1/generate` request and response
 * fields and error codes, customer overrides at `/api/v1/overrides` (CRUD and precedence at every
 * level), and usage `by-customer` grouped by the end customer's `user_id`. Real gateway (file log,
 * embedded analytics), a fake OpenAI upstream speaking the wire format.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type FakeOpenAI, startFakeOpenAI } from "../fakes/openai-upstream.ts";
import { post, startTestGateway, type TestGateway, waitFor, writeConfigFile } from "../helpers/gateway.ts";

const ADMIN = "generate-contract-admin-key-0123456789";
let gw: TestGateway;
let upstream: FakeOpenAI;
const keys: Record<string, string> = {};

const admin = (method: string, path: string, body?: unknown) =>
  fetch(`${gw.url}${path}`, { method, headers: { "content-type": "application/json", "x-service-key": ADMIN }, ...(body ? { body: JSON.stringify(body) } : {}) });
const generate = (body: unknown, key: string | null | undefined = keys.acme) =>
  post(`${gw.url}/api/v1/generate`, body, key ? { "x-service-key": key } : {});
const json = async <T = Record<string, any>>(r: Response) => (await r.json()) as T;

beforeAll(async () => {
  upstream = startFakeOpenAI({ apiKey: "sk-up" });
  process.env.FAKE_UP_KEY = "sk-up";
  const file = await writeConfigFile([
    "providers:",
    `  - { id: oai, kind: openai, base_url: "${upstream.url}", api_key_env: FAKE_UP_KEY, models: [gpt-4o, gpt-4o-mini, gpt-4-turbo, gpt-4.1, o3-mini, o4-mini] }`,
  ]);
  gw = await startTestGateway({ TOLLGATE_CONFIG: file, TOLLGATE_ADMIN_KEY: ADMIN, TOLLGATE_ANALYTICS: "on" });
  for (const t of ["acme", "globex"]) expect((await admin("POST", "/api/v1/admin/tenants", { id: t, name: t })).status).toBe(201);
  for (const [name, tenant, extra] of [["acme", "acme", {}], ["globex", "globex", {}], ["slow", "acme", { rpm_limit: 1 }]] as const) {
    const r = await admin("POST", "/api/v1/admin/keys", { tenant_id: tenant, name, ...extra });
    expect(r.status).toBe(201);
    keys[name] = (await json<{ key: string }>(r)).key;
  }
  // Levels below the customer: a global route, a tenant override, a tenant+service override.
  expect((await admin("POST", "/api/v1/routes", { id: "smart", strategy: "priority", targets: [{ provider: "oai", model: "gpt-4o-mini" }] })).status).toBe(201);
  expect((await admin("POST", "/api/v1/route-overrides", { id: "acme/smart", strategy: "priority", targets: [{ provider: "oai", model: "gpt-4-turbo" }] })).status).toBe(201);
  expect((await admin("POST", "/api/v1/route-overrides", { id: "acme/billing/smart", strategy: "priority", targets: [{ provider: "oai", model: "gpt-4.1" }] })).status).toBe(201);
}, 60_000);

afterAll(async () => {
  await gw?.dispose();
  await upstream?.close();
});

describe("a service built for the generate API", () => {
  test("GET /api/v1/health answers like /health and is in the OpenAPI document", async () => {
    const r = await fetch(`${gw.url}/api/v1/health`);
    expect(r.status).toBe(200);
    expect(await json(r)).toMatchObject({ status: "ok", version: expect.any(String) });
    const spec = await json<{ paths: Record<string, Record<string, unknown>> }>(await fetch(`${gw.url}/swagger/json`));
    expect(spec.paths["/api/v1/health"]?.get).toBeDefined();
    for (const p of ["/api/v1/overrides", "/api/v1/overrides/{id}", "/api/v1/usage/by-customer", "/api/v1/usage/by-tenant", "/api/v1/usage/customers/{user_id}"]) expect(spec.paths[p], p).toBeDefined();
  });

  test("X-Service-Key is the virtual key on the data plane; Authorization: Bearer still works", async () => {
    const ok = await generate({ prompt: "hello", model: "echo" });
    expect(ok.status).toBe(200);
    const bearer = await post(`${gw.url}/api/v1/generate`, { prompt: "hello", model: "echo" }, { authorization: `Bearer ${keys.acme}` });
    expect(bearer.status).toBe(200);
    const chat = await post(`${gw.url}/v1/chat/completions`, { model: "echo", messages: [{ role: "user", content: "hi" }] }, { "x-service-key": keys.acme! });
    expect(chat.status).toBe(200);
    const missing = await generate({ prompt: "hello" }, null);
    expect(missing.status).toBe(401);
    expect((await json(missing)).error).toMatchObject({ code: "missing_api_key", type: expect.any(String) });
    const wrong = await generate({ prompt: "hello" }, `tg-${"Z".repeat(32)}`);
    expect(wrong.status).toBe(401);
    expect((await json(wrong)).error.code).toBe("invalid_api_key");
  });

  test("POST /api/v1/generate: the documented fields, with the upstream's usage and a catalog cost", async () => {
    upstream.setBehavior({ kind: "ok", content: "Forty-two.", usage: { prompt_tokens: 1_000, completion_tokens: 100, cached_tokens: 200 } });
    const r = await generate({ prompt: "What is the answer?", system: "Be brief.", temperature: 0.2, max_tokens: 50, model: "gpt-4o", service: "support", task_type: "qa", user_id: "cust-gen" });
    expect(r.status).toBe(200);
    const body = await json(r);
    expect(Object.keys(body).sort()).toEqual(["cached", "content", "cost_usd", "input_tokens", "latency_ms", "model", "output_tokens", "provider", "request_id"]);
    expect(body).toMatchObject({ content: "Forty-two.", provider: "oai", model: "gpt-4o", input_tokens: 1_000, output_tokens: 100, cached: false });
    expect(body.cost_usd).toBe((800 * 2.5 + 200 * 1.25 + 100 * 10) / 1e6); // gpt-4o from the catalog
    expect(body.latency_ms).toBeGreaterThan(0);
    expect(body.request_id).toBe(r.headers.get("x-request-id"));
    const sent = upstream.requests.at(-1)!.body;
    expect(sent).toMatchObject({ model: "gpt-4o", temperature: 0.2, max_tokens: 50, user: "cust-gen", messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "What is the answer?" }] });
    // `provider` picks a provider; the model is then its model id.
    upstream.setBehavior({ kind: "ok" });
    const picked = await json(await generate({ prompt: "hi", provider: "oai", model: "gpt-4o-mini" }));
    expect(picked).toMatchObject({ provider: "oai", model: "gpt-4o-mini" });
  });

  test("generate errors: 400 / 401 / 429 / 502, each with a stable code", async () => {
    const empty = await generate({ prompt: "" });
    expect(empty.status).toBe(400);
    expect((await json(empty)).error.code).toBe("invalid_request");
    const provider = await generate({ prompt: "hi", provider: "nope" });
    expect(provider.status).toBe(400);
    expect((await json(provider)).error).toMatchObject({ code: "unknown_provider", param: "provider" });
    expect((await generate({ prompt: "hi" }, "not-a-key")).status).toBe(401);
    expect((await generate({ prompt: "hi", model: "echo" }, keys.slow)).status).toBe(200);
    const limited = await generate({ prompt: "hi", model: "echo" }, keys.slow);
    expect(limited.status).toBe(429);
    expect((await json(limited)).error.code).toBe("rate_limit_exceeded");
    expect(limited.headers.get("retry-after")).toBeTruthy();
    upstream.enqueue({ kind: "error", status: 500, message: "boom" });
    const failed = await generate({ prompt: "hi", model: "gpt-4o" });
    expect(failed.status).toBe(502);
    expect((await json(failed)).error.code).toBe("upstream_error");
  });

  test("overrides: create, list by user_id, get, delete, with history; bad input is a 4xx with a code", async () => {
    const created = await admin("POST", "/api/v1/overrides", { user_id: "crud-user", service: "billing", provider: "oai", model: "gpt-4o" });
    expect(created.status).toBe(201);
    const o = await json(created);
    expect(o.id).toMatch(/^ovr_[0-9a-f]+$/);
    expect(o).toMatchObject({ user_id: "crud-user", service: "billing", tenant: null, provider: "oai", model: "gpt-4o", level: "customer_service", version: 1 });
    const list = await json(await admin("GET", "/api/v1/overrides?user_id=crud-user"));
    expect(list.data.map((x: { id: string }) => x.id)).toEqual([o.id]);
    expect((await json(await admin("GET", "/api/v1/overrides?user_id=someone-else"))).data).toEqual([]);
    expect(await json(await admin("GET", `/api/v1/overrides/${o.id}`))).toMatchObject({ id: o.id, model: "gpt-4o" });
    const dup = await admin("POST", "/api/v1/overrides", { user_id: "crud-user", service: "billing", provider: "oai", model: "gpt-4o-mini" });
    expect(dup.status).toBe(409);
    expect((await json(dup)).error.code).toBe("already_exists");
    const badProvider = await admin("POST", "/api/v1/overrides", { user_id: "x", provider: "nope", model: "m" });
    expect(badProvider.status).toBe(400);
    expect((await json(badProvider)).error.code).toBe("unknown_provider");
    expect((await admin("POST", "/api/v1/overrides", { user_id: "x", provider: "oai", model: "m", tenant: "no-such-tenant" })).status).toBe(400);
    expect((await admin("POST", "/api/v1/overrides", { provider: "oai", model: "m" })).status).toBe(400);
    expect((await fetch(`${gw.url}/api/v1/overrides`)).status).toBe(401);
    const del = await admin("DELETE", `/api/v1/overrides/${o.id}`);
    expect(del.status).toBe(200);
    expect(await json(del)).toMatchObject({ id: o.id, deleted: true });
    expect((await admin("GET", `/api/v1/overrides/${o.id}`)).status).toBe(404);
    expect((await admin("DELETE", `/api/v1/overrides/${o.id}`)).status).toBe(404);
    const history = await json(await admin("GET", `/api/v1/admin/config/history?entity=customer_override&id=${o.id}`));
    expect(history.data.map((h: { type: string }) => h.type)).toEqual(["customer_override.created", "customer_override.deleted"]);
  });

  test("precedence: customer + service > customer > tenant + service > tenant > global route > model; level in the header and on route.selected", async () => {
    upstream.setBehavior({ kind: "ok" });
    const mk = async (body: Record<string, unknown>) => {
      const r = await admin("POST", "/api/v1/overrides", body);
      expect(r.status).toBe(201);
      return (await json(r)).id as string;
    };
    const svc = await mk({ user_id: "vip", service: "billing", provider: "oai", model: "o4-mini" });
    await mk({ user_id: "vip", provider: "oai", model: "gpt-4o" });
    await mk({ user_id: "scoped", tenant: "globex", provider: "oai", model: "o3-mini" });
    const ask = async (key: string, body: Record<string, unknown>) => {
      const r = await generate({ prompt: "route me", model: "smart", ...body }, key);
      expect(r.status).toBe(200);
      const b = await json(r);
      return { model: b.model as string, level: r.headers.get("x-tollgate-route-level"), requestId: b.request_id as string, override: r.headers.get("x-tollgate-override") };
    };
    expect(await ask(keys.acme!, { user_id: "vip", service: "billing" })).toMatchObject({ model: "o4-mini", level: "customer_service", override: svc });
    expect(await ask(keys.acme!, { user_id: "vip", service: "web" })).toMatchObject({ model: "gpt-4o", level: "customer" });
    expect(await ask(keys.acme!, { user_id: "vip" })).toMatchObject({ model: "gpt-4o", level: "customer" });
    expect(await ask(keys.acme!, { user_id: "plain", service: "billing" })).toMatchObject({ model: "gpt-4.1", level: "tenant_service" });
    expect(await ask(keys.acme!, { user_id: "plain", service: "web" })).toMatchObject({ model: "gpt-4-turbo", level: "tenant" });
    expect(await ask(keys.globex!, { user_id: "plain" })).toMatchObject({ model: "gpt-4o-mini", level: "global" });
    // A customer override scoped to a tenant applies inside that tenant only.
    expect(await ask(keys.globex!, { user_id: "scoped" })).toMatchObject({ model: "o3-mini", level: "customer" });
    expect(await ask(keys.acme!, { user_id: "scoped" })).toMatchObject({ model: "gpt-4-turbo", level: "tenant" });
    // No route: the model itself.
    const direct = await generate({ prompt: "x", model: "gpt-4o-mini", user_id: "plain" }, keys.globex);
    expect(direct.headers.get("x-tollgate-route-level")).toBe("listed");
    // The level is recorded on route.selected.
    const last = await ask(keys.acme!, { user_id: "vip", service: "billing" });
    const selected = (await gw.events()).find((e) => e.type === "route.selected" && e.requestId === last.requestId)!;
    expect(selected.payload).toMatchObject({ level: "customer_service", override: svc, model: "o4-mini" });
    // Deleting the service override falls back to the customer-wide one.
    expect((await admin("DELETE", `/api/v1/overrides/${svc}`)).status).toBe(200);
    expect(await ask(keys.acme!, { user_id: "vip", service: "billing" })).toMatchObject({ model: "gpt-4o", level: "customer" });
  });

  test("usage by-customer groups by the end customer's user_id (generate user_id, OpenAI user, x-tollgate-user); one customer's summary and timeseries", async () => {
    for (let i = 0; i < 3; i++) expect((await generate({ prompt: `a${i}`, model: "echo", user_id: "cust-a" })).status).toBe(200);
    expect((await post(`${gw.url}/v1/chat/completions`, { model: "echo", user: "cust-b", messages: [{ role: "user", content: "b" }] }, { "x-service-key": keys.globex! })).status).toBe(200);
    expect((await post(`${gw.url}/v1/chat/completions`, { model: "echo", messages: [{ role: "user", content: "b2" }] }, { "x-service-key": keys.acme!, "x-tollgate-user": "cust-b" })).status).toBe(200);
    const events = (await gw.events()).filter((e) => e.type === "request.completed");
    const expected = new Map<string, number>();
    for (const e of events) if (e.payload.user) expected.set(e.payload.user as string, (expected.get(e.payload.user as string) ?? 0) + 1);
    expect(expected.get("cust-a")).toBe(3);
    expect(expected.get("cust-b")).toBe(2);
    await waitFor(async () => gw.analytics?.status().state === "ready" && (await json(await admin("GET", "/api/v1/usage/summary?days=1"))).data?.requests === events.length, 30_000, "the projection caught up");
    const by = await json(await admin("GET", "/api/v1/usage/by-customer?days=1&limit=100"));
    expect(by.group_by).toBe("user_id");
    expect(new Map(by.data.map((r: { user_id: string; requests: number }) => [r.user_id, r.requests]))).toEqual(expected);
    const costs = by.data.map((r: { cost_micros: number }) => r.cost_micros);
    expect(costs).toEqual([...costs].sort((a: number, b: number) => b - a));
    const tenants = await json(await admin("GET", "/api/v1/usage/by-tenant?days=1"));
    expect(tenants.group_by).toBe("tenant");
    expect(tenants.data.map((r: { tenant: string }) => r.tenant)).toEqual(expect.arrayContaining(["acme", "globex"]));
    // A tenant key sees its own tenant's customers only.
    const own = await json(await fetch(`${gw.url}/api/v1/usage/by-customer?days=1`, { headers: { "x-service-key": keys.globex! } }));
    expect(own.tenant).toBe("globex");
    expect(own.data.find((r: { user_id: string }) => r.user_id === "cust-b").requests).toBe(1);
    const one = await json(await admin("GET", "/api/v1/usage/customers/cust-a?days=1"));
    expect(one).toMatchObject({ object: "usage.customer", user_id: "cust-a", interval: "hour", summary: { requests: 3 } });
    expect(one.timeseries.reduce((a: number, p: { requests: number }) => a + p.requests, 0)).toBe(3);
    expect((await admin("GET", "/api/v1/usage/by-customer?days=0")).status).toBe(400);
  }, 60_000);
});
