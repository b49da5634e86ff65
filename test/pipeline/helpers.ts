/** Builds a Ctx for pipeline unit tests, capturing emitted events. */
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from "../../src/canonical/chat.ts";
import { emptySnapshot } from "../../src/config/snapshot.ts";
import type { Ctx, RequestEvent } from "../../src/pipeline/context.ts";
import type { ProviderAdapter } from "../../src/providers/types.ts";

export function testCtx(over: Partial<ChatCompletionRequest> = {}, opts: { stream?: boolean; providers?: ProviderAdapter[] } = {}) {
  const events: RequestEvent[] = [];
  const aborter = new AbortController();
  const providers = opts.providers ?? [];
  const ctx: Ctx = {
    requestId: "req-1",
    startedAt: performance.now(),
    endpoint: "chat.completions",
    request: { model: "echo", messages: [{ role: "user", content: "hello" }], ...over },
    operation: "chat",
    stream: opts.stream ?? false,
    principal: { tenant: "t1" },
    meta: {},
    config: emptySnapshot(),
    providers: { get: (id) => providers.find((p) => p.id === id), list: () => providers },
    attempts: 0,
    costUsd: 0,
    responseHeaders: {},
    signal: aborter.signal,
    timings: {},
    state: {},
    emit: (e) => events.push(e),
  };
  return { ctx, events, aborter };
}

export function completion(text: string): ChatCompletion {
  return {
    id: "chatcmpl-x",
    object: "chat.completion",
    created: 1,
    model: "m",
    choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
    usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
  };
}

export function chunk(content: string, extra: Partial<ChatCompletionChunk> = {}): ChatCompletionChunk {
  return {
    id: "chatcmpl-x",
    object: "chat.completion.chunk",
    created: 1,
    model: "m",
    choices: [{ index: 0, delta: { content }, finish_reason: null }],
    ...extra,
  };
}

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

export function completedEvent(events: RequestEvent[]) {
  const done = events.filter((e) => e.type === "request.completed");
  if (done.length !== 1) throw new Error(`expected exactly one request.completed, got ${done.length}`);
  return done[0]!.payload as Record<string, unknown>;
}
