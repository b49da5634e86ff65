import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import type { ChatCompletionRequest } from "../../src/canonical/chat.ts";
import {
  defaultBaseUrl,
  OPENAI_COMPATIBLE_KINDS,
  type OpenAICompatibleKind,
  openaiCompatibleProvider,
} from "../../src/providers/openai-compatible.ts";
import { fakeEmbedding, startFakeOpenAI } from "../fakes/openai-upstream.ts";
import { callOptions, collect, expectProviderError, streamedText } from "../helpers/provider-calls.ts";

const fake = startFakeOpenAI({ apiKey: "sk-family" });
afterAll(() => fake.close());
beforeEach(() => fake.reset());

const MODELS: Record<OpenAICompatibleKind, string> = {
  openai: "gpt-4o-mini",
  mistral: "mistral-small-latest",
  together: "meta-llama/Llama-3.3-70B-Instruct-Turbo",
  custom: "llama3.1:8b",
};

const adapter = (kind: OpenAICompatibleKind) =>
  openaiCompatibleProvider({ id: `${kind}-1`, kind, baseUrl: fake.url, apiKey: "sk-family", models: [MODELS[kind]] });

const opts = (kind: OpenAICompatibleKind) => callOptions(MODELS[kind]);

const request = (over: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest => ({
  model: "alias",
  messages: [{ role: "user", content: "What's the weather in Paris?" }],
  ...over,
});

/** A request using every field some vendor treats differently. */
const loaded = (): ChatCompletionRequest => ({
  model: "alias",
  messages: [
    { role: "developer", content: "Be terse." },
    { role: "user", content: "Weather?", name: "alice" },
    { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: "{}" } }] },
    { role: "tool", content: "sunny", tool_call_id: "call_1", name: "get_weather" },
  ],
  temperature: 0.1,
  max_completion_tokens: 50,
  seed: 7,
  user: "end-user-1",
  metadata: { team: "a" },
  stop: ["END"],
  tools: [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }],
  tool_choice: "required",
  parallel_tool_calls: false,
  response_format: { type: "text" },
});

describe("openaiCompatibleProvider: kinds", () => {
  test("default base URLs per kind; custom has none", () => {
    expect(Object.fromEntries(OPENAI_COMPATIBLE_KINDS.map((k) => [k, defaultBaseUrl(k)]))).toEqual({
      openai: "https://api.openai.com/v1",
      mistral: "https://api.mistral.ai/v1",
      together: "https://api.together.xyz/v1",
      custom: undefined,
    });
  });

  test("custom without baseUrl, and kinds it does not serve, are configuration errors", () => {
    expect(() => openaiCompatibleProvider({ id: "vllm", kind: "custom", models: [] })).toThrow(/needs a baseUrl/);
    expect(() => openaiCompatibleProvider({ id: "az", kind: "azure", baseUrl: fake.url, models: [] })).toThrow(/not OpenAI-compatible/);
    expect(() => openaiCompatibleProvider({ id: "e", kind: "echo", models: [] })).toThrow(/not OpenAI-compatible/);
  });

  test("a custom server without a key gets no Authorization header", async () => {
    const open = startFakeOpenAI();
    try {
      const p = openaiCompatibleProvider({ id: "ollama", kind: "custom", baseUrl: open.url, models: ["llama3.1:8b"] });
      await p.complete(request(), opts("custom"));
      expect(open.requests[0]?.headers.authorization).toBeUndefined();
    } finally {
      await open.close();
    }
  });

  for (const kind of OPENAI_COMPATIBLE_KINDS) {
    test(`${kind}: chat, stream, embeddings and errors against an OpenAI-style server`, async () => {
      const p = adapter(kind);
      expect([p.id, p.kind, p.models]).toEqual([`${kind}-1`, kind, [MODELS[kind]]]);

      const res = await p.complete(request(), opts(kind));
      expect(fake.requests[0]).toMatchObject({ path: "/v1/chat/completions", headers: { authorization: "Bearer sk-family" } });
      expect(fake.requests[0]?.body.model).toBe(MODELS[kind]);
      expect(res.choices[0]?.message.content).toBe("Hello from the fake upstream!");

      const chunks = await collect(p.stream(request(), opts(kind)));
      expect(streamedText(chunks)).toBe("Hello from the fake upstream!");
      expect(chunks.at(-1)?.usage?.total_tokens).toBeGreaterThan(0); // sent by the upstream, or counted

      const emb = await p.embed!({ model: "alias", input: "hi" }, opts(kind));
      expect(fake.requests.at(-1)?.path).toBe("/v1/embeddings");
      expect(emb.data[0]?.embedding).toEqual(fakeEmbedding("hi"));

      fake.enqueue({ kind: "error", status: 429, headers: { "retry-after": "5" } });
      const err = await expectProviderError(() => p.complete(request(), opts(kind)));
      expect(err).toMatchObject({ status: 429, code: "upstream_rate_limited", retryable: true, retryAfterMs: 5000, provider: `${kind}-1` });
    });

    test(`${kind}: streamed tool-call fragments arrive intact and in order`, async () => {
      const args = '{"city":"Paris","days":[1,2,3]}';
      fake.setBehavior({ kind: "ok", toolCalls: [{ id: "call_w", name: "get_weather", arguments: args }], argumentChunkSize: 2 });
      const chunks = await collect(adapter(kind).stream(request({ tools: loaded().tools }), opts(kind)));
      const deltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
      expect(deltas[0]).toEqual({ index: 0, id: "call_w", type: "function", function: { name: "get_weather", arguments: "" } });
      expect(deltas.slice(1).map((d) => d.function?.arguments)).toEqual(args.match(/.{1,2}/g)!);
      expect(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0]?.finish_reason).toBe("tool_calls");
    });
  }
});

