/**
 * The exact response cache end to end (in-process store): hits through the OpenAI and
 * Anthropic SDKs, stream replay, keyed parameters, policies, Cache-Control, tenant isolation,
 * RPM on hits, accounting, a stream cut by an upstream error, stats and purge.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { type FakeOpenAI, startFakeOpenAI } from "../fakes/openai-upstream.ts";
import { post, startTestGateway, type TestGateway, waitFor } from "../helpers/gateway.ts";

const ADMIN = "cache-test-admin-key-0123456789";
let gw: TestGateway;
let fake: FakeOpenAI;
let keyA: string;
let keyA2: string;
let keyB: string;

const admin = (method: string, path: string, body?: unknown) =>
  fetch(`${gw.url}${path}`, { method, headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
const newKey = async (tenant: string, extra: Record<string, unknown> = {}) => ((await (await admin("POST", "/api/v1/admin/keys", { tenant_id: tenant, ...extra })).json()) as { key: string }).key;
let n = 0;
/** A question no other test asks (entries are shared across tests of one gateway). */
const fresh = (label = "q") => `${label} #${++n} ${crypto.randomUUID()}`;
const body = (content: string, extra: Record<string, unknown> = {}) => ({ model: "fake/gpt-x", temperature: 0, messages: [{ role: "user", content }], ...extra });
const chat = (key: string, b: unknown, headers: Record<string, string> = {}) => post(`${gw.url}/v1/chat/completions`, b, { authorization: `Bearer ${key}`, ...headers });
const upstreamCalls = () => fake.requests.filter((r) => r.path === "/v1/chat/completions").length;
/** Entries are written after the response: wait until the store has one for this key. */
const stored = (res: Response) => waitFor(async () => (await gw.cache.get(tenantOf(res), res.headers.get("x-tollgate-cache-key")!)) !== null, 3000, "the entry to be stored");
const tenants = new Map<string, string>();
const tenantOf = (res: Response) => tenants.get(res.headers.get("x-request-id")!) ?? "a";

beforeAll(async () => {
  fake = startFakeOpenAI();
  gw = await startTestGateway({ TOLLGATE_ADMIN_KEY: ADMIN });
  expect((await admin("POST", "/api/v1/providers", { id: "fake", kind: "custom", base_url: fake.url, models: ["gpt-x"] })).status).toBe(201);
  expect((await admin("POST", "/api/v1/prices", { id: "fake/gpt-x", input: 2, output: 8 })).status).toBe(201);
  for (const t of ["a", "b"]) expect((await admin("POST", "/api/v1/admin/tenants", { id: t, name: t })).status).toBe(201);
  keyA = await newKey("a", { name: "a1" });
  keyA2 = await newKey("a", { name: "a2" });
  keyB = await newKey("b", { name: "b1" });
});
afterAll(async () => {
  await gw.dispose();
  await fake.close();
});
beforeEach(() => fake.reset());

