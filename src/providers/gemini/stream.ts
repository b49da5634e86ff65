/**
 * Gemini `streamGenerateContent?alt=sse` → canonical chat completion chunks.
 *
 * Each SSE `data:` line is a whole `GenerateContentResponse` holding the next piece of the
 * first candidate: text parts (deltas), complete `functionCall` parts (Gemini never splits a
 * call), and — on the last event — `finishReason` with the final `usageMetadata`.
 *
 * Output (the OpenAI `include_usage` shape): a first chunk with `role: "assistant"`; text as
 * `content` deltas; each function call as one `tool_calls` delta (index, id `call_<n>`, name,
 * full arguments); a chunk with the finish_reason; then one `choices: []` chunk with usage
 * from the last `usageMetadata` (counted locally when Google sent none).
 *
 * Failures: a data line that is not a JSON object → 502 `upstream_invalid_response`; an
 * in-band `{"error":{…}}` event → mapped like an HTTP error; the stream ending before any
 * finishReason (or prompt block) → 502 `upstream_stream_truncated`, retryable only when
 * nothing was yielded yet.
 */
import type { ChatCompletionChunk, ChatCompletionRequest, ChunkToolCallDelta, FinishReason } from "../../canonical/chat.ts";
import { ProviderError, providerHttpError } from "../errors.ts";
import type { SSEEvent } from "../sse.ts";
import { candidateOutput, completionId, estimateUsage, toFinishReason, toUsage } from "./translate.ts";
import type { GeminiResponse, GeminiUsageMetadata } from "./wire.ts";

type Json = Record<string, unknown>;
type Choice = ChatCompletionChunk["choices"][number];

export interface GeminiStreamOptions {
  /** Provider id, for error messages. */
  provider: string;
  /** Model reported when the upstream names none (`modelVersion`). */
  model: string;
  /** The canonical request, for counting usage locally when Google reports none. */
  req: ChatCompletionRequest;
}

/** 502 `upstream_invalid_response` (not retryable). */
export function invalidResponse(provider: string, what: string): ProviderError {
  return new ProviderError({ provider, status: 502, code: "upstream_invalid_response", message: `upstream sent ${what}`, retryable: false });
}

