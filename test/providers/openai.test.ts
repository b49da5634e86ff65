import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import type { ChatCompletionChunk, ChatCompletionRequest } from "../../src/canonical/chat.ts";
import { GatewayError } from "../../src/pipeline/errors.ts";
import { openaiProvider } from "../../src/providers/openai.ts";
import { countPromptTokens, countTextTokens } from "../../src/providers/tokens.ts";
import { startFakeOpenAI } from "../fakes/openai-upstream.ts";

const fake = startFakeOpenAI({ apiKey: "sk-upstream" });
afterAll(() => fake.close());
beforeEach(() => fake.reset());

const provider = (over: { apiKey?: string; timeoutMs?: number; baseUrl?: string } = {}) =>
  openaiProvider({
    id: "openai",
    kind: "openai",
    baseUrl: over.baseUrl ?? fake.url,
    apiKey: over.apiKey ?? "sk-upstream",
    models: ["gpt-4o-mini"],
    headers: { "OpenAI-Organization": "org-tollgate" },
    ...(over.timeoutMs !== undefined ? { timeoutMs: over.timeoutMs } : {}),
  });

const opts = (extra: { timeoutMs?: number; signal?: AbortSignal } = {}) => ({
  model: "gpt-4o-mini",
  signal: extra.signal ?? new AbortController().signal,
  ...(extra.timeoutMs !== undefined ? { timeoutMs: extra.timeoutMs } : {}),
});

const request = (over: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest => ({
  model: "smart", // the gateway-facing alias: must be replaced by opts.model
  messages: [
    { role: "system", content: "You are terse." },
    { role: "user", content: "Say hello" },
  ],
  temperature: 0.2,
  ...over,
});

async function collect(it: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const out: ChatCompletionChunk[] = [];
  for await (const c of it) out.push(c);
  return out;
}

/** Runs `fn`, expecting a GatewayError; returns it. */
async function gatewayError(fn: () => Promise<unknown>): Promise<GatewayError> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    return err as GatewayError;
  }
  throw new Error("expected a GatewayError");
}

