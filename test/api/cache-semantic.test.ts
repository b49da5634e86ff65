/**
 * The semantic tier end to end (in-process StateStore), against a fake OpenAI embeddings upstream
 * with controlled vectors and the echo provider for chat (its answer is the question it got, so a
 * semantic hit visibly answers with the EARLIER wording).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { type FakeEmbeddings, startFakeEmbeddings, towards } from "../fakes/embeddings-upstream.ts";
import { post, startTestGateway, type TestGateway, waitFor } from "../helpers/gateway.ts";

const ADMIN = "semantic-test-admin-key-0123456789";
const DIMS = 8;
let gw: TestGateway;
let fake: FakeEmbeddings;
let keyA: string;
let keyB: string;

const admin = (method: string, path: string, body?: unknown) =>
  fetch(`${gw.url}${path}`, { method, headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
const semantic = { enabled: true, embeddings_model: "emb/emb-1", threshold: 0.95, max_messages: 4 };
const ask = (key: string, content: string, extra: Record<string, unknown> = {}) =>
  post(`${gw.url}/v1/chat/completions`, { model: "echo", temperature: 0, messages: [{ role: "user", content }], ...extra }, { authorization: `Bearer ${key}` });
/** The answer is written after the response: wait until a semantic lookup can find it. */
const settle = () => Bun.sleep(150);
let axis = 0;
/** Two fresh axes per test so vectors of different tests never meet. */
const nextAxes = () => {
  axis = (axis + 2) % DIMS;
  return [axis, axis + 1] as const;
};

beforeAll(async () => {
  fake = startFakeEmbeddings({ dims: DIMS });
  gw = await startTestGateway({ TOLLGATE_ADMIN_KEY: ADMIN });
  expect((await admin("POST", "/api/v1/providers", { id: "emb", kind: "custom", base_url: fake.url, models: ["emb-1"] })).status).toBe(201);
  expect((await admin("POST", "/api/v1/prices", { id: "emb/emb-1", input: 100, output: 0 })).status).toBe(201);
  expect((await admin("POST", "/api/v1/providers", { id: "claude", kind: "anthropic", base_url: "http://127.0.0.1:9", models: ["c"] })).status).toBe(201);
  for (const t of ["a", "b"]) expect((await admin("POST", "/api/v1/admin/tenants", { id: t, name: t })).status).toBe(201);
  keyA = ((await (await admin("POST", "/api/v1/admin/keys", { tenant_id: "a" })).json()) as { key: string }).key;
  keyB = ((await (await admin("POST", "/api/v1/admin/keys", { tenant_id: "b" })).json()) as { key: string }).key;
  for (const t of ["a", "b"]) expect((await admin("PUT", `/api/v1/admin/tenants/${t}/cache`, { semantic })).status).toBe(200);
  await waitFor(() => gw.snapshot.cache?.tenants.b?.semantic?.enabled, 3000, "the policies");
});
afterAll(async () => {
  await gw.dispose();
  await fake.close();
});
beforeEach(() => fake.fail(null));

describe("semantic tier: configuration", () => {
  test("the embeddings model must resolve to a target that offers embeddings (400 otherwise)", async () => {
    for (const [model, why] of [["claude/c", "anthropic"], ["nope/x", "unknown provider"], ["just-a-name", "neither"]] as const) {
      const r = await admin("PUT", "/api/v1/admin/cache", { semantic: { enabled: true, embeddings_model: model } });
      expect(r.status).toBe(400);
      const e = ((await r.json()) as any).error;
      expect([e.code, e.param, e.message.includes(why)]).toEqual(["embeddings_model_invalid", "semantic.embeddings_model", true]);
    }
    // Left out: the built-in local embedder (test/api/cache-semantic-local.test.ts).
    const local = await admin("PUT", "/api/v1/admin/cache", { semantic: { enabled: true } });
    expect(local.status).toBe(200);
    expect(((await local.json()) as any).effective.semantic.embeddings_model).toBe("local");
    expect((await admin("PUT", "/api/v1/admin/cache", { semantic: { enabled: false } })).status).toBe(200); // off needs no model
    const bad = await admin("PUT", "/api/v1/admin/cache", { semantic: { enabled: true, embeddings_model: "emb/emb-1", threshold: 1.5 } });
    expect(bad.status).toBe(400);
  });
});

