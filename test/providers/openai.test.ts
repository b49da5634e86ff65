import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import type { ChatCompletionRequest } from "../../src/canonical/chat.ts";
import type { EmbeddingsRequest } from "../../src/canonical/embeddings.ts";
import { openaiProvider } from "../../src/providers/openai.ts";
import { countPromptTokens, countTextTokens } from "../../src/providers/tokens.ts";
import { type FakeBehavior, fakeEmbedding, startFakeOpenAI } from "../fakes/openai-upstream.ts";
import { abortAfter, type CallExtras, callOptions, collect, expectProviderError, stopAfter, streamedText, streamUntilError, type UpstreamOverrides, upstream, verdict } from "../helpers/provider-calls.ts";

const fake = startFakeOpenAI({ apiKey: "sk-upstream" });
afterAll(() => fake.close());
beforeEach(() => fake.reset());

const provider = (over: UpstreamOverrides = {}) =>
  openaiProvider({
    id: "openai",
    kind: "openai",
    ...upstream({ baseUrl: fake.url, apiKey: "sk-upstream" }, over),
    models: ["gpt-4o-mini"],
    headers: { "OpenAI-Organization": "org-tollgate" },
  });

const opts = (extra: CallExtras = {}) => callOptions("gpt-4o-mini", extra);

