/**
 * Issue 24: what a new operator trips over — each item's behaviour through a real gateway.
 * (Item 1, plugins outside the repo: test/operator-plugins/specifier.test.ts; item 2's pure
 * half and the snippet runner: test/api/config-view.test.ts, test/docs/snippets.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ENTITY_KINDS } from "../../src/projections/config/model.ts";
import { listName } from "../../src/api/config-view.ts";
import { startFakeOpenAI } from "../fakes/openai-upstream.ts";
import { post, startTestGateway, type TestGateway, waitFor } from "../helpers/gateway.ts";

const ADMIN = "paper-cuts-admin-key-0123456789";
const AUTH = { authorization: `Bearer ${ADMIN}` };
let gw: TestGateway;
const admin = (method: string, path: string, body?: unknown) =>
  fetch(`${gw.url}${path}`, { method, headers: { "content-type": "application/json", ...AUTH }, ...(body ? { body: JSON.stringify(body) } : {}) });
const json = async (r: Response) => (await r.json()) as Record<string, any>;
const msg = (content: string) => [{ role: "user", content }];

beforeAll(async () => {
  gw = await startTestGateway({ TOLLGATE_ADMIN_KEY: ADMIN });
  expect((await admin("POST", "/api/v1/providers", { id: "dead", kind: "custom", base_url: "http://127.0.0.1:9/v1", models: ["m"] })).status).toBe(201);
  expect((await admin("POST", "/api/v1/providers", { id: "e2", kind: "echo", models: ["e2-model"] })).status).toBe(201);
  expect((await admin("POST", "/api/v1/routes", { id: "fb", strategy: "priority", targets: [{ provider: "dead", model: "m", priority: 0 }, { provider: "e2", model: "e2-model", priority: 1 }], max_retries: 1, backoff_base_ms: 1, backoff_max_ms: 5 })).status).toBe(201);
  expect((await admin("POST", "/api/v1/models", { id: "quick", provider: "e2", model: "e2-model" })).status).toBe(201);
  // The dead target keeps failing: keep its breaker closed so every request tries it.
  expect((await admin("POST", "/api/v1/breakers", { id: "default", min_requests: 1000 })).status).toBe(201);
});
afterAll(() => gw?.dispose());

describe("2, 3: the config view and ?at=", () => {
  test("every entity kind of the model is a list in the view, now and at an earlier version and time", async () => {
    const t0 = (await json(await admin("GET", "/api/v1/admin/config"))).config_version as number;
    const time0 = new Date().toISOString();
    await Bun.sleep(5);
    // The kinds the old view left out: plugin settings, cache policies, customer overrides.
    expect((await admin("PUT", "/api/v1/admin/cache", { mode: "all", ttl_seconds: 60 })).status).toBe(200);
    expect((await admin("POST", "/api/v1/overrides", { user_id: "cust-1", provider: "e2", model: "e2-model" })).status).toBe(201);
    const now = await json(await admin("GET", "/api/v1/admin/config"));
    for (const kind of ENTITY_KINDS) expect(Array.isArray(now[listName(kind)])).toBe(true);
    expect(now.cache_policies.length).toBe(1);
    expect(now.customer_overrides.map((o: { user_id: string }) => o.user_id)).toContain("cust-1");
    // At the version before: the same lists, without the two new entities.
    for (const at of [String(t0), encodeURIComponent(time0)]) {
      const then = await json(await admin("GET", `/api/v1/admin/config?at=${at}`));
      for (const kind of ENTITY_KINDS) expect(Array.isArray(then[listName(kind)])).toBe(true);
      expect(then.cache_policies).toEqual([]);
      expect(then.customer_overrides).toEqual([]);
      expect(then.routes.map((r: { id: string }) => r.id)).toContain("fb");
    }
    const atV = await json(await admin("GET", `/api/v1/admin/config?at=${t0}`));
    expect(atV).toMatchObject({ at_version: t0, config_version: t0 });
  });

  test("?at= refuses what is neither a version nor an RFC 3339 time (400, param at)", async () => {
    for (const bad of ["yesterday", "2026-11-22", "5.5", "-3", "1e3", "2026-11-22T12:00:00", "99999999"]) {
      const r = await admin("GET", `/api/v1/admin/config?at=${encodeURIComponent(bad)}`);
      expect(r.status).toBe(400);
      expect((await json(r)).error).toMatchObject({ code: "invalid_request", param: "at" });
    }
    // `5` is version 5, not the year 2001: it has the entities created by then.
    const five = await json(await admin("GET", "/api/v1/admin/config?at=5"));
    expect(five.config_version).toBe(5);
    expect(five.providers.length + five.routes.length + five.models.length).toBeGreaterThan(0);
  });

  test("history: `limit` returns the newest entries oldest first, `before` pages back", async () => {
    const all = await json(await admin("GET", "/api/v1/admin/config/history"));
    expect(all.has_more).toBe(false);
    const n = all.data.length as number;
    expect(n).toBeGreaterThanOrEqual(4);
    const p1 = await json(await admin("GET", "/api/v1/admin/config/history?limit=2"));
    expect(p1.data.map((e: { position: number }) => e.position)).toEqual(all.data.slice(-2).map((e: { position: number }) => e.position));
    expect(p1).toMatchObject({ has_more: true, next_before: p1.data[0].position });
    const p2 = await json(await admin("GET", `/api/v1/admin/config/history?limit=2&before=${p1.next_before}`));
    expect(p2.data.map((e: { position: number }) => e.position)).toEqual(all.data.slice(-4, -2).map((e: { position: number }) => e.position));
    const bad = await admin("GET", "/api/v1/admin/config/history?limit=0");
    expect((await json(bad)).error).toMatchObject({ code: "invalid_request", param: "limit" });
  });
});

describe("6: routes and aliases in /v1/models", () => {
  test("the list has routes and aliases with owned_by naming the gateway route; /v1/models/{id} answers", async () => {
    const list = await json(await fetch(`${gw.url}/v1/models`));
    const byId = new Map(list.data.map((m: { id: string }) => [m.id, m]));
    expect(byId.get("fb")).toMatchObject({ owned_by: "tollgate:route", tollgate: { kind: "route", targets: [{ provider: "dead", model: "m" }, { provider: "e2", model: "e2-model" }] } });
    expect(byId.get("quick")).toMatchObject({ owned_by: "tollgate:alias", tollgate: { targets: [{ provider: "e2", model: "e2-model" }] } });
    expect(byId.get("e2/e2-model")).toMatchObject({ owned_by: "e2" });
    expect(byId.get("echo")).toMatchObject({ owned_by: "echo" });
    for (const id of ["fb", "quick", "e2/e2-model"]) {
      const one = await fetch(`${gw.url}/v1/models/${encodeURIComponent(id)}`);
      expect(one.status).toBe(200);
      expect((await json(one)).id).toBe(id);
    }
    const none = await fetch(`${gw.url}/v1/models/gpt-9`);
    expect(none.status).toBe(404);
    expect((await json(none)).error.code).toBe("model_not_found");
  });
});

describe("7: response headers say what routing did", () => {
  test("chat (JSON and stream), Anthropic messages, generate: a fallback shows; a direct call does not", async () => {
    expect((await admin("PUT", "/api/v1/admin/cache", { mode: "off" })).status).toBe(200); // no hit answers for the provider
    await waitFor(async () => (await post(`${gw.url}/v1/chat/completions`, { model: "echo", temperature: 0, messages: msg("x") })).headers.get("x-tollgate-cache-reason") === "mode-off", 5000, "mode-off");
    const chat = await post(`${gw.url}/v1/chat/completions`, { model: "fb", messages: msg("hi") });
    const stream = await post(`${gw.url}/v1/chat/completions`, { model: "fb", stream: true, messages: msg("hi") });
    const anthropic = await post(`${gw.url}/v1/messages`, { model: "fb", max_tokens: 20, messages: msg("hi") }, { "anthropic-version": "2023-06-01" });
    const generate = await post(`${gw.url}/api/v1/generate`, { model: "fb", prompt: "hi" });
    for (const r of [chat, stream, anthropic, generate]) {
      expect(r.status).toBe(200);
      expect(r.headers.get("x-tollgate-provider")).toBe("e2");
      expect(r.headers.get("x-tollgate-attempts")).toBe("3"); // dead twice (1 + max_retries 1), then e2
      expect(r.headers.get("x-tollgate-fallback")).toBe("true");
      await r.text();
    }
    const direct = await post(`${gw.url}/v1/chat/completions`, { model: "quick", messages: msg("hi") });
    expect([direct.headers.get("x-tollgate-provider"), direct.headers.get("x-tollgate-attempts"), direct.headers.get("x-tollgate-fallback")]).toEqual(["e2", "1", "false"]);
    const emb = await post(`${gw.url}/v1/embeddings`, { model: "echo", input: "x" });
    expect([emb.status, emb.headers.get("x-tollgate-attempts"), emb.headers.get("x-tollgate-fallback")]).toEqual([200, "1", "false"]);
  });
});

describe("8: the cache says why it stayed out of the way", () => {
  test("x-tollgate-cache-reason on bypass: nondeterministic, no-store, mode-off", async () => {
    expect((await admin("PUT", "/api/v1/admin/cache", { mode: "deterministic" })).status).toBe(200);
    await waitFor(async () => (await post(`${gw.url}/v1/chat/completions`, { model: "echo", messages: msg("x"), temperature: 0.7 })).headers.get("x-tollgate-cache-reason") === "nondeterministic", 5000, "policy applied");
    const noStore = await post(`${gw.url}/v1/chat/completions`, { model: "echo", temperature: 0, messages: msg("x") }, { "cache-control": "no-store" });
    expect([noStore.headers.get("x-tollgate-cache"), noStore.headers.get("x-tollgate-cache-reason")]).toEqual(["bypass", "no-store"]);
    const det = await post(`${gw.url}/v1/chat/completions`, { model: "echo", temperature: 0, messages: msg("cached by default") });
    expect(det.headers.get("x-tollgate-cache")).toBe("miss"); // on by default for deterministic requests
    expect(det.headers.get("x-tollgate-cache-reason")).toBeNull();
    expect((await admin("PUT", "/api/v1/admin/cache", { mode: "off" })).status).toBe(200);
    await waitFor(async () => (await post(`${gw.url}/v1/chat/completions`, { model: "echo", temperature: 0, messages: msg("x") })).headers.get("x-tollgate-cache-reason") === "mode-off", 5000, "mode-off");
  });
});

describe("4, 5, 9: keys, budgets and the first key (own gateway: it leaves first-run mode)", () => {
  let g: TestGateway;
  const adm = (method: string, path: string, body?: unknown) =>
    fetch(`${g.url}${path}`, { method, headers: { "content-type": "application/json", ...AUTH }, ...(body ? { body: JSON.stringify(body) } : {}) });
  const newKey = async (budgetUsd: number) => ((await json(await adm("POST", "/api/v1/admin/keys", { tenant_id: "t1", budget: { amount_usd: budgetUsd, period: "day" } }))).key as string);
  const chat = (key: string, extra: Record<string, unknown> = {}) =>
    post(`${g.url}/v1/chat/completions`, { model: "echo", messages: msg("one two three four five six seven eight nine ten ".repeat(20)), ...extra }, { authorization: `Bearer ${key}` });
  const self = async (key: string) => json(await fetch(`${g.url}/api/v1/keys/self`, { headers: { authorization: `Bearer ${key}` } }));

  beforeAll(async () => {
    g = await startTestGateway({ TOLLGATE_ADMIN_KEY: ADMIN });
    expect((await adm("POST", "/api/v1/admin/tenants", { id: "t1", name: "T1" })).status).toBe(201);
    // 1,000 and 2,000 micro-USD per token: a 4,096-token worst case is $8.2, far over a $0.5 budget.
    expect((await adm("POST", "/api/v1/prices", { id: "echo/echo", input: 1000, output: 2000 })).status).toBe(201);
  });
  afterAll(() => g?.dispose());

  test("9: the first key turns keyless clients into a 401 that says why", async () => {
    expect((await post(`${g.url}/v1/chat/completions`, { model: "echo", messages: msg("hi") })).status).toBe(200);
    await newKey(1);
    const r = await post(`${g.url}/v1/chat/completions`, { model: "echo", messages: msg("hi") });
    expect(r.status).toBe(401);
    const e = (await json(r)).error;
    expect(e.code).toBe("missing_api_key");
    expect(e.message).toContain("now requires a key (a virtual key was created)");
  });

  test("4: keys/self shows the configured limit and the whole amount remaining before any request", async () => {
    const key = await newKey(0.5);
    const s = await self(key);
    expect(s.budgets).toEqual([{ scope: "key", period: expect.stringMatching(/^day:/), limit_usd: 0.5, spent_usd: 0, reserved_usd: 0, remaining_usd: 0.5 }]);
  });

  test("5: the first call on a small budget is served (output capped to what fits), the one that cannot fit gets the numbers", async () => {
    const key = await newKey(0.5);
    const first = await chat(key);
    expect(first.status).toBe(200);
    const capped = Number(first.headers.get("x-tollgate-max-tokens"));
    expect(capped).toBeGreaterThan(0);
    const body = await json(first);
    expect(body.usage.completion_tokens).toBeLessThanOrEqual(capped);
    expect(body.choices[0].finish_reason).toBe("length");
    let denied: Record<string, any> | undefined;
    for (let i = 0; i < 5 && !denied; i++) {
      const r = await chat(key);
      if (r.status === 429) denied = (await json(r)).error;
      else expect(r.status).toBe(200);
    }
    expect(denied).toBeDefined();
    expect(denied!.code).toBe("budget_exceeded");
    expect(denied!.param).toBe("max_tokens");
    expect(denied!.message).toMatch(/estimated at up to \$[\d.]+ \(\d+ prompt \+ \d+ output tokens\)/);
    expect(denied!.message).toMatch(/\$[\d.]+ of \$0\.50? remains this day/);
    expect(denied!.message).toContain("max_tokens");
    const s = await self(key);
    expect(s.budgets[0].spent_usd).toBeLessThanOrEqual(0.5);
  });

  test("5: never exceeded — 30 concurrent uncapped calls on one small budget", async () => {
    const key = await newKey(0.3);
    const results = await Promise.all(Array.from({ length: 30 }, () => chat(key)));
    const codes = results.map((r) => r.status);
    expect(codes.filter((c) => c === 200).length).toBeGreaterThan(0);
    for (const c of codes) expect([200, 429]).toContain(c);
    await Promise.all(results.map((r) => r.text()));
    await waitFor(async () => (await self(key)).budgets[0].reserved_usd === 0, 5000, "settled");
    const s = await self(key);
    expect(s.budgets[0].spent_usd).toBeGreaterThan(0);
    expect(s.budgets[0].spent_usd).toBeLessThanOrEqual(0.3);
  });

  test("5: without max_tokens the worst case is the model's own limit (catalog context window), capped by the budget", async () => {
    const fake = startFakeOpenAI();
    try {
      expect((await adm("POST", "/api/v1/providers", { id: "oai", kind: "openai", base_url: fake.url, models: ["gpt-4o"] })).status).toBe(201);
      const key = await newKey(1); // $1 fits 4,096 gpt-4o output tokens ($0.04) but not its 128k context window ($1.28)
      const r = await chat(key, { model: "oai/gpt-4o" });
      expect(r.status).toBe(200);
      const capped = Number(r.headers.get("x-tollgate-max-tokens"));
      expect(capped).toBeGreaterThan(90_000); // (1,000,000 µ$ − prompt × 2.5) / 10 µ$ per output token
      expect(capped).toBeLessThan(100_000);
      expect(fake.requests.at(-1)?.body.max_tokens).toBe(capped); // the provider was told: the cost cannot pass the reservation
    } finally {
      await fake.close();
    }
  });

  test("5: an explicit max_tokens that does not fit is refused whole (no silent cap)", async () => {
    const key = await newKey(0.5);
    const r = await chat(key, { max_tokens: 4096 });
    expect(r.status).toBe(429);
    expect((await json(r)).error.message).toContain("set `max_tokens` lower");
  });
});
