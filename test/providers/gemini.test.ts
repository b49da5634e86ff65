import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import type { ChatCompletionRequest } from "../../src/canonical/chat.ts";
import { GatewayError } from "../../src/pipeline/errors.ts";
import { geminiProvider } from "../../src/providers/gemini/index.ts";
import { toGeminiSchema } from "../../src/providers/gemini/schema.ts";
import { translateGeminiStream } from "../../src/providers/gemini/stream.ts";
import { fromGeminiResponse, SKIP_THOUGHT_SIGNATURE, toFinishReason, toGeminiRequest, toUsage } from "../../src/providers/gemini/translate.ts";
import { countPromptTokens, countTextTokens } from "../../src/providers/tokens.ts";
import { fakeEmbedding, startFakeGemini } from "../fakes/gemini-upstream.ts";
import { abortAfter, type CallExtras, callOptions, collect, expectFailure, expectProviderError, stopAfter, streamedText, streamUntilError, type UpstreamOverrides, upstream } from "../helpers/provider-calls.ts";

const MODEL = "gemini-2.5-flash";
const fake = startFakeGemini({ apiKey: "g-upstream" });
afterAll(() => fake.close());
beforeEach(() => fake.reset());

const provider = (over: UpstreamOverrides = {}) =>
  geminiProvider({ id: "gemini", kind: "gemini", ...upstream({ baseUrl: fake.url, apiKey: "g-upstream" }, over), models: [MODEL] });

const opts = (extra: CallExtras & { model?: string } = {}) => callOptions(extra.model ?? MODEL, extra);

