/** Admin API: config as events — providers, model aliases, prices; history and time travel. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { post, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const ADMIN = "test-admin-key-0123456789";
let gw: TestGateway;
const auth = { authorization: `Bearer ${ADMIN}` };

const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  fetch(`${gw.url}${path}`, { method, headers: { "content-type": "application/json", ...auth, ...headers }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

beforeAll(async () => {
  gw = await startTestGateway({ TOLLGATE_ADMIN_KEY: ADMIN, TOLLGATE_MASTER_KEY: "a master key for the admin tests" });
});
afterAll(() => gw.dispose());

describe("admin auth", () => {
  test("no key → 401 missing_admin_key; wrong key → 401 invalid_admin_key; X-Service-Key works", async () => {
    const none = await fetch(`${gw.url}/api/v1/providers`);
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe("missing_admin_key");
    const wrong = await fetch(`${gw.url}/api/v1/providers`, { headers: { authorization: "Bearer nope" } });
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe("invalid_admin_key");
    const svc = await fetch(`${gw.url}/api/v1/providers`, { headers: { "x-service-key": ADMIN } });
    expect(svc.status).toBe(200);
  });
});

describe("providers and model aliases through the config stream", () => {
  test("create a provider (key sealed, shown masked), alias it, and route a request through the alias", async () => {
    const created = await call("POST", "/api/v1/providers", { id: "echo2", kind: "echo", models: ["echo-two"], api_key: "sk-proj-supersecret-9876" });
    expect(created.status).toBe(201);
    const body = (await created.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ id: "echo2", kind: "echo", models: ["echo-two"], api_key: "sk-…9876", version: 1 });
    expect(JSON.stringify(body)).not.toContain("supersecret");
    expect(created.headers.get("etag")).toBe('"1"');

    const alias = await call("POST", "/api/v1/models", { id: "smart", provider: "echo2", model: "echo-two" });
    expect(alias.status).toBe(201);

    const res = await post(`${gw.url}/v1/chat/completions`, { model: "smart", messages: [{ role: "user", content: "via alias" }] });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-tollgate-provider")).toBe("echo2");

    // No secret anywhere in the config stream.
    const events = await gw.events("config");
    expect(JSON.stringify(events)).not.toContain("supersecret");
    // The failed sign-ins of the test above are audit facts on the same stream (issue 28).
    const changes = events.filter((e) => !e.type.startsWith("audit."));
    expect(changes.map((e) => e.type)).toEqual(["provider.created", "model_alias.created"]);
    expect(changes[0]!.actor).toBe("admin");

    // The request event carries the config version it was decided under.
    const done = (await gw.events()).find((e) => e.requestId === res.headers.get("x-request-id") && e.type === "request.completed");
    expect(done?.configVersion).toBe(events.length);
  });

  test("invalid commands get 400 with a code and append nothing", async () => {
    const before = (await gw.events("config")).length;
    const cases: Array<[string, string, unknown, string]> = [
      ["POST", "/api/v1/models", { id: "x", provider: "ghost", model: "m" }, "unknown_provider"],
      ["POST", "/api/v1/providers", { id: "bad", kind: "custom", models: [] }, "invalid_config"],
      ["POST", "/api/v1/providers", { id: "Bad Id", kind: "echo" }, "invalid_id"],
      ["POST", "/api/v1/prices", { id: "echo2/echo-two", input: -1, output: 1 }, "invalid_config"],
      ["PATCH", "/api/v1/providers/echo2", { priority: -3 }, "invalid_config"],
    ];
    for (const [method, path, body, code] of cases) {
      const res = await call(method, path, body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
    }
    expect((await gw.events("config")).length).toBe(before);
  });

  test("duplicates → 409 already_exists; unknown → 404; deleting a provider in use → 409", async () => {
    expect((await call("POST", "/api/v1/models", { id: "smart", provider: "echo2", model: "x" })).status).toBe(409);
    expect((await call("GET", "/api/v1/providers/ghost")).status).toBe(404);
    expect((await call("PATCH", "/api/v1/models/ghost", { model: "y" })).status).toBe(404);
    const inUse = await call("DELETE", "/api/v1/providers/echo2");
    expect(inUse.status).toBe(409);
    expect(((await inUse.json()) as { error: { code: string; used_by: string[] } }).error).toMatchObject({ code: "entity_in_use", used_by: ["smart"] });
  });

  test("optimistic concurrency: of two PATCHes with the same If-Match, exactly one wins, the other gets 409", async () => {
    const v = Number(((await (await call("GET", "/api/v1/models/smart")).json()) as { version: number }).version);
    const [a, b] = await Promise.all([
      call("PATCH", "/api/v1/models/smart", { model: "echo" }, { "if-match": `"${v}"` }),
      call("PATCH", "/api/v1/models/smart", { model: "echo-two-b" }, { "if-match": `"${v}"` }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const loser = a.status === 409 ? a : b;
    expect(((await loser.json()) as { error: { code: string } }).error.code).toBe("version_conflict");
  });

  test("history lists who changed what and when, filtered by entity; ?at= shows the config as it was", async () => {
    const t0 = new Date().toISOString();
    await Bun.sleep(5);
    expect((await call("POST", "/api/v1/prices", { id: "echo2/echo-two", input: 1, output: 2 })).status).toBe(201);
    expect((await call("DELETE", "/api/v1/models/smart")).status).toBe(200);
    const hist = (await (await call("GET", "/api/v1/admin/config/history?entity=model_alias&id=smart")).json()) as { data: Array<{ type: string; actor: string; time: string; version: number }> };
    expect(hist.data.map((h) => h.type)).toEqual(["model_alias.created", "model_alias.updated", "model_alias.deleted"]);
    expect(hist.data.every((h) => h.actor === "admin" && !Number.isNaN(Date.parse(h.time)))).toBe(true);
    const all = (await (await call("GET", "/api/v1/admin/config/history")).json()) as { data: Array<{ fields?: Record<string, unknown> }> };
    expect(JSON.stringify(all)).not.toContain("v1:"); // no ciphertext either: "(encrypted)"

    const then = (await (await call("GET", `/api/v1/admin/config?at=${encodeURIComponent(t0)}`)).json()) as { models: Array<{ id: string }>; prices: unknown[] };
    expect(then.models.map((m) => m.id)).toEqual(["smart"]);
    expect(then.prices).toEqual([]);
    const now = (await (await call("GET", "/api/v1/admin/config")).json()) as { models: unknown[]; prices: Array<{ id: string }> };
    expect(now.models).toEqual([]);
    expect(now.prices.map((p) => p.id)).toEqual(["echo2/echo-two"]);
    expect((await call("GET", "/api/v1/admin/config?at=yesterday")).status).toBe(400);
  });

  test("the deleted alias no longer routes: 404 model_not_found", async () => {
    const res = await post(`${gw.url}/v1/chat/completions`, { model: "smart", messages: [{ role: "user", content: "x" }] });
    expect(res.status).toBe(404);
  });

  test("the StateStore mirrors the config (hashes with a version)", async () => {
    expect(Number(await gw.store.get("config:version"))).toBe(gw.config.state.version);
    const providers = await gw.store.hgetall("config:provider");
    expect(Object.keys(providers)).toEqual(["echo2"]);
    expect(JSON.parse(providers.echo2!).version).toBe(1);
  });
});
