import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import type { ChatCompletionRequest } from "../../src/canonical/chat.ts";
import { GatewayError } from "../../src/pipeline/errors.ts";
import { anthropicProvider } from "../../src/providers/anthropic/index.ts";
import { translateAnthropicStream } from "../../src/providers/anthropic/stream.ts";
import {
  fromAnthropicMessage,
  toAnthropicRequest,
  toFinishReason,
  toUsage,
  type AnthropicMessage,
} from "../../src/providers/anthropic/translate.ts";
import type { SSEEvent } from "../../src/providers/sse.ts";
import { startFakeAnthropic } from "../fakes/anthropic-upstream.ts";
import { type CallExtras, callOptions, collect, expectFailure, expectProviderError, stopAfter, streamedText, streamUntilError, type UpstreamOverrides, upstream } from "../helpers/provider-calls.ts";

const MODEL = "claude-sonnet-4-5";
const req = (over: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest => ({
  model: "smart",
  messages: [{ role: "user", content: "Hi" }],
  ...over,
});

describe("toAnthropicRequest", () => {
  test("system and developer messages become top-level system; max_tokens defaults to 4096", () => {
    const out = toAnthropicRequest(
      req({ messages: [{ role: "system", content: "Be terse." }, { role: "developer", content: [{ type: "text", text: "Use French." }] }, { role: "user", content: "Hi" }] }),
      MODEL,
    );
    expect(out).toEqual({ model: MODEL, max_tokens: 4096, system: "Be terse.\n\nUse French.", messages: [{ role: "user", content: [{ type: "text", text: "Hi" }] }] });
    expect(toAnthropicRequest(req({ max_tokens: 50 }), MODEL).max_tokens).toBe(50);
    expect(toAnthropicRequest(req({ max_tokens: 50, max_completion_tokens: 70 }), MODEL).max_tokens).toBe(70);
  });

  test("merges consecutive same-role messages and drops empty ones", () => {
    const out = toAnthropicRequest(
      req({ messages: [{ role: "user", content: "a" }, { role: "user", content: [{ type: "text", text: "b" }] }, { role: "assistant", content: "" }, { role: "assistant", content: "c" }, { role: "user", content: "d" }] }),
      MODEL,
    );
    expect(out.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "a" }, { type: "text", text: "b" }] },
      { role: "assistant", content: [{ type: "text", text: "c" }] },
      { role: "user", content: [{ type: "text", text: "d" }] },
    ]);
  });

  test("images: data URLs → base64 source, http(s) → url source, anything else → 400", () => {
    const out = toAnthropicRequest(
      req({
        messages: [{
          role: "user",
          content: [
            { type: "text", text: "What is this?" },
            { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
            { type: "image_url", image_url: { url: "https://example.com/cat.jpg", detail: "high" } },
          ],
        }],
      }),
      MODEL,
    );
    expect(out.messages[0]?.content).toEqual([
      { type: "text", text: "What is this?" },
      { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
      { type: "image", source: { type: "url", url: "https://example.com/cat.jpg" } },
    ]);
    const bad = () => toAnthropicRequest(req({ messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "ftp://x/y.png" } }] }] }), MODEL);
    expect(bad).toThrow(GatewayError);
    const audioPart = { type: "input_audio", input_audio: { data: "AAAA", format: "wav" } };
    const audio = () => toAnthropicRequest(req({ messages: [{ role: "user", content: [audioPart] }] }), MODEL);
    expect(audio).toThrow(/not supported by Anthropic/);
  });

  test("assistant tool_calls → tool_use blocks; tool messages → one user message of tool_results", () => {
    const out = toAnthropicRequest(
      req({
        messages: [
          { role: "user", content: "Weather in Paris and Rome?" },
          {
            role: "assistant",
            content: "Let me check.",
            tool_calls: [
              { id: "toolu_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
              { id: "toolu_2", type: "function", function: { name: "now", arguments: "" } },
            ],
          },
          { role: "tool", tool_call_id: "toolu_1", content: "18°C" },
          { role: "tool", tool_call_id: "toolu_2", content: [{ type: "text", text: "12:00" }] },
          { role: "user", content: "Thanks" },
        ],
      }),
      MODEL,
    );
    expect(out.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "Weather in Paris and Rome?" }] },
      {
        role: "assistant",
        content: [
          { type: "text", text: "Let me check." },
          { type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Paris" } },
          { type: "tool_use", id: "toolu_2", name: "now", input: {} },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "toolu_1", content: "18°C" },
          { type: "tool_result", tool_use_id: "toolu_2", content: [{ type: "text", text: "12:00" }] },
          { type: "text", text: "Thanks" },
        ],
      },
    ]);
  });

  test("a content part's cache_control (prompt caching) is passed through", () => {
    const cached = { type: "text", text: "long shared context", cache_control: { type: "ephemeral", ttl: "1h" } };
    const out = toAnthropicRequest(req({ messages: [{ role: "user", content: [cached, { type: "text", text: "question" }] }] }), MODEL);
    expect(out.messages[0]?.content).toEqual([
      { type: "text", text: "long shared context", cache_control: { type: "ephemeral", ttl: "1h" } },
      { type: "text", text: "question" },
    ]);
  });

  test("tool-call arguments that are not a JSON object are a 400", () => {
    const msgs: ChatCompletionRequest["messages"] = [
      { role: "user", content: "x" },
      { role: "assistant", content: null, tool_calls: [{ id: "t", type: "function", function: { name: "f", arguments: "{oops" } }] },
    ];
    expect(() => toAnthropicRequest(req({ messages: msgs }), MODEL)).toThrow(/not a JSON object/);
  });

  test("tools and tool_choice", () => {
    const tools: ChatCompletionRequest["tools"] = [
      { type: "function", function: { name: "get_weather", description: "Weather by city", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } },
      { type: "function", function: { name: "ping" } },
    ];
    const out = toAnthropicRequest(req({ tools }), MODEL);
    expect(out.tools).toEqual([
      { name: "get_weather", description: "Weather by city", input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } },
      { name: "ping", input_schema: { type: "object", properties: {} } },
    ]);
    expect(out.tool_choice).toBeUndefined();
    const choice = (tool_choice: unknown, parallel_tool_calls?: boolean) =>
      toAnthropicRequest(req({ tools, tool_choice, ...(parallel_tool_calls !== undefined ? { parallel_tool_calls } : {}) }), MODEL).tool_choice;
    expect(choice("auto")).toEqual({ type: "auto" });
    expect(choice("required")).toEqual({ type: "any" });
    expect(choice("none")).toEqual({ type: "none" });
    expect(choice({ type: "function", function: { name: "ping" } })).toEqual({ type: "tool", name: "ping" });
    expect(choice(undefined, false)).toEqual({ type: "auto", disable_parallel_tool_use: true });
    expect(choice("required", false)).toEqual({ type: "any", disable_parallel_tool_use: true });
    expect(choice({ type: "function", function: { name: "ping" } }, false)).toEqual({ type: "tool", name: "ping", disable_parallel_tool_use: true });
    expect(toAnthropicRequest(req({ tool_choice: "required" }), MODEL).tool_choice).toBeUndefined(); // no tools, no choice
  });

  test("sampling, stop, user and JSON mode", () => {
    const out = toAnthropicRequest(req({ temperature: 1.5, top_p: 0.9, stop: "END", user: "u-42", seed: 7, presence_penalty: 1 }), MODEL);
    expect(out).toMatchObject({ temperature: 1, top_p: 0.9, stop_sequences: ["END"], metadata: { user_id: "u-42" } });
    expect(out).not.toHaveProperty("seed");
    expect(toAnthropicRequest(req({ stop: ["a", "b"], temperature: 0.3 }), MODEL)).toMatchObject({ stop_sequences: ["a", "b"], temperature: 0.3 });

    const json = toAnthropicRequest(req({ messages: [{ role: "system", content: "Be terse." }, { role: "user", content: "x" }], response_format: { type: "json_object" } }), MODEL);
    expect(json.system).toStartWith("Be terse.\n\nRespond with valid JSON only");
    const schema = { type: "object", properties: { n: { type: "number" } } };
    const jsonSchemaFormat = { type: "json_schema", json_schema: { name: "n", schema } };
    const withSchema = toAnthropicRequest(req({ response_format: jsonSchemaFormat }), MODEL);
    expect(withSchema.system).toContain(JSON.stringify(schema));
    expect(toAnthropicRequest(req({ response_format: { type: "text" } }), MODEL).system).toBeUndefined();
  });
});