const request = (over: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest => ({
  model: "smart", // the gateway-facing alias: must be replaced by opts.model
  messages: [
    { role: "system", content: "You are terse." },
    { role: "user", content: "Say hello" },
  ],
  temperature: 0.2,
  ...over,
});

describe("openaiProvider.complete", () => {
  test("sends the canonical request with the provider's model and credentials", async () => {
    fake.setBehavior({ kind: "ok", content: "Hello!", model: "gpt-4o-mini-2024-07-18" });
    const res = await provider().complete(request({ stream_options: { include_usage: true } }), opts());

    const sent = fake.requests[0]!;
    expect(sent.method).toBe("POST");
    expect(sent.path).toBe("/v1/chat/completions");
    expect(sent.headers.authorization).toBe("Bearer sk-upstream");
    expect(sent.headers["content-type"]).toBe("application/json");
    expect(sent.headers["openai-organization"]).toBe("org-tollgate");
    expect(sent.body).toEqual({ ...request(), model: "gpt-4o-mini", stream: false }); // no stream_options

    expect(res.object).toBe("chat.completion");
    expect(res.id).toBe("chatcmpl-fake0001");
    expect(res.model).toBe("gpt-4o-mini-2024-07-18"); // what upstream says
    expect(res.choices[0]?.message.content).toBe("Hello!");
    expect(res.choices[0]?.finish_reason).toBe("stop");
    expect(res.usage?.total_tokens).toBe(res.usage!.prompt_tokens + res.usage!.completion_tokens);
    expect(res.usage?.prompt_tokens_details).toMatchObject({ cached_tokens: 0 }); // upstream extras pass through
  });

  test("computes usage when the upstream sends none", async () => {
    fake.setBehavior({ kind: "ok", content: "Hello, world!", omitUsage: true });
    const req = request();
    const res = await provider().complete(req, opts());
    const prompt = countPromptTokens(req.messages);
    expect(res.usage).toEqual({ prompt_tokens: prompt, completion_tokens: countTextTokens("Hello, world!"), total_tokens: prompt + 4 });
  });

  test("tolerates a trailing slash in baseUrl and no api key", async () => {
    const keyless = startFakeOpenAI();
    try {
      const p = openaiProvider({ id: "ollama", kind: "openai", baseUrl: `${keyless.url}/`, models: ["llama3"] });
      await p.complete(request(), opts());
      expect(keyless.requests[0]?.path).toBe("/v1/chat/completions");
      expect(keyless.requests[0]?.headers.authorization).toBeUndefined();
    } finally {
      await keyless.close();
    }
  });

  test("maps upstream HTTP errors", async () => {
    fake.enqueue({ kind: "error", status: 500 });
    let err = await expectProviderError(() => provider().complete(request(), opts()));
    expect([err.status, err.code, err.type]).toEqual([502, "upstream_error", "upstream_error"]);
    expect([err.retryable, err.retryAfterMs, err.upstreamStatus, err.provider]).toEqual([true, undefined, 500, "openai"]);
    expect(err.message).toStartWith("openai: ");

    fake.enqueue({ kind: "error", status: 429, headers: { "retry-after": "7" } });
    err = await expectProviderError(() => provider().complete(request(), opts()));
    expect(verdict(err)).toEqual({ status: 429, code: "upstream_rate_limited", retryable: true, retryAfterMs: 7000 });
    expect(err.headers).toEqual({ "retry-after": "7" });

    err = await expectProviderError(() => provider({ apiKey: "sk-wrong" }).complete(request(), opts()));
    expect(verdict(err)).toEqual({ status: 502, code: "upstream_auth_failed", retryable: false, retryAfterMs: undefined });

    fake.enqueue({ kind: "error", status: 403, message: "Country not supported", code: "unsupported_country" });
    err = await expectProviderError(() => provider().complete(request(), opts()));
    expect(verdict(err)).toEqual({ status: 502, code: "upstream_auth_failed", retryable: false, retryAfterMs: undefined });

    fake.enqueue({ kind: "error", status: 400 });
    err = await expectProviderError(() => provider().complete(request(), opts()));
    expect([err.status, err.code, err.type, err.retryable]).toEqual([400, "invalid_value", "invalid_request_error", false]);
    expect(err.message).toBe("openai: Invalid value for 'temperature': must be between 0 and 2.");

    fake.enqueue({ kind: "error", status: 404 });
    err = await expectProviderError(() => provider().complete(request(), opts()));
    expect([err.status, err.code, err.retryable]).toEqual([404, "model_not_found", false]);

    fake.enqueue({ kind: "error", status: 422, code: null, message: "unprocessable" });
    err = await expectProviderError(() => provider().complete(request(), opts()));
    expect([err.status, err.code, err.message, err.retryable]).toEqual([422, "upstream_bad_request", "openai: unprocessable", false]);
  });

  test("overload, gateway timeouts and Retry-After variants", async () => {
    const cases: Array<[number, Record<string, string>, ReturnType<typeof verdict>]> = [
      [503, { "retry-after": "2" }, { status: 502, code: "upstream_overloaded", retryable: true, retryAfterMs: 2000 }],
      [502, {}, { status: 502, code: "upstream_error", retryable: true, retryAfterMs: undefined }],
      [504, {}, { status: 504, code: "upstream_timeout", retryable: true, retryAfterMs: undefined }],
      [408, {}, { status: 504, code: "upstream_timeout", retryable: true, retryAfterMs: undefined }],
      // `retry-after-ms` (OpenAI, Azure) is finer than Retry-After and wins
      [429, { "retry-after": "2", "retry-after-ms": "1500" }, { status: 429, code: "upstream_rate_limited", retryable: true, retryAfterMs: 1500 }],
      [429, { "retry-after": new Date(Date.now() + 60_000).toUTCString() }, { status: 429, code: "upstream_rate_limited", retryable: true, retryAfterMs: expect.any(Number) as unknown as number }],
      [429, {}, { status: 429, code: "upstream_rate_limited", retryable: true, retryAfterMs: undefined }],
    ];
    for (const [status, headers, expected] of cases) {
      fake.enqueue({ kind: "error", status, headers });
      expect(verdict(await expectProviderError(() => provider().complete(request(), opts())))).toEqual(expected);
    }
  });

  test("reads the error bodies of other OpenAI-compatible servers", async () => {
    // Mistral's validation error: `message` is an object
    const mistral = { object: "error", message: { detail: [{ type: "extra_forbidden", loc: ["body", "stream_options"], msg: "Extra inputs are not permitted" }] }, type: "invalid_request_error", param: null, code: null };
    fake.enqueue({ kind: "error", status: 422, body: mistral });
    let err = await expectProviderError(() => provider().complete(request(), opts()));
    expect([err.status, err.code, err.retryable]).toEqual([422, "upstream_bad_request", false]);
    expect(err.message).toContain("Extra inputs are not permitted");

    fake.enqueue({ kind: "error", status: 404, body: { error: 'model "llama9" not found, try pulling it first' } }); // Ollama
    err = await expectProviderError(() => provider().complete(request(), opts()));
    expect([err.status, err.code, err.message]).toEqual([404, "upstream_bad_request", 'openai: model "llama9" not found, try pulling it first']);

    fake.enqueue({ kind: "error", status: 400, body: { object: "error", message: "max_tokens is too large", type: "BadRequestError", param: null, code: 400 } }); // vLLM
    err = await expectProviderError(() => provider().complete(request(), opts()));
    expect([err.status, err.code, err.message]).toEqual([400, "upstream_bad_request", "openai: max_tokens is too large"]);
  });

  test("an error object inside a 200 → 502 upstream_error, retryable", async () => {
    fake.setBehavior({ kind: "error-in-200", message: "backend exploded" });
    const err = await expectProviderError(() => provider().complete(request(), opts()));
    expect(verdict(err)).toEqual({ status: 502, code: "upstream_error", retryable: true, retryAfterMs: undefined });
    expect(err.message).toContain("backend exploded");
  });

  test("a completion without choices, or cut off midway → 502 upstream_invalid_response", async () => {
    fake.setBehavior({ kind: "truncate" });
    const err = await expectProviderError(() => provider().complete(request(), opts()));
    expect(verdict(err)).toEqual({ status: 502, code: "upstream_invalid_response", retryable: false, retryAfterMs: undefined });
  });

  test("tool calls in a completion pass through and count as completion tokens", async () => {
    fake.setBehavior({ kind: "ok", toolCalls: [{ id: "call_1", name: "get_weather", arguments: '{"city":"Paris"}' }], omitUsage: true });
    const req = request({ tools: [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }] });
    const res = await provider().complete(req, opts());
    expect(fake.requests[0]?.body.tools).toEqual(req.tools);
    expect(res.choices[0]?.finish_reason).toBe("tool_calls");
    expect(res.choices[0]?.message).toMatchObject({ content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] });
    expect(res.usage?.completion_tokens).toBe(countTextTokens('get_weather{"city":"Paris"}'));
  });

  test("malformed JSON body → 502 upstream_invalid_response, not retryable", async () => {
    fake.setBehavior({ kind: "malformed" });
    const err = await expectProviderError(() => provider().complete(request(), opts()));
    expect(verdict(err)).toEqual({ status: 502, code: "upstream_invalid_response", retryable: false, retryAfterMs: undefined });
  });

  test("no headers within the timeout → 504 upstream_timeout", async () => {
    fake.setBehavior({ kind: "hang" });
    const started = performance.now();
    const err = await expectProviderError(() => provider({ timeoutMs: 10_000 }).complete(request(), opts({ timeoutMs: 100 })));
    expect(verdict(err)).toEqual({ status: 504, code: "upstream_timeout", retryable: true, retryAfterMs: undefined });
    expect(performance.now() - started).toBeLessThan(1000);

    const cfgTimeout = await expectProviderError(() => provider({ timeoutMs: 80 }).complete(request(), opts()));
    expect(cfgTimeout.code).toBe("upstream_timeout");
  });

  test("connection refused → 502 upstream_unreachable", async () => {
    const dead = startFakeOpenAI();
    const url = dead.url;
    await dead.close();
    const err = await expectProviderError(() => provider({ baseUrl: url }).complete(request(), opts()));
    expect(verdict(err)).toEqual({ status: 502, code: "upstream_unreachable", retryable: true, retryAfterMs: undefined });
    expect(err.upstreamStatus).toBe(0);
  });

  test("caller abort rejects with the caller's reason, not a timeout", async () => {
    fake.setBehavior({ kind: "hang" });
    const ctrl = new AbortController();
    setTimeout(() => ctrl.abort(new Error("client disconnected")), 30);
    await expect(provider().complete(request(), opts({ signal: ctrl.signal }))).rejects.toThrow("client disconnected");
  });
});

