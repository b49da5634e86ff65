/** Anthropic Messages ⇄ canonical translation (pure): requests, responses, errors, the SSE writer. */
import { describe, expect, test } from "bun:test";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import type { ChatCompletion, ChatCompletionChunk, FinishReason } from "../../src/canonical/chat.ts";
import { GatewayError, errors } from "../../src/pipeline/errors.ts";
import { AnthropicMessagesRequest, fromCanonical, toAnthropicError, toCanonical } from "../../src/api/anthropic-format.ts";
import { AnthropicStreamWriter } from "../../src/api/anthropic-stream.ts";

const schema = TypeCompiler.Compile(AnthropicMessagesRequest);
const req = (extra: Partial<AnthropicMessagesRequest> = {}): AnthropicMessagesRequest => ({
  model: "echo",
  max_tokens: 64,
  messages: [{ role: "user", content: "hi" }],
  ...extra,
});

describe("AnthropicMessagesRequest schema", () => {
  test("accepts the documented shapes, including cache_control and unknown top-level fields", () => {
    const body = {
      model: "claude-x",
      max_tokens: 100,
      system: [{ type: "text", text: "Be terse.", cache_control: { type: "ephemeral" } }],
      messages: [
        { role: "user", content: [{ type: "text", text: "look" }, { type: "image", source: { type: "url", url: "https://x/y.png" } }] },
        { role: "assistant", content: [{ type: "thinking", thinking: "hm", signature: "s" }, { type: "tool_use", id: "toolu_1", name: "f", input: { a: 1 } }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: [{ type: "text", text: "ok" }], is_error: false }] },
      ],
      tools: [{ name: "f", description: "d", input_schema: { type: "object", properties: {} } }],
      tool_choice: { type: "tool", name: "f", disable_parallel_tool_use: true },
      stop_sequences: ["END"],
      temperature: 0.5,
      top_p: 0.9,
      top_k: 40,
      stream: true,
      metadata: { user_id: "u-1" },
      thinking: { type: "disabled" },
    };
    expect(schema.Check(body)).toBe(true);
  });

  test("rejects a missing max_tokens, an unknown block type, a server tool and an unknown tool_choice", () => {
    const { max_tokens: _m, ...noMax } = req();
    expect(schema.Check(noMax)).toBe(false);
    expect(schema.Check(req({ messages: [{ role: "user", content: [{ type: "document" } as never] }] }))).toBe(false);
    expect(schema.Check({ ...req(), tools: [{ type: "web_search_20250305", name: "web_search" }] })).toBe(false);
    expect(schema.Check({ ...req(), tool_choice: { type: "whatever" } })).toBe(false);
    expect(schema.Check({ ...req(), messages: [] })).toBe(false);
    expect(schema.Check({ ...req(), messages: [{ role: "system", content: "x" }] })).toBe(false);
  });
});

