/**
 * Anthropic SSE out: canonical chunks → `message_start`, `content_block_*`, `message_delta`,
 * `message_stop` (and `error`). The request/response translation is in anthropic-format.ts.
 */
import type { ChatCompletionChunk, ChunkToolCallDelta, FinishReason, Usage } from "../canonical/chat.ts";
import type { GatewayError } from "../pipeline/errors.ts";
import { matchedStop, messageId, stopReason, toAnthropicError, toAnthropicUsage } from "./anthropic-format.ts";

interface ToolState {
  id?: string;
  name?: string;
  /** Argument fragments received before the name (the block cannot start without it). */
  pending: string;
  block?: number;
}

const sse = (event: { type: string; [field: string]: unknown }) => `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;

/**
 * Turns canonical chunks into Anthropic SSE text: `message_start` (+ `ping`), then per block
 * `content_block_start` / `content_block_delta` (`text_delta`, `input_json_delta`) /
 * `content_block_stop`, then `message_delta` (stop reason, usage) and `message_stop`.
 * Blocks are sequential: a new block closes the previous one. Only choice 0 is translated.
 *
 * @example
 * const w = new AnthropicStreamWriter({ model: "echo" });
 * for await (const chunk of chunks) send(w.write(chunk));
 * send(w.end()); // or, on failure: send(w.error(gatewayError))
 */
export class AnthropicStreamWriter {
  private started = false;
  private nextBlock = 0;
  private openBlock: number | null = null;
  private openIsText = false;
  private readonly tools = new Map<number, ToolState>();
  private finish: FinishReason | null = null;
  private matched: string | undefined;
  private usage: Usage | undefined;
  private sawToolUse = false;

  constructor(private readonly opts: { model: string; id?: string; inputTokens?: number }) {}

  /** SSE text for one chunk (may be empty). The first call also emits `message_start`. */
  write(chunk: ChatCompletionChunk): string {
    let out = this.start(chunk.id);
    if (chunk.usage) this.usage = chunk.usage;
    for (const choice of chunk.choices) {
      if (choice.index !== 0) continue;
      const text = (choice.delta.content ?? "") + (choice.delta.refusal ?? "");
      if (text) out += this.text(text);
      for (const call of choice.delta.tool_calls ?? []) out += this.tool(call);
      if (choice.finish_reason) {
        this.finish = choice.finish_reason;
        this.matched = matchedStop(choice);
      }
    }
    return out;
  }

  /** The closing events of a complete stream. */
  end(): string {
    let out = this.start(undefined);
    for (const [, t] of this.tools) if (t.block === undefined) out += this.startTool(t);
    out += this.closeBlock();
    out += sse({
      type: "message_delta",
      delta: { stop_reason: stopReason(this.finish, this.sawToolUse, this.matched), stop_sequence: this.matched ?? null },
      usage: toAnthropicUsage(this.usage),
    });
    out += sse({ type: "message_stop" });
    return out;
  }

  /** A mid-stream failure: one `error` event (no `message_stop` follows). */
  error(error: Pick<GatewayError, "status" | "type" | "code" | "message" | "param">, requestId?: string): string {
    return `event: error\ndata: ${JSON.stringify(toAnthropicError(error, requestId))}\n\n`;
  }

  private start(canonicalId: string | undefined): string {
    if (this.started) return "";
    this.started = true;
    const message = {
      id: this.opts.id ?? messageId(canonicalId),
      type: "message",
      role: "assistant",
      model: this.opts.model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: this.opts.inputTokens ?? 0, output_tokens: 0 },
    };
    return sse({ type: "message_start", message }) + sse({ type: "ping" });
  }

  private text(text: string): string {
    let out = "";
    if (this.openBlock === null || !this.openIsText) {
      out += this.closeBlock();
      out += this.openNew(true, { type: "text", text: "" });
    }
    return out + sse({ type: "content_block_delta", index: this.openBlock, delta: { type: "text_delta", text } });
  }

  private tool(call: ChunkToolCallDelta): string {
    let t = this.tools.get(call.index);
    if (!t) this.tools.set(call.index, (t = { pending: "" }));
    if (call.id) t.id ??= call.id;
    if (call.function?.name) t.name ??= call.function.name;
    const args = call.function?.arguments ?? "";
    if (t.block === undefined) {
      t.pending += args;
      return t.name ? this.startTool(t) : "";
    }
    // A fragment for a block already closed (interleaved parallel calls) still names its index.
    return args ? this.jsonDelta(t.block, args) : "";
  }

  private startTool(t: ToolState): string {
    this.sawToolUse = true;
    const id = t.id ?? `toolu_${crypto.randomUUID().replaceAll("-", "")}`;
    let out = this.closeBlock() + this.openNew(false, { type: "tool_use", id, name: t.name ?? "", input: {} });
    t.block = this.openBlock ?? undefined;
    if (t.pending && t.block !== undefined) out += this.jsonDelta(t.block, t.pending);
    t.pending = "";
    return out;
  }

  private jsonDelta(index: number, partial: string): string {
    return sse({ type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: partial } });
  }

  private openNew(isText: boolean, block: Record<string, unknown>): string {
    this.openBlock = this.nextBlock++;
    this.openIsText = isText;
    return sse({ type: "content_block_start", index: this.openBlock, content_block: block });
  }

  private closeBlock(): string {
    if (this.openBlock === null) return "";
    const index = this.openBlock;
    this.openBlock = null;
    return sse({ type: "content_block_stop", index });
  }
}
