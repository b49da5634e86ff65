/**
 * The pure Responses ⇄ canonical translation: request items → chat messages (and back for
 * native providers), target checks, the Response object and the stream writer's event
 * sequence (validated against OpenAI's published schema).
 */
import { describe, expect, test } from "bun:test";
import type { ChatCompletionChunk } from "../../src/canonical/chat.ts";
import { checkTarget, PASSTHROUGH_FIELD, toCanonical, toUpstreamResponses } from "../../src/canonical/responses-request.ts";
import { fromCanonical, responseShell } from "../../src/canonical/responses-output.ts";
import { ResponsesStreamWriter } from "../../src/canonical/responses-stream.ts";
import { completionOf, ResponsesStreamState } from "../../src/providers/openai-responses.ts";
import { openaiSpecValidators, schemaErrors } from "../helpers/openai-spec.ts";
import type { ResponseItem, ResponsesRequest } from "../../src/canonical/responses.ts";

/** A request literal with fields the envelope schema leaves open. */
const r = (x: Record<string, unknown>) => x as ResponsesRequest;

const spec = openaiSpecValidators();
const shell = (req: Parameters<typeof responseShell>[0]) => responseShell(req, { id: "resp_1", createdAt: 1, previousResponseId: null, store: true });

describe("request translation", () => {
  test("instructions, history, messages, function calls and outputs become canonical messages in order", () => {
    const { chat, items, checks } = toCanonical(
      r({
        model: "m",
        instructions: "Be brief.",
        input: [
          { role: "user", content: [{ type: "input_text", text: "hi" }, { type: "input_image", image_url: "https://x/img.png", detail: "low" }] },
          { type: "function_call", call_id: "c1", name: "f", arguments: "{}" },
          { type: "function_call", call_id: "c2", name: "g", arguments: '{"a":1}' },
          { type: "function_call_output", call_id: "c1", output: "one" },
          { type: "reasoning", id: "rs_1", summary: [] },
        ],
        max_output_tokens: 50,
        text: { format: { type: "json_object" } },
      }),
      [{ type: "message", id: "msg_0", role: "assistant", content: [{ type: "output_text", text: "earlier" }] } as ResponseItem],
    );
    expect(chat.messages).toEqual([
      { role: "system", content: "Be brief." },
      { role: "assistant", content: "earlier" },
      { role: "user", content: [{ type: "text", text: "hi" }, { type: "image_url", image_url: { url: "https://x/img.png", detail: "low" } }] },
      { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: "{}" } }, { id: "c2", type: "function", function: { name: "g", arguments: '{"a":1}' } }] },
      { role: "tool", tool_call_id: "c1", content: "one" },
    ]);
    expect(chat.max_completion_tokens).toBe(50);
    expect(chat.response_format).toEqual({ type: "json_object" });
    expect(items.map((i) => i.id?.slice(0, 3))).toEqual(["msg", "fc_", "fc_", undefined, "rs_"]);
    expect(checks).toEqual([]);
    expect((chat as Record<string, unknown>)[PASSTHROUGH_FIELD]).toBeUndefined();
  });

  test("native-only fields: checks name the param, pass through, and are keyed; reasoning.effort honoured by OpenAI-style kinds only", () => {
    const { chat, checks } = toCanonical(r({ model: "m", input: "x", include: [], truncation: "disabled", top_logprobs: 3, reasoning: { effort: "low" } }));
    expect(checkTarget(checks, "openai")).toBeUndefined();
    expect(checkTarget(checks, "azure")).toBeUndefined();
    expect(checkTarget(checks, "anthropic")?.param).toBe("reasoning.effort"); // checks in request order
    expect(checkTarget(checks.filter((c) => c.param !== "reasoning.effort"), "anthropic")?.param).toBe("top_logprobs");
    expect(checkTarget(checks.filter((c) => c.param === "reasoning.effort"), "custom")).toBeUndefined();
    expect(checkTarget(checks.filter((c) => c.param === "reasoning.effort"), "gemini")?.param).toBe("reasoning.effort");
    expect((chat as Record<string, unknown>)[PASSTHROUGH_FIELD]).toEqual({ top_logprobs: 3 });
  });

  test("malformed items are 400 with the exact param", () => {
    const param = (input: unknown) => {
      try {
        toCanonical({ model: "m", input: input as never });
        return "no error";
      } catch (err) {
        return (err as { param?: string }).param;
      }
    };
    expect(param([{ role: "robot", content: "x" }])).toBe("input[0].role");
    expect(param([{ role: "user", content: [{ type: "input_audio" }] }])).toBe("input[0].content[0].type");
    expect(param([{ type: "function_call_output", output: "x" }])).toBe("input[0].call_id");
    expect(param([{ foo: 1 }])).toBe("input[0].type");
    expect(param([])).toBe("input");
  });

  test("canonical → upstream Responses body (after plugins) validates against CreateResponse and keeps unknown fields", () => {
    const req = r({ model: "alias", input: "x", instructions: "sys", service_tier: "flex", tools: [{ type: "web_search" }], previous_response_id: "resp_a" });
    const { chat } = toCanonical(req);
    chat.messages.push({ role: "assistant", content: "a", tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: "{}" } }] }, { role: "tool", tool_call_id: "c1", content: "out" });
    const body = toUpstreamResponses(chat, req, "gpt-x", true);
    expect(body).toMatchObject({ model: "gpt-x", instructions: "sys", service_tier: "flex", tools: [{ type: "web_search" }], stream: true, store: false });
    expect(body.previous_response_id).toBeUndefined();
    expect(body.input).toEqual([
      { type: "message", role: "user", content: "x" },
      { type: "message", role: "assistant", content: "a" },
      { type: "function_call", call_id: "c1", name: "f", arguments: "{}" },
      { type: "function_call_output", call_id: "c1", output: "out" },
    ]);
    expect(schemaErrors(spec.createResponse, body)).toBe("");
  });
});