describe("exact cache: hits", () => {
  test("a repeated JSON request is a hit with a byte-identical body, age and key headers, and no upstream call", async () => {
    const b = body(fresh());
    const miss = await chat(keyA, b);
    expect(miss.status).toBe(200);
    expect(miss.headers.get("x-tollgate-cache")).toBe("miss");
    const missText = await miss.text();
    await stored(miss);
    const hit = await chat(keyA, b);
    expect(hit.headers.get("x-tollgate-cache")).toBe("hit");
    expect(hit.headers.get("x-tollgate-cache-key")).toBe(miss.headers.get("x-tollgate-cache-key"));
    expect(hit.headers.get("x-tollgate-cache-key")).toMatch(/^[0-9a-f]{64}$/);
    expect(Number(hit.headers.get("age"))).toBeGreaterThanOrEqual(0);
    expect(await hit.text()).toBe(missText);
    expect(upstreamCalls()).toBe(1);
  });

  test("through the OpenAI SDK: identical content as JSON, and a valid stream in pieces with usage when asked", async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: keyA, maxRetries: 0 });
    const q = fresh("sdk");
    const req = { model: "fake/gpt-x", temperature: 0, messages: [{ role: "user" as const, content: q }] };
    const first = await client.chat.completions.create(req).withResponse();
    await stored(first.response);
    const second = await client.chat.completions.create(req).withResponse();
    expect(second.response.headers.get("x-tollgate-cache")).toBe("hit");
    expect(second.data).toEqual(first.data);
    const stream = await client.chat.completions.create({ ...req, stream: true, stream_options: { include_usage: true } }).withResponse();
    expect(stream.response.headers.get("x-tollgate-cache")).toBe("hit");
    const pieces: string[] = [];
    let usage: OpenAI.CompletionUsage | null | undefined;
    let finish: string | null = null;
    for await (const chunk of stream.data) {
      for (const c of chunk.choices) {
        if (c.delta.content) pieces.push(c.delta.content);
        if (c.finish_reason) finish = c.finish_reason;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(pieces.length).toBeGreaterThan(1); // in pieces, not one aggregate chunk
    expect(pieces.join("")).toBe(first.data.choices[0]!.message.content!);
    expect(finish).toBe("stop");
    expect(usage).toEqual(first.data.usage!);
    expect(upstreamCalls()).toBe(1);
  });

  test("a streamed miss is stored once it ended normally and answers a later JSON request", async () => {
    const b = body(fresh("streamed"));
    const s = await chat(keyA, { ...b, stream: true });
    expect(s.headers.get("x-tollgate-cache")).toBe("miss");
    const text = await s.text();
    expect(text).toContain("data: [DONE]");
    await stored(s);
    const hit = await chat(keyA, b);
    expect(hit.headers.get("x-tollgate-cache")).toBe("hit");
    expect(((await hit.json()) as any).choices[0].message.content).toBe("Hello from the fake upstream!");
    expect(upstreamCalls()).toBe(1);
  });

  test("through the Anthropic SDK: identical message as JSON and a valid replayed stream", async () => {
    const client = new Anthropic({ baseURL: gw.url, apiKey: keyA, maxRetries: 0 });
    const req = { model: "fake/gpt-x", max_tokens: 100, temperature: 0, messages: [{ role: "user" as const, content: fresh("anthropic") }] };
    const first = await client.messages.create(req).withResponse();
    expect(first.response.headers.get("x-tollgate-cache")).toBe("miss");
    await stored(first.response);
    const second = await client.messages.create(req).withResponse();
    expect(second.response.headers.get("x-tollgate-cache")).toBe("hit");
    expect(second.data).toEqual(first.data);
    const stream = client.messages.stream(req);
    const texts: string[] = [];
    stream.on("text", (t) => texts.push(t));
    const final = await stream.finalMessage();
    expect(texts.length).toBeGreaterThan(1);
    expect(final.content.map((b) => (b.type === "text" ? b.text : b.type))).toEqual(first.data.content.map((b) => (b.type === "text" ? b.text : b.type)));
    expect(final.stop_reason).toBe(first.data.stop_reason);
    expect(final.usage.output_tokens).toBe(first.data.usage.output_tokens);
    expect(upstreamCalls()).toBe(1);
  });
});