const request = (over: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest => ({
  model: "flash", // the gateway-facing alias: the adapter uses opts.model
  messages: [
    { role: "system", content: "You are terse." },
    { role: "user", content: "Say hello" },
  ],
  temperature: 0.2,
  ...over,
});

const WEATHER_TOOL = {
  type: "function" as const,
  function: {
    name: "get_weather",
    description: "Current weather",
    parameters: { $schema: "http://json-schema.org/draft-07/schema#", type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false },
  },
};

describe("toGeminiRequest", () => {
  test("roles, systemInstruction, generationConfig, merged turns", () => {
    const body = toGeminiRequest(
      request({
        messages: [
          { role: "system", content: "Be brief." },
          { role: "developer", content: [{ type: "text", text: "Answer in French." }] },
          { role: "user", content: "Hi" },
          { role: "user", content: "Are you there?" },
          { role: "assistant", content: "Oui." },
          { role: "user", content: "Merci" },
        ],
        top_p: 0.9,
        max_tokens: 50,
        max_completion_tokens: 100,
        stop: "END",
        seed: 7,
      }),
    );
    expect(body.systemInstruction).toEqual({ parts: [{ text: "Be brief." }, { text: "Answer in French." }] });
    expect(body.contents).toEqual([
      { role: "user", parts: [{ text: "Hi" }, { text: "Are you there?" }] },
      { role: "model", parts: [{ text: "Oui." }] },
      { role: "user", parts: [{ text: "Merci" }] },
    ]);
    expect(body.generationConfig).toEqual({ candidateCount: 1, temperature: 0.2, topP: 0.9, maxOutputTokens: 100, stopSequences: ["END"], seed: 7 });
    expect(body.tools).toBeUndefined();
    expect(body.toolConfig).toBeUndefined();
  });

  test("images: data URLs → inlineData, http(s) → fileData; unsupported parts are a 400", () => {
    const body = toGeminiRequest(
      request({
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "What is this?" },
              { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
              { type: "image_url", image_url: { url: "https://example.com/cat.JPG?size=2" } },
              { type: "image_url", image_url: { url: "https://example.com/render" } },
              { type: "input_audio", input_audio: { data: "UklGRg==", format: "wav" } } as never,
            ],
          },
        ],
      }),
    );
    expect(body.contents[0]?.parts).toEqual([
      { text: "What is this?" },
      { inlineData: { mimeType: "image/png", data: "iVBORw0KGgo=" } },
      { fileData: { fileUri: "https://example.com/cat.JPG?size=2", mimeType: "image/jpeg" } },
      { fileData: { fileUri: "https://example.com/render" } },
      { inlineData: { mimeType: "audio/wav", data: "UklGRg==" } },
    ]);
    const bad = (content: unknown) => () => toGeminiRequest(request({ messages: [{ role: "user", content: content as never }] }));
    expect(bad([{ type: "image_url", image_url: { url: "ftp://x/y.png" } }])).toThrow(GatewayError);
    expect(bad([{ type: "video_url", video_url: "x" }])).toThrow(expect.objectContaining({ status: 400, code: "invalid_request", param: "messages[0].content[0]" }));
  });

  test("tools and tool_choice; tool calls → functionCall, tool results → named functionResponse", () => {
    const body = toGeminiRequest(
      request({
        messages: [
          { role: "user", content: "Weather in Paris and Rome?" },
          {
            role: "assistant",
            content: null,
            tool_calls: [
              { id: "call_a", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
              { id: "call_b", type: "function", function: { name: "get_time", arguments: "" } },
            ],
          },
          { role: "tool", tool_call_id: "call_a", content: '{"temp":21}' },
          { role: "tool", tool_call_id: "call_b", content: "noon" },
          { role: "user", content: "Thanks" },
        ],
        tools: [WEATHER_TOOL, { type: "function", function: { name: "get_time", parameters: { type: "object", properties: {} } } }],
        tool_choice: "required",
      }),
    );
    expect(body.tools).toEqual([
      {
        functionDeclarations: [
          { name: "get_weather", description: "Current weather", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } },
          { name: "get_time" }, // no empty OBJECT schema: Gemini rejects those
        ],
      },
    ]);
    expect(body.toolConfig).toEqual({ functionCallingConfig: { mode: "ANY" } });
    expect(body.contents).toEqual([
      { role: "user", parts: [{ text: "Weather in Paris and Rome?" }] },
      {
        role: "model",
        parts: [
          { functionCall: { name: "get_weather", args: { city: "Paris" } }, thoughtSignature: SKIP_THOUGHT_SIGNATURE },
          { functionCall: { name: "get_time", args: {} } },
        ],
      },
      {
        role: "user",
        parts: [
          { functionResponse: { name: "get_weather", response: { temp: 21 } } },
          { functionResponse: { name: "get_time", response: { content: "noon" } } },
          { text: "Thanks" },
        ],
      },
    ]);

    const mode = (tool_choice: unknown) => toGeminiRequest(request({ tools: [WEATHER_TOOL], tool_choice })).toolConfig;
    expect(mode("auto")).toEqual({ functionCallingConfig: { mode: "AUTO" } });
    expect(mode("none")).toEqual({ functionCallingConfig: { mode: "NONE" } });
    expect(mode({ type: "function", function: { name: "get_weather" } })).toEqual({ functionCallingConfig: { mode: "ANY", allowedFunctionNames: ["get_weather"] } });
    expect(mode(undefined)).toBeUndefined();
    expect(() => mode("sometimes")).toThrow(GatewayError);
  });

  test("a real thought signature round-trips; unknown tool results and bad arguments are 400s", () => {
    const signed = toGeminiRequest(
      request({
        messages: [
          { role: "user", content: "x" },
          { role: "assistant", tool_calls: [{ id: "call_0", type: "function", function: { name: "f", arguments: "{}" }, extra_content: { google: { thought_signature: "c2ln" } } } as never] },
        ],
      }),
    );
    expect(signed.contents[1]?.parts[0]).toEqual({ functionCall: { name: "f", args: {} }, thoughtSignature: "c2ln" });
    const unknownResult = request({ messages: [{ role: "user", content: "x" }, { role: "tool", tool_call_id: "call_zz", content: "1" }] });
    expect(() => toGeminiRequest(unknownResult)).toThrow("call_zz");
    const badArgs = request({ messages: [{ role: "assistant", tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "[1]" } }] }] });
    expect(() => toGeminiRequest(badArgs)).toThrow("not a JSON object");
  });

  test("json mode and json_schema → responseMimeType (+ a cleaned responseSchema)", () => {
    expect(toGeminiRequest(request({ response_format: { type: "json_object" } })).generationConfig.responseMimeType).toBe("application/json");
    const schema = {
      $schema: "https://json-schema.org/draft/2020-12/schema",
      type: "object",
      additionalProperties: false,
      properties: {
        name: { type: "string", format: "email" },
        when: { type: "string", format: "date-time" },
        tags: { type: "array", items: { $ref: "#/$defs/Tag" } },
        note: { type: ["string", "null"] },
        kind: { const: "person" },
      },
      required: ["name"],
      $defs: { Tag: { type: "object", properties: { label: { type: "string" } }, additionalProperties: false } },
    };
    const config = toGeminiRequest(request({ response_format: { type: "json_schema", json_schema: { name: "p", strict: true, schema } } as never })).generationConfig;
    expect(config.responseMimeType).toBe("application/json");
    expect(config.responseSchema).toEqual({
      type: "object",
      properties: {
        name: { type: "string" },
        when: { type: "string", format: "date-time" },
        tags: { type: "array", items: { type: "object", properties: { label: { type: "string" } } } },
        note: { type: "string", nullable: true },
        kind: { enum: ["person"] },
      },
      required: ["name"],
    });
    const recursive = { type: "object", properties: { child: { $ref: "#/$defs/Node" } }, $defs: { Node: { type: "object", properties: { next: { $ref: "#/$defs/Node" } } } } };
    expect(toGeminiSchema(recursive)).toEqual({ type: "object", properties: { child: { type: "object", properties: { next: { type: "object" } } } } });
  });
});