describe("toCanonical", () => {
  test("system, sampling, stop sequences, user id and max_tokens map to their OpenAI fields; top_k is dropped", () => {
    const out = toCanonical(
      req({ system: "You are terse.", temperature: 0.2, top_p: 0.8, top_k: 5, stop_sequences: ["\n\nHuman:"], metadata: { user_id: "u-7" } }),
    );
    expect(out).toEqual({
      model: "echo",
      messages: [
        { role: "system", content: "You are terse." },
        { role: "user", content: "hi" },
      ],
      max_tokens: 64,
      stream: false,
      temperature: 0.2,
      top_p: 0.8,
      stop: ["\n\nHuman:"],
      user: "u-7",
    });
  });

  test("system text blocks are joined; stream asks for usage", () => {
    const out = toCanonical(req({ system: [{ type: "text", text: "One." }, { type: "text", text: "Two." }], stream: true }));
    expect(out.messages[0]).toEqual({ role: "system", content: "One.\nTwo." });
    expect(out.stream).toBe(true);
    expect(out.stream_options).toEqual({ include_usage: true });
  });

  test("tools become function tools; tool_choice and disable_parallel_tool_use map", () => {
    const tools = [{ name: "get_weather", description: "Weather for a city", input_schema: { type: "object" as const, properties: { city: { type: "string" } } } }];
    const out = toCanonical(req({ tools, tool_choice: { type: "any", disable_parallel_tool_use: true } }));
    expect(out.tools).toEqual([
      { type: "function", function: { name: "get_weather", description: "Weather for a city", parameters: tools[0]!.input_schema } },
    ]);
    expect(out.tool_choice).toBe("required");
    expect(out.parallel_tool_calls).toBe(false);
    expect(toCanonical(req({ tools, tool_choice: { type: "auto" } })).tool_choice).toBe("auto");
    expect(toCanonical(req({ tools, tool_choice: { type: "none" } })).tool_choice).toBe("none");
    expect(toCanonical(req({ tools, tool_choice: { type: "tool", name: "get_weather" } })).tool_choice).toEqual({
      type: "function",
      function: { name: "get_weather" },
    });
    expect(toCanonical(req({ tools, tool_choice: { type: "auto" } })).parallel_tool_calls).toBeUndefined();
  });

  test("tool_use blocks become assistant tool_calls; tool_result blocks become tool messages before the user's text", () => {
    const out = toCanonical(
      req({
        messages: [
          { role: "user", content: "Weather in Paris and Oslo?" },
          {
            role: "assistant",
            content: [
              { type: "thinking", thinking: "…" } as never,
              { type: "text", text: "Let me check." },
              { type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Paris" } },
              { type: "tool_use", id: "toolu_2", name: "get_weather", input: { city: "Oslo" } },
            ],
          },
          {
            role: "user",
            content: [
              { type: "tool_result", tool_use_id: "toolu_1", content: "21°C" },
              { type: "tool_result", tool_use_id: "toolu_2", content: [{ type: "text", text: "no" }, { type: "text", text: "data" }], is_error: true },
              { type: "text", text: "Summarise." },
            ],
          },
        ],
      }),
    );
    expect(out.messages).toEqual([
      { role: "user", content: "Weather in Paris and Oslo?" },
      {
        role: "assistant",
        content: "Let me check.",
        tool_calls: [
          { id: "toolu_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
          { id: "toolu_2", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } },
        ],
      },
      { role: "tool", tool_call_id: "toolu_1", content: "21°C" },
      { role: "tool", tool_call_id: "toolu_2", content: "Error: no\ndata" },
      { role: "user", content: "Summarise." },
    ]);
  });

  test("an assistant turn of only tool calls has null content; a user turn of only tool results has no user message", () => {
    const out = toCanonical(
      req({
        messages: [
          { role: "user", content: "go" },
          { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "f", input: {} }] },
          { role: "user", content: [{ type: "tool_result", tool_use_id: "t1" }] },
        ],
      }),
    );
    expect(out.messages.slice(1)).toEqual([
      { role: "assistant", content: null, tool_calls: [{ id: "t1", type: "function", function: { name: "f", arguments: "{}" } }] },
      { role: "tool", tool_call_id: "t1", content: "" },
    ]);
  });

  test("images become image_url parts (base64 as a data: URL), also those inside tool results", () => {
    const out = toCanonical(
      req({
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "What is this?" },
              { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
              { type: "image", source: { type: "url", url: "https://example.com/cat.jpg" } },
            ],
          },
          { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "screenshot", input: {} }] },
          {
            role: "user",
            content: [{ type: "tool_result", tool_use_id: "t1", content: [{ type: "image", source: { type: "base64", media_type: "image/jpeg", data: "AAAA" } }] }],
          },
        ],
      }),
    );
    expect(out.messages[0]).toEqual({
      role: "user",
      content: [
        { type: "text", text: "What is this?" },
        { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
        { type: "image_url", image_url: { url: "https://example.com/cat.jpg" } },
      ],
    });
    expect(out.messages.slice(2)).toEqual([
      { role: "tool", tool_call_id: "t1", content: "" },
      { role: "user", content: [{ type: "image_url", image_url: { url: "data:image/jpeg;base64,AAAA" } }] },
    ]);
  });
});

function completion(message: ChatCompletion["choices"][number]["message"], finish: FinishReason | null, extra: Record<string, unknown> = {}): ChatCompletion {
  return {
    id: "chatcmpl-abc123",
    object: "chat.completion",
    created: 1,
    model: "upstream-model",
    choices: [{ index: 0, message, finish_reason: finish, ...extra }],
    usage: { prompt_tokens: 30, completion_tokens: 7, total_tokens: 37 },
  };
}

