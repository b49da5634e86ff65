import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import type { ChatCompletionChunk, ChatCompletionRequest } from "../../src/canonical/chat.ts";
import { azureProvider } from "../../src/providers/azure.ts";
import type { ProviderConfig } from "../../src/providers/types.ts";
import { fakeEmbedding, startFakeOpenAI } from "../fakes/openai-upstream.ts";
import { callOptions, collect, expectProviderError, streamedText } from "../helpers/provider-calls.ts";

const fake = startFakeOpenAI({ apiKey: "azure-key" });
afterAll(() => fake.close());
beforeEach(() => fake.reset());

/** The resource endpoint: Azure's URLs start at the host, not at `/v1`. */
const endpoint = () => fake.url.replace(/\/v1$/, "");

const azure = (over: Partial<ProviderConfig> = {}) =>
  azureProvider({
    id: "azure-eu",
    kind: "azure",
    baseUrl: endpoint(),
    apiKey: "azure-key",
    models: ["gpt-4o", "gpt-4o-mini", "text-embedding-3-small"],
    deployments: { "gpt-4o": "gpt4o-prod", "text-embedding-3-small": "embed-small" },
    ...over,
  });

const opts = (model = "gpt-4o") => callOptions(model);

const request = (over: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest => ({
  model: "smart",
  messages: [{ role: "user", content: "Say hello" }],
  ...over,
});

describe("azureProvider: requests", () => {
  test("deployment URL, default api-version, api-key header, no model in the body", async () => {
    const p = azure();
    expect([p.id, p.kind]).toEqual(["azure-eu", "azure"]);
    const res = await p.complete(request({ temperature: 0.3 }), opts());
    const sent = fake.requests[0]!;
    expect(sent.path).toBe("/openai/deployments/gpt4o-prod/chat/completions");
    expect(sent.query).toEqual({ "api-version": "2024-10-21" });
    expect(sent.deployment).toBe("gpt4o-prod");
    expect(sent.headers["api-key"]).toBe("azure-key");
    expect(sent.headers.authorization).toBeUndefined();
    expect(sent.body).toEqual({ messages: request().messages, temperature: 0.3, stream: false });
    expect(res.choices[0]?.message.content).toBe("Hello from the fake upstream!");
    expect(res.model).toBe("gpt4o-prod"); // what the upstream reports
  });

  test("a model without a deployment entry is its own deployment; apiVersion and a trailing slash", async () => {
    await azure({ apiVersion: "2025-01-01-preview", baseUrl: `${endpoint()}/` }).complete(request(), opts("gpt-4o-mini"));
    const sent = fake.requests[0]!;
    expect(sent.path).toBe("/openai/deployments/gpt-4o-mini/chat/completions");
    expect(sent.query["api-version"]).toBe("2025-01-01-preview");
  });

  test("deployment names are URL-encoded", async () => {
    await azure({ deployments: { "gpt-4o": "team a/prod" } }).complete(request(), opts());
    expect(fake.requests[0]?.deployment).toBe("team a/prod");
  });

  test("a missing baseUrl is a configuration error", () => {
    expect(() => azureProvider({ id: "az", kind: "azure", models: [] })).toThrow(/needs a baseUrl/);
  });

  test("extra headers from the config are sent", async () => {
    await azure({ headers: { "x-ms-client-request-id": "abc" } }).complete(request(), opts());
    expect(fake.requests[0]?.headers["x-ms-client-request-id"]).toBe("abc");
  });
});

describe("azureProvider: streaming", () => {
  test("streams from the deployment; Azure's opening filter chunk rides on the first real chunk", async () => {
    fake.setBehavior({ kind: "ok", content: "Hello from Azure", model: "gpt-4o-2024-08-06" });
    const chunks = await collect(azure().stream(request(), opts()));
    const sent = fake.requests[0]!;
    expect(sent.path).toBe("/openai/deployments/gpt4o-prod/chat/completions");
    expect(sent.body).toEqual({ messages: request().messages, stream: true, stream_options: { include_usage: true } });

    // no empty-id, choice-less chunk reaches the caller
    expect(chunks.every((c) => c.id === "chatcmpl-fake0002" && c.model === "gpt-4o-2024-08-06" && c.created > 0)).toBe(true);
    const first = chunks[0] as ChatCompletionChunk & { prompt_filter_results?: unknown };
    expect(first.choices[0]?.delta.role).toBe("assistant");
    expect(first.prompt_filter_results).toEqual([{ prompt_index: 0, content_filter_results: expect.any(Object) }]);
    expect(streamedText(chunks)).toBe("Hello from Azure");
    expect(chunks.at(-1)?.usage?.total_tokens).toBeGreaterThan(0);
  });

  test("api-versions before 2024-09-01 get no stream_options; usage is counted locally", async () => {
    const chunks = await collect(azure({ apiVersion: "2024-06-01" }).stream(request(), opts()));
    expect(fake.requests[0]?.body.stream_options).toBeUndefined();
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage?.completion_tokens).toBeGreaterThan(0);
  });

  test("streamed tool calls pass through", async () => {
    fake.setBehavior({ kind: "ok", toolCalls: [{ id: "call_z", name: "lookup", arguments: '{"q":"tollgate"}' }], argumentChunkSize: 2 });
    const chunks = await collect(azure().stream(request(), opts()));
    const deltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(deltas[0]).toEqual({ index: 0, id: "call_z", type: "function", function: { name: "lookup", arguments: "" } });
    expect(deltas.map((d) => d.function?.arguments).join("")).toBe('{"q":"tollgate"}');
  });
});