describe("fromGeminiResponse", () => {
  const req = request();
  test("text parts joined (thoughts skipped), usage with cached and thinking tokens", () => {
    const res = fromGeminiResponse(
      {
        candidates: [{ content: { role: "model", parts: [{ text: "plan…", thought: true }, { text: "Hello, " }, { text: "world" }] }, finishReason: "STOP" }],
        usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 4, thoughtsTokenCount: 6, cachedContentTokenCount: 8, totalTokenCount: 20 },
        modelVersion: "gemini-2.5-flash-001",
        responseId: "abc",
      },
      req,
      MODEL,
    );
    expect(res.id).toBe("chatcmpl-abc");
    expect(res.model).toBe("gemini-2.5-flash-001");
    expect(res.choices[0]?.message).toEqual({ role: "assistant", content: "Hello, world" });
    expect(res.choices[0]?.finish_reason).toBe("stop");
    expect(res.usage).toEqual({
      prompt_tokens: 10,
      completion_tokens: 10,
      total_tokens: 20,
      prompt_tokens_details: { cached_tokens: 8 },
      completion_tokens_details: { reasoning_tokens: 6 },
    } as never);
  });

  test("functionCall parts → tool_calls with stable ids; finish tool_calls", () => {
    const res = fromGeminiResponse(
      {
        candidates: [
          {
            content: { parts: [{ functionCall: { name: "a", args: { x: 1 } }, thoughtSignature: "c2ln" }, { functionCall: { name: "b", args: {} } }] },
            finishReason: "STOP",
          },
        ],
        usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 2 },
      },
      req,
      MODEL,
    );
    expect(res.model).toBe(MODEL);
    expect(res.choices[0]?.message.content).toBeNull();
    expect(res.choices[0]?.message.tool_calls).toEqual([
      { id: "call_0", type: "function", function: { name: "a", arguments: '{"x":1}' }, extra_content: { google: { thought_signature: "c2ln" } } } as never,
      { id: "call_1", type: "function", function: { name: "b", arguments: "{}" } },
    ]);
    expect(res.choices[0]?.finish_reason).toBe("tool_calls");
    expect(res.usage).toEqual({ prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 });
  });

  test("finish reasons; a blocked prompt is an empty content_filter answer; missing usage is counted", () => {
    expect(["STOP", "MAX_TOKENS", "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "OTHER"].map((r) => toFinishReason(r, false))).toEqual([
      "stop", "length", "content_filter", "content_filter", "content_filter", "content_filter", "content_filter", "stop",
    ]);
    expect(toFinishReason("STOP", true)).toBe("tool_calls");
    const blocked = fromGeminiResponse({ promptFeedback: { blockReason: "SAFETY" } }, req, MODEL);
    expect(blocked.choices[0]?.message.content).toBe("");
    expect(blocked.choices[0]?.finish_reason).toBe("content_filter");
    const prompt = countPromptTokens(req.messages);
    expect(blocked.usage).toEqual({ prompt_tokens: prompt, completion_tokens: 0, total_tokens: prompt });
    expect(toUsage({})).toEqual({ prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 });
  });
});