describe("fromAnthropicMessage", () => {
  const message = (over: Partial<AnthropicMessage> = {}): AnthropicMessage => ({
    id: "msg_01",
    type: "message",
    role: "assistant",
    model: "claude-sonnet-4-5-20250929",
    content: [{ type: "text", text: "Hello" }, { type: "text", text: " world" }],
    stop_reason: "end_turn",
    stop_sequence: null,
    usage: { input_tokens: 10, output_tokens: 5 },
    ...over,
  });

  test("text blocks joined, id and model kept, usage mapped", () => {
    const out = fromAnthropicMessage(message(), MODEL, 1700000000);
    expect(out).toEqual({
      id: "chatcmpl-msg_01",
      object: "chat.completion",
      created: 1700000000,
      model: "claude-sonnet-4-5-20250929",
      choices: [{ index: 0, message: { role: "assistant", content: "Hello world" }, finish_reason: "stop" }],
      usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, prompt_tokens_details: { cached_tokens: 0 } },
    });
  });

  test("tool_use blocks → tool_calls; content null when there is no text; thinking dropped", () => {
    const out = fromAnthropicMessage(
      message({
        content: [
          { type: "thinking", text: undefined },
          { type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Paris", units: ["c"] } },
          { type: "tool_use", id: "toolu_2", name: "now", input: {} },
        ],
        stop_reason: "tool_use",
      }),
      MODEL,
    );
    expect(out.choices[0]?.message).toEqual({
      role: "assistant",
      content: null,
      tool_calls: [
        { id: "toolu_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris","units":["c"]}' } },
        { id: "toolu_2", type: "function", function: { name: "now", arguments: "{}" } },
      ],
    });
    expect(out.choices[0]?.finish_reason).toBe("tool_calls");
  });

  test("stop reasons", () => {
    expect(toFinishReason("end_turn")).toBe("stop");
    expect(toFinishReason("stop_sequence")).toBe("stop");
    expect(toFinishReason("max_tokens")).toBe("length");
    expect(toFinishReason("tool_use")).toBe("tool_calls");
    expect(toFinishReason("refusal")).toBe("content_filter");
    expect(toFinishReason(null)).toBeNull();
  });

  test("usage: cache reads and writes are prompt tokens, reads are cached_tokens, writes cache_write_tokens", () => {
    expect(toUsage({ input_tokens: 20, cache_read_input_tokens: 1000, cache_creation_input_tokens: 300, output_tokens: 42 })).toEqual({
      prompt_tokens: 1320,
      completion_tokens: 42,
      total_tokens: 1362,
      prompt_tokens_details: { cached_tokens: 1000, cache_write_tokens: 300 },
    });
    expect(toUsage(undefined)).toEqual({ prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, prompt_tokens_details: { cached_tokens: 0 } });
  });
});