describe("exact cache: what is keyed", () => {
  test("a change in any keyed parameter misses; a change in an output-neutral one hits", async () => {
    const q = fresh("keyed");
    const base = body(q);
    const first = await chat(keyA, base);
    await stored(first);
    for (const variant of [
      { ...base, max_tokens: 5 },
      { ...base, seed: 7 },
      { ...base, top_p: 0.5 },
      { ...base, stop: ["x"] },
      { ...base, logit_bias: { "50256": -100 } },
      { ...base, top_k: 3 }, // a provider extra
      { ...base, response_format: { type: "json_object" } },
      { ...base, tools: [{ type: "function", function: { name: "f", parameters: { type: "object" } } }] },
      { ...base, messages: [{ role: "system", content: "Be terse." }, ...base.messages] },
      { ...base, messages: [{ role: "user", content: `${q}?` }] },
    ]) {
      const r = await chat(keyA, variant);
      expect([JSON.stringify(Object.keys(variant)), r.headers.get("x-tollgate-cache")]).toEqual([JSON.stringify(Object.keys(variant)), "miss"]);
    }
    const neutral = await chat(keyA, { ...base, user: "someone", metadata: { service: "x" } });
    expect(neutral.headers.get("x-tollgate-cache")).toBe("hit");
  });

  test("re-pointing an alias misses", async () => {
    expect((await admin("POST", "/api/v1/models", { id: "smart", provider: "fake", model: "gpt-x" })).status).toBe(201);
    const b = { ...body(fresh("alias")), model: "smart" };
    await stored(await chat(keyA, b));
    expect((await chat(keyA, b)).headers.get("x-tollgate-cache")).toBe("hit");
    expect((await admin("PATCH", "/api/v1/models/smart", { model: "gpt-y" })).status).toBe(200);
    await waitFor(() => gw.snapshot.models.find((m) => m.alias === "smart")?.model === "gpt-y", 3000, "the alias change");
    expect((await chat(keyA, b)).headers.get("x-tollgate-cache")).toBe("miss");
  });
});

describe("exact cache: policy and Cache-Control", () => {
  test("deterministic mode (default) bypasses a sampled request; mode all caches it; mode off bypasses everything", async () => {
    const sampled = { ...body(fresh("sampled")), temperature: 0.7 };
    expect((await chat(keyB, sampled)).headers.get("x-tollgate-cache")).toBe("bypass");
    const put = await admin("PUT", "/api/v1/admin/tenants/b/cache", { mode: "all", ttl_seconds: 600 });
    expect(put.status).toBe(200);
    expect(((await put.json()) as any).effective).toEqual({ mode: "all", ttl_seconds: 600, scope: "tenant", max_entry_bytes: 1048576, semantic: null });
    await waitFor(() => gw.snapshot.cache?.tenants.b?.mode === "all", 3000, "the policy");
    const first = await chat(keyB, sampled);
    tenants.set(first.headers.get("x-request-id")!, "b");
    expect(first.headers.get("x-tollgate-cache")).toBe("miss");
    await stored(first);
    expect((await chat(keyB, sampled)).headers.get("x-tollgate-cache")).toBe("hit");
    expect((await chat(keyB, { ...sampled, temperature: 0.8 })).headers.get("x-tollgate-cache")).toBe("miss"); // keyed by temperature
    expect((await admin("PUT", "/api/v1/admin/tenants/b/cache", { mode: "off" })).status).toBe(200);
    await waitFor(() => gw.snapshot.cache?.tenants.b?.mode === "off", 3000, "the policy");
    expect((await chat(keyB, sampled)).headers.get("x-tollgate-cache")).toBe("bypass");
    expect((await admin("DELETE", "/api/v1/admin/tenants/b/cache")).status).toBe(200);
  });

  test("a bad policy is a 400 with a code; an unknown tenant too", async () => {
    const bad = await admin("PUT", "/api/v1/admin/cache", { mode: "sometimes" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.code).toBeString();
    const unknown = await admin("PUT", "/api/v1/admin/tenants/nobody/cache", { mode: "all" });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as any).error.code).toBe("unknown_tenant");
    expect((await fetch(`${gw.url}/api/v1/admin/cache`, { method: "PUT", headers: { "content-type": "application/json" }, body: "{}" })).status).toBe(401);
  });

  test("no-store neither looks up nor stores; no-cache skips the lookup but stores; max-age bounds the age", async () => {
    const b = body(fresh("directives"));
    const noStore = await chat(keyA, b, { "cache-control": "no-store" });
    expect(noStore.headers.get("x-tollgate-cache")).toBe("bypass");
    await Bun.sleep(100);
    const after = await chat(keyA, b);
    expect(after.headers.get("x-tollgate-cache")).toBe("miss"); // the no-store answer was not stored
    expect(upstreamCalls()).toBe(2);
    const c = body(fresh("no-cache"));
    const r1 = await chat(keyA, c, { "cache-control": "no-cache" });
    expect(r1.headers.get("x-tollgate-cache")).toBe("bypass");
    await stored(r1);
    expect((await chat(keyA, c)).headers.get("x-tollgate-cache")).toBe("hit");
    await Bun.sleep(1100);
    expect((await chat(keyA, c, { "cache-control": "max-age=0" })).headers.get("x-tollgate-cache")).toBe("miss");
    expect((await chat(keyA, c, { "cache-control": "max-age=60" })).headers.get("x-tollgate-cache")).toBe("hit");
  });
});