describe("translateGeminiStream (pure)", () => {
  async function* events(...data: string[]) {
    for (const d of data) yield { data: d };
  }
  test("emits text, whole tool calls with indexes, finish, then usage", async () => {
    const chunks = await collect(
      translateGeminiStream(
        events(
          JSON.stringify({ candidates: [{ content: { parts: [{ text: "Let me check." }] } }], responseId: "r1", modelVersion: "m-1" }),
          JSON.stringify({ candidates: [{ content: { parts: [{ functionCall: { name: "a", args: { q: 1 } } }, { functionCall: { name: "b" } }] }, finishReason: "STOP" }], usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 7 } }),
        ),
        { provider: "gemini", model: MODEL, req: request() },
      ),
    );
    expect(chunks.map((c) => c.choices[0]?.delta ?? null)).toEqual([
      { role: "assistant", content: "" },
      { content: "Let me check." },
      {
        tool_calls: [
          { index: 0, id: "call_0", type: "function", function: { name: "a", arguments: '{"q":1}' } },
          { index: 1, id: "call_1", type: "function", function: { name: "b", arguments: "{}" } },
        ],
      },
      {},
      null,
    ]);
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe("tool_calls");
    expect(chunks.at(-1)?.usage).toEqual({ prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 });
    for (const c of chunks) expect([c.id, c.model]).toEqual(["chatcmpl-r1", "m-1"]);
  });

  test("an empty stream is a retryable truncation; an in-band error is mapped by its code", async () => {
    const err = await expectProviderError(() => collect(translateGeminiStream(events(), { provider: "gemini", model: MODEL, req: request() })));
    expect([err.code, err.retryable]).toEqual(["upstream_stream_truncated", true]);
    const inBand = JSON.stringify({ error: { code: 503, message: "The model is overloaded.", status: "UNAVAILABLE" } });
    const err2 = await expectProviderError(() => collect(translateGeminiStream(events(inBand), { provider: "gemini", model: MODEL, req: request() })));
    expect([err2.status, err2.code]).toEqual([502, "upstream_overloaded"]);
  });
});

