/**
 * Anthropic Messages SSE → canonical chat completion chunks.
 *
 * Event order (Anthropic): `message_start`, then per content block `content_block_start`,
 * `content_block_delta`* (`text_delta` | `input_json_delta` | thinking deltas),
 * `content_block_stop`; then `message_delta` (stop_reason, cumulative usage) and
 * `message_stop`. `ping` may appear anywhere; `error` ends the stream with a failure.
 *
 * Output (the OpenAI `include_usage` shape): a first chunk with `role: "assistant"`; text as
 * `content` deltas; each tool_use block as a `tool_calls` delta (index = tool blocks seen so
 * far, id, name, `arguments: ""`) followed by its argument fragments; a chunk with the
 * finish_reason; then one `choices: []` chunk with the usage.
 */
import type { ChatCompletionChunk, ChunkToolCallDelta, FinishReason } from "../../canonical/chat.ts";
import { ProviderError } from "../errors.ts";
import type { SSEEvent } from "../sse.ts";
import { completionId, toFinishReason, toUsage, type AnthropicUsage } from "./translate.ts";

type Json = Record<string, unknown>;
type Delta = ChatCompletionChunk["choices"][number]["delta"];

export interface AnthropicStreamOptions {
  /** Provider id, for error messages. */
  provider: string;
  /** Model reported when `message_start` names none. */
  model: string;
}

/** 502 `upstream_invalid_response` (not retryable). */
export function invalidResponse(provider: string, what: string): ProviderError {
  return new ProviderError({ provider, status: 502, code: "upstream_invalid_response", message: `upstream sent ${what}`, retryable: false });
}

/**
 * An Anthropic error body (`{"type":"error","error":{"type","message"}}`) received with a 200
 * or as a mid-stream `error` event: `overloaded_error` → 502 `upstream_overloaded`, others
 * → 502 `upstream_error`; retryable for overloaded/api/rate-limit/timeout errors.
 */
export function upstreamErrorEvent(provider: string, body: Json): ProviderError {
  const err = (typeof body.error === "object" && body.error !== null ? body.error : {}) as Json;
  const type = typeof err.type === "string" ? err.type : "api_error";
  const message = typeof err.message === "string" ? err.message : "unknown error";
  const overloaded = type === "overloaded_error";
  return new ProviderError({
    provider,
    status: 502,
    code: overloaded ? "upstream_overloaded" : "upstream_error",
    message: `upstream failed mid-response (${type}): ${message}`,
    retryable: overloaded || type === "api_error" || type === "rate_limit_error" || type === "timeout_error",
  });
}