describe("translateAnthropicStream", () => {
  async function* events(...data: unknown[]): AsyncGenerator<SSEEvent> {
    for (const d of data) yield { event: (d as { type: string }).type, data: JSON.stringify(d) };
  }
  const start = { type: "message_start", message: { id: "msg_9", model: "claude-x", usage: { input_tokens: 7, output_tokens: 1 } } };

  test("a tool_use whose input arrives whole in content_block_start still yields its arguments", async () => {
    const chunks = await collect(
      translateAnthropicStream(
        events(
          start,
          { type: "content_block_start", index: 0, content_block: { type: "tool_use", id: "toolu_x", name: "f", input: { a: 1 } } },
          { type: "content_block_stop", index: 0 },
          { type: "message_delta", delta: { stop_reason: "tool_use" }, usage: { output_tokens: 9 } },
          { type: "message_stop" },
        ),
        { provider: "anthropic", model: MODEL },
      ),
    );
    expect(chunks.map((c) => c.choices[0]?.delta.tool_calls?.[0]?.function?.arguments ?? null)).toEqual([null, "", '{"a":1}', null, null]);
    expect(chunks.every((c) => c.id === "chatcmpl-msg_9" && c.model === "claude-x")).toBe(true);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 7, completion_tokens: 9, total_tokens: 16 } });
  });

  test("events without message_stop are a truncated stream", async () => {
    const err = await expectProviderError(() => collect(translateAnthropicStream(events(start), { provider: "anthropic", model: MODEL })));
    expect(err.code).toBe("upstream_stream_truncated");
  });
});