describe("fromCanonical", () => {
  test("a text answer becomes a message with one text block and Anthropic usage", () => {
    expect(fromCanonical(completion({ role: "assistant", content: "Hello!" }, "stop"), "fast")).toEqual({
      id: "msg_abc123",
      type: "message",
      role: "assistant",
      model: "fast",
      content: [{ type: "text", text: "Hello!" }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: { input_tokens: 30, output_tokens: 7 },
    });
  });

  test("tool calls become tool_use blocks with parsed input", () => {
    const msg = fromCanonical(
      completion(
        {
          role: "assistant",
          content: "Checking.",
          tool_calls: [
            { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
            { id: "call_2", type: "function", function: { name: "noop", arguments: "" } },
            { id: "call_3", type: "function", function: { name: "broken", arguments: '{"city":' } },
          ],
        },
        "tool_calls",
      ),
      "m",
    );
    expect(msg.content).toEqual([
      { type: "text", text: "Checking." },
      { type: "tool_use", id: "call_1", name: "get_weather", input: { city: "Paris" } },
      { type: "tool_use", id: "call_2", name: "noop", input: {} },
      { type: "tool_use", id: "call_3", name: "broken", input: { _raw: '{"city":' } },
    ]);
    expect(msg.stop_reason).toBe("tool_use");
  });

  test("finish reasons map to stop reasons", () => {
    const stop = (finish: FinishReason | null, extra?: Record<string, unknown>) =>
      fromCanonical(completion({ role: "assistant", content: "x" }, finish, extra), "m");
    expect(stop("stop").stop_reason).toBe("end_turn");
    expect(stop("length").stop_reason).toBe("max_tokens");
    expect(stop("tool_calls").stop_reason).toBe("tool_use");
    expect(stop("content_filter").stop_reason).toBe("refusal");
    expect(stop(null).stop_reason).toBe("end_turn");
    // vLLM names the stop string it matched
    const matched = stop("stop", { stop_reason: "END" });
    expect([matched.stop_reason, matched.stop_sequence]).toEqual(["stop_sequence", "END"]);
  });

  test("cached prompt tokens are reported as cache reads, outside input_tokens", () => {
    const c = completion({ role: "assistant", content: "x" }, "stop");
    c.usage = { prompt_tokens: 100, completion_tokens: 5, total_tokens: 105, prompt_tokens_details: { cached_tokens: 60 } };
    expect(fromCanonical(c, "m").usage).toEqual({ input_tokens: 40, output_tokens: 5, cache_read_input_tokens: 60 });
  });

  test("a refusal is returned as text", () => {
    const msg = fromCanonical(completion({ role: "assistant", content: null, refusal: "I can't help with that." }, "content_filter"), "m");
    expect(msg.content).toEqual([{ type: "text", text: "I can't help with that." }]);
    expect(msg.stop_reason).toBe("refusal");
  });
});

describe("toAnthropicError", () => {
  test("statuses map to Anthropic error types; the stable code and param are kept", () => {
    const type = (e: GatewayError) => toAnthropicError(e).error.type;
    expect(toAnthropicError(errors.modelNotFound("gpt-9"), "req-1")).toEqual({
      type: "error",
      error: { type: "not_found_error", message: "The model `gpt-9` does not exist or is not routed by this gateway", code: "model_not_found", param: "model" },
      request_id: "req-1",
    });
    expect(type(errors.invalidRequest("bad"))).toBe("invalid_request_error");
    expect(type(errors.unauthorized())).toBe("authentication_error");
    expect(type(new GatewayError({ status: 403, code: "forbidden", message: "no" }))).toBe("permission_error");
    expect(type(errors.payloadTooLarge(10))).toBe("request_too_large");
    expect(type(new GatewayError({ status: 429, code: "upstream_rate_limited", message: "slow down" }))).toBe("rate_limit_error");
    expect(type(errors.upstream("boom"))).toBe("api_error");
    expect(type(errors.overloaded("behind"))).toBe("overloaded_error");
    expect(type(errors.timeout("late"))).toBe("timeout_error");
    expect(type(new GatewayError({ status: 500, code: "internal_error", message: "x" }))).toBe("api_error");
    expect(toAnthropicError(errors.upstream("boom")).error.code).toBe("upstream_error");
  });
});

// ── the SSE writer ──────────────────────────────────────────────────────────────────────

interface SseEvent {
  event: string;
  data: any;
}
function parseSse(text: string): SseEvent[] {
  return text
    .split("\n\n")
    .filter((block) => block.trim() !== "")
    .map((block) => {
      const lines = block.split("\n");
      const event = lines.find((l) => l.startsWith("event: "))!.slice(7);
      const data = JSON.parse(lines.find((l) => l.startsWith("data: "))!.slice(6));
      expect(data.type).toBe(event); // Anthropic repeats the event name in `data.type`
      return { event, data };
    });
}

const base = { id: "chatcmpl-s1", object: "chat.completion.chunk" as const, created: 1, model: "up" };
const delta = (d: ChatCompletionChunk["choices"][number]["delta"], finish: FinishReason | null = null): ChatCompletionChunk => ({
  ...base,
  choices: [{ index: 0, delta: d, finish_reason: finish }],
});
const usageChunk = (prompt: number, completion: number): ChatCompletionChunk => ({
  ...base,
  choices: [],
  usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
});

function run(chunks: ChatCompletionChunk[], opts: { model?: string; inputTokens?: number } = {}): SseEvent[] {
  const w = new AnthropicStreamWriter({ model: opts.model ?? "fast", ...(opts.inputTokens !== undefined ? { inputTokens: opts.inputTokens } : {}) });
  return parseSse(chunks.map((c) => w.write(c)).join("") + w.end());
}

describe("AnthropicStreamWriter", () => {
  test("a text stream: message_start, ping, one text block, message_delta with usage, message_stop", () => {
    const events = run([delta({ role: "assistant", content: "" }), delta({ content: "Hello" }), delta({ content: ", world" }), delta({}, "stop"), usageChunk(12, 3)]);
    expect(events.map((e) => e.event)).toEqual([
      "message_start",
      "ping",
      "content_block_start",
      "content_block_delta",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    expect(events[0]!.data.message).toEqual({
      id: "msg_s1",
      type: "message",
      role: "assistant",
      model: "fast",
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 0, output_tokens: 0 },
    });
    expect(events[2]!.data).toEqual({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } });
    expect(events.filter((e) => e.event === "content_block_delta").map((e) => e.data.delta.text).join("")).toBe("Hello, world");
    expect(events[6]!.data).toEqual({
      type: "message_delta",
      delta: { stop_reason: "end_turn", stop_sequence: null },
      usage: { input_tokens: 12, output_tokens: 3 },
    });
  });

  test("an input token estimate, when given, is sent in message_start", () => {
    expect(run([delta({ content: "x" })], { inputTokens: 42 })[0]!.data.message.usage).toEqual({ input_tokens: 42, output_tokens: 0 });
  });

  test("a tool-call stream: text block, then one tool_use block per call with input_json_delta fragments", () => {
    const events = run([
      delta({ role: "assistant", content: "Let me check." }),
      delta({ tool_calls: [{ index: 0, id: "call_a", type: "function", function: { name: "get_weather", arguments: "" } }] }),
      delta({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
      delta({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
      // the second call's id arrives before its name: fragments wait for the block to start
      delta({ tool_calls: [{ index: 1, id: "call_b", function: { arguments: '{"city"' } }] }),
      delta({ tool_calls: [{ index: 1, function: { name: "get_weather", arguments: ':"Oslo"}' } }] }),
      delta({}, "tool_calls"),
      usageChunk(50, 20),
    ]);
    expect(events.map((e) => `${e.event}${e.data.index !== undefined ? `#${e.data.index}` : ""}`)).toEqual([
      "message_start",
      "ping",
      "content_block_start#0",
      "content_block_delta#0",
      "content_block_stop#0",
      "content_block_start#1",
      "content_block_delta#1",
      "content_block_delta#1",
      "content_block_stop#1",
      "content_block_start#2",
      "content_block_delta#2",
      "content_block_stop#2",
      "message_delta",
      "message_stop",
    ]);
    expect(events[5]!.data.content_block).toEqual({ type: "tool_use", id: "call_a", name: "get_weather", input: {} });
    expect(events[9]!.data.content_block).toEqual({ type: "tool_use", id: "call_b", name: "get_weather", input: {} });
    const json = (index: number) =>
      events
        .filter((e) => e.event === "content_block_delta" && e.data.index === index)
        .map((e) => {
          expect(e.data.delta.type).toBe("input_json_delta");
          return e.data.delta.partial_json;
        })
        .join("");
    expect(JSON.parse(json(1))).toEqual({ city: "Paris" });
    expect(JSON.parse(json(2))).toEqual({ city: "Oslo" });
    expect(events.at(-2)!.data.delta.stop_reason).toBe("tool_use");
    expect(events.at(-2)!.data.usage).toEqual({ input_tokens: 50, output_tokens: 20 });
  });

  test("length maps to max_tokens; an empty stream still opens and closes the message", () => {
    expect(run([delta({ content: "cut" }), delta({}, "length")]).at(-2)!.data.delta.stop_reason).toBe("max_tokens");
    const empty = run([]);
    expect(empty.map((e) => e.event)).toEqual(["message_start", "ping", "message_delta", "message_stop"]);
    expect(empty[2]!.data.usage).toEqual({ input_tokens: 0, output_tokens: 0 });
  });

  test("a mid-stream failure is one error event in Anthropic's shape", () => {
    const w = new AnthropicStreamWriter({ model: "fast" });
    const text = w.write(delta({ content: "partial" })) + w.error(errors.upstream("stream broke off", "upstream_stream_truncated"), "req-9");
    const events = parseSse(text);
    expect(events.at(-1)).toEqual({
      event: "error",
      data: { type: "error", error: { type: "api_error", message: "stream broke off", code: "upstream_stream_truncated" }, request_id: "req-9" },
    });
    expect(events.some((e) => e.event === "message_stop")).toBe(false);
  });
});