describe("semantic tier: lookups", () => {
  test("just above the threshold is a semantic hit (with the similarity); just below is a miss", async () => {
    const [i, j] = nextAxes();
    const q1 = `What's your refund policy? ${crypto.randomUUID()}`;
    const q2 = `How do I get a refund? ${crypto.randomUUID()}`;
    const q3 = `Can I return an item? ${crypto.randomUUID()}`;
    fake.set(`user: ${q1}`, towards(DIMS, i, j, 1));
    fake.set(`user: ${q2}`, towards(DIMS, i, j, 0.951));
    fake.set(`user: ${q3}`, towards(DIMS, i, j, 0.949));
    const first = await ask(keyA, q1);
    expect(first.headers.get("x-tollgate-cache")).toBe("miss");
    await settle();
    const above = await ask(keyA, q2);
    expect(above.headers.get("x-tollgate-cache")).toBe("semantic-hit");
    expect(Number(above.headers.get("x-tollgate-cache-similarity"))).toBeCloseTo(0.951, 3);
    expect(((await above.json()) as any).choices[0].message.content).toBe(q1); // the earlier answer
    // Around the default threshold (0.97): its own bucket in the stats (checked below).
    const q4 = `Refunds: how? ${crypto.randomUUID()}`;
    fake.set(`user: ${q4}`, towards(DIMS, i, j, 0.975));
    const near = await ask(keyA, q4);
    expect(near.headers.get("x-tollgate-cache")).toBe("semantic-hit");
    expect(Number(near.headers.get("x-tollgate-cache-similarity"))).toBeCloseTo(0.975, 3);
    const below = await ask(keyA, q3);
    expect(below.headers.get("x-tollgate-cache")).toBe("miss");
    expect(Number(below.headers.get("x-tollgate-cache-similarity"))).toBeCloseTo(0.949, 3);
    expect(((await below.json()) as any).choices[0].message.content).toBe(q3);
  });

  test("scope `user`: a similar question of another end customer never gets the first customer's answer (issue 22)", async () => {
    expect((await admin("PUT", "/api/v1/admin/tenants/a/cache", { semantic, scope: "user" })).status).toBe(200);
    await waitFor(() => gw.snapshot.cache?.tenants.a?.scope === "user", 3000, "the policy");
    try {
      const [i, j] = nextAxes();
      const q = `My account number is 4711, what is my balance? ${crypto.randomUUID()}`;
      const p = `What's my balance? ${crypto.randomUUID()}`;
      fake.set(`user: ${q}`, towards(DIMS, i, j, 1));
      fake.set(`user: ${p}`, towards(DIMS, i, j, 0.99));
      await ask(keyA, q, { user: "customer-1" });
      await settle();
      const same = await ask(keyA, p, { user: "customer-1" });
      expect(same.headers.get("x-tollgate-cache")).toBe("semantic-hit");
      const other = await ask(keyA, p, { user: "customer-2" });
      expect(other.headers.get("x-tollgate-cache")).toBe("miss");
      expect(((await other.json()) as any).choices[0].message.content).toBe(p); // its own answer, not customer-1's
    } finally {
      expect((await admin("PUT", "/api/v1/admin/tenants/a/cache", { semantic, scope: "tenant" })).status).toBe(200);
      await waitFor(() => gw.snapshot.cache?.tenants.a?.scope === "tenant", 3000, "the policy back");
    }
  });

  test("everything but the wording must match: tenant, model, system prompt, tools", async () => {
    const [i, j] = nextAxes();
    const q = `Where is my order? ${crypto.randomUUID()}`;
    const p = `Where's my package? ${crypto.randomUUID()}`;
    fake.set(`user: ${q}`, towards(DIMS, i, j, 1));
    fake.set(`user: ${p}`, towards(DIMS, i, j, 0.99));
    await ask(keyA, q);
    await settle();
    expect((await ask(keyA, p)).headers.get("x-tollgate-cache")).toBe("semantic-hit");
    expect((await ask(keyB, p)).headers.get("x-tollgate-cache")).toBe("miss"); // another tenant
    expect((await ask(keyA, p, { model: "echo/echo" })).headers.get("x-tollgate-cache")).toBe("miss"); // another model
    const sys = await post(`${gw.url}/v1/chat/completions`, { model: "echo", temperature: 0, messages: [{ role: "system", content: "Be formal." }, { role: "user", content: p }] }, { authorization: `Bearer ${keyA}` });
    expect(sys.headers.get("x-tollgate-cache")).toBe("miss"); // another system prompt
    expect((await ask(keyA, p, { tools: [{ type: "function", function: { name: "track", parameters: { type: "object" } } }] })).headers.get("x-tollgate-cache")).toBe("miss");
    expect((await ask(keyA, p, { max_tokens: 50 })).headers.get("x-tollgate-cache")).toBe("miss"); // another sampling parameter
  });

  test("conversations longer than max_messages are not looked up semantically", async () => {
    const [i, j] = nextAxes();
    const turns = (last: string) => [{ role: "user", content: "a" }, { role: "assistant", content: "b" }, { role: "user", content: "c" }, { role: "assistant", content: "d" }, { role: "user", content: last }];
    const before = fake.inputs.length;
    const r = await post(`${gw.url}/v1/chat/completions`, { model: "echo", temperature: 0, messages: turns(`long ${crypto.randomUUID()}`) }, { authorization: `Bearer ${keyA}` });
    expect(r.headers.get("x-tollgate-cache")).toBe("miss");
    expect(r.headers.get("x-tollgate-cache-similarity")).toBeNull();
    expect(fake.inputs.length).toBe(before); // not embedded at all
    expect(i + j).toBeGreaterThan(0);
  });

  test("TTL expiry and purge end a semantic entry", async () => {
    const [i, j] = nextAxes();
    expect((await admin("PUT", "/api/v1/admin/tenants/b/cache", { semantic, ttl_seconds: 1 })).status).toBe(200);
    await waitFor(() => gw.snapshot.cache?.tenants.b?.ttl_seconds === 1, 3000, "the policy");
    const q = `ttl question ${crypto.randomUUID()}`;
    const p = `ttl paraphrase ${crypto.randomUUID()}`;
    const p2 = `ttl paraphrase two ${crypto.randomUUID()}`;
    fake.set(`user: ${q}`, towards(DIMS, i, j, 1));
    fake.set(`user: ${p}`, towards(DIMS, i, j, 0.99));
    fake.set(`user: ${p2}`, towards(DIMS, i, j, 0.98));
    await ask(keyB, q);
    await settle();
    expect((await ask(keyB, p)).headers.get("x-tollgate-cache")).toBe("semantic-hit");
    await Bun.sleep(1100);
    expect((await ask(keyB, p2)).headers.get("x-tollgate-cache")).toBe("miss"); // expired (and this answer is stored)
    expect((await admin("PUT", "/api/v1/admin/tenants/b/cache", { semantic })).status).toBe(200);
    await waitFor(() => gw.snapshot.cache?.tenants.b?.ttl_seconds === undefined, 3000, "the policy");
    await ask(keyB, q);
    await settle();
    expect((await ask(keyB, p)).headers.get("x-tollgate-cache")).not.toBe("miss");
    const purged = (await (await fetch(`${gw.url}/v1/cache`, { method: "DELETE", headers: { authorization: `Bearer ${keyB}` } })).json()) as { deleted: number };
    expect(purged.deleted).toBeGreaterThan(0);
    const after = await ask(keyB, `ttl paraphrase three ${crypto.randomUUID()}`);
    expect(after.headers.get("x-tollgate-cache")).toBe("miss");
  });

  test("embeddings down or slow: misses, no errors, counted", async () => {
    const q = `down ${crypto.randomUUID()}`;
    fake.fail("500");
    const r = await ask(keyA, q);
    expect(r.status).toBe(200);
    expect(r.headers.get("x-tollgate-cache")).toBe("miss");
    expect(((await r.json()) as any).choices[0].message.content).toBe(q);
    const stats = (await (await fetch(`${gw.url}/v1/cache/stats`, { headers: { authorization: `Bearer ${keyA}` } })).json()) as any;
    expect(stats.semantic.embedding_errors).toBeGreaterThan(0);
    expect(stats.semantic.misses).toBeGreaterThan(0);
    expect(stats.semantic.hits).toBeGreaterThan(0);
    expect(stats.semantic.similarity["ge_0.95"]).toBeGreaterThan(0);
    expect(stats.semantic.similarity["ge_0.97"]).toBeGreaterThan(0);
    const events = (await gw.events()).filter((e) => e.requestId === r.headers.get("x-request-id"));
    expect(events.find((e) => e.type === "cache.semantic_miss")?.payload.reason).toBe("embeddings_failed");
  });

  test("an embeddings call slower than the timeout (2 s) is a miss, and the request goes on", async () => {
    fake.fail("hang");
    const q = `slow ${crypto.randomUUID()}`;
    const r = await ask(keyA, q);
    expect(r.status).toBe(200);
    expect(r.headers.get("x-tollgate-cache")).toBe("miss");
    expect(((await r.json()) as any).choices[0].message.content).toBe(q);
    const events = (await gw.events()).filter((e) => e.requestId === r.headers.get("x-request-id"));
    expect(events.find((e) => e.type === "cache.semantic_miss")?.payload).toMatchObject({ reason: "embeddings_failed", detail: "timeout" });
  }, 20_000);

  test("the embeddings call's cost is recorded on the request that caused it", async () => {
    const [i, j] = nextAxes();
    const q = `cost question ${crypto.randomUUID()}`;
    fake.set(`user: ${q}`, towards(DIMS, i, j, 1));
    const r = await ask(keyA, q);
    const done = (await gw.events()).find((e) => e.requestId === r.headers.get("x-request-id") && e.type === "request.completed")!;
    // echo has no price: the whole cost is the embedding: ceil(len/4) tokens at $100 per 1M.
    const tokens = Math.ceil(`user: ${q}`.length / 4);
    expect(done.payload.costUsd).toBe(Math.round(tokens * 100) / 1e6);
  });
});