/** Parses a JSON object (a response body or one SSE `data:` payload), or throws `upstream_invalid_response`. */
export function parseJsonObject(provider: string, text: string): Json {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalidResponse(provider, `malformed JSON: ${text.slice(0, 120)}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalidResponse(provider, "JSON that is not an object");
  return value as Json;
}

/** What Google's error body `{"error":{"code","message","status","details":[…]}}` says. */
export interface GoogleErrorInfo {
  code?: number;
  message?: string;
  /** The canonical status string, e.g. `RESOURCE_EXHAUSTED`, `INVALID_ARGUMENT`. */
  status?: string;
  /** `google.rpc.ErrorInfo.reason`, e.g. `API_KEY_INVALID`. */
  reason?: string;
  /** `google.rpc.RetryInfo.retryDelay` in seconds (as a string `Retry-After` would carry). */
  retryDelaySeconds?: string;
}

/** Reads a Google error body (also the `[{"error":…}]` array form); `{}` when it is not one. */
export function parseGoogleError(body: unknown): GoogleErrorInfo {
  let value = body;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      return {};
    }
  }
  if (Array.isArray(value)) value = value[0];
  const err = typeof value === "object" && value !== null ? (value as { error?: unknown }).error : undefined;
  if (typeof err !== "object" || err === null) return {};
  const e = err as Json;
  const info: GoogleErrorInfo = {};
  if (typeof e.code === "number") info.code = e.code;
  if (typeof e.message === "string") info.message = e.message;
  if (typeof e.status === "string" && e.status) info.status = e.status;
  for (const d of Array.isArray(e.details) ? e.details : []) {
    const detail = (typeof d === "object" && d !== null ? d : {}) as Json;
    if (typeof detail.reason === "string" && info.reason === undefined) info.reason = detail.reason;
    const delay = typeof detail.retryDelay === "string" ? /^(\d+(?:\.\d+)?)s$/.exec(detail.retryDelay.trim())?.[1] : undefined;
    if (delay !== undefined) info.retryDelaySeconds = delay;
  }
  return info;
}

/** An error event inside a 200 stream (or body): mapped by its `code` like an HTTP error. */
function inBandError(provider: string, info: GoogleErrorInfo): ProviderError {
  const status = info.code !== undefined && info.code >= 400 ? info.code : 500;
  return providerHttpError(
    provider,
    status,
    { message: `upstream failed mid-response: ${info.message ?? "unknown error"}`, ...(info.status ? { code: info.status.toLowerCase() } : {}) },
    info.retryDelaySeconds,
  );
}

/**
 * Translates a Gemini SSE event stream into canonical chunks (see the module comment).
 * Returning early stops reading `events` (the caller cancels the upstream request).
 */
export async function* translateGeminiStream(events: AsyncIterable<SSEEvent>, o: GeminiStreamOptions): AsyncGenerator<ChatCompletionChunk> {
  const created = Math.floor(Date.now() / 1000);
  let id: string | undefined;
  let model: string | undefined;
  let finish: FinishReason | undefined;
  let usage: GeminiUsageMetadata | undefined;
  let toolCalls = 0;
  let yielded = 0;
  let completionText = "";
  const chunk = (choices: Choice[], extra: Partial<ChatCompletionChunk> = {}): ChatCompletionChunk => {
    yielded++;
    return { id: id ?? completionId(undefined), object: "chat.completion.chunk", created, model: model ?? o.model, choices, ...extra };
  };
  const choice = (delta: Choice["delta"], finishReason: FinishReason | null = null): Choice => ({ index: 0, delta, finish_reason: finishReason, logprobs: null });

  for await (const ev of events) {
    if (ev.data.trim() === "") continue;
    const raw = parseJsonObject(o.provider, ev.data);
    if (raw.error !== undefined) throw inBandError(o.provider, parseGoogleError(raw));
    const res = raw as GeminiResponse;
    if (res.candidates !== undefined && !Array.isArray(res.candidates)) throw invalidResponse(o.provider, "an event whose `candidates` is not a list");
    id ??= completionId(res.responseId);
    if (model === undefined && typeof res.modelVersion === "string" && res.modelVersion) model = res.modelVersion;
    if (yielded === 0) yield chunk([choice({ role: "assistant", content: "" })]);
    if (res.usageMetadata) usage = res.usageMetadata;
    if (finish !== undefined) continue; // nothing after the finish counts, but keep reading for usage

    const candidate = res.candidates?.[0];
    const out = candidateOutput(candidate, toolCalls);
    if (out.text) {
      completionText += out.text;
      yield chunk([choice({ content: out.text })]);
    }
    if (out.toolCalls.length > 0) {
      const first = toolCalls;
      toolCalls += out.toolCalls.length;
      for (const call of out.toolCalls) completionText += call.function.name + call.function.arguments;
      const deltas: ChunkToolCallDelta[] = out.toolCalls.map((call, i) => ({ index: first + i, ...call }));
      yield chunk([choice({ tool_calls: deltas })]);
    }
    if (candidate?.finishReason) finish = toFinishReason(candidate.finishReason, toolCalls > 0);
    else if (candidate === undefined && res.promptFeedback?.blockReason) finish = "content_filter";
    if (finish !== undefined) yield chunk([choice({}, finish)]);
  }

  if (finish === undefined) {
    throw new ProviderError({
      provider: o.provider,
      status: 502,
      code: "upstream_stream_truncated",
      message: "stream ended without a finishReason",
      retryable: yielded === 0,
    });
  }
  yield chunk([], { usage: usage ? toUsage(usage) : estimateUsage(o.req, completionText) });
}

