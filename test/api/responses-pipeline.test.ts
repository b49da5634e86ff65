/**
 * /v1/responses through the whole pipeline: tenant isolation of stored responses (GET,
 * DELETE, input_items and previous_response_id with another tenant's id are 404), the
 * per-tenant purge, guardrail restore across a placeholder split between
 * `response.output_text.delta` events, and a cache hit replayed as a valid Responses stream.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ResponsesStore } from "../../src/api/responses-store.ts";
import { MemoryStateStore } from "../../src/stores/memory-state-store.ts";
import { deriveKey } from "../../src/config/secrets.ts";
import { type FakeOpenAIResponses, startFakeOpenAIResponses } from "../fakes/openai-responses-upstream.ts";
import { type FakeEmbeddings, startFakeEmbeddings, towards } from "../fakes/embeddings-upstream.ts";
import { startTestGateway, type TestGateway, waitFor, writeConfigFile } from "../helpers/gateway.ts";
import { openaiSpecValidators, schemaErrors } from "../helpers/openai-spec.ts";

const ADMIN = "responses-admin-key-0123456789";
let gw: TestGateway;
let oai: FakeOpenAIResponses;
const keys: Record<string, string> = {};
const spec = openaiSpecValidators();

const admin = (method: string, path: string, body?: unknown) =>
  fetch(`${gw.url}${path}`, { method, headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
const as = (tenant: string, method: string, path: string, body?: unknown) =>
  fetch(`${gw.url}${path}`, { method, headers: { "content-type": "application/json", authorization: `Bearer ${keys[tenant]}` }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

beforeAll(async () => {
  oai = startFakeOpenAIResponses();
  process.env.RESP_PIPE_OAI_KEY = "sk-oai-test";
  const file = await writeConfigFile(["providers:", "  - id: oai", "    kind: openai", `    base_url: ${oai.url}`, "    api_key_env: RESP_PIPE_OAI_KEY", "    models: [gpt-up]"]);
  gw = await startTestGateway({ TOLLGATE_ADMIN_KEY: ADMIN, TOLLGATE_CONFIG: file });
  for (const tenant of ["acme", "globex"]) {
    expect((await admin("POST", "/api/v1/admin/tenants", { id: tenant, name: tenant })).status).toBe(201);
    const res = await admin("POST", "/api/v1/admin/keys", { tenant_id: tenant, name: "ci" });
    expect(res.status).toBe(201);
    keys[tenant] = String(((await res.json()) as any).key);
  }
});
afterAll(async () => {
  await gw.dispose();
  await oai.close();
  await emb?.close();
});
let emb: FakeEmbeddings | undefined;

async function sse(res: Response): Promise<any[]> {
  expect(res.status).toBe(200);
  const events = (await res.text()).split("\n\n").filter((b) => b.includes("data: ")).map((b) => JSON.parse(b.slice(b.indexOf("data: ") + 6)));
  events.forEach((e, i) => {
    expect(e.sequence_number).toBe(i);
    expect(schemaErrors(spec.streamEvent, e)).toBe("");
  });
  return events;
}
const deltas = (events: any[]) => events.filter((e) => e.type === "response.output_text.delta").map((e) => e.delta);

describe("stored responses are per tenant", () => {
  test("another tenant's id is 404 on GET, input_items, DELETE and previous_response_id; the owner still has it", async () => {
    const created = await as("acme", "POST", "/v1/responses", { model: "echo", input: "acme's secret plan" });
    expect(created.status).toBe(200);
    const id = ((await created.json()) as any).id as string;
    for (const [method, path, body] of [
      ["GET", `/v1/responses/${id}`],
      ["GET", `/v1/responses/${id}/input_items`],
      ["DELETE", `/v1/responses/${id}`],
      ["POST", "/v1/responses", { model: "echo", input: "continue", previous_response_id: id }],
    ] as const) {
      const res = await as("globex", method, path, body);
      expect(res.status).toBe(404);
      expect(((await res.json()) as any).error.code).toBe("response_not_found");
    }
    const own = await as("acme", "GET", `/v1/responses/${id}`);
    expect(own.status).toBe(200);
    expect(((await own.json()) as any).output[0].content[0].text).toBe("acme's secret plan");
    // without a key: 401, not the response
    expect((await fetch(`${gw.url}/v1/responses/${id}`)).status).toBe(401);

    const next = await as("acme", "POST", "/v1/responses", { model: "echo", input: "continue", previous_response_id: id });
    expect(next.status).toBe(200);
    expect((await as("acme", "DELETE", `/v1/responses/${id}`)).status).toBe(200);
    expect((await as("acme", "GET", `/v1/responses/${id}`)).status).toBe(404);
    expect((await as("acme", "DELETE", `/v1/responses/${id}`)).status).toBe(404);
  });

  test("store: false keeps nothing; the admin purge erases one tenant's responses only", async () => {
    const unstored = (await (await as("acme", "POST", "/v1/responses", { model: "echo", input: "x", store: false })).json()) as any;
    expect(unstored.store).toBe(false);
    expect((await as("acme", "GET", `/v1/responses/${unstored.id}`)).status).toBe(404);

    const a = (await (await as("acme", "POST", "/v1/responses", { model: "echo", input: "a" })).json()) as any;
    const g = (await (await as("globex", "POST", "/v1/responses", { model: "echo", input: "g" })).json()) as any;
    expect((await as("acme", "DELETE", "/api/v1/admin/tenants/acme/responses")).status).toBe(401); // a virtual key is not the admin key
    const purge = await admin("DELETE", "/api/v1/admin/tenants/acme/responses");
    expect(purge.status).toBe(200);
    expect(((await purge.json()) as any).purged).toBeGreaterThanOrEqual(1);
    expect((await as("acme", "GET", `/v1/responses/${a.id}`)).status).toBe(404);
    expect((await as("globex", "GET", `/v1/responses/${g.id}`)).status).toBe(200);
  });

  test("with a master key, records are sealed and bound to their key (a copy under another tenant does not open)", async () => {
    const state = new MemoryStateStore();
    const store = new ResponsesStore(state, 60_000, deriveKey("responses-test-master-key-0123"));
    const response = { id: "resp_s", object: "response", output: [{ type: "message", content: [{ type: "output_text", text: "secret text" }] }] } as never;
    await store.put("acme", { response, input: [], history: [] });
    const raw = (await state.get("responses:acme:resp_s"))!;
    expect(raw.startsWith("s1:")).toBe(true);
    expect(raw).not.toContain("secret text");
    expect((await store.get("acme", "resp_s"))?.response.id).toBe("resp_s");
    await state.set("responses:globex:resp_s", raw);
    expect(await store.get("globex", "resp_s")).toBeNull();
    expect(await new ResponsesStore(state, 60_000, deriveKey("another-master-key-0123456789")).get("acme", "resp_s")).toBeNull();
  });

  test("the store's TTL expires a response", async () => {
    const store = new ResponsesStore(new MemoryStateStore(), 40);
    const response = { id: "resp_t", object: "response" } as never;
    await store.put("acme", { response, input: [], history: [] });
    expect(await store.get("acme", "resp_t")).not.toBeNull();
    expect(await store.get("globex", "resp_t")).toBeNull();
    await Bun.sleep(80);
    expect(await store.get("acme", "resp_t")).toBeNull();
  });
});

describe("pipeline steps on /v1/responses", () => {
  test("the OpenAPI document has the new routes, each with its security and error responses", async () => {
    const doc = (await (await fetch(`${gw.url}/swagger/json`)).json()) as any;
    const ops: Array<[string, string, string]> = [
      ["/v1/responses", "post", "virtualKey"],
      ["/v1/responses/{id}", "get", "virtualKey"],
      ["/v1/responses/{id}", "delete", "virtualKey"],
      ["/v1/responses/{id}/input_items", "get", "virtualKey"],
      ["/api/v1/admin/tenants/{id}/responses", "delete", "adminKey"],
    ];
    for (const [path, method, scheme] of ops) {
      const op = doc.paths[path]?.[method];
      expect(op).toBeDefined();
      expect(op.security.some((s: Record<string, unknown>) => scheme in s)).toBe(true);
      expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(["200", "401"]));
    }
    expect(Object.keys(doc.paths["/v1/responses/{id}"].get.responses)).toContain("404");
  });

  test("guardrail restore: a placeholder split across output_text.delta events comes back whole; the upstream never sees the e-mail", async () => {
    expect((await admin("PUT", "/api/v1/admin/tenants/acme/guardrails", { pii: { action: "restore", types: ["email"] } })).status).toBeLessThan(300);
    oai.reset();
    const text = "write to dave@example.com today ✓";
    const events = await sse(await as("acme", "POST", "/v1/responses", { model: "gpt-up", input: text, stream: true }));
    expect(JSON.stringify(oai.requests[0]!.body)).not.toContain("dave@example.com");
    const upstreamText = oai.requests[0]!.body.input[0].content as string;
    expect(upstreamText).toMatch(/\[EMAIL_1\]/);
    expect(deltas(events).join("")).toBe(text);
    expect(deltas(events).some((d: string) => d.includes("[") && !d.includes("]"))).toBe(false); // no half placeholder leaks
    expect(events.at(-1).response.output[0].content[0].text).toBe(text);
  });

  test("routing: a failing Responses upstream falls back to a translated target (echo) in the same request", async () => {
    const route = await admin("POST", "/api/v1/routes", { id: "resp-smart", strategy: "priority", targets: [{ provider: "oai", model: "gpt-up", priority: 0 }, { provider: "echo", model: "echo", priority: 1 }], max_retries: 0 });
    expect(route.status).toBe(201);
    await waitFor(async () => (await as("acme", "POST", "/v1/responses", { model: "resp-smart", input: "probe", store: false })).status === 200, 5000, "the route");
    oai.reset();
    oai.enqueue({ kind: "error", status: 500, message: "boom" });
    const res = await as("acme", "POST", "/v1/responses", { model: "resp-smart", input: "fall back ✓", store: false });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-tollgate-provider")).toBe("echo");
    expect(((await res.json()) as any).output[0].content[0].text).toBe("fall back ✓");
    expect(oai.requests.length).toBe(1);
  });

  test("routing: targets that cannot honour a native-only field are skipped, not tried (no 400 while a target can serve)", async () => {
    const route = await admin("POST", "/api/v1/routes", { id: "resp-echo-first", strategy: "priority", targets: [{ provider: "echo", model: "echo", priority: 0 }, { provider: "oai", model: "gpt-up", priority: 1 }], max_retries: 0 });
    expect(route.status).toBe(201);
    await waitFor(async () => (await as("acme", "POST", "/v1/responses", { model: "resp-echo-first", input: "probe", store: false })).status === 200, 5000, "the route");
    oai.reset();
    const served = await as("acme", "POST", "/v1/responses", { model: "resp-echo-first", input: "native only", top_logprobs: 2, store: false });
    expect(served.status).toBe(200);
    expect(served.headers.get("x-tollgate-provider")).toBe("oai");
    expect(oai.requests[0]!.body.top_logprobs).toBe(2);
    // the native target fails: the client sees its failure, not a 400 about echo
    oai.enqueue({ kind: "error", status: 500, message: "boom" });
    const failed = await as("acme", "POST", "/v1/responses", { model: "resp-echo-first", input: "native only", top_logprobs: 2, store: false });
    expect(failed.status).toBeGreaterThanOrEqual(500);
    // only echo can be asked: 400 naming the field
    const refused = await as("acme", "POST", "/v1/responses", { model: "echo", input: "x", top_logprobs: 2 });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as any).error.param).toBe("top_logprobs");
  });

  test("limits apply: a key with rpm_limit 1 gets 429 on its second /v1/responses call", async () => {
    const res = await admin("POST", "/api/v1/admin/keys", { tenant_id: "globex", name: "tight", rpm_limit: 1 });
    const key = String(((await res.json()) as any).key);
    const call = () => fetch(`${gw.url}/v1/responses`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${key}` }, body: JSON.stringify({ model: "echo", input: "x", store: false }) });
    expect((await call()).status).toBe(200);
    const limited = await call();
    expect(limited.status).toBe(429);
    expect(((await limited.json()) as any).error.code).toMatch(/rate_limit/);
  });

  test("GenAI client metrics name the operation `chat` for /v1/responses calls", async () => {
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/gen_ai_client_operation_duration_seconds_count\{[^}]*gen_ai_operation_name="chat"[^}]*gen_ai_request_model="gpt-up"/);
  });

  test("semantic cache: a paraphrase is a semantic hit, replayed as a Responses stream with the earlier answer", async () => {
    emb = startFakeEmbeddings({ dims: 8 });
    expect((await admin("POST", "/api/v1/providers", { id: "emb", kind: "custom", base_url: emb.url, models: ["emb-1"] })).status).toBe(201);
    expect((await admin("POST", "/api/v1/prices", { id: "emb/emb-1", input: 100, output: 0 })).status).toBe(201);
    expect((await admin("PUT", "/api/v1/admin/tenants/acme/cache", { semantic: { enabled: true, embeddings_model: "emb/emb-1", threshold: 0.95, max_messages: 4 } })).status).toBe(200);
    await waitFor(() => gw.snapshot.cache?.tenants.acme?.semantic?.enabled, 3000, "the policy");
    const q = `What's your refund policy? ${crypto.randomUUID()}`;
    const p = `How do I get a refund? ${crypto.randomUUID()}`;
    emb.set(`user: ${q}`, towards(8, 0, 1, 1));
    emb.set(`user: ${p}`, towards(8, 0, 1, 0.99));
    expect((await as("acme", "POST", "/v1/responses", { model: "echo", input: q, temperature: 0, store: false })).headers.get("x-tollgate-cache")).toBe("miss");
    await Bun.sleep(150); // the answer is written after the response
    const hit = await as("acme", "POST", "/v1/responses", { model: "echo", input: p, temperature: 0, stream: true, store: false });
    expect(hit.headers.get("x-tollgate-cache")).toBe("semantic-hit");
    const events = await sse(hit);
    expect(deltas(events).join("")).toBe(q);
  });

  test("a cache hit is replayed as a valid Responses stream with the exact text", async () => {
    const input = `cache me ✓ ${crypto.randomUUID()}`;
    const first = await as("globex", "POST", "/v1/responses", { model: "echo", input, temperature: 0 });
    expect(first.headers.get("x-tollgate-cache")).toBe("miss");
    const hit = await as("globex", "POST", "/v1/responses", { model: "echo", input, temperature: 0, stream: true });
    expect(hit.headers.get("x-tollgate-cache")).toBe("hit");
    const events = await sse(hit);
    expect(deltas(events).join("")).toBe(input);
    expect(events.at(-1).type).toBe("response.completed");
    const done = await waitFor(async () => (await gw.events()).findLast((e) => e.type === "request.completed" && (e.payload as any).endpoint === "responses" && (e.payload as any).cached === true), 5000, "cached request.completed");
    expect(done.tenant).toBe("globex");
  });
});