describe("exact cache: isolation, limits, accounting", () => {
  test("tenants never see each other's entries; scope `key` separates a tenant's keys", async () => {
    const b = body(fresh("isolation"));
    await stored(await chat(keyA, b));
    expect((await chat(keyA2, b)).headers.get("x-tollgate-cache")).toBe("hit"); // same tenant, scope tenant
    const other = await chat(keyB, b);
    expect(other.headers.get("x-tollgate-cache")).toBe("miss");
    expect(other.headers.get("x-tollgate-cache-key")).not.toBe((await chat(keyA, b)).headers.get("x-tollgate-cache-key"));
    expect((await admin("PUT", "/api/v1/admin/tenants/a/cache", { scope: "key" })).status).toBe(200);
    await waitFor(() => gw.snapshot.cache?.tenants.a?.scope === "key", 3000, "the policy");
    const c = body(fresh("scoped"));
    await stored(await chat(keyA, c));
    expect((await chat(keyA, c)).headers.get("x-tollgate-cache")).toBe("hit");
    expect((await chat(keyA2, c)).headers.get("x-tollgate-cache")).toBe("miss");
    expect((await admin("DELETE", "/api/v1/admin/tenants/a/cache")).status).toBe(200);
    await waitFor(() => gw.snapshot.cache?.tenants.a === undefined, 3000, "the policy removal");
  });

  test("scope `user`: one end customer's answer is never served to another customer of the tenant (issue 22)", async () => {
    expect((await admin("PUT", "/api/v1/admin/tenants/a/cache", { scope: "user" })).status).toBe(200);
    await waitFor(() => gw.snapshot.cache?.tenants.a?.scope === "user", 3000, "the policy");
    try {
      const b = body(fresh("per-customer"));
      await stored(await chat(keyA, b, { "x-tollgate-user": "cust-1" }));
      expect((await chat(keyA, b, { "x-tollgate-user": "cust-1" })).headers.get("x-tollgate-cache")).toBe("hit");
      expect((await chat(keyA2, b, { "x-tollgate-user": "cust-1" })).headers.get("x-tollgate-cache")).toBe("hit"); // the same customer through another key
      expect((await chat(keyA, b, { "x-tollgate-user": "cust-2" })).headers.get("x-tollgate-cache")).toBe("miss");
      expect((await chat(keyA, { ...b, user: "cust-3" })).headers.get("x-tollgate-cache")).toBe("miss"); // OpenAI's `user` counts too
    } finally {
      expect((await admin("DELETE", "/api/v1/admin/tenants/a/cache")).status).toBe(200);
      await waitFor(() => gw.snapshot.cache?.tenants.a === undefined, 3000, "the policy removal");
    }
  });

  test("a hit counts against the key's RPM (429 past it) but takes no TPM and reserves no budget", async () => {
    const limited = await newKey("a", { name: "rpm2", rpm_limit: 2, tpm_limit: 100_000, budget: { amount_usd: 5, period: "day" } });
    const b = body(fresh("rpm"));
    const first = await chat(limited, b);
    expect(first.status).toBe(200);
    await stored(first);
    const hit = await chat(limited, b);
    expect(hit.headers.get("x-tollgate-cache")).toBe("hit");
    expect(hit.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    expect(hit.headers.get("x-ratelimit-limit-tokens")).toBeNull(); // no TPM taken on a hit
    const over = await chat(limited, b);
    expect(over.status).toBe(429);
    expect(((await over.json()) as any).error.code).toBe("rate_limit_exceeded");
    const events = (await gw.events()).filter((e) => e.requestId === hit.headers.get("x-request-id"));
    expect(events.map((e) => e.type)).not.toContain("budget.reserved");
  });

  test("a hit is recorded: request.completed cached, cost 0, saved_usd at today's price; cache.hit event", async () => {
    const b = body(fresh("accounting"));
    const miss = await chat(keyA, b);
    await stored(miss);
    const hit = await chat(keyA, b);
    const all = await gw.events();
    const missDone = all.find((e) => e.requestId === miss.headers.get("x-request-id") && e.type === "request.completed")!;
    const hitEvents = all.filter((e) => e.requestId === hit.headers.get("x-request-id"));
    const hitDone = hitEvents.find((e) => e.type === "request.completed")!;
    expect(missDone.payload.cached).toBe(false);
    expect(missDone.payload.costUsd).toBeGreaterThan(0);
    expect(hitDone.payload.cached).toBe(true);
    expect(hitDone.payload.costUsd).toBe(0);
    expect(hitDone.payload.savedUsd).toBe(missDone.payload.costUsd);
    expect(hitDone.payload.provider).toBe("fake");
    expect(hitEvents.map((e) => e.type)).toContain("cache.hit");
  });

  test("a stream cut by an upstream error is not stored", async () => {
    const b = body(fresh("cut"));
    fake.setBehavior({ kind: "error-in-200" });
    const cut = await chat(keyA, { ...b, stream: true });
    expect(await cut.text()).toContain("error");
    fake.setBehavior({ kind: "ok" });
    await Bun.sleep(100);
    expect(await gw.cache.get("a", cut.headers.get("x-tollgate-cache-key")!)).toBeNull();
    expect((await chat(keyA, b)).headers.get("x-tollgate-cache")).toBe("miss");
  });
});

describe("exact cache: stats and purge", () => {
  test("a key sees and purges only its tenant; the admin sees any tenant or all", async () => {
    const b = body(fresh("stats"));
    await stored(await chat(keyA, b));
    await chat(keyA, b);
    const statsA = (await (await fetch(`${gw.url}/v1/cache/stats`, { headers: { authorization: `Bearer ${keyA}` } })).json()) as any;
    expect(statsA.tenant_id).toBe("a");
    expect(statsA.hits).toBeGreaterThan(0);
    expect(statsA.entries).toBeGreaterThan(0);
    expect(statsA.saved_usd).toBeGreaterThan(0);
    expect(statsA.hit_rate).toBeGreaterThan(0);
    expect((await fetch(`${gw.url}/v1/cache/stats?tenant_id=b`, { headers: { authorization: `Bearer ${keyA}` } })).status).toBe(403);
    const all = (await (await admin("GET", "/v1/cache/stats")).json()) as any;
    expect(all.tenant_id).toBeNull();
    expect(all.hits).toBeGreaterThanOrEqual(statsA.hits);
    const bBefore = (await (await admin("GET", "/v1/cache/stats?tenant_id=b")).json()) as any;
    const purged = (await (await fetch(`${gw.url}/v1/cache`, { method: "DELETE", headers: { authorization: `Bearer ${keyA}` } })).json()) as any;
    expect(purged).toEqual({ tenant_id: "a", deleted: statsA.entries });
    expect((await chat(keyA, b)).headers.get("x-tollgate-cache")).toBe("miss");
    const bAfter = (await (await admin("GET", "/v1/cache/stats?tenant_id=b")).json()) as any;
    expect(bAfter.entries).toBe(bBefore.entries); // another tenant's entries untouched
    expect((await admin("DELETE", "/v1/cache")).status).toBe(200);
    expect(((await (await admin("GET", "/v1/cache/stats")).json()) as any).entries).toBe(0);
  });
});