describe("geminiProvider.complete", () => {
  test("POSTs generateContent with x-goog-api-key and the translated body", async () => {
    fake.setBehavior({ kind: "ok", text: "Hello!", modelVersion: "gemini-2.5-flash-001", usage: { cachedContentTokenCount: 2 } });
    const res = await provider().complete(request(), opts());
    const sent = fake.requests[0]!;
    expect(sent.method).toBe("POST");
    expect(sent.path).toBe(`/v1beta/models/${MODEL}:generateContent`);
    expect(sent.search).toBe("");
    expect(sent.headers["x-goog-api-key"]).toBe("g-upstream");
    expect(sent.headers.authorization).toBeUndefined();
    expect(sent.body).toEqual(toGeminiRequest(request()));
    expect(res.object).toBe("chat.completion");
    expect(res.id).toBe("chatcmpl-fakeResp0001");
    expect(res.model).toBe("gemini-2.5-flash-001");
    expect(res.choices[0]?.message.content).toBe("Hello!");
    expect(res.choices[0]?.finish_reason).toBe("stop");
    expect(res.usage?.prompt_tokens_details).toEqual({ cached_tokens: 2 });
    expect(res.usage?.total_tokens).toBe(res.usage!.prompt_tokens + res.usage!.completion_tokens);
  });

  test("function call answers, safety blocks, MAX_TOKENS and a tunedModels path", async () => {
    fake.enqueue(
      { kind: "ok", text: "", functionCalls: [{ name: "get_weather", args: { city: "Paris" } }] },
      { kind: "safety", where: "response" },
      { kind: "ok", finishReason: "MAX_TOKENS" },
      { kind: "ok" },
    );
    const calls = await provider().complete(request({ tools: [WEATHER_TOOL] }), opts());
    expect(calls.choices[0]?.message.tool_calls).toEqual([{ id: "call_0", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }]);
    expect(calls.choices[0]?.finish_reason).toBe("tool_calls");
    const blocked = await provider().complete(request(), opts());
    expect([blocked.choices[0]?.message.content, blocked.choices[0]?.finish_reason]).toEqual(["", "content_filter"]);
    expect((await provider().complete(request(), opts())).choices[0]?.finish_reason).toBe("length");
    await provider().complete(request(), opts({ model: "tunedModels/my-model" }));
    expect(fake.requests.at(-1)?.path).toBe("/v1beta/tunedModels/my-model:generateContent");
  });

  test("maps Google errors (400/401/403/404/429/500/503, API key invalid)", async () => {
    const cases: Array<[Parameters<typeof fake.enqueue>[0], number, string, boolean]> = [
      [{ kind: "error", status: 400 }, 400, "invalid_argument", false],
      [{ kind: "error", status: 401 }, 502, "upstream_auth_failed", false],
      [{ kind: "error", status: 403 }, 502, "upstream_auth_failed", false],
      [{ kind: "error", status: 404 }, 404, "not_found", false],
      [{ kind: "error", status: 429 }, 429, "upstream_rate_limited", true],
      [{ kind: "error", status: 500 }, 502, "upstream_error", true],
      [{ kind: "error", status: 503 }, 502, "upstream_overloaded", true],
      [{ kind: "error", status: 504 }, 504, "upstream_timeout", true],
    ];
    for (const [behavior, status, code, retryable] of cases) {
      fake.enqueue(behavior);
      const err = await expectProviderError(() => provider().complete(request(), opts()));
      expect([err.status, err.code, err.retryable]).toEqual([status, code, retryable]);
      expect(err.message.startsWith("gemini: ")).toBe(true);
    }
    const badKey = await expectProviderError(() => provider({ apiKey: "wrong" }).complete(request(), opts()));
    expect([badKey.status, badKey.code, badKey.upstreamStatus]).toEqual([502, "upstream_auth_failed", 400]);
    expect(badKey.message).toContain("API key not valid");
  });

  test("429: RetryInfo.retryDelay is used when there is no Retry-After, Retry-After wins when present", async () => {
    fake.enqueue({ kind: "error", status: 429, retryDelay: "30s" }, { kind: "error", status: 429, retryDelay: "30s", headers: { "retry-after": "7" } }, { kind: "error", status: 503, retryDelay: "1.5s" });
    let err = await expectProviderError(() => provider().complete(request(), opts()));
    expect([err.retryAfterMs, err.headers]).toEqual([30_000, { "retry-after": "30" }]);
    expect(err.message).toContain("exceeded your current quota");
    err = await expectProviderError(() => provider().complete(request(), opts()));
    expect(err.retryAfterMs).toBe(7_000);
    err = await expectProviderError(() => provider().complete(request(), opts()));
    expect([err.code, err.retryAfterMs]).toEqual(["upstream_overloaded", 1_500]);
  });

  test("malformed body → 502 upstream_invalid_response; hang → 504 upstream_timeout; refused → 502 upstream_unreachable", async () => {
    fake.enqueue({ kind: "malformed" }, { kind: "hang" });
    let err = await expectProviderError(() => provider().complete(request(), opts()));
    expect([err.status, err.code]).toEqual([502, "upstream_invalid_response"]);
    const started = Date.now();
    err = await expectProviderError(() => provider().complete(request(), opts({ timeoutMs: 100 })));
    expect([err.status, err.code, err.retryable]).toEqual([504, "upstream_timeout", true]);
    expect(Date.now() - started).toBeLessThan(2000);
    err = await expectProviderError(() => provider({ baseUrl: "http://127.0.0.1:1/v1beta" }).complete(request(), opts()));
    expect([err.status, err.code]).toEqual([502, "upstream_unreachable"]);
  });

  test("caller abort rejects with the caller's reason; bad input fails before any request", async () => {
    fake.setBehavior({ kind: "hang" });
    const ctrl = new AbortController();
    setTimeout(() => ctrl.abort(new Error("client disconnected")), 30);
    await expect(provider().complete(request(), opts({ signal: ctrl.signal }))).rejects.toThrow("client disconnected");
    fake.reset();
    const err = await expectFailure(() => provider().complete(request({ tool_choice: "maybe", tools: [WEATHER_TOOL] }), opts()), GatewayError);
    expect([err.status, err.code]).toEqual([400, "invalid_request"]);
    expect(fake.requests).toHaveLength(0);
  });
});

