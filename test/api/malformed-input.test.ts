/**
 * Malformed input beyond the spec, on every kind of route: a 400 with a stable code and an
 * OpenAI-style body (Anthropic's on /v1/messages), never a 5xx; model calls are recorded as the
 * rejection they are, and admin routes append nothing to the config log.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const ADMIN = "malformed-admin-key-0123456789";
let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ TOLLGATE_ADMIN_KEY: ADMIN });
});
afterAll(() => gw.dispose());

const A = { authorization: `Bearer ${ADMIN}` };
const enc = (s: string) => new TextEncoder().encode(s);
const deep = (n: number) => "[".repeat(n) + "]".repeat(n);
const chatBody = (extra = "") => `{"model":"echo","messages":[{"role":"user","content":"hi"}]${extra}}`;

async function expectError(res: Response, status: number, code: string, param?: string | null) {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/json");
  const body = (await res.json()) as { error: { code: string; message: string; type: string; param?: string | null } };
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(5);
  if (param !== undefined) expect(body.error.param).toBe(param);
  return body;
}

const configEvents = async () => (await gw.events("config")).length;

describe("path parameters", () => {
  const cases: Array<[string, string]> = [
    ["not percent-encoding (%P…)", "/api/v1/breakers/%P1"],
    ["a truncated escape", "/api/v1/providers/abc%"],
    ["an escape that is not UTF-8", "/api/v1/admin/tenants/%C0%AF"],
    ["a truncated UTF-8 sequence", "/api/v1/admin/keys/%E0%A4%A"],
    ["a NUL byte", "/api/v1/models/a%00b"],
    ["a control character", "/api/v1/routes/a%0Ab"],
    ["a 300-character id", `/api/v1/prices/${"p".repeat(300)}`],
    ["a path over 4096 characters", `/api/v1/prices/${"p/".repeat(2100)}x`],
    ["the public provider health route", "/v1/providers/%ZZ/health"],
  ];
  for (const [name, path] of cases) {
    test(`${name} → 400 invalid_path (GET, PATCH and DELETE)`, async () => {
      const before = await configEvents();
      for (const method of ["GET", "PATCH", "DELETE"]) {
        const res = await fetch(`${gw.url}${path}`, { method, headers: { ...A, "content-type": "application/json" }, ...(method === "PATCH" ? { body: "{}" } : {}) });
        await expectError(res, 400, "invalid_path");
      }
      expect(await configEvents()).toBe(before);
    });
  }

  test("a well-formed escape is decoded once: %2525P1 is the id `%25P1`, which does not exist → 404", async () => {
    const body = await expectError(await fetch(`${gw.url}/api/v1/breakers/%2525P1`, { headers: A }), 404, "not_found");
    expect(body.error.message).toContain("%25P1");
  });

  test("an id that needs escaping (`/`, `%`) round-trips: create, get, delete", async () => {
    const id = "echo/100%-pure/mini";
    const created = await fetch(`${gw.url}/api/v1/prices`, { method: "POST", headers: { ...A, "content-type": "application/json" }, body: JSON.stringify({ id, input: 1, output: 2 }) });
    expect(created.status).toBe(201);
    const got = await fetch(`${gw.url}/api/v1/prices/${encodeURIComponent(id)}`, { headers: A });
    expect(got.status).toBe(200);
    expect(((await got.json()) as { id: string }).id).toBe(id);
    expect((await fetch(`${gw.url}/api/v1/prices/${encodeURIComponent(id)}`, { method: "DELETE", headers: A })).status).toBe(200);
    expect((await fetch(`${gw.url}/api/v1/prices/${encodeURIComponent(id)}`, { headers: A })).status).toBe(404);
  });
});

describe("query strings", () => {
  test("a repeated name → 400 invalid_query naming it, on admin, usage and model routes", async () => {
    await expectError(await fetch(`${gw.url}/api/v1/admin/config/history?limit=1&limit=2`, { headers: A }), 400, "invalid_query", "limit");
    await expectError(await fetch(`${gw.url}/api/v1/admin/keys?tenant_id=a&tenant_id=b`, { headers: A }), 400, "invalid_query", "tenant_id");
    await expectError(await fetch(`${gw.url}/api/v1/usage/summary?days=1&days=2`, { headers: A }), 400, "invalid_query", "days");
  });

  test("a value that is not percent-encoding, or holds a NUL → 400 invalid_query", async () => {
    await expectError(await fetch(`${gw.url}/api/v1/admin/config?at=%ZZ`, { headers: A }), 400, "invalid_query");
    await expectError(await fetch(`${gw.url}/api/v1/admin/keys?tenant_id=a%00`, { headers: A }), 400, "invalid_query");
  });

  test("wrong-typed values → 400 with the route's code and the parameter", async () => {
    await expectError(await fetch(`${gw.url}/api/v1/admin/config/history?limit=abc`, { headers: A }), 400, "invalid_request", "limit");
    await expectError(await fetch(`${gw.url}/api/v1/admin/config?at=yesterday`, { headers: A }), 400, "invalid_request", "at");
    await expectError(await fetch(`${gw.url}/api/v1/usage/summary?days=-3`, { headers: A }), 400, "invalid_parameter", "days");
  });

  test("on a model route the rejection is recorded as such", async () => {
    const res = await fetch(`${gw.url}/v1/chat/completions?x=1&x=2`, { method: "POST", headers: { "content-type": "application/json" }, body: chatBody() });
    await expectError(res, 400, "invalid_query");
    const id = res.headers.get("x-request-id");
    const done = (await gw.events()).find((e) => e.requestId === id && e.type === "request.completed");
    expect(done?.payload).toMatchObject({ status: "error", httpStatus: 400, errorCode: "invalid_query" });
  });
});

describe("bodies", () => {
  const bodies: Array<{ name: string; body: string | Uint8Array; type?: string; code: string; status?: number }> = [
    { name: "JSON nested 10,000 levels deep", body: deep(10_000), code: "json_too_deep" },
    { name: "a 10,000-deep value inside a valid request", body: chatBody(`,"metadata":${deep(10_000)}`), code: "json_too_deep" },
    { name: "a whole number beyond 2^53", body: chatBody(`,"max_tokens":9007199254740993`), code: "number_out_of_range" },
    { name: "a number that overflows to Infinity", body: chatBody(`,"temperature":1e400`), code: "number_out_of_range" },
    { name: "invalid UTF-8", body: new Uint8Array([...enc(chatBody().slice(0, -3)), 0xc3, 0x28, ...enc("]}")]), code: "invalid_encoding" },
    { name: "a lone continuation byte", body: new Uint8Array([...enc('{"model":"'), 0x80, ...enc('"}')]), code: "invalid_encoding" },
    { name: "a NUL escaped in a string", body: chatBody().replace('"hi"', '"h\\u0000i"'), code: "invalid_characters" },
    { name: "a raw NUL byte", body: chatBody().replace('"hi"', '"h\u0000i"'), code: "invalid_characters" },
    { name: "binary labelled as JSON", body: new Uint8Array([0xff, 0xfe, 0x00, 0x01]), code: "invalid_encoding" },
    // Every body must be JSON: anything else is refused before it is read (issue 22).
    { name: "XML labelled as XML", body: "<chat/>", type: "application/xml", code: "unsupported_media_type", status: 415 },
    { name: "binary labelled as octet-stream", body: new Uint8Array([0xff, 0xfe, 0x00, 0x01]), type: "application/octet-stream", code: "unsupported_media_type", status: 415 },
    { name: "multipart without a boundary", body: "model=echo", type: "multipart/form-data", code: "unsupported_media_type", status: 415 },
    { name: "a form with the fields as form fields", body: "--b\r\ncontent-disposition: form-data; name=\"model\"\r\n\r\necho\r\n--b--\r\n", type: "multipart/form-data; boundary=b", code: "unsupported_media_type", status: 415 },
  ];
  for (const c of bodies) {
    const status = c.status ?? 400;
    test(`POST /v1/chat/completions with ${c.name} → ${status} ${c.code}, recorded`, async () => {
      const res = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": c.type ?? "application/json" }, body: c.body });
      await expectError(res, status, c.code);
      const id = res.headers.get("x-request-id");
      const done = (await gw.events()).find((e) => e.requestId === id && e.type === "request.completed");
      expect(done?.payload).toMatchObject({ status: "error", httpStatus: status, errorCode: c.code });
    });
  }

  test("Anthropic's route answers the same rejections in Anthropic's error shape", async () => {
    const res = await fetch(`${gw.url}/v1/messages`, { method: "POST", headers: { "content-type": "application/json" }, body: deep(10_000) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { type: string; error: { code: string } })).toMatchObject({ type: "error", error: { code: "json_too_deep" } });
  });

  test("admin routes refuse them too, and append nothing to the config log", async () => {
    const before = await configEvents();
    const post = (path: string, body: string | Uint8Array) => fetch(`${gw.url}${path}`, { method: "POST", headers: { ...A, "content-type": "application/json" }, body });
    await expectError(await post("/api/v1/admin/tenants", `{"name":"x","extra":${deep(10_000)}}`), 400, "json_too_deep");
    await expectError(await post("/api/v1/admin/tenants", `{"name":"x","rpm_limit":123456789012345678901}`), 400, "number_out_of_range", "rpm_limit");
    await expectError(await post("/api/v1/providers", `{"id":"a\\u0000b","kind":"openai"}`), 400, "invalid_characters");
    await expectError(await post("/api/v1/prices", new Uint8Array([...enc('{"id":"'), 0xff, ...enc('"}')])), 400, "invalid_encoding");
    await expectError(await post("/api/v1/providers/echo/test", '"a string"'), 400, "invalid_request");
    await expectError(await post("/api/v1/admin/keys/nope/rotate", "[1,2]"), 400, "invalid_request");
    expect(await configEvents()).toBe(before);
  });

  test("the numbers just inside the range pass", async () => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: chatBody(`,"max_tokens":9007199254740991,"temperature":1.5`) });
    expect(res.status).toBe(200);
  });
});

describe("methods", () => {
  test("a known path with a method it does not serve → 405 method_not_allowed with Allow; an unknown path stays 404", async () => {
    const res = await fetch(`${gw.url}/v1/models`, { method: "PUT" });
    await expectError(res, 405, "method_not_allowed");
    expect(res.headers.get("allow")).toBe("GET, OPTIONS");
    const item = await fetch(`${gw.url}/api/v1/providers/x`, { method: "POST", headers: A });
    expect(item.status).toBe(405);
    expect(item.headers.get("allow")).toBe("DELETE, GET, OPTIONS, PATCH");
    await expectError(await fetch(`${gw.url}/v1/nope`, { method: "PUT" }), 404, "route_not_found");
  });

  test("after all of that the gateway still answers", async () => {
    expect((await fetch(`${gw.url}/health`)).status).toBe(200);
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: chatBody() });
    expect(res.status).toBe(200);
  });
});
