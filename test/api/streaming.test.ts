/**
 * Streaming through the gateway to an OpenAI-compatible upstream (fake, exact wire format):
 * relay, mid-stream failure, and a client that disconnects halfway.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { countTextTokens } from "../../src/providers/tokens.ts";
import { type FakeOpenAI, startFakeOpenAI } from "../fakes/openai-upstream.ts";
import { post, startTestGateway, type TestGateway, waitFor, writeConfigFile } from "../helpers/gateway.ts";

let fake: FakeOpenAI;
let gw: TestGateway;
const CONTENT = "The quick brown fox jumps over the lazy dog. ".repeat(20);

beforeAll(async () => {
  fake = startFakeOpenAI({ apiKey: "sk-upstream" });
  process.env.LOCAL_KEY = "sk-upstream";
  // A bootstrap file declaring the fake as an OpenAI-compatible provider, plus an alias and a price.
  const file = await writeConfigFile([
      "providers:",
      "  - id: local",
      "    kind: openai",
      `    base_url: ${fake.url}`,
      "    api_key_env: LOCAL_KEY",
      "    models: [small-model]",
      "models:",
      "  - { alias: fast, provider: local, model: small-model }",
      "prices:",
      "  - { provider: local, model: small-model, input: 1.5, output: 6 }",
    ]);
  gw = await startTestGateway({ TOLLGATE_CONFIG: file });
});
afterAll(async () => {
  await gw.dispose();
  await fake.close();
});
beforeEach(() => fake.reset());

async function completedFor(requestId: string) {
  return waitFor(async () => (await gw.events()).find((e) => e.requestId === requestId && e.type === "request.completed"), 5000, "request.completed");
}

describe("streaming through an OpenAI-compatible upstream", () => {
  test("an alias routes to the upstream model; the upstream sees the real key, model and include_usage", async () => {
    fake.setBehavior({ kind: "ok", content: "hello world" });
    const res = await post(`${gw.url}/v1/chat/completions`, { model: "fast", stream: true, messages: [{ role: "user", content: "hi" }] });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    expect(res.headers.get("x-tollgate-provider")).toBe("local");
    const text = await res.text();
    expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
    const chunks = text.split("\n\n").filter((l) => l.startsWith("data: {")).map((l) => JSON.parse(l.slice(6)));
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("")).toBe("hello world");
    const seen = fake.requests.at(-1)!;
    expect(seen.headers.authorization).toBe("Bearer sk-upstream");
    expect(seen.body.model).toBe("small-model");
    expect(seen.body.stream_options).toEqual({ include_usage: true });
    const done = await completedFor(res.headers.get("x-request-id")!);
    expect(done.payload).toMatchObject({ status: "ok", provider: "local", model: "small-model", requestedModel: "fast" });
    // cost = (input × 1.5 + output × 6) / 1M, from the upstream's own usage
    const { inputTokens, outputTokens, costUsd } = done.payload as { inputTokens: number; outputTokens: number; costUsd: number };
    expect(inputTokens).toBeGreaterThan(0);
    expect(costUsd).toBeCloseTo((inputTokens * 1.5 + outputTokens * 6) / 1e6, 9);
  });

  test("an upstream failure before the first byte is a proper JSON error, not a broken stream", async () => {
    fake.setBehavior({ kind: "error", status: 500, message: "upstream melted" });
    const res = await post(`${gw.url}/v1/chat/completions`, { model: "fast", stream: true, messages: [{ role: "user", content: "hi" }] });
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("upstream_error");
  });

  test("a truncated upstream stream ends the client stream with an error event and is recorded", async () => {
    fake.setBehavior({ kind: "truncate", content: "partial answer" });
    const res = await post(`${gw.url}/v1/chat/completions`, { model: "fast", stream: true, messages: [{ role: "user", content: "hi" }] });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain("data: [DONE]");
    expect(text).toContain('"code":"upstream_stream_truncated"');
    const done = await completedFor(res.headers.get("x-request-id")!);
    expect(done.payload).toMatchObject({ status: "error", errorCode: "upstream_stream_truncated" });
  });

  test("a client that disconnects mid-stream cancels the upstream call and its tokens so far are recorded", async () => {
    fake.setBehavior({ kind: "ok", content: CONTENT, chunkSize: 5, chunkDelayMs: 15 });
    const client = new AbortController();
    const res = await post(`${gw.url}/v1/chat/completions`, { model: "fast", stream: true, messages: [{ role: "user", content: "tell me" }] }, {});
    const requestId = res.headers.get("x-request-id")!;
    const reader = res.body!.getReader();
    let received = "";
    const decoder = new TextDecoder();
    while ((received.match(/"content":"[^"]+"/g) ?? []).length < 5) {
      const { value, done } = await reader.read();
      if (done) throw new Error("stream ended too early");
      received += decoder.decode(value);
    }
    await reader.cancel();
    client.abort();
    await fake.waitForCancellation(1, 5000);
    const done = await completedFor(requestId);
    expect(done.payload.status).toBe("client_disconnected");
    const out = done.payload.outputTokens as number;
    expect(out).toBeGreaterThan(0);
    expect(out).toBeLessThan(countTextTokens(CONTENT)); // only what was streamed, not the whole answer
    expect(done.payload.inputTokens as number).toBeGreaterThan(0);
  });
});

describe("POST /api/v1/providers/{id}/test", () => {
  test("ok with latency against a healthy upstream; the normalized error against a failing one", async () => {
    fake.setBehavior({ kind: "ok", content: "pong" });
    const ok = (await (await fetch(`${gw.url}/api/v1/providers/local/test`, { method: "POST", headers: { authorization: `Bearer ${gw.adminKey}` } })).json()) as Record<string, unknown>;
    expect(ok).toMatchObject({ ok: true, provider: "local", model: "small-model" });
    expect(typeof ok.latency_ms).toBe("number");
    expect(fake.requests.at(-1)!.body.max_tokens).toBe(1);
    fake.setBehavior({ kind: "error", status: 401 });
    const bad = (await (await fetch(`${gw.url}/api/v1/providers/local/test`, { method: "POST", headers: { authorization: `Bearer ${gw.adminKey}` } })).json()) as { ok: boolean; error: { code: string } };
    expect(bad.ok).toBe(false);
    expect(bad.error.code).toBe("upstream_auth_failed");
    expect((await fetch(`${gw.url}/api/v1/providers/ghost/test`, { method: "POST", headers: { authorization: `Bearer ${gw.adminKey}` } })).status).toBe(404);
  });
});