describe("geminiProvider.stream", () => {
  test("streamGenerateContent?alt=sse → role, text deltas, finish, usage", async () => {
    fake.setBehavior({ kind: "ok", text: "Hello from Gemini, streaming!", chunkSize: 6, modelVersion: "gemini-2.5-flash-001" });
    const chunks = await collect(provider().stream(request(), opts()));
    const sent = fake.requests[0]!;
    expect(sent.path).toBe(`/v1beta/models/${MODEL}:streamGenerateContent`);
    expect(sent.search).toBe("?alt=sse");
    expect(sent.headers["x-goog-api-key"]).toBe("g-upstream");
    expect(sent.body).toEqual(toGeminiRequest(request()));

    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: "assistant", content: "" });
    expect(streamedText(chunks)).toBe("Hello from Gemini, streaming!");
    expect(chunks.filter((c) => c.choices[0]?.delta.content).length).toBe(5);
    for (const c of chunks) expect([c.object, c.id, c.model]).toEqual(["chat.completion.chunk", "chatcmpl-fakeResp0002", "gemini-2.5-flash-001"]);
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe("stop");
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    const promptTokens = JSON.stringify(sent.body.contents).length >> 2; // the fake's own count
    const completionTokens = "Hello from Gemini, streaming![]".length >> 2;
    expect(last.usage).toEqual({ prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens });
  });

  test("a function call arrives whole, as one tool_calls delta; finish tool_calls", async () => {
    fake.setBehavior({ kind: "ok", text: "Checking.", functionCalls: [{ name: "get_weather", args: { city: "Rome" } }], usage: { thoughtsTokenCount: 3 } });
    const chunks = await collect(provider().stream(request({ tools: [WEATHER_TOOL] }), opts()));
    expect(streamedText(chunks)).toBe("Checking.");
    const deltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(deltas).toEqual([{ index: 0, id: "call_0", type: "function", function: { name: "get_weather", arguments: '{"city":"Rome"}' } }]);
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe("tool_calls");
    expect((chunks.at(-1)?.usage as { completion_tokens_details?: unknown }).completion_tokens_details).toEqual({ reasoning_tokens: 3 });
  });

  test("usage is counted locally when Google sends no usageMetadata; a blocked prompt finishes content_filter", async () => {
    fake.enqueue({ kind: "ok", text: "Hello, world!", omitUsage: true }, { kind: "safety", where: "prompt" });
    const req = request();
    let chunks = await collect(provider().stream(req, opts()));
    const prompt = countPromptTokens(req.messages);
    const completion = countTextTokens("Hello, world!");
    expect(chunks.at(-1)?.usage).toEqual({ prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion });
    chunks = await collect(provider().stream(req, opts()));
    expect(streamedText(chunks)).toBe("");
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe("content_filter");
    expect(chunks.at(-1)?.usage?.prompt_tokens).toBeGreaterThan(0);
  });

  test("errors before the first chunk are mapped like non-streaming ones", async () => {
    fake.enqueue({ kind: "error", status: 429, retryDelay: "12s" }, { kind: "error", status: 500 });
    let err = await expectProviderError(() => collect(provider().stream(request(), opts())));
    expect([err.status, err.code, err.headers]).toEqual([429, "upstream_rate_limited", { "retry-after": "12" }]);
    err = await expectProviderError(() => collect(provider().stream(request(), opts())));
    expect([err.status, err.code]).toEqual([502, "upstream_error"]);
  });

  test("malformed data line → 502 upstream_invalid_response", async () => {
    fake.setBehavior({ kind: "malformed" });
    const err = await expectProviderError(() => collect(provider().stream(request(), opts())));
    expect([err.status, err.code]).toEqual([502, "upstream_invalid_response"]);
  });

  test("no finishReason before the end → 502 upstream_stream_truncated, after passing on what arrived", async () => {
    fake.setBehavior({ kind: "truncate", text: "Hello there" });
    const { received, err } = await streamUntilError(provider().stream(request(), opts()));
    expect([err.status, err.code, err.retryable]).toEqual([502, "upstream_stream_truncated", false]);
    expect(streamedText(received)).toBe("Hello");
  });

  test("a connection that dies mid-stream → 502 upstream_stream_truncated", async () => {
    const dying = startFakeGemini({ behavior: { kind: "ok", text: "z".repeat(100), chunkSize: 2, chunkDelayMs: 20 } });
    const { err } = await streamUntilError(provider({ baseUrl: dying.url }).stream(request(), opts()), (n) => {
      if (n === 2) void dying.close();
    });
    expect([err.status, err.code]).toEqual([502, "upstream_stream_truncated"]);
  });

  test("the timeout covers the headers only; hanging headers → 504 upstream_timeout", async () => {
    fake.enqueue({ kind: "ok", text: "slow but steady", chunkSize: 3, chunkDelayMs: 40 }, { kind: "hang" });
    expect(streamedText(await collect(provider().stream(request(), opts({ timeoutMs: 100 }))))).toBe("slow but steady");
    const err = await expectProviderError(() => collect(provider().stream(request(), opts({ timeoutMs: 100 }))));
    expect([err.status, err.code]).toEqual([504, "upstream_timeout"]);
  });

  test("a consumer that stops iterating cancels the upstream request", async () => {
    fake.setBehavior({ kind: "ok", text: "x".repeat(400), chunkSize: 2, chunkDelayMs: 20 });
    await stopAfter(provider().stream(request(), opts()), 3);
    await fake.waitForCancellation(1, 2000);
    expect(fake.cancellations).toBe(1);
  });

  test("aborting the caller's signal mid-stream rethrows its reason and cancels upstream", async () => {
    fake.setBehavior({ kind: "ok", text: "y".repeat(400), chunkSize: 2, chunkDelayMs: 20 });
    const { run } = abortAfter((signal) => provider().stream(request(), opts({ signal })), 2, new Error("client went away"));
    await expect(run).rejects.toThrow("client went away");
    await fake.waitForCancellation(1, 2000);
  });
});

