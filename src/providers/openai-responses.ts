/**
 * The Responses API upstream (OpenAI, Azure OpenAI): a Responses body out, the answer read
 * back into canonical form so the pipeline (output guardrails, cache, usage, cost) handles
 * it like any other answer.
 *
 * - JSON: `output` message text → `content`, `function_call` items → `tool_calls`, `usage`
 *   (cached and reasoning tokens kept), status `incomplete` → finish `length` / `content_filter`.
 * - SSE: `response.output_text.delta` → content deltas; `response.output_item.added` of a
 *   `function_call` → a tool call delta (id, name), `response.function_call_arguments.delta`
 *   → argument deltas; `response.completed` / `.incomplete` → the finish chunk and a usage
 *   chunk; `response.failed` / `error` → `upstream_error`. A stream that ends without a final
 *   event is `upstream_stream_truncated`.
 */
import type { ChatCompletion, ChatCompletionChunk, FinishReason, ToolCall } from "../canonical/chat.ts";
import { fromResponsesUsage } from "../canonical/responses.ts";
import type { Attempt } from "./attempt.ts";
import { startAttempt } from "./attempt.ts";
import { errorInBody, type Json, parseJson } from "./openai-parse.ts";
import { parseSSE } from "./sse.ts";
import type { ProviderCallOptions, ProviderConfig, ResponsesCalls } from "./types.ts";

/** What the shared OpenAI adapter lends the Responses calls (its HTTP and error mapping). */
export interface WireTools {
  cfg: ProviderConfig;
  post(model: string, body: Json, attempt: Attempt, stream: boolean): Promise<Response>;
  classify(err: unknown, attempt: Attempt, opts: ProviderCallOptions, streamed?: { yielded: boolean }): unknown;
  fail(status: number, code: string, message: string, retryable: boolean): Error;
  invalid(what: string): Error;
}

export function responsesCalls(w: WireTools): ResponsesCalls {
  return {
    async complete(body, opts) {
      const attempt = startAttempt(opts, w.cfg);
      try {
        const res = await w.post(opts.model, { ...body, model: opts.model, stream: false }, attempt, false);
        const text = await res.text();
        const raw = parseJson(text, w.invalid);
        const upstreamError = errorInBody(raw, text);
        if (upstreamError !== undefined) throw w.fail(502, "upstream_error", `upstream answered 200 with an error: ${upstreamError}`, true);
        return completionOf(raw, opts.model, w.invalid);
      } catch (err) {
        throw w.classify(err, attempt, opts);
      } finally {
        attempt.dispose();
      }
    },

    async *stream(body, opts) {
      const attempt = startAttempt(opts, w.cfg);
      let res: Response;
      try {
        res = await w.post(opts.model, { ...body, model: opts.model, stream: true }, attempt, true);
      } catch (err) {
        attempt.dispose();
        throw w.classify(err, attempt, opts);
      }
      attempt.stopTimer();
      const progress = { yielded: false };
      let complete = false;
      try {
        if (!res.body) throw w.invalid("an empty body");
        const state = new ResponsesStreamState(opts.model);
        for await (const ev of parseSSE(res.body, attempt.signal)) {
          if (ev.data === "[DONE]") continue;
          const raw = parseJson(ev.data, w.invalid);
          if (raw.type === "error" || raw.type === "response.failed") {
            const detail = (raw.response as Json | undefined)?.error ?? raw;
            throw w.fail(502, "upstream_error", `upstream failed mid-stream: ${JSON.stringify(detail).slice(0, 300)}`, !progress.yielded);
          }
          for (const chunk of state.accept(raw)) {
            progress.yielded = true;
            yield chunk;
          }
          if (state.finished) break;
        }
        if (!state.finished) throw w.fail(502, "upstream_stream_truncated", "stream ended without response.completed", !progress.yielded);
        complete = true;
      } catch (err) {
        throw w.classify(err, attempt, opts, progress);
      } finally {
        if (!complete) attempt.abort();
        attempt.dispose();
      }
    },
  };
}

function finishOf(raw: Json, hasCalls: boolean): FinishReason {
  if (raw.status === "incomplete") {
    const reason = (raw.incomplete_details as Json | null | undefined)?.reason;
    return reason === "content_filter" ? "content_filter" : "length";
  }
  return hasCalls ? "tool_calls" : "stop";
}

