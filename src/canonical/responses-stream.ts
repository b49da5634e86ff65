/**
 * Responses SSE out: canonical chunks → the Responses event sequence, each event with its
 * `sequence_number` (0, 1, 2, …):
 *
 *   response.created, response.in_progress,
 *   per output item: response.output_item.added,
 *     text:  response.content_part.added, response.output_text.delta…, response.output_text.done, response.content_part.done
 *     tool:  response.function_call_arguments.delta…, response.function_call_arguments.done
 *   response.output_item.done,
 *   response.completed | response.incomplete (finish `length` / `content_filter`) | response.failed
 *
 * Only choice 0 is translated. The writer keeps the finished Response (`result()`), which
 * the route stores for `previous_response_id` and `GET /v1/responses/{id}`.
 */
import type { ChatCompletionChunk, ChunkToolCallDelta, FinishReason, Usage } from "./chat.ts";
import { finish, functionCallItem, messageItem } from "./responses-output.ts";
import { newId, type ResponseItem, type ResponseObject } from "./responses.ts";

interface TextState {
  outputIndex: number;
  id: string;
  text: string;
}
interface ToolState {
  outputIndex?: number;
  id: string;
  callId?: string;
  name?: string;
  args: string;
  /** Argument fragments received before the name (the item cannot be announced without it). */
  pending: string;
}

export class ResponsesStreamWriter {
  private seq = 0;
  private started = false;
  private nextIndex = 0;
  private message: TextState | null = null;
  private readonly tools = new Map<number, ToolState>();
  private finishReason: FinishReason | null = null;
  private usage: Usage | undefined;
  private final: ResponseObject | null = null;

  constructor(private readonly shell: ResponseObject) {}

  /** SSE text for one chunk (may be empty); the first call also sends `response.created` and `response.in_progress`. */
  write(chunk: ChatCompletionChunk): string {
    let out = this.start();
    if (chunk.usage) this.usage = chunk.usage;
    for (const choice of chunk.choices) {
      if (choice.index !== 0) continue;
      const text = (choice.delta.content ?? "") + (choice.delta.refusal ?? "");
      if (text) out += this.text(text);
      for (const call of choice.delta.tool_calls ?? []) out += this.tool(call);
      if (choice.finish_reason) this.finishReason = choice.finish_reason;
    }
    return out;
  }

  /** The closing events of a complete stream: every item done, then `response.completed` (or `.incomplete`). */
  end(): string {
    let out = this.start();
    for (const t of this.tools.values()) if (t.outputIndex === undefined) out += this.announceTool(t);
    const output: ResponseItem[] = [];
    if (this.message) out += this.closeMessage(this.message, output);
    for (const t of [...this.tools.values()].sort((a, b) => (a.outputIndex ?? 0) - (b.outputIndex ?? 0))) out += this.closeTool(t, output);
    output.sort((a, b) => (a.__index as number) - (b.__index as number));
    for (const item of output) delete item.__index;
    const response = finish(this.shell, output, this.finishReason, this.usage);
    this.final = response;
    return out + this.event(response.status === "incomplete" ? "response.incomplete" : "response.completed", { response });
  }

  /** A mid-stream failure: `response.failed` with the error (our stable code in the message). */
  error(error: { status: number; code: string; message: string }): string {
    const response: ResponseObject = {
      ...this.shell,
      status: "failed",
      error: { code: error.status === 429 ? "rate_limit_exceeded" : "server_error", message: `${error.message} (${error.code})` },
    };
    this.final = response;
    return this.start() + this.event("response.failed", { response });
  }

  /** The finished Response once `end()` or `error()` ran (null before). */
  result(): ResponseObject | null {
    return this.final;
  }

  private event(type: string, fields: Record<string, unknown>): string {
    return `event: ${type}\ndata: ${JSON.stringify({ type, ...fields, sequence_number: this.seq++ })}\n\n`;
  }

  private start(): string {
    if (this.started) return "";
    this.started = true;
    const response = JSON.stringify(this.shell); // once for both events
    const frame = (type: string) => `event: ${type}\ndata: {"type":"${type}","response":${response},"sequence_number":${this.seq++}}\n\n`;
    return frame("response.created") + frame("response.in_progress");
  }

  private text(delta: string): string {
    let out = "";
    if (!this.message) {
      const m = (this.message = { outputIndex: this.nextIndex++, id: newId("msg"), text: "" });
      out += this.event("response.output_item.added", { output_index: m.outputIndex, item: messageItem(m.id, "", "", "in_progress") });
      out += this.event("response.content_part.added", { item_id: m.id, output_index: m.outputIndex, content_index: 0, part: { type: "output_text", text: "", annotations: [], logprobs: [] } });
    }
    const m = this.message;
    m.text += delta;
    return out + this.event("response.output_text.delta", { item_id: m.id, output_index: m.outputIndex, content_index: 0, delta, logprobs: [] });
  }

  private tool(call: ChunkToolCallDelta): string {
    let t = this.tools.get(call.index);
    if (!t) this.tools.set(call.index, (t = { id: newId("fc"), args: "", pending: "" }));
    if (call.id) t.callId ??= call.id;
    if (call.function?.name) t.name ??= call.function.name;
    const args = call.function?.arguments ?? "";
    if (t.outputIndex === undefined) {
      t.pending += args;
      return t.name ? this.announceTool(t) : "";
    }
    return args ? this.argsDelta(t, args) : "";
  }

  private announceTool(t: ToolState): string {
    t.outputIndex = this.nextIndex++;
    t.callId ??= `call_${crypto.randomUUID().replaceAll("-", "")}`;
    let out = this.event("response.output_item.added", { output_index: t.outputIndex, item: functionCallItem(t.id, t.callId, t.name ?? "", "", "in_progress") });
    if (t.pending) out += this.argsDelta(t, t.pending);
    t.pending = "";
    return out;
  }

  private argsDelta(t: ToolState, delta: string): string {
    t.args += delta;
    return this.event("response.function_call_arguments.delta", { item_id: t.id, output_index: t.outputIndex, delta });
  }

  private closeMessage(m: TextState, output: ResponseItem[]): string {
    const part = { type: "output_text", text: m.text, annotations: [], logprobs: [] };
    const item = messageItem(m.id, m.text, "", "completed");
    output.push({ ...item, __index: m.outputIndex });
    return (
      this.event("response.output_text.done", { item_id: m.id, output_index: m.outputIndex, content_index: 0, text: m.text, logprobs: [] }) +
      this.event("response.content_part.done", { item_id: m.id, output_index: m.outputIndex, content_index: 0, part }) +
      this.event("response.output_item.done", { output_index: m.outputIndex, item })
    );
  }

  private closeTool(t: ToolState, output: ResponseItem[]): string {
    const item = functionCallItem(t.id, t.callId ?? "", t.name ?? "", t.args, "completed");
    output.push({ ...item, __index: t.outputIndex });
    return (
      this.event("response.function_call_arguments.done", { item_id: t.id, output_index: t.outputIndex, name: t.name ?? "", arguments: t.args }) +
      this.event("response.output_item.done", { output_index: t.outputIndex, item })
    );
  }
}