const fake = startFakeAnthropic({ apiKey: "sk-ant-upstream" });
afterAll(() => fake.close());
beforeEach(() => fake.reset());

const provider = (over: UpstreamOverrides = {}) =>
  anthropicProvider({
    id: "anthropic",
    kind: "anthropic",
    ...upstream({ baseUrl: fake.url, apiKey: "sk-ant-upstream" }, over),
    models: [MODEL],
    headers: { "anthropic-beta": "prompt-caching-2024-07-31" },
  });
const opts = (extra: CallExtras = {}) => callOptions(MODEL, extra);
const chat = req({ messages: [{ role: "system", content: "Be terse." }, { role: "user", content: "Say hello" }], max_tokens: 100 });
const weatherTool: NonNullable<ChatCompletionRequest["tools"]> = [
  { type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } },
];

describe("anthropicProvider.complete", () => {
  test("sends an Anthropic request with the right headers and maps the answer", async () => {
    fake.setBehavior({ kind: "ok", content: "Hello!", model: "claude-sonnet-4-5-20250929", usage: { input_tokens: 12, cache_read_input_tokens: 100, output_tokens: 3 } });
    const p = provider();
    expect(p.kind).toBe("anthropic");
    expect(p.embed).toBeUndefined();
    const res = await p.complete(chat, opts());

    const sent = fake.requests[0]!;
    expect(sent.method).toBe("POST");
    expect(sent.path).toBe("/v1/messages");
    expect(sent.headers["x-api-key"]).toBe("sk-ant-upstream");
    expect(sent.headers["anthropic-version"]).toBe("2023-06-01");
    expect(sent.headers["content-type"]).toBe("application/json");
    expect(sent.headers["anthropic-beta"]).toBe("prompt-caching-2024-07-31");
    expect(sent.headers.authorization).toBeUndefined();
    expect(sent.body).toEqual({ model: MODEL, max_tokens: 100, system: "Be terse.", messages: [{ role: "user", content: [{ type: "text", text: "Say hello" }] }] });

    expect(res).toMatchObject({ id: "chatcmpl-msg_fake0001", object: "chat.completion", model: "claude-sonnet-4-5-20250929" });
    expect(res.choices[0]).toEqual({ index: 0, message: { role: "assistant", content: "Hello!" }, finish_reason: "stop" });
    expect(res.usage).toEqual({ prompt_tokens: 112, completion_tokens: 3, total_tokens: 115, prompt_tokens_details: { cached_tokens: 100 } });
  });

  test("tool use answer and stop reasons", async () => {
    fake.enqueue({ kind: "ok", toolUse: { id: "toolu_abc", name: "get_weather", input: { city: "Paris" } } }, { kind: "ok", stopReason: "max_tokens" });
    const res = await provider().complete(req({ tools: weatherTool, tool_choice: "required" }), opts());
    expect(fake.requests[0]?.body.tool_choice).toEqual({ type: "any" });
    expect(res.choices[0]?.message).toEqual({
      role: "assistant",
      content: null,
      tool_calls: [{ id: "toolu_abc", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }],
    });
    expect(res.choices[0]?.finish_reason).toBe("tool_calls");
    expect((await provider().complete(req(), opts())).choices[0]?.finish_reason).toBe("length");
  });

  test("an untranslatable request is a 400 before any upstream call", async () => {
    const err = await expectFailure(() => provider().complete(req({ messages: [{ role: "tool", content: "x" }] }), opts()), GatewayError);
    expect(err.status).toBe(400);
    expect(fake.requests).toHaveLength(0);
  });
});

