/**
 * The request explorer end to end (embedded: file log, in-process store, chDB): traffic with a
 * fallback after a 500, an exact and a semantic cache hit, a PII redaction, a customer+service
 * override, a 429 from an RPM limit, a budget refusal and a client disconnect mid-stream. For
 * each request: its list row, its timeline (from the log through the request-id index) and its
 * explain reasons. Then the matching override is deleted and explain names that history entry.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startFakeOpenAI, type FakeOpenAI } from "../fakes/openai-upstream.ts";
import { type FakeEmbeddings, startFakeEmbeddings, towards } from "../fakes/embeddings-upstream.ts";
import { post, startTestGateway, type TestGateway, waitFor } from "../helpers/gateway.ts";

const ADMIN = "explorer-e2e-admin-key-0123456789";
const DIMS = 8;
let gw: TestGateway;
let fakeA: FakeOpenAI;
let fakeB: FakeOpenAI;
let fakeSlow: FakeOpenAI;
let emb: FakeEmbeddings;
const keys: Record<string, string> = {};
const ids: Record<string, string> = {};
let overrideId = "";

const admin = (method: string, path: string, body?: unknown) =>
  fetch(`${gw.url}${path}`, { method, headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
const get = async (path: string, key = ADMIN) => {
  const r = await fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
  return { status: r.status, body: (await r.json()) as any };
};
const chat = (key: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  post(`${gw.url}/v1/chat/completions`, { model: "echo", temperature: 0, ...body }, { authorization: `Bearer ${key}`, ...headers });
const msg = (content: string) => [{ role: "user", content }];
async function keyFor(body: Record<string, unknown>) {
  const r = await admin("POST", "/api/v1/admin/keys", body);
  expect(r.status).toBe(201);
  return ((await r.json()) as { key: string }).key;
}
async function send(name: string, res: Promise<Response>, status: number) {
  const r = await res;
  expect({ name, status: r.status }).toEqual({ name, status });
  ids[name] = r.headers.get("x-request-id")!;
  await r.text();
}

beforeAll(async () => {
  fakeA = startFakeOpenAI();
  fakeB = startFakeOpenAI();
  fakeSlow = startFakeOpenAI();
  emb = startFakeEmbeddings({ dims: DIMS });
  gw = await startTestGateway({ TOLLGATE_ADMIN_KEY: ADMIN, TOLLGATE_ANALYTICS: "on" });
  for (const [id, url] of [["up1", fakeA.url], ["up2", fakeB.url], ["slow", fakeSlow.url]] as const) {
    expect((await admin("POST", "/api/v1/providers", { id, kind: "openai", base_url: url, models: ["m", "m-override"] })).status).toBe(201);
  }
  expect((await admin("POST", "/api/v1/providers", { id: "emb", kind: "custom", base_url: emb.url, models: ["emb-1"] })).status).toBe(201);
  for (const [id, input, output] of [["echo/echo", 1000, 2000], ["up1/m", 1, 2], ["up2/m", 3, 4], ["up2/m-override", 5, 6], ["slow/m", 1, 1], ["emb/emb-1", 100, 0]] as const) {
    expect((await admin("POST", "/api/v1/prices", { id, input, output })).status).toBe(201);
  }
  expect((await admin("POST", "/api/v1/routes", { id: "smart", strategy: "priority", targets: [{ provider: "up1", model: "m", priority: 0 }, { provider: "up2", model: "m", priority: 1 }], max_retries: 0 })).status).toBe(201);
  for (const t of ["t1", "t2"]) expect((await admin("POST", "/api/v1/admin/tenants", { id: t, name: t })).status).toBe(201);
  expect((await admin("PUT", "/api/v1/admin/tenants/t1/guardrails", { pii: { action: "redact", types: ["email"] } })).status).toBe(200);
  expect((await admin("PUT", "/api/v1/admin/tenants/t1/cache", { semantic: { enabled: true, embeddings_model: "emb/emb-1", threshold: 0.95, max_messages: 4 } })).status).toBe(200);
  keys.k1 = await keyFor({ tenant_id: "t1", name: "web", service: "web" });
  keys.rpm = await keyFor({ tenant_id: "t1", name: "rpm1", rpm_limit: 1 });
  keys.budget = await keyFor({ tenant_id: "t1", name: "tiny", budget: { amount_usd: 0.000001, period: "month" } });
  keys.k2 = await keyFor({ tenant_id: "t2", name: "other" });
  const o = await admin("POST", "/api/v1/overrides", { user_id: "cust-1", service: "web", tenant: "t1", provider: "up2", model: "m-override" });
  expect(o.status).toBe(201);
  overrideId = ((await o.json()) as { id: string }).id;
  await waitFor(() => gw.snapshot.customerOverrides?.size && gw.snapshot.cache?.tenants.t1?.semantic?.enabled, 3000, "config applied");

  // The traffic.
  fakeA.enqueue({ kind: "error", status: 500 });
  await send("fallback", chat(keys.k1!, { model: "smart", messages: msg("route me") }), 200);
  await send("exact_first", chat(keys.k1!, { messages: msg("the same question") }), 200);
  await Bun.sleep(150); // the entry is written after the response
  await send("exact_hit", chat(keys.k1!, { messages: msg("the same question") }), 200);
  emb.set("user: what is the refund policy", towards(DIMS, 0, 1, 1));
  emb.set("user: what's your refund policy", towards(DIMS, 0, 1, 0.99));
  await send("semantic_first", chat(keys.k1!, { messages: msg("what is the refund policy") }), 200);
  await Bun.sleep(150);
  await send("semantic_hit", chat(keys.k1!, { messages: msg("what's your refund policy") }), 200);
  await send("pii", chat(keys.k1!, { temperature: 0.7, messages: msg("mail jane.doe@example.com please") }), 200);
  await send("override", chat(keys.k1!, { model: "smart", messages: msg("override me") }, { "x-tollgate-user": "cust-1" }), 200);
  await send("rpm_ok", chat(keys.rpm!, { messages: msg("one") }), 200);
  await send("rpm_429", chat(keys.rpm!, { messages: msg("two") }), 429);
  await send("budget", chat(keys.budget!, { messages: msg("too dear") }), 429);
  await send("other_tenant", chat(keys.k2!, { messages: msg("tenant two") }), 200);
  // Client disconnect mid-stream: read the first chunk, then abort.
  fakeSlow.setBehavior({ kind: "ok", contentChunks: Array.from({ length: 40 }, (_, i) => `part${i} `), chunkDelayMs: 100 });
  const aborter = new AbortController();
  const stream = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", signal: aborter.signal, headers: { "content-type": "application/json", authorization: `Bearer ${keys.k1}` }, body: JSON.stringify({ model: "slow/m", stream: true, messages: msg("stream then leave") }) });
  expect(stream.status).toBe(200);
  ids.disconnect = stream.headers.get("x-request-id")!;
  const reader = stream.body!.getReader();
  await reader.read();
  aborter.abort();
  await reader.cancel().catch(() => {});

  await waitFor(async () => gw.analytics?.status().state === "ready", 30_000, "analytics ready");
  const all = Object.values(ids);
  await waitFor(async () => {
    const list = await get("/api/v1/requests?days=1&limit=200");
    const seen = new Set((list.body.data ?? []).map((r: { id: string }) => r.id));
    if (!all.every((id) => seen.has(id))) return false;
    // and every timeline is indexed through request.completed
    for (const id of all) {
      const t = await get(`/api/v1/requests/${id}`);
      if (t.status !== 200 || !t.body.events.some((e: { type: string }) => e.type === "request.completed")) return false;
    }
    return true;
  }, 40_000, "list and index caught up");
}, 90_000);

afterAll(async () => {
  await gw?.dispose();
  await Promise.all([fakeA?.close(), fakeB?.close(), fakeSlow?.close(), emb?.close()]);
});

const row = async (name: string) => {
  const list = await get("/api/v1/requests?days=1&limit=200");
  const r = list.body.data.find((x: { id: string }) => x.id === ids[name]);
  expect(r).toBeDefined();
  return r;
};
const timeline = async (name: string) => (await get(`/api/v1/requests/${ids[name]}`)).body;
const types = async (name: string) => (await timeline(name)).events.map((e: { type: string }) => e.type) as string[];
const explain = async (name: string) => (await get(`/api/v1/requests/${ids[name]}/explain`)).body;
const said = (reasons: string[], re: RegExp) => expect({ reasons, match: reasons.some((r) => re.test(r)) }).toEqual({ reasons, match: true });

describe("each request: list row, timeline, explain", () => {
  test("fallback after a 500: two attempts, served by the second target; explain ranks the route", async () => {
    const r = await row("fallback");
    expect(r).toMatchObject({ tenant: "t1", service: "web", requested_model: "smart", provider: "up2", model: "m", status: "ok", attempts: 2, route_level: "global" });
    expect(r.key_id).toMatch(/^key_/);
    const t = await types("fallback");
    expect(t.indexOf("route.selected")).toBeLessThan(t.indexOf("provider.attempt.failed"));
    expect(t.indexOf("provider.attempt.failed")).toBeLessThan(t.indexOf("provider.attempt.succeeded"));
    const tl = await timeline("fallback");
    expect(tl.phases.call).toBeGreaterThan(0);
    expect(tl.auth).toMatchObject({ tenant: "t1", service: "web" });
    expect(tl.auth.key_id).toBe(r.key_id);
    expect(tl.events.find((e: any) => e.type === "provider.attempt.failed").payload).toMatchObject({ provider: "up1", code: "upstream_error", retryable: true });
    const x = await explain("fallback");
    expect(x.route).toMatchObject({ level: "global", entity: { kind: "route", id: "smart" }, ranking: ["up1/m", "up2/m"] });
    said(x.reasons, /route `smart` defines `smart`/);
    said(x.reasons, /ranks up1\/m > up2\/m/);
  });

  test("exact hit: the row says cache exact, same key hash as the first; explain says exact hit", async () => {
    const first = await row("exact_first");
    const hit = await row("exact_hit");
    expect(hit).toMatchObject({ cache: "exact", attempts: 0, cost_usd: 0 });
    expect(hit.saved_usd).toBeGreaterThan(0);
    expect(first.cache).toBe("miss");
    expect(await types("exact_hit")).toContain("cache.hit");
    said((await explain("exact_hit")).reasons, /answered by an exact hit/);
    const filtered = await get("/api/v1/requests?days=1&cached=exact");
    expect(filtered.body.data.map((x: { id: string }) => x.id)).toEqual([ids.exact_hit]);
  });

  test("semantic hit: row, timeline with the similarity, explain", async () => {
    expect((await row("semantic_hit")).cache).toBe("semantic");
    const e = (await timeline("semantic_hit")).events.find((x: any) => x.type === "cache.semantic_hit");
    expect(e.payload.similarity).toBeGreaterThan(0.95);
    said((await explain("semantic_hit")).reasons, /semantic hit \(similarity 0\.99/);
  });

  test("PII redaction: counts by type, never the value; explain names the policy; not cacheable (temperature 0.7)", async () => {
    const r = await row("pii");
    expect(r.guardrails).toEqual({ action: "redacted", detections: 1 });
    const tl = await timeline("pii");
    expect(tl.events.find((e: any) => e.type === "guardrail.redacted").payload).toMatchObject({ types: ["email"], counts: { email: 1 } });
    expect(JSON.stringify(tl)).not.toContain("jane.doe");
    const x = await explain("pii");
    said(x.reasons, /Guardrails: email → redact/);
    said(x.reasons, /Redacted before the provider saw it: email/);
    said(x.reasons, /not looked up — mode `deterministic` and the request had neither temperature 0 nor a seed/);
    expect((await get("/api/v1/requests?days=1&guardrail_action=redacted")).body.data.map((x: { id: string }) => x.id)).toEqual([ids.pii]);
  });

  test("customer+service override: row and explain say which override and why the other levels did not decide", async () => {
    const r = await row("override");
    expect(r).toMatchObject({ route_level: "customer_service", route_override: overrideId, provider: "up2", model: "m-override", user_id: "cust-1" });
    const x = await explain("override");
    expect(x.route).toMatchObject({ level: "customer_service", entity: { kind: "customer_override", id: overrideId } });
    said(x.reasons, new RegExp(`customer override \`${overrideId}\` sends user \`cust-1\` on service \`web\` to up2/m-override`));
    expect(x.current.same).toBe(true);
    expect((await get("/api/v1/requests?days=1&route_level=override")).body.data.map((x: { id: string }) => x.id)).toEqual([ids.override]);
  });

  test("429 from an RPM limit", async () => {
    expect(await row("rpm_429")).toMatchObject({ status: "error", error_code: "rate_limit_exceeded", http_status: 429 });
    expect(await types("rpm_429")).toContain("ratelimit.exceeded");
    const x = await explain("rpm_429");
    said(x.reasons, /Limits in force: rpm:key:key_\w+ ≤ 1\/min/);
    said(x.reasons, /Refused with 429: rate limit rpm:key:\S+ was full/);
    expect((await get("/api/v1/requests?days=1&status=rate_limit_exceeded")).body.data.map((x: { id: string }) => x.id)).toEqual([ids.rpm_429]);
  });

  test("budget refusal", async () => {
    expect(await row("budget")).toMatchObject({ status: "error", error_code: "budget_exceeded" });
    expect(await types("budget")).toContain("budget.exceeded");
    const x = await explain("budget");
    said(x.reasons, /budget:key:key_\w+ ≤ \$0\.000001 per month/);
    said(x.reasons, /Refused with 429: budget budget:key:\S+ could not fit/);
  });

  test("client disconnect mid-stream", async () => {
    const r = await row("disconnect");
    expect(r).toMatchObject({ status: "client_disconnected", provider: "slow", model: "m" });
    expect(r.ttft_ms).toBeGreaterThan(0);
    expect(await types("disconnect")).toEqual(expect.arrayContaining(["request.received", "route.selected", "request.completed"]));
    expect((await get("/api/v1/requests?days=1&status=client_disconnected")).body.data.map((x: { id: string }) => x.id)).toEqual([ids.disconnect]);
  });

  test("the list is newest first and pages with a cursor without gaps or repeats", async () => {
    const all = (await get("/api/v1/requests?days=1&limit=200")).body.data.map((r: { id: string; time: string }) => r.time);
    expect([...all].sort().reverse()).toEqual(all);
    const seen: string[] = [];
    let cursor = "";
    for (let i = 0; i < 20; i++) {
      const page = await get(`/api/v1/requests?days=1&limit=3${cursor ? `&cursor=${cursor}` : ""}`);
      seen.push(...page.body.data.map((r: { id: string }) => r.id));
      if (!page.body.next_cursor) break;
      cursor = page.body.next_cursor;
    }
    expect(seen.length).toBe(all.length);
    expect(new Set(seen).size).toBe(seen.length);
    expect((await get("/api/v1/requests?cursor=nope")).status).toBe(400);
  });
});

describe("explain after a config change", () => {
  test("deleting the matching override: explain reports the route would differ and names the history entry", async () => {
    expect((await admin("DELETE", `/api/v1/overrides/${overrideId}`)).status).toBe(200);
    await waitFor(() => !gw.snapshot.customerOverrides?.size, 3000, "override gone");
    const x = await explain("override");
    expect(x.route.level).toBe("customer_service"); // at its own version: unchanged
    expect(x.current.same).toBe(false);
    const change = x.current.changes.find((c: any) => c.section === "route");
    expect(change.entity).toEqual({ kind: "customer_override", id: overrideId });
    expect(change.history).toMatchObject({ type: "customer_override.deleted", kind: "customer_override", id: overrideId, actor: "admin" });
    expect(change.now).toMatchObject({ level: "global", ranking: ["up1/m", "up2/m"] });
    said(x.reasons, new RegExp(`Today the route decision would differ: customer_override \`${overrideId}\` was deleted at .* \\(config position ${change.history.position}`));
  });
});

describe("tenant isolation", () => {
  test("a virtual key lists, opens and explains only its own tenant's requests", async () => {
    const mine = await get("/api/v1/requests?days=1", keys.k2!);
    expect(mine.status).toBe(200);
    expect(mine.body.data.map((r: { id: string }) => r.id)).toEqual([ids.other_tenant]);
    expect((await get("/api/v1/requests?days=1&tenant=t1", keys.k2!)).status).toBe(403);
    expect((await get(`/api/v1/requests/${ids.other_tenant}`, keys.k2!)).status).toBe(200);
    expect((await get(`/api/v1/requests/${ids.other_tenant}/explain`, keys.k2!)).status).toBe(200);
    for (const path of [`/api/v1/requests/${ids.fallback}`, `/api/v1/requests/${ids.fallback}/explain`]) {
      const r = await get(path, keys.k2!);
      expect({ path, status: r.status, code: r.body.error.code }).toEqual({ path, status: 404, code: "request_not_found" });
    }
    // Unknown and other-tenant look the same.
    expect((await get(`/api/v1/requests/${crypto.randomUUID()}`, keys.k2!)).body.error.code).toBe("request_not_found");
    // The admin sees both tenants.
    const everyone = await get("/api/v1/requests?days=1&limit=200");
    expect(new Set(everyone.body.data.map((r: { tenant: string }) => r.tenant))).toEqual(new Set(["t1", "t2"]));
  });

  test("analyses: a virtual key gets its own tenant only (another tenant is a 403)", async () => {
    const k2 = (path: string, body?: unknown) => fetch(`${gw.url}${path}`, { method: body ? "POST" : "GET", headers: { "content-type": "application/json", authorization: `Bearer ${keys.k2}` }, ...(body ? { body: JSON.stringify(body) } : {}) });
    const opp = await k2("/api/v1/analysis/cache-opportunity?days=1");
    expect(opp.status).toBe(200);
    const oppBody = (await opp.json()) as any;
    expect(oppBody.tenant).toBe("t2");
    expect(oppBody.total.requests).toBe(1);
    expect((await k2("/api/v1/analysis/cache-opportunity?days=1&tenant=t1")).status).toBe(403);
    const rp = await k2("/api/v1/analysis/reprice", { candidates: [{ price: { input: 1, output: 1 } }] });
    expect(rp.status).toBe(200);
    const rpBody = (await rp.json()) as any;
    expect(rpBody.tenant).toBe("t2");
    expect(rpBody.breakdown.reduce((s: number, b: any) => s + b.requests, 0)).toBe(1);
    expect((await k2("/api/v1/analysis/reprice", { filter: { tenant: "t1" }, candidates: [{ price: { input: 1, output: 1 } }] })).status).toBe(403);
    // The admin's cache opportunity sees t1's repeat (the exact hit repeated the first).
    const adminOpp = await get("/api/v1/analysis/cache-opportunity?days=1&tenant=t1");
    expect(adminOpp.body.total.repeats).toBeGreaterThanOrEqual(1);
  });
});