describe("openaiCompatibleProvider: body fixes", () => {
  test("openai, together and custom send the canonical body unchanged", async () => {
    for (const kind of ["openai", "together", "custom"] as const) {
      fake.reset();
      await adapter(kind).complete(loaded(), opts(kind));
      await collect(adapter(kind).stream(loaded(), opts(kind)));
      const [json, stream] = fake.requests;
      const { stream_options: _, ...rest } = loaded();
      expect(json?.body).toEqual({ ...rest, model: MODELS[kind], stream: false });
      expect(stream?.body).toEqual({ ...loaded(), model: MODELS[kind], stream: true, stream_options: { include_usage: true } });
    }
  });

  test("mistral: OpenAI-only fields dropped, renamed fields renamed, roles and names fixed", async () => {
    await adapter("mistral").complete(loaded(), opts("mistral"));
    await collect(adapter("mistral").stream({ ...loaded(), stream_options: { include_usage: true } }, opts("mistral")));
    const expected = {
      model: "mistral-small-latest",
      messages: [
        { role: "system", content: "Be terse." },
        { role: "user", content: "Weather?" },
        { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: "{}" } }] },
        { role: "tool", content: "sunny", tool_call_id: "call_1", name: "get_weather" },
      ],
      temperature: 0.1,
      max_tokens: 50,
      random_seed: 7,
      stop: ["END"],
      tools: loaded().tools,
      tool_choice: "any",
      parallel_tool_calls: false,
      response_format: { type: "text" },
    };
    const [json, stream] = fake.requests;
    expect(json?.body).toEqual({ ...expected, stream: false });
    expect(stream?.body).toEqual({ ...expected, stream: true }); // no stream_options
  });

  test("mistral: max_completion_tokens wins over max_tokens; other tool_choice values pass", async () => {
    const named = { type: "function", function: { name: "get_weather" } };
    await adapter("mistral").complete(request({ max_tokens: 10, max_completion_tokens: 20, tool_choice: named }), opts("mistral"));
    await adapter("mistral").complete(request({ max_completion_tokens: 30, max_tokens: 5, tool_choice: "auto" }), opts("mistral"));
    await adapter("mistral").complete(request({ max_tokens: 40, max_completion_tokens: null }), opts("mistral"));
    const bodies = fake.requests.map((r) => r.body);
    expect(bodies.map((b) => b.max_tokens)).toEqual([20, 30, 40]);
    expect(bodies.map((b) => b.tool_choice)).toEqual([named, "auto", undefined]);
    expect(bodies.some((b) => "max_completion_tokens" in b)).toBe(false);
  });

  test("mistral: embeddings drop `user`", async () => {
    await adapter("mistral").embed!({ model: "alias", input: ["a"], user: "u" }, { ...opts("mistral"), model: "mistral-embed" });
    expect(fake.requests[0]?.body).toEqual({ model: "mistral-embed", input: ["a"] });
  });

  test("mistral's strict validation error reaches the caller readable and not retryable", async () => {
    fake.setBehavior({
      kind: "error",
      status: 422,
      body: { object: "error", message: { detail: [{ type: "extra_forbidden", loc: ["body", "foo"], msg: "Extra inputs are not permitted" }] }, type: "invalid_request_error", param: null, code: null },
    });
    const err = await expectProviderError(() => adapter("mistral").complete(request(), opts("mistral")));
    expect([err.status, err.code, err.retryable]).toEqual([422, "upstream_bad_request", false]);
    expect(err.message).toContain("extra_forbidden");
  });
});