/** A Responses `response` object as a canonical completion. */
export function completionOf(raw: Json, model: string, invalid: (what: string) => Error): ChatCompletion {
  if (raw.object !== "response" || !Array.isArray(raw.output)) throw invalid("a body that is not a Responses `response`");
  let text = "";
  let refusal = "";
  const calls: ToolCall[] = [];
  for (const item of raw.output as Json[]) {
    if (item.type === "message" && Array.isArray(item.content)) {
      for (const part of item.content as Json[]) {
        if (part.type === "output_text" && typeof part.text === "string") text += part.text;
        if (part.type === "refusal" && typeof part.refusal === "string") refusal += part.refusal;
      }
    } else if (item.type === "function_call") {
      calls.push({ id: String(item.call_id ?? ""), type: "function", function: { name: String(item.name ?? ""), arguments: String(item.arguments ?? "") } });
    }
  }
  const usage = fromResponsesUsage(raw.usage as Json | undefined) ?? { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
  return {
    id: `chatcmpl-${String(raw.id ?? "").replace(/^resp_/, "")}`,
    object: "chat.completion",
    created: typeof raw.created_at === "number" ? raw.created_at : Math.floor(Date.now() / 1000),
    model: typeof raw.model === "string" ? raw.model : model,
    choices: [{ index: 0, message: { role: "assistant", content: text || (calls.length ? null : ""), ...(calls.length ? { tool_calls: calls } : {}), ...(refusal ? { refusal } : {}) }, finish_reason: finishOf(raw, calls.length > 0) }],
    usage,
  };
}

/** Responses stream events → canonical chunks. */
export class ResponsesStreamState {
  finished = false;
  private id = `chatcmpl-${crypto.randomUUID().replaceAll("-", "")}`;
  private readonly created = Math.floor(Date.now() / 1000);
  /** Upstream function-call item id → canonical tool call index. */
  private readonly calls = new Map<string, number>();

  constructor(private readonly model: string) {}

  private chunk(delta: ChatCompletionChunk["choices"][number]["delta"], finish: FinishReason | null = null): ChatCompletionChunk {
    return { id: this.id, object: "chat.completion.chunk", created: this.created, model: this.model, choices: [{ index: 0, delta, finish_reason: finish }] };
  }

  accept(ev: Json): ChatCompletionChunk[] {
    switch (ev.type) {
      case "response.created": {
        const r = ev.response as Json | undefined;
        if (typeof r?.id === "string") this.id = `chatcmpl-${r.id.replace(/^resp_/, "")}`;
        return [this.chunk({ role: "assistant", content: "" })];
      }
      case "response.output_text.delta":
        return typeof ev.delta === "string" && ev.delta ? [this.chunk({ content: ev.delta })] : [];
      case "response.refusal.delta":
        return typeof ev.delta === "string" && ev.delta ? [this.chunk({ refusal: ev.delta })] : [];
      case "response.output_item.added": {
        const item = ev.item as Json | undefined;
        if (item?.type !== "function_call") return [];
        const index = this.calls.size;
        this.calls.set(String(item.id ?? index), index);
        return [this.chunk({ tool_calls: [{ index, id: String(item.call_id ?? ""), type: "function", function: { name: String(item.name ?? ""), arguments: String(item.arguments ?? "") } }] })];
      }
      case "response.function_call_arguments.delta": {
        const index = this.calls.get(String(ev.item_id));
        return index !== undefined && typeof ev.delta === "string" ? [this.chunk({ tool_calls: [{ index, function: { arguments: ev.delta } }] })] : [];
      }
      case "response.completed":
      case "response.incomplete": {
        this.finished = true;
        const r = (ev.response as Json | undefined) ?? {};
        const usage = fromResponsesUsage(r.usage as Json | undefined);
        const out = [this.chunk({}, finishOf(r, this.calls.size > 0))];
        if (usage) out.push({ id: this.id, object: "chat.completion.chunk", created: this.created, model: this.model, choices: [], usage });
        return out;
      }
      default:
        return [];
    }
  }
}
