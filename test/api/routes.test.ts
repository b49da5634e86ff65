/** The simple generate API, models, health/ready, CORS and the API docs. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { countPromptTokens, countTextTokens } from "../../src/providers/tokens.ts";
import { post, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(() => gw.dispose());

describe("POST /api/v1/generate", () => {
  test("answers with content, provider, model, tokens, cost, cached and latency", async () => {
    const res = await post(`${gw.url}/api/v1/generate`, { prompt: "Summarise: cats sleep a lot.", system: "Be brief.", service: "notes", task_type: "summary", user_id: "u-7" });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    const messages = [{ role: "system" as const, content: "Be brief." }, { role: "user" as const, content: "Summarise: cats sleep a lot." }];
    expect(body).toMatchObject({
      content: "Summarise: cats sleep a lot.",
      provider: "echo",
      model: "echo",
      input_tokens: countPromptTokens(messages),
      output_tokens: countTextTokens("Summarise: cats sleep a lot."),
      cost_usd: 0,
      cached: false,
    });
    expect(typeof body.latency_ms).toBe("number");
    const done = (await gw.events()).find((e) => e.requestId === body.request_id && e.type === "request.completed");
    expect(done?.payload).toMatchObject({ endpoint: "generate", service: "notes", taskType: "summary", user: "u-7", status: "ok" });
  });

  test("json_mode asks for a JSON object (echo wraps non-JSON text)", async () => {
    const res = await post(`${gw.url}/api/v1/generate`, { prompt: "plain words", json_mode: true });
    const body = (await res.json()) as { content: string };
    expect(JSON.parse(body.content)).toEqual({ echo: "plain words" });
  });

  test("max_tokens truncates the answer", async () => {
    const res = await post(`${gw.url}/api/v1/generate`, { prompt: "one two three four five six seven eight", max_tokens: 3 });
    const body = (await res.json()) as { content: string; output_tokens: number };
    expect(body.output_tokens).toBe(3);
    expect("one two three four five six seven eight".startsWith(body.content)).toBe(true);
  });
});

describe("operations", () => {
  test("GET /health answers while the process is alive", async () => {
    const res = await fetch(`${gw.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "ok" });
  });

  test("GET /ready reports the event log and emitter", async () => {
    const res = await fetch(`${gw.url}/ready`, { headers: { authorization: `Bearer ${gw.adminKey}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "ready", checks: { event_log: { kind: "file", ok: true }, emitter: { ok: true } } });
  });

  test("GET /v1/models lists echo in OpenAI's list shape", async () => {
    const body = (await (await fetch(`${gw.url}/v1/models`)).json()) as { object: string; data: Array<{ id: string; object: string }> };
    expect(body.object).toBe("list");
    expect(body.data.find((m) => m.id === "echo")).toMatchObject({ object: "model", owned_by: "echo" });
  });
});

describe("CORS", () => {
  test("no origin is allowed by default: a preflight gets no CORS headers", async () => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "OPTIONS",
      headers: { origin: "https://app.example", "access-control-request-method": "POST", "access-control-request-headers": "content-type,authorization" },
    });
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    expect(res.headers.get("access-control-allow-methods")).toBeNull();
  });

  test("TOLLGATE_CORS_ORIGINS=* allows a preflight from any origin, without credentials", async () => {
    const open = await startTestGateway({ TOLLGATE_CORS_ORIGINS: "*" });
    try {
      const res = await fetch(`${open.url}/v1/chat/completions`, {
        method: "OPTIONS",
        headers: { origin: "https://app.example", "access-control-request-method": "POST", "access-control-request-headers": "content-type,authorization" },
      });
      expect(res.status).toBeLessThan(300);
      expect(res.headers.get("access-control-allow-origin")).toBe("*");
      expect(res.headers.get("access-control-allow-credentials")).toBeNull();
      expect(res.headers.get("access-control-allow-methods")).toContain("POST");
    } finally {
      await open.dispose();
    }
  });

  test("a configured origin list allows only those origins", async () => {
    const strict = await startTestGateway({ TOLLGATE_CORS_ORIGINS: "https://good.example" });
    try {
      const good = await post(`${strict.url}/v1/chat/completions`, { model: "echo", messages: [{ role: "user", content: "x" }] }, { origin: "https://good.example" });
      expect(good.headers.get("access-control-allow-origin")).toBe("https://good.example");
      const bad = await post(`${strict.url}/v1/chat/completions`, { model: "echo", messages: [{ role: "user", content: "x" }] }, { origin: "https://evil.example" });
      expect(bad.headers.get("access-control-allow-origin")).toBeNull();
    } finally {
      await strict.dispose();
    }
  });
});

describe("API docs", () => {
  test("/swagger/json documents every public route with its schema", async () => {
    const spec = (await (await fetch(`${gw.url}/swagger/json`)).json()) as { openapi: string; paths: Record<string, Record<string, { requestBody?: unknown }>> };
    expect(spec.openapi).toMatch(/^3\./);
    for (const [path, method] of [["/v1/chat/completions", "post"], ["/api/v1/generate", "post"], ["/v1/models", "get"], ["/health", "get"], ["/ready", "get"]] as const) {
      expect(spec.paths[path]?.[method]).toBeDefined();
    }
    expect(JSON.stringify(spec.paths["/v1/chat/completions"]!.post!.requestBody)).toContain("messages");
    expect(JSON.stringify(spec.paths["/api/v1/generate"]!.post!.requestBody)).toContain("prompt");
  });

  test("/swagger loads its UI bundle from the gateway itself, not a CDN", async () => {
    const html = await (await fetch(`${gw.url}/swagger`)).text();
    const scripts = [...html.matchAll(/<script[^>]*src="([^"]+)"/g)].map((m) => m[1]!);
    expect(scripts.length).toBeGreaterThan(0);
    for (const src of scripts) expect(src.startsWith("/")).toBe(true);
    const bundle = await fetch(new URL(scripts[0]!, gw.url));
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get("content-type")).toContain("javascript");
    expect((await bundle.arrayBuffer()).byteLength).toBeGreaterThan(100_000);
  });
});
