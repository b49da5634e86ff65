/** Bad input gets a 4xx with a stable code and an OpenAI-style body, is recorded, and harms nothing. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { post, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

let gw: TestGateway;
const LIMIT = 64 * 1024;

beforeAll(async () => {
  gw = await startTestGateway({ TOLLGATE_MAX_BODY_BYTES: String(LIMIT) });
});
afterAll(() => gw.dispose());

const ok = { model: "echo", messages: [{ role: "user", content: "hi" }] };

const cases: Array<{ name: string; body: unknown; headers?: Record<string, string>; status: number; code: string; param?: string | null }> = [
  { name: "malformed JSON", body: '{"model": "echo", "messages": [', status: 400, code: "invalid_json" },
  { name: "an empty body", body: "", status: 400, code: "invalid_json" },
  { name: "JSON labelled as a form (curl -d without a content type) is refused", body: JSON.stringify(ok), headers: { "content-type": "application/x-www-form-urlencoded" }, status: 415, code: "unsupported_media_type" },
  { name: "bad JSON", body: "{oops", status: 400, code: "invalid_json" },
  { name: "wrong type for model", body: { ...ok, model: 42 }, status: 400, code: "invalid_request", param: "model" },
  { name: "missing messages", body: { model: "echo" }, status: 400, code: "invalid_request", param: "messages" },
  { name: "messages not an array", body: { model: "echo", messages: "hi" }, status: 400, code: "invalid_request", param: "messages" },
  { name: "a bad role", body: { model: "echo", messages: [{ role: "wizard", content: "x" }] }, status: 400, code: "invalid_request" },
  { name: "temperature out of range", body: { ...ok, temperature: 7 }, status: 400, code: "invalid_request", param: "temperature" },
  { name: "empty messages", body: { model: "echo", messages: [] }, status: 400, code: "empty_messages", param: "messages" },
  { name: "unknown model", body: { ...ok, model: "gpt-9-ultra" }, status: 404, code: "model_not_found", param: "model" },
  { name: "a body over the limit", body: { ...ok, messages: [{ role: "user", content: "x".repeat(LIMIT) }] }, status: 413, code: "payload_too_large" },
  { name: "a JSON array instead of an object", body: "[1,2,3]", status: 400, code: "invalid_request" },
];

describe("bad input on POST /v1/chat/completions", () => {
  for (const c of cases) {
    test(`${c.name} → ${c.status} ${c.code}, recorded`, async () => {
      const res = await post(`${gw.url}/v1/chat/completions`, c.body, c.headers);
      expect(res.status).toBe(c.status);
      expect(res.headers.get("content-type")).toContain("application/json");
      const body = (await res.json()) as { error: { message: string; type: string; code: string; param: string | null } };
      expect(body.error.code).toBe(c.code);
      expect(body.error.message.length).toBeGreaterThan(5);
      expect(typeof body.error.type).toBe("string");
      if (c.param !== undefined) expect(body.error.param).toBe(c.param);
      const requestId = res.headers.get("x-request-id");
      expect(requestId).toBeTruthy();
      const done = (await gw.events()).find((e) => e.requestId === requestId && e.type === "request.completed");
      expect(done?.payload).toMatchObject({ status: "error", httpStatus: c.status, errorCode: c.code });
    });
  }

  test("a chunked body over the limit (no content-length) is cut off with 413", async () => {
    const big = JSON.stringify({ ...ok, messages: [{ role: "user", content: "y".repeat(LIMIT * 2) }] });
    const body = new ReadableStream({
      start(controller) {
        const bytes = new TextEncoder().encode(big);
        for (let i = 0; i < bytes.length; i += 8192) controller.enqueue(bytes.slice(i, i + 8192));
        controller.close();
      },
    });
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("payload_too_large");
  });

  test("the process is unharmed: a good request right after all of that succeeds", async () => {
    const res = await post(`${gw.url}/v1/chat/completions`, ok);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content).toBe("hi");
  });

  test("unknown routes get a 404 with a code", async () => {
    const res = await fetch(`${gw.url}/v1/nope`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("route_not_found");
  });
});

describe("bad input on POST /api/v1/generate", () => {
  test("missing prompt → 400 invalid_request, param prompt", async () => {
    const res = await post(`${gw.url}/api/v1/generate`, { system: "x" });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; param: string } };
    expect(body.error).toMatchObject({ code: "invalid_request", param: "prompt" });
  });
  test("unknown model → 404 model_not_found", async () => {
    const res = await post(`${gw.url}/api/v1/generate`, { prompt: "x", model: "nope" });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("model_not_found");
  });
});