describe("geminiProvider.embed", () => {
  const embedReq = (over: Record<string, unknown> = {}) => ({ model: "embed", input: ["hello", "world"], ...over });
  const embedOpts = opts({ model: "gemini-embedding-001" });

  test("batchEmbedContents → OpenAI-shaped float vectors with locally counted usage", async () => {
    const res = await provider().embed!(embedReq({ dimensions: 4 }) as never, embedOpts);
    const sent = fake.requests[0]!;
    expect(sent.path).toBe("/v1beta/models/gemini-embedding-001:batchEmbedContents");
    expect(sent.headers["x-goog-api-key"]).toBe("g-upstream");
    expect(sent.body).toEqual({
      requests: [
        { model: "models/gemini-embedding-001", content: { parts: [{ text: "hello" }] }, outputDimensionality: 4 },
        { model: "models/gemini-embedding-001", content: { parts: [{ text: "world" }] }, outputDimensionality: 4 },
      ],
    });
    expect(res).toEqual({
      object: "list",
      data: [
        { object: "embedding", index: 0, embedding: fakeEmbedding("hello", 4) },
        { object: "embedding", index: 1, embedding: fakeEmbedding("world", 4) },
      ],
      model: "gemini-embedding-001",
      usage: { prompt_tokens: countTextTokens("hello") + countTextTokens("world"), total_tokens: countTextTokens("hello") + countTextTokens("world") },
    });
  });

  test("base64 = little-endian float32; >100 inputs go in batches; token arrays are a 400; errors mapped", async () => {
    const res = await provider().embed!(embedReq({ input: "hi", encoding_format: "base64" }) as never, embedOpts);
    const bytes = Buffer.from(res.data[0]!.embedding as string, "base64");
    const decoded = Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
    expect(decoded).toEqual(fakeEmbedding("hi"));

    const many = await provider().embed!(embedReq({ input: Array.from({ length: 150 }, (_, i) => `t${i}`) }) as never, embedOpts);
    expect(many.data).toHaveLength(150);
    expect(many.data[149]?.index).toBe(149);
    expect(fake.requests.slice(1).map((r) => r.body.requests.length)).toEqual([100, 50]);

    const tokens = await expectFailure(() => provider().embed!(embedReq({ input: [1, 2, 3] }) as never, embedOpts), GatewayError);
    expect([tokens.status, tokens.code]).toEqual([400, "invalid_request"]);
    const denied = await expectProviderError(() => provider({ apiKey: "nope" }).embed!(embedReq() as never, embedOpts));
    expect(denied.code).toBe("upstream_auth_failed");
  });
});