describe("openaiProvider.stream", () => {
  test("streams canonical chunks, asks for usage, ends with a usage chunk", async () => {
    fake.setBehavior({ kind: "ok", content: "Hello from upstream, streaming!", model: "gpt-4o-mini-2024-07-18" });
    const chunks = await collect(provider().stream(request(), opts()));

    const sent = fake.requests[0]!;
    expect(sent.body).toEqual({ ...request(), model: "gpt-4o-mini", stream: true, stream_options: { include_usage: true } });
    expect(sent.headers.accept).toBe("text/event-stream");
    expect(sent.headers.authorization).toBe("Bearer sk-upstream");

    expect(streamedText(chunks)).toBe("Hello from upstream, streaming!");
    expect(chunks[0]?.choices[0]?.delta.role).toBe("assistant");
    for (const c of chunks) {
      expect(c.object).toBe("chat.completion.chunk");
      expect([c.id, c.model]).toEqual(["chatcmpl-fake0002", "gpt-4o-mini-2024-07-18"]);
    }
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe("stop");
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage?.total_tokens).toBeGreaterThan(0);
  });

  test("adds a computed usage chunk when the upstream sends none", async () => {
    fake.setBehavior({ kind: "ok", content: "Hello, world!", omitUsage: true });
    const req = request();
    const chunks = await collect(provider().stream(req, opts()));
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.id).toBe(chunks[0]!.id);
    const prompt = countPromptTokens(req.messages);
    expect(last.usage).toEqual({ prompt_tokens: prompt, completion_tokens: 4, total_tokens: prompt + 4 });
  });

  test("errors before the first chunk are mapped like non-streaming ones", async () => {
    fake.enqueue({ kind: "error", status: 429, headers: { "retry-after": "3" } }, { kind: "error", status: 503 });
    let err = await expectProviderError(() => collect(provider().stream(request(), opts())));
    expect([err.status, err.code, err.headers]).toEqual([429, "upstream_rate_limited", { "retry-after": "3" }]);
    expect([err.retryable, err.retryAfterMs]).toEqual([true, 3000]);
    err = await expectProviderError(() => collect(provider().stream(request(), opts())));
    expect(verdict(err)).toEqual({ status: 502, code: "upstream_overloaded", retryable: true, retryAfterMs: undefined });
  });

  const failuresBeforeAnyChunk: Array<[string, FakeBehavior, ReturnType<typeof verdict>]> = [
    ["a data line that is not JSON", { kind: "malformed" }, { status: 502, code: "upstream_invalid_response", retryable: false, retryAfterMs: undefined }],
    ["a stream closed before its first chunk", { kind: "truncate", afterChunks: 0 }, { status: 502, code: "upstream_stream_truncated", retryable: true, retryAfterMs: undefined }],
    ["no headers within the timeout", { kind: "hang" }, { status: 504, code: "upstream_timeout", retryable: true, retryAfterMs: undefined }],
  ];
  for (const [name, behavior, expected] of failuresBeforeAnyChunk) {
    test(`${name} → ${expected.status} ${expected.code}, retryable: ${expected.retryable}`, async () => {
      fake.setBehavior(behavior);
      const err = await expectProviderError(() => collect(provider().stream(request(), opts({ timeoutMs: 100 }))));
      expect(verdict(err)).toEqual(expected);
    });
  }

  // What arrived before the failure was passed on first, so a retry would repeat it: not retryable.
  const failuresAfterChunks: Array<[string, FakeBehavior, string, string]> = [
    ["a stream closed without [DONE] or finish_reason", { kind: "truncate", content: "Hello there" }, "upstream_stream_truncated", "Hello"],
    ["an error event mid-stream", { kind: "error-in-200", message: "model crashed" }, "upstream_error", "Hel"],
  ];
  for (const [name, behavior, code, before] of failuresAfterChunks) {
    test(`${name} → 502 ${code} after passing on what came before`, async () => {
      fake.setBehavior(behavior);
      const { received, err } = await streamUntilError(provider().stream(request(), opts()));
      expect(verdict(err)).toEqual({ status: 502, code, retryable: false, retryAfterMs: undefined });
      expect(streamedText(received)).toBe(before);
    });
  }

  test("streamed tool-call fragments reach the consumer intact and in order", async () => {
    const calls = [
      { id: "call_a", name: "get_weather", arguments: '{"city":"Paris","unit":"celsius"}' },
      { id: "call_b", name: "get_time", arguments: '{"tz":"Europe/Paris"}' },
    ];
    fake.setBehavior({ kind: "ok", toolCalls: calls, argumentChunkSize: 3 });
    const chunks = await collect(provider().stream(request({ tools: [{ type: "function", function: { name: "get_weather" } }] }), opts()));

    const deltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(deltas.length).toBe(2 + Math.ceil(calls[0]!.arguments.length / 3) + Math.ceil(calls[1]!.arguments.length / 3));
    // each call opens with id, type, name and empty arguments, then only argument fragments
    const heads = deltas.filter((d) => d.id !== undefined);
    expect(heads).toEqual([
      { index: 0, id: "call_a", type: "function", function: { name: "get_weather", arguments: "" } },
      { index: 1, id: "call_b", type: "function", function: { name: "get_time", arguments: "" } },
    ]);
    const fragments = deltas.filter((d) => d.id === undefined);
    expect(fragments.every((d) => d.function?.arguments?.length && d.function.name === undefined)).toBe(true);
    for (const [i, call] of calls.entries()) {
      const joined = deltas.filter((d) => d.index === i).map((d) => d.function?.arguments ?? "").join("");
      expect(joined).toBe(call.arguments);
      expect(JSON.parse(joined)).toEqual(JSON.parse(call.arguments));
    }
    expect(chunks[0]?.choices[0]?.delta).toMatchObject({ role: "assistant", content: null });
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe("tool_calls");
    expect(chunks.at(-1)?.usage?.completion_tokens).toBeGreaterThan(0);
  });

  test("streamed tool calls count as completion tokens when the upstream sends no usage", async () => {
    fake.setBehavior({ kind: "ok", toolCalls: [{ name: "f", arguments: '{"x":1}' }], omitUsage: true });
    const chunks = await collect(provider().stream(request(), opts()));
    expect(chunks.at(-1)?.usage?.completion_tokens).toBe(countTextTokens('f{"x":1}'));
  });

  test("a connection that dies mid-stream → 502 upstream_stream_truncated", async () => {
    const dying = startFakeOpenAI({ behavior: { kind: "ok", content: "z".repeat(100), chunkSize: 2, chunkDelayMs: 20 } });
    const { err } = await streamUntilError(provider({ baseUrl: dying.url }).stream(request(), opts()), (n) => {
      if (n === 2) void dying.close();
    });
    expect([err.status, err.code]).toEqual([502, "upstream_stream_truncated"]);
    expect(err.retryable).toBe(false); // chunks had been passed on
  });

  test("the timeout covers the headers only, not a slow stream", async () => {
    fake.setBehavior({ kind: "ok", content: "slow but steady", chunkSize: 3, chunkDelayMs: 40 });
    const chunks = await collect(provider().stream(request(), opts({ timeoutMs: 100 })));
    expect(streamedText(chunks)).toBe("slow but steady");
  });

  test("a consumer that stops iterating cancels the upstream request", async () => {
    fake.setBehavior({ kind: "ok", content: "x".repeat(400), chunkSize: 2, chunkDelayMs: 20 });
    await stopAfter(provider().stream(request(), opts()), 3);
    await fake.waitForCancellation(1, 2000);
    expect(fake.cancellations).toBe(1);
  });

  test("aborting the caller's signal mid-stream stops the generator and the upstream", async () => {
    fake.setBehavior({ kind: "ok", content: "y".repeat(400), chunkSize: 2, chunkDelayMs: 20 });
    const { run, received } = abortAfter((signal) => provider().stream(request(), opts({ signal })), 2, new Error("client went away"));
    await expect(run).rejects.toThrow("client went away");
    expect(received.length).toBeLessThanOrEqual(3);
    await fake.waitForCancellation(1, 2000);
  });
});