describe("answers", () => {
  const completion = (finish: "stop" | "length" | "tool_calls", calls = false) => ({
    id: "chatcmpl-1",
    object: "chat.completion" as const,
    created: 1,
    model: "m",
    choices: [{ index: 0, message: { role: "assistant" as const, content: calls ? null : "hello", ...(calls ? { tool_calls: [{ id: "c1", type: "function" as const, function: { name: "f", arguments: "{}" } }] } : {}) }, finish_reason: finish }],
    usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, prompt_tokens_details: { cached_tokens: 4 }, completion_tokens_details: { reasoning_tokens: 2 } },
  });

  test("a completion as a Response: text, function calls, usage with cached and reasoning tokens, incomplete on length", () => {
    const r = fromCanonical(completion("stop"), shell({ model: "m" }));
    expect(r.status).toBe("completed");
    expect(r.usage).toEqual({ input_tokens: 10, input_tokens_details: { cached_tokens: 4 }, output_tokens: 5, output_tokens_details: { reasoning_tokens: 2 }, total_tokens: 15 });
    expect(schemaErrors(spec.response, r)).toBe("");
    const calls = fromCanonical(completion("tool_calls", true), shell({ model: "m" }));
    expect(calls.output).toEqual([expect.objectContaining({ type: "function_call", call_id: "c1", name: "f", arguments: "{}", status: "completed" })]);
    expect(schemaErrors(spec.response, calls)).toBe("");
    const cut = fromCanonical(completion("length"), shell({ model: "m", max_output_tokens: 5 }));
    expect(cut.status).toBe("incomplete");
    expect(cut.incomplete_details).toEqual({ reason: "max_output_tokens" });
    expect(schemaErrors(spec.response, cut)).toBe("");
  });

  test("upstream Responses JSON → canonical completion", () => {
    const c = completionOf({ object: "response", id: "resp_9", status: "incomplete", incomplete_details: { reason: "max_output_tokens" }, output: [{ type: "message", content: [{ type: "output_text", text: "ab" }] }, { type: "function_call", call_id: "c", name: "f", arguments: "{}" }], usage: { input_tokens: 3, output_tokens: 2, total_tokens: 5, input_tokens_details: { cached_tokens: 1 }, output_tokens_details: { reasoning_tokens: 1 } } }, "m", (w) => new Error(w));
    expect(c.choices[0]!.message.content).toBe("ab");
    expect(c.choices[0]!.message.tool_calls?.[0]?.function.name).toBe("f");
    expect(c.choices[0]!.finish_reason).toBe("length");
    expect(c.usage).toEqual({ prompt_tokens: 3, completion_tokens: 2, total_tokens: 5, prompt_tokens_details: { cached_tokens: 1 }, completion_tokens_details: { reasoning_tokens: 1 } });
  });
});