describe("anthropicProvider.stream", () => {
  test("streams text: role first, content deltas, finish, then a usage-only chunk", async () => {
    fake.setBehavior({ kind: "ok", content: "Hello there, streaming world!", chunkSize: 4, usage: { input_tokens: 9, cache_read_input_tokens: 4, cache_creation_input_tokens: 2, output_tokens: 6 } });
    const chunks = await collect(provider().stream(chat, opts()));
    expect(fake.requests[0]?.body.stream).toBe(true);
    expect(fake.requests[0]?.headers.accept).toBe("text/event-stream");

    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: "assistant", content: "" });
    expect(streamedText(chunks)).toBe("Hello there, streaming world!");
    expect(chunks.every((c) => c.object === "chat.completion.chunk" && c.id === "chatcmpl-msg_fake0002" && c.model === MODEL)).toBe(true);
    const finish = chunks.filter((c) => c.choices[0]?.finish_reason);
    expect(finish).toHaveLength(1);
    expect(finish[0]?.choices[0]?.finish_reason).toBe("stop");
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual({ prompt_tokens: 15, completion_tokens: 6, total_tokens: 21, prompt_tokens_details: { cached_tokens: 4, cache_write_tokens: 2 } });
    expect(fake.cancellations).toBe(0); // read to the end: nothing cancelled
  });

  test("the timeout covers the wait for headers only, not a slow stream", async () => {
    fake.setBehavior({ kind: "ok", content: "slow but steady", chunkSize: 1, chunkDelayMs: 15 });
    const chunks = await collect(provider({ timeoutMs: 100 }).stream(chat, opts()));
    expect(streamedText(chunks)).toBe("slow but steady");
  });

  test("streams a tool call with its arguments reassembled exactly", async () => {
    const input = { city: "São Paulo", days: [1, 2, 3], nested: { quote: 'he said "hi"\n' } };
    fake.setBehavior({ kind: "ok", content: "Checking.", toolUse: { id: "toolu_s1", name: "get_weather", input, fragmentSize: 3 } });
    const chunks = await collect(provider().stream(req({ tools: weatherTool, parallel_tool_calls: false }), opts()));
    expect(fake.requests[0]?.body.tool_choice).toEqual({ type: "auto", disable_parallel_tool_use: true });

    const deltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(deltas[0]).toEqual({ index: 0, id: "toolu_s1", type: "function", function: { name: "get_weather", arguments: "" } });
    expect(deltas.length).toBeGreaterThan(5);
    expect(deltas.every((d) => d.index === 0)).toBe(true);
    const args = deltas.map((d) => d.function?.arguments ?? "").join("");
    expect(args).toBe(JSON.stringify(input));
    expect(JSON.parse(args)).toEqual(input);
    expect(streamedText(chunks)).toBe("Checking.");
    expect(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0]?.finish_reason).toBe("tool_calls");
    expect(chunks.at(-1)?.usage?.completion_tokens).toBeGreaterThan(0);
  });

  test("returning early cancels the upstream", async () => {
    fake.setBehavior({ kind: "ok", content: "x".repeat(200), chunkSize: 1, chunkDelayMs: 20 });
    await stopAfter(provider().stream(chat, opts()), 3);
    await fake.waitForCancellation(1);
    expect(fake.cancellations).toBe(1);
  });

  test("the caller's abort rethrows its reason and cancels the upstream", async () => {
    fake.setBehavior({ kind: "ok", content: "y".repeat(200), chunkSize: 1, chunkDelayMs: 20 });
    const ctrl = new AbortController();
    const reason = new Error("client went away");
    const it = provider().stream(chat, opts({ signal: ctrl.signal }))[Symbol.asyncIterator]();
    await it.next();
    ctrl.abort(reason);
    await expect(it.next()).rejects.toBe(reason);
    await fake.waitForCancellation(1);
  });
});