describe("openaiProvider.embed", () => {
  const embed = (req: Partial<EmbeddingsRequest> = {}, extra: { timeoutMs?: number } = {}) =>
    provider().embed!({ model: "embedder", input: ["alpha", "beta"], ...req }, { ...opts(extra), model: "text-embedding-3-small" });

  test("posts the canonical body with the provider's model and returns the vectors", async () => {
    const res = await embed({ dimensions: 4, user: "u-1" });
    const sent = fake.requests[0]!;
    expect([sent.method, sent.path, sent.headers.authorization]).toEqual(["POST", "/v1/embeddings", "Bearer sk-upstream"]);
    expect(sent.body).toEqual({ model: "text-embedding-3-small", input: ["alpha", "beta"], dimensions: 4, user: "u-1" });
    expect(res).toEqual({
      object: "list",
      model: "text-embedding-3-small",
      data: [
        { object: "embedding", index: 0, embedding: fakeEmbedding("alpha", 4) },
        { object: "embedding", index: 1, embedding: fakeEmbedding("beta", 4) },
      ],
      usage: { prompt_tokens: 2, total_tokens: 2 },
    });
  });

  test("a single string, token arrays and base64 vectors", async () => {
    expect((await embed({ input: "one" })).data).toHaveLength(1);
    expect((await embed({ input: [1, 2, 3] })).data).toHaveLength(1);
    expect((await embed({ input: [[1, 2], [3]] })).data).toHaveLength(2);
    const b64 = await embed({ input: "alpha", encoding_format: "base64" });
    const bytes = Buffer.from(b64.data[0]!.embedding as string, "base64");
    const floats = Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
    expect(floats).toEqual(fakeEmbedding("alpha").map(Math.fround));
  });

  test("counts input tokens when the upstream sends no usage", async () => {
    fake.setBehavior({ kind: "ok", omitUsage: true });
    const res = await embed({ input: ["hello world", "again"] });
    const tokens = countTextTokens("hello world") + countTextTokens("again");
    expect(res.usage).toEqual({ prompt_tokens: tokens, total_tokens: tokens });
  });

  test("maps failures like chat completions", async () => {
    fake.enqueue({ kind: "error", status: 429, headers: { "retry-after": "4" } }, { kind: "error", status: 400, code: "invalid_dimensions", message: "bad dims" });
    expect(verdict(await expectProviderError(() => embed()))).toEqual({ status: 429, code: "upstream_rate_limited", retryable: true, retryAfterMs: 4000 });
    const bad = await expectProviderError(() => embed());
    expect([bad.status, bad.code, bad.message, bad.retryable]).toEqual([400, "invalid_dimensions", "openai: bad dims", false]);

    fake.setBehavior({ kind: "malformed" });
    expect(verdict(await expectProviderError(() => embed()))).toMatchObject({ status: 502, code: "upstream_invalid_response", retryable: false });
    fake.setBehavior({ kind: "truncate" });
    expect(verdict(await expectProviderError(() => embed()))).toMatchObject({ status: 502, code: "upstream_invalid_response", retryable: false });
    fake.setBehavior({ kind: "error-in-200" });
    expect(verdict(await expectProviderError(() => embed()))).toMatchObject({ status: 502, code: "upstream_error", retryable: true });
    fake.setBehavior({ kind: "hang" });
    expect(verdict(await expectProviderError(() => embed({}, { timeoutMs: 80 })))).toMatchObject({ status: 504, code: "upstream_timeout", retryable: true });
  });

  test("rejects answers that do not match the input", async () => {
    const server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: async (req) => {
        const body = (await req.json()) as { input: unknown };
        if (body.input === "count") return Response.json({ object: "list", data: [], model: "m" });
        return Response.json({ object: "list", data: [{ object: "embedding", index: 0, embedding: ["x"] }], model: "m" });
      },
    });
    try {
      const p = openaiProvider({ id: "odd", kind: "openai", baseUrl: `http://127.0.0.1:${server.port}/v1`, models: ["m"] });
      const wrongCount = await expectProviderError(() => p.embed!({ model: "m", input: "count" }, opts()));
      expect([wrongCount.code, wrongCount.message]).toEqual(["upstream_invalid_response", "odd: upstream sent 0 embeddings for 1 inputs"]);
      const notNumbers = await expectProviderError(() => p.embed!({ model: "m", input: "x" }, opts()));
      expect(notNumbers.code).toBe("upstream_invalid_response");
    } finally {
      await server.stop(true);
    }
  });
});