describe("azureProvider: content filtering", () => {
  test("a filtered answer keeps finish_reason content_filter and Azure's verdicts", async () => {
    fake.setBehavior({ kind: "ok", content: "", finishReason: "content_filter" });
    const res = await azure().complete(request(), opts());
    const choice = res.choices[0] as (typeof res.choices)[number] & { content_filter_results?: Record<string, { filtered: boolean }> };
    expect(choice.finish_reason).toBe("content_filter");
    expect(choice.content_filter_results?.violence?.filtered).toBe(true);
    expect((res as unknown as { prompt_filter_results: unknown[] }).prompt_filter_results).toHaveLength(1);

    const chunks = await collect(azure().stream(request(), opts()));
    expect(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0]?.finish_reason).toBe("content_filter");
  });

  test("a filtered prompt (400 content_filter) reaches the client as 400 content_filter, not retryable", async () => {
    fake.setBehavior({
      kind: "error",
      status: 400,
      body: {
        error: {
          message: "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
          type: null,
          param: "prompt",
          code: "content_filter",
          status: 400,
          innererror: { code: "ResponsibleAIPolicyViolation", content_filter_result: { violence: { filtered: true, severity: "high" } } },
        },
      },
    });
    const err = await expectProviderError(() => azure().complete(request(), opts()));
    expect([err.status, err.code, err.param, err.retryable]).toEqual([400, "content_filter", "prompt", false]);
    expect(err.message).toStartWith("azure-eu: The response was filtered");
    const streamErr = await expectProviderError(() => collect(azure().stream(request(), opts())));
    expect([streamErr.status, streamErr.code]).toEqual([400, "content_filter"]);
  });
});

describe("azureProvider: errors", () => {
  test("a wrong key → 502 upstream_auth_failed, not retryable", async () => {
    const err = await expectProviderError(() => azure({ apiKey: "wrong" }).complete(request(), opts()));
    expect([err.status, err.code, err.retryable, err.upstreamStatus]).toEqual([502, "upstream_auth_failed", false, 401]);
    expect(err.message).toContain("Access denied");
  });

  test("an unknown deployment passes through as 404 DeploymentNotFound", async () => {
    fake.setBehavior({ kind: "error", status: 404, body: { error: { code: "DeploymentNotFound", message: "The API deployment for this resource does not exist." } } });
    const err = await expectProviderError(() => azure().complete(request(), opts()));
    expect([err.status, err.code, err.retryable]).toEqual([404, "DeploymentNotFound", false]);
  });

  test("429 with retry-after-ms → upstream_rate_limited with that delay", async () => {
    fake.setBehavior({ kind: "error", status: 429, headers: { "retry-after": "1", "retry-after-ms": "850" } });
    const err = await expectProviderError(() => azure().complete(request(), opts()));
    expect([err.status, err.code, err.retryable, err.retryAfterMs]).toEqual([429, "upstream_rate_limited", true, 850]);
  });

  test("500 → retryable upstream_error", async () => {
    fake.setBehavior({ kind: "error", status: 500 });
    const err = await expectProviderError(() => collect(azure().stream(request(), opts())));
    expect([err.status, err.code, err.retryable]).toEqual([502, "upstream_error", true]);
  });
});

describe("azureProvider: embeddings", () => {
  test("posts to the embedding deployment without a model and returns the vectors", async () => {
    const res = await azure().embed!({ model: "embedder", input: ["a", "b"], dimensions: 3 }, opts("text-embedding-3-small"));
    const sent = fake.requests[0]!;
    expect(sent.path).toBe("/openai/deployments/embed-small/embeddings");
    expect(sent.query).toEqual({ "api-version": "2024-10-21" });
    expect(sent.headers["api-key"]).toBe("azure-key");
    expect(sent.body).toEqual({ input: ["a", "b"], dimensions: 3 });
    expect(res.data.map((d) => d.embedding)).toEqual([fakeEmbedding("a", 3), fakeEmbedding("b", 3)]);
    expect(res.model).toBe("embed-small");
    expect(res.usage.prompt_tokens).toBeGreaterThan(0);
  });

  test("errors map like chat", async () => {
    fake.setBehavior({ kind: "error", status: 503 });
    const err = await expectProviderError(() => azure().embed!({ model: "e", input: "x" }, opts("text-embedding-3-small")));
    expect([err.status, err.code, err.retryable]).toEqual([502, "upstream_overloaded", true]);
  });
});