describe("anthropicProvider failures", () => {
  const both = [
    ["complete", (p = provider()) => p.complete(chat, opts())],
    ["stream", (p = provider()) => collect(p.stream(chat, opts()))],
  ] as const;

  for (const [mode, call] of both) {
    test(`${mode}: 400 passes through with Anthropic's error type as the code`, async () => {
      fake.setBehavior({ kind: "error", status: 400, message: "messages.0.content: Field required" });
      const err = await expectProviderError(() => call());
      expect(err).toMatchObject({ status: 400, code: "invalid_request_error", retryable: false, upstreamStatus: 400 });
      expect(err.message).toContain("messages.0.content: Field required");
    });

    test(`${mode}: 401 → 502 upstream_auth_failed`, async () => {
      const err = await expectProviderError(() => call(provider({ apiKey: "wrong" })));
      expect(err).toMatchObject({ status: 502, code: "upstream_auth_failed", retryable: false });
      expect(err.message).toContain("invalid x-api-key");
    });

    test(`${mode}: 429 with retry-after → upstream_rate_limited, retryAfterMs`, async () => {
      fake.setBehavior({ kind: "error", status: 429, headers: { "retry-after": "7" } });
      const err = await expectProviderError(() => call());
      expect(err).toMatchObject({ status: 429, code: "upstream_rate_limited", retryable: true, retryAfterMs: 7000 });
      expect(err.headers).toEqual({ "retry-after": "7" });
    });

    test(`${mode}: 500 → 502 upstream_error, retryable`, async () => {
      fake.setBehavior({ kind: "error", status: 500 });
      expect(await expectProviderError(() => call())).toMatchObject({ status: 502, code: "upstream_error", retryable: true });
    });

    test(`${mode}: 529 → 502 upstream_overloaded, retryable`, async () => {
      fake.setBehavior({ kind: "overloaded", headers: { "retry-after": "2" } });
      expect(await expectProviderError(() => call())).toMatchObject({ status: 502, code: "upstream_overloaded", retryable: true, retryAfterMs: 2000, upstreamStatus: 529 });
    });

    test(`${mode}: malformed JSON → 502 upstream_invalid_response`, async () => {
      fake.setBehavior({ kind: "malformed" });
      expect(await expectProviderError(() => call())).toMatchObject({ status: 502, code: "upstream_invalid_response", retryable: false });
    });

    test(`${mode}: no headers in time → 504 upstream_timeout`, async () => {
      fake.setBehavior({ kind: "hang" });
      const started = Date.now();
      expect(await expectProviderError(() => call(provider({ timeoutMs: 150 })))).toMatchObject({ status: 504, code: "upstream_timeout", retryable: true });
      expect(Date.now() - started).toBeLessThan(2000);
    });

    test(`${mode}: connection refused → 502 upstream_unreachable`, async () => {
      expect(await expectProviderError(() => call(provider({ baseUrl: "http://127.0.0.1:1" })))).toMatchObject({ status: 502, code: "upstream_unreachable", retryable: true });
    });
  }

  test("stream: ending without message_stop → 502 upstream_stream_truncated", async () => {
    fake.setBehavior({ kind: "truncate" });
    const { received, err } = await streamUntilError(provider().stream(chat, opts()));
    expect(err).toMatchObject({ status: 502, code: "upstream_stream_truncated", retryable: false });
    expect(streamedText(received)).toBe("Hello");
  });

  test("stream: a mid-stream overloaded_error event → upstream_overloaded, retryable", async () => {
    fake.setBehavior({ kind: "stream-error" });
    const err = await expectProviderError(() => collect(provider().stream(chat, opts())));
    expect(err).toMatchObject({ status: 502, code: "upstream_overloaded", retryable: true });
    expect(err.message).toContain("Overloaded");
  });

  test("stream: any other mid-stream error event → upstream_error", async () => {
    fake.setBehavior({ kind: "stream-error", errorType: "invalid_request_error", message: "bad thing" });
    expect(await expectProviderError(() => collect(provider().stream(chat, opts())))).toMatchObject({ status: 502, code: "upstream_error", retryable: false });
  });

  test("complete: the caller's abort rethrows its reason", async () => {
    fake.setBehavior({ kind: "hang" });
    const ctrl = new AbortController();
    const reason = new Error("deadline");
    const pending = provider().complete(chat, opts({ signal: ctrl.signal }));
    setTimeout(() => ctrl.abort(reason), 30);
    await expect(pending).rejects.toBe(reason);
  });
});
