import { describe, expect, test } from "bun:test";
import type { ChatCompletionChunk, ChatCompletionRequest } from "../../src/canonical/chat.ts";
import { echoProvider } from "../../src/providers/echo.ts";
import { openaiProvider } from "../../src/providers/openai.ts";
import { createProvider } from "../../src/providers/registry.ts";
import { countPromptTokens, countTextTokens } from "../../src/providers/tokens.ts";
import { callOptions, collect, streamedText } from "../helpers/provider-calls.ts";

const opts = () => callOptions("echo");

function request(overrides: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest {
  return {
    model: "echo",
    messages: [
      { role: "system", content: "Be brief." },
      { role: "user", content: "first question" },
      { role: "assistant", content: "first answer" },
      { role: "user", content: "Hello there, my email is [REDACTED] 👋🏽" },
    ],
    ...overrides,
  };
}

describe("echoProvider", () => {
  test("identifies itself", () => {
    const p = echoProvider();
    expect([p.id, p.kind, p.models]).toEqual(["echo", "echo", ["echo"]]);
    expect(echoProvider({ id: "echo-2", models: ["echo", "parrot"] }).models).toEqual(["echo", "parrot"]);
  });

  test("complete answers with the last user message and real token counts", async () => {
    const req = request();
    const res = await echoProvider().complete(req, { ...opts(), model: "echo-v1" });
    const text = "Hello there, my email is [REDACTED] 👋🏽";
    expect(res.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
    expect(res.object).toBe("chat.completion");
    expect(res.model).toBe("echo-v1");
    expect(Math.abs(res.created - Date.now() / 1000)).toBeLessThan(5);
    expect(res.choices).toHaveLength(1);
    expect(res.choices[0]?.message).toMatchObject({ role: "assistant", content: text });
    expect(res.choices[0]?.finish_reason).toBe("stop");
    const prompt = countPromptTokens(req.messages);
    const completion = countTextTokens(text);
    expect(res.usage).toEqual({ prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion });
  });

  test("joins text parts and skips other parts", async () => {
    const req = request({
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "look at " },
            { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } },
            { type: "text", text: "this" },
          ],
        },
      ],
    });
    const res = await echoProvider().complete(req, opts());
    expect(res.choices[0]?.message.content).toBe("look at this");
  });

  test("answers empty text when there is no user message", async () => {
    const res = await echoProvider().complete(request({ messages: [{ role: "system", content: "x" }] }), opts());
    expect(res.choices[0]?.message.content).toBe("");
    expect(res.usage?.completion_tokens).toBe(0);
  });

  test("max_tokens truncates with finish_reason length", async () => {
    const req = request({ messages: [{ role: "user", content: "one two three four five six" }], max_tokens: 3 });
    const res = await echoProvider().complete(req, opts());
    expect(res.choices[0]?.message.content).toBe("one two three");
    expect(res.choices[0]?.finish_reason).toBe("length");
    expect(res.usage?.completion_tokens).toBe(3);
  });

  test("max_completion_tokens wins over max_tokens; a limit that fits changes nothing", async () => {
    const messages = [{ role: "user" as const, content: "one two three four five six" }];
    const cut = await echoProvider().complete(request({ messages, max_tokens: 100, max_completion_tokens: 2 }), opts());
    expect(cut.choices[0]?.message.content).toBe("one two");
    const whole = await echoProvider().complete(request({ messages, max_tokens: 6 }), opts());
    expect(whole.choices[0]?.message.content).toBe("one two three four five six");
    expect(whole.choices[0]?.finish_reason).toBe("stop");
  });

  test("json_object wraps non-JSON text and keeps JSON objects", async () => {
    const fmt = { response_format: { type: "json_object" } };
    const wrapped = await echoProvider().complete(request({ ...fmt, messages: [{ role: "user", content: 'say "hi"' }] }), opts());
    expect(JSON.parse(wrapped.choices[0]!.message.content!)).toEqual({ echo: 'say "hi"' });
    const kept = await echoProvider().complete(request({ ...fmt, messages: [{ role: "user", content: '{"a": [1, 2]}' }] }), opts());
    expect(kept.choices[0]?.message.content).toBe('{"a": [1, 2]}');
    const plain = await echoProvider().complete(request({ messages: [{ role: "user", content: "not json" }] }), opts());
    expect(plain.choices[0]?.message.content).toBe("not json");
  });

  test("stream yields role chunk, content pieces, finish chunk, usage chunk", async () => {
    const req = request();
    const chunks = await collect(echoProvider().stream(req, { ...opts(), model: "echo-v1" }));
    const text = "Hello there, my email is [REDACTED] 👋🏽";
    expect(chunks.length).toBeGreaterThan(4);
    const first = chunks[0]!;
    expect(first.choices[0]).toEqual({ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null, logprobs: null });
    for (const c of chunks) {
      expect(c.object).toBe("chat.completion.chunk");
      expect([c.id, c.created, c.model]).toEqual([first.id, first.created, "echo-v1"]);
    }
    expect(first.id).toMatch(/^chatcmpl-/);
    expect(streamedText(chunks)).toBe(text);
    const finish = chunks.at(-2)!;
    expect(finish.choices).toEqual([{ index: 0, delta: {}, finish_reason: "stop", logprobs: null }]);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    const prompt = countPromptTokens(req.messages);
    expect(last.usage).toEqual({ prompt_tokens: prompt, completion_tokens: countTextTokens(text), total_tokens: prompt + countTextTokens(text) });
    // only the last chunk carries usage; content chunks carry no finish_reason
    expect(chunks.slice(0, -1).every((c) => c.usage === undefined)).toBe(true);
    expect(chunks.slice(0, -2).every((c) => c.choices[0]?.finish_reason === null)).toBe(true);
  });

  test("stream respects max_tokens", async () => {
    const chunks = await collect(echoProvider().stream(request({ messages: [{ role: "user", content: "one two three four" }], max_tokens: 2 }), opts()));
    expect(streamedText(chunks)).toBe("one two");
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe("length");
    expect(chunks.at(-1)?.usage?.completion_tokens).toBe(2);
  });

  test("chunkDelayMs paces the stream and abort stops it promptly", async () => {
    const p = echoProvider({ chunkDelayMs: 200 });
    const ctrl = new AbortController();
    const received: ChatCompletionChunk[] = [];
    const started = performance.now();
    const run = (async () => {
      for await (const c of p.stream(request(), { model: "echo", signal: ctrl.signal })) {
        received.push(c);
        if (received.length === 2) setTimeout(() => ctrl.abort(new Error("client gone")), 20);
      }
    })();
    await expect(run).rejects.toThrow("client gone");
    const elapsed = performance.now() - started;
    expect(received).toHaveLength(2); // role chunk + one piece
    expect(elapsed).toBeGreaterThanOrEqual(200);
    expect(elapsed).toBeLessThan(390); // the next piece would come at 400 ms
  });

  test("an already aborted signal rejects both calls", async () => {
    const signal = AbortSignal.abort(new Error("too late"));
    await expect(echoProvider().complete(request(), { model: "echo", signal })).rejects.toThrow("too late");
    await expect(collect(echoProvider().stream(request(), { model: "echo", signal }))).rejects.toThrow("too late");
  });
});

describe("createProvider", () => {
  test("builds adapters by kind", () => {
    const echo = createProvider({ id: "echo", kind: "echo", models: ["echo"] });
    expect(echo.kind).toBe("echo");
    const openai = createProvider({ id: "local-vllm", kind: "openai", baseUrl: "http://127.0.0.1:1/v1", models: ["llama"] });
    expect([openai.id, openai.kind, openai.models]).toEqual(["local-vllm", "openai", ["llama"]]);
    expect(Object.keys(openaiProvider({ id: "x", kind: "openai", models: [] }))).toContain("stream");
  });

  test("rejects an unknown kind at runtime", () => {
    expect(() => createProvider({ id: "x", kind: "nope" as "echo", models: [] })).toThrow("Unknown provider kind: nope");
  });
});
