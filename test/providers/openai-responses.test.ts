/**
 * The native Responses calls of the OpenAI-style adapters: where they go (OpenAI `{base}/responses`,
 * Azure `{base}/openai/responses?api-version=…` with the deployment as `model`), who gets them
 * (only `openai` and `azure` kinds), and failures mapped like chat (HTTP errors, truncated streams).
 */
import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { azureProvider } from "../../src/providers/azure.ts";
import { openaiCompatibleProvider } from "../../src/providers/openai-compatible.ts";
import { openaiProvider } from "../../src/providers/openai.ts";
import { ProviderError } from "../../src/providers/errors.ts";
import { startFakeOpenAIResponses } from "../fakes/openai-responses-upstream.ts";
import { callOptions, collect } from "../helpers/provider-calls.ts";

const fake = startFakeOpenAIResponses();
afterAll(() => fake.close());
beforeEach(() => fake.reset());

const body = { model: "ignored", input: [{ type: "message", role: "user", content: "héllo ✓" }], top_logprobs: 1 };

describe("native Responses calls", () => {
  test("openai: POST {base}/responses with the provider model, answer in canonical form (JSON and stream)", async () => {
    const p = openaiProvider({ id: "oai", kind: "openai", baseUrl: fake.url, apiKey: "sk-x", models: ["gpt-up"] });
    const json = await p.responses!.complete(body, callOptions("gpt-up"));
    expect(json.choices[0]!.message.content).toBe("héllo ✓");
    expect(fake.requests[0]).toMatchObject({ path: "/v1/responses", body: { model: "gpt-up", top_logprobs: 1, stream: false } });
    expect(fake.requests[0]!.headers.authorization).toBe("Bearer sk-x");
    const chunks = await collect(p.responses!.stream(body, callOptions("gpt-up")));
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe("héllo ✓");
    expect(chunks.at(-1)!.usage?.total_tokens).toBeGreaterThan(0);
  });

  test("azure: POST {base}/openai/responses?api-version=…, the deployment as model, api-key header", async () => {
    const seen: Array<{ url: string; body: any; key: string | null }> = [];
    const server = Bun.serve({
      port: 0,
      async fetch(req) {
        seen.push({ url: req.url, body: await req.json(), key: req.headers.get("api-key") });
        return fetch(`${fake.url}/responses`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(seen.at(-1)!.body) });
      },
    });
    try {
      const p = azureProvider({ id: "az", kind: "azure", baseUrl: `http://127.0.0.1:${server.port}`, apiKey: "az-key", apiVersion: "2025-04-01-preview", models: ["gpt-4o"], deployments: { "gpt-4o": "prod-4o" } });
      const out = await p.responses!.complete({ ...body, model: "gpt-4o" }, callOptions("gpt-4o"));
      expect(out.choices[0]!.message.content).toBe("héllo ✓");
      expect(seen[0]!.url).toBe(`http://127.0.0.1:${server.port}/openai/responses?api-version=2025-04-01-preview`);
      expect(seen[0]!.body.model).toBe("prod-4o");
      expect(seen[0]!.key).toBe("az-key");
    } finally {
      server.stop(true);
    }
  });

  test("only OpenAI and Azure speak Responses: mistral, together and custom are translated", () => {
    expect(openaiCompatibleProvider({ id: "o", kind: "openai", models: [] }).responses).toBeDefined();
    for (const kind of ["mistral", "together", "custom"] as const) {
      expect(openaiCompatibleProvider({ id: kind, kind, baseUrl: "http://127.0.0.1:1/v1", models: [] }).responses).toBeUndefined();
    }
  });

  test("upstream errors map like chat: a 429 is a retryable ProviderError with the status", async () => {
    const p = openaiProvider({ id: "oai", kind: "openai", baseUrl: fake.url, models: ["gpt-up"] });
    fake.enqueue({ kind: "error", status: 429, message: "slow down" });
    const err = await p.responses!.complete(body, callOptions("gpt-up")).catch((e) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.status).toBe(429);
  });
});