describe("stream writer", () => {
  const chunk = (delta: ChatCompletionChunk["choices"][number]["delta"], finish: ChatCompletionChunk["choices"][number]["finish_reason"] = null): ChatCompletionChunk => ({ id: "c", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta, finish_reason: finish }] });
  const parse = (sse: string) => sse.split("\n\n").filter(Boolean).map((b) => JSON.parse(b.slice(b.indexOf("data: ") + 6)));

  test("text then two interleaved tool calls (arguments before the name buffered): a valid, numbered event sequence", () => {
    const w = new ResponsesStreamWriter(shell({ model: "m" }));
    let out = "";
    for (const c of [
      chunk({ role: "assistant", content: "" }),
      chunk({ content: "Let me " }),
      chunk({ content: "check." }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"ci' } }] }),
      chunk({ tool_calls: [{ index: 0, id: "call_a", function: { name: "weather" } }] }),
      chunk({ tool_calls: [{ index: 1, id: "call_b", type: "function", function: { name: "time", arguments: "{}" } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: 'ty":"P"}' } }] }),
      chunk({}, "tool_calls"),
      { ...chunk({}), choices: [], usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } },
    ])
      out += w.write(c);
    out += w.end();
    const events = parse(out);
    events.forEach((e, i) => {
      expect(e.sequence_number).toBe(i);
      expect(schemaErrors(spec.streamEvent, e)).toBe("");
    });
    expect(events.map((e) => e.type)).toEqual([
      "response.created", "response.in_progress",
      "response.output_item.added", "response.content_part.added", "response.output_text.delta", "response.output_text.delta",
      "response.output_item.added", "response.function_call_arguments.delta",
      "response.output_item.added", "response.function_call_arguments.delta",
      "response.function_call_arguments.delta",
      "response.output_text.done", "response.content_part.done", "response.output_item.done",
      "response.function_call_arguments.done", "response.output_item.done",
      "response.function_call_arguments.done", "response.output_item.done",
      "response.completed",
    ]);
    const final = w.result()!;
    expect(final.output.map((i) => i.type)).toEqual(["message", "function_call", "function_call"]);
    expect(final.output[1]).toMatchObject({ call_id: "call_a", name: "weather", arguments: '{"city":"P"}' });
    expect(final.usage?.total_tokens).toBe(7);
  });

  test("finish `length` ends with response.incomplete; a failure with response.failed", () => {
    const w = new ResponsesStreamWriter(shell({ model: "m" }));
    const events = parse(w.write(chunk({ content: "abc" })) + w.write(chunk({}, "length")) + w.end());
    expect(events.at(-1)).toMatchObject({ type: "response.incomplete", response: { status: "incomplete", incomplete_details: { reason: "max_output_tokens" } } });
    for (const e of events) expect(schemaErrors(spec.streamEvent, e)).toBe("");
    const f = new ResponsesStreamWriter(shell({ model: "m" }));
    const failed = parse(f.write(chunk({ content: "abc" })) + f.error({ status: 502, code: "upstream_error", message: "boom" }));
    expect(failed.at(-1)).toMatchObject({ type: "response.failed", response: { status: "failed", error: { code: "server_error" } } });
    for (const e of failed) expect(schemaErrors(spec.streamEvent, e)).toBe("");
  });

  test("upstream Responses events → canonical chunks", () => {
    const s = new ResponsesStreamState("m");
    const chunks = [
      { type: "response.created", response: { id: "resp_x" } },
      { type: "response.output_text.delta", delta: "hi" },
      { type: "response.output_item.added", item: { type: "function_call", id: "fc_1", call_id: "c1", name: "f", arguments: "" } },
      { type: "response.function_call_arguments.delta", item_id: "fc_1", delta: "{}" },
      { type: "response.completed", response: { status: "completed", usage: { input_tokens: 1, output_tokens: 2 } } },
    ].flatMap((e) => s.accept(e));
    expect(s.finished).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta ?? c.usage)).toEqual([
      { role: "assistant", content: "" },
      { content: "hi" },
      { tool_calls: [{ index: 0, id: "c1", type: "function", function: { name: "f", arguments: "" } }] },
      { tool_calls: [{ index: 0, function: { arguments: "{}" } }] },
      {},
      { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
    ]);
    expect(chunks[4]!.choices[0]!.finish_reason).toBe("tool_calls");
  });
});