const text = (chunks: ChatCompletionChunk[]) => chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");

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
    let err = await gatewayError(() => provider().complete(request(), opts()));
    expect([err.status, err.code, err.type]).toEqual([502, "upstream_error", "upstream_error"]);
    expect(err.message).toStartWith("openai: ");

    fake.enqueue({ kind: "error", status: 429, headers: { "retry-after": "7" } });
    err = await gatewayError(() => provider().complete(request(), opts()));
    expect([err.status, err.code]).toEqual([429, "upstream_rate_limited"]);
    expect(err.headers).toEqual({ "retry-after": "7" });

    err = await gatewayError(() => provider({ apiKey: "sk-wrong" }).complete(request(), opts()));
    expect([err.status, err.code]).toEqual([502, "upstream_auth_failed"]);

    fake.enqueue({ kind: "error", status: 403, message: "Country not supported", code: "unsupported_country" });
    err = await gatewayError(() => provider().complete(request(), opts()));
    expect([err.status, err.code]).toEqual([502, "upstream_auth_failed"]);

    fake.enqueue({ kind: "error", status: 400 });
    err = await gatewayError(() => provider().complete(request(), opts()));
    expect([err.status, err.code, err.type]).toEqual([400, "invalid_value", "invalid_request_error"]);
    expect(err.message).toBe("openai: Invalid value for 'temperature': must be between 0 and 2.");

    fake.enqueue({ kind: "error", status: 404 });
    err = await gatewayError(() => provider().complete(request(), opts()));
    expect([err.status, err.code]).toEqual([404, "model_not_found"]);

    fake.enqueue({ kind: "error", status: 422, code: null, message: "unprocessable" });
    err = await gatewayError(() => provider().complete(request(), opts()));
    expect([err.status, err.code, err.message]).toEqual([422, "upstream_bad_request", "openai: unprocessable"]);
  });

  test("malformed JSON body → 502 upstream_invalid_response", async () => {
    fake.setBehavior({ kind: "malformed" });
    const err = await gatewayError(() => provider().complete(request(), opts()));
    expect([err.status, err.code]).toEqual([502, "upstream_invalid_response"]);
  });

  test("no headers within the timeout → 504 upstream_timeout", async () => {
    fake.setBehavior({ kind: "hang" });
    const started = performance.now();
    const err = await gatewayError(() => provider({ timeoutMs: 10_000 }).complete(request(), opts({ timeoutMs: 100 })));
    expect([err.status, err.code]).toEqual([504, "upstream_timeout"]);
    expect(performance.now() - started).toBeLessThan(1000);

    const cfgTimeout = await gatewayError(() => provider({ timeoutMs: 80 }).complete(request(), opts()));
    expect(cfgTimeout.code).toBe("upstream_timeout");
  });

  test("connection refused → 502 upstream_unreachable", async () => {
    const dead = startFakeOpenAI();
    const url = dead.url;
    await dead.close();
    const err = await gatewayError(() => provider({ baseUrl: url }).complete(request(), opts()));
    expect([err.status, err.code]).toEqual([502, "upstream_unreachable"]);
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

    expect(text(chunks)).toBe("Hello from upstream, streaming!");
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
    let err = await gatewayError(() => collect(provider().stream(request(), opts())));
    expect([err.status, err.code, err.headers]).toEqual([429, "upstream_rate_limited", { "retry-after": "3" }]);
    err = await gatewayError(() => collect(provider().stream(request(), opts())));
    expect([err.status, err.code]).toEqual([502, "upstream_error"]);
  });

  test("a data line that is not JSON → 502 upstream_invalid_response", async () => {
    fake.setBehavior({ kind: "malformed" });
    const err = await gatewayError(() => collect(provider().stream(request(), opts())));
    expect([err.status, err.code]).toEqual([502, "upstream_invalid_response"]);
  });

  test("a stream closed without [DONE] or finish_reason → 502 upstream_stream_truncated", async () => {
    fake.setBehavior({ kind: "truncate", content: "Hello there" });
    const received: ChatCompletionChunk[] = [];
    const err = await gatewayError(async () => {
      for await (const c of provider().stream(request(), opts())) received.push(c);
    });
    expect([err.status, err.code]).toEqual([502, "upstream_stream_truncated"]);
    expect(text(received)).toBe("Hello"); // what arrived was passed on first
  });

  test("a connection that dies mid-stream → 502 upstream_stream_truncated", async () => {
    const dying = startFakeOpenAI({ behavior: { kind: "ok", content: "z".repeat(100), chunkSize: 2, chunkDelayMs: 20 } });
    let n = 0;
    const err = await gatewayError(async () => {
      for await (const _ of provider({ baseUrl: dying.url }).stream(request(), opts())) {
        if (++n === 2) void dying.close();
      }
    });
    expect([err.status, err.code]).toEqual([502, "upstream_stream_truncated"]);
  });

  test("the timeout covers the headers only, not a slow stream", async () => {
    fake.setBehavior({ kind: "ok", content: "slow but steady", chunkSize: 3, chunkDelayMs: 40 });
    const chunks = await collect(provider().stream(request(), opts({ timeoutMs: 100 })));
    expect(text(chunks)).toBe("slow but steady");
  });

  test("no headers within the timeout → 504 upstream_timeout", async () => {
    fake.setBehavior({ kind: "hang" });
    const err = await gatewayError(() => collect(provider().stream(request(), opts({ timeoutMs: 100 }))));
    expect([err.status, err.code]).toEqual([504, "upstream_timeout"]);
  });

  test("a consumer that stops iterating cancels the upstream request", async () => {
    fake.setBehavior({ kind: "ok", content: "x".repeat(400), chunkSize: 2, chunkDelayMs: 20 });
    let n = 0;
    for await (const _ of provider().stream(request(), opts())) {
      if (++n === 3) break;
    }
    await fake.waitForCancellation(1, 2000);
    expect(fake.cancellations).toBe(1);
  });

  test("aborting the caller's signal mid-stream stops the generator and the upstream", async () => {
    fake.setBehavior({ kind: "ok", content: "y".repeat(400), chunkSize: 2, chunkDelayMs: 20 });
    const ctrl = new AbortController();
    let n = 0;
    const run = (async () => {
      for await (const _ of provider().stream(request(), opts({ signal: ctrl.signal }))) {
        if (++n === 2) ctrl.abort(new Error("client went away"));
      }
    })();
    await expect(run).rejects.toThrow("client went away");
    expect(n).toBeLessThanOrEqual(3);
    await fake.waitForCancellation(1, 2000);
  });
});