/** Parses one SSE `data:` payload as a JSON object, or throws `upstream_invalid_response`. */
export function parseEventData(provider: string, data: string): Json {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    throw invalidResponse(provider, `malformed JSON in the event stream: ${data.slice(0, 120)}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalidResponse(provider, "an event that is not a JSON object");
  return value as Json;
}

/**
 * Translates Anthropic stream events to canonical chunks. Throws ProviderError on an `error`
 * event, on malformed JSON, and when the events end without `message_stop`
 * (`upstream_stream_truncated`, retryable only if nothing was yielded yet).
 */
export async function* translateAnthropicStream(
  events: AsyncIterable<SSEEvent>,
  opts: AnthropicStreamOptions,
): AsyncGenerator<ChatCompletionChunk, void, undefined> {
  const state = new AnthropicStreamState(opts.model);
  let yielded = false;
  for await (const ev of events) {
    if (state.stopped) continue; // drain to the end so the upstream closes normally
    const data = parseEventData(opts.provider, ev.data);
    if (data.type === "error" || ev.event === "error") throw upstreamErrorEvent(opts.provider, data);
    for (const chunk of state.accept(data)) {
      yielded = true;
      yield chunk;
    }
  }
  if (!state.stopped) {
    throw new ProviderError({
      provider: opts.provider,
      status: 502,
      code: "upstream_stream_truncated",
      message: "stream ended without message_stop",
      retryable: !yielded,
    });
  }
  for (const chunk of state.finish()) yield chunk;
}

/** The per-stream state: identity, tool block indexes, usage, finish. */
export class AnthropicStreamState {
  /** True once `message_stop` arrived. */
  stopped = false;
  private id: string | undefined;
  private model: string;
  private readonly created = Math.floor(Date.now() / 1000);
  private started = false;
  private finishSent = false;
  private usage: AnthropicUsage = {};
  /** Anthropic content block index → canonical tool_calls index (+ whether arguments streamed). */
  private readonly tools = new Map<number, { index: number; input: unknown; streamed: boolean }>();

  constructor(fallbackModel: string) {
    this.model = fallbackModel;
  }

  /** One parsed event → the chunks it produces (often none). */
  accept(ev: Json): ChatCompletionChunk[] {
    switch (ev.type) {
      case "message_start": {
        const msg = (isObject(ev.message) ? ev.message : {}) as Json;
        if (typeof msg.id === "string" && msg.id) this.id = completionId(msg.id);
        if (typeof msg.model === "string" && msg.model) this.model = msg.model;
        this.mergeUsage(msg.usage);
        return this.start();
      }
      case "content_block_start": {
        const block = (isObject(ev.content_block) ? ev.content_block : {}) as Json;
        const out = this.start();
        if (block.type === "text" && typeof block.text === "string" && block.text) out.push(this.chunk({ content: block.text }));
        if (block.type === "tool_use") {
          const index = this.tools.size;
          this.tools.set(Number(ev.index), { index, input: block.input, streamed: false });
          const call: ChunkToolCallDelta = { index, id: String(block.id ?? ""), type: "function", function: { name: String(block.name ?? ""), arguments: "" } };
          out.push(this.chunk({ tool_calls: [call] }));
        }
        return out;
      }
      case "content_block_delta": {
        const delta = (isObject(ev.delta) ? ev.delta : {}) as Json;
        if (delta.type === "text_delta" && typeof delta.text === "string" && delta.text) return [...this.start(), this.chunk({ content: delta.text })];
        const tool = this.tools.get(Number(ev.index));
        if (delta.type === "input_json_delta" && tool && typeof delta.partial_json === "string" && delta.partial_json) {
          tool.streamed = true;
          return [...this.start(), this.chunk({ tool_calls: [{ index: tool.index, function: { arguments: delta.partial_json } }] })];
        }
        return []; // thinking_delta, signature_delta, citations_delta, …
      }
      case "content_block_stop": {
        // A tool_use block whose input came complete in content_block_start (no deltas).
        const tool = this.tools.get(Number(ev.index));
        if (!tool || tool.streamed || !isObject(tool.input) || Object.keys(tool.input).length === 0) return [];
        tool.streamed = true;
        return [this.chunk({ tool_calls: [{ index: tool.index, function: { arguments: JSON.stringify(tool.input) } }] })];
      }
      case "message_delta": {
        this.mergeUsage(ev.usage);
        const delta = (isObject(ev.delta) ? ev.delta : {}) as Json;
        const reason = toFinishReason(typeof delta.stop_reason === "string" ? delta.stop_reason : null);
        return reason ? [...this.start(), this.finishChunk(reason)] : [];
      }
      case "message_stop":
        this.stopped = true;
        return [];
      default: // ping and event types added later
        return [];
    }
  }

  /** The closing chunks after `message_stop`: a finish chunk if none came, then usage. */
  finish(): ChatCompletionChunk[] {
    const out = this.start();
    if (!this.finishSent) out.push(this.finishChunk("stop"));
    out.push({ ...this.identity(), choices: [], usage: toUsage(this.usage) });
    return out;
  }

  private start(): ChatCompletionChunk[] {
    if (this.started) return [];
    this.started = true;
    return [this.chunk({ role: "assistant", content: "" })];
  }

  private finishChunk(reason: FinishReason): ChatCompletionChunk {
    this.finishSent = true;
    return { ...this.identity(), choices: [{ index: 0, delta: {}, finish_reason: reason }] };
  }

  private chunk(delta: Delta): ChatCompletionChunk {
    return { ...this.identity(), choices: [{ index: 0, delta, finish_reason: null }] };
  }

  private identity() {
    this.id ??= `chatcmpl-${crypto.randomUUID().replaceAll("-", "")}`;
    return { id: this.id, object: "chat.completion.chunk" as const, created: this.created, model: this.model };
  }

  /** Usage fields are cumulative: later values replace earlier ones. */
  private mergeUsage(u: unknown): void {
    if (!isObject(u)) return;
    for (const key of ["input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"] as const) {
      const v = (u as Json)[key];
      if (typeof v === "number") this.usage[key] = v;
    }
  }
}

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
