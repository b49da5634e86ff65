/**
 * Streamed output, chunk by chunk: one StreamScanner per choice's content and per tool call's
 * arguments. A choice's held-back text is released with its `finish_reason` chunk.
 */
import type { ChatCompletionChunk, ChunkToolCallDelta } from "../canonical/chat.ts";
import type { Redactor } from "./redact.ts";
import { StreamScanner } from "./stream.ts";

export class ChunkGuard {
  private readonly content = new Map<number, StreamScanner>();
  private readonly tools = new Map<string, StreamScanner>();

  constructor(private readonly redactor: Redactor) {}

  /** Largest hold-back of the stream so far, in characters. */
  get maxHeld(): number {
    let m = 0;
    for (const s of [...this.content.values(), ...this.tools.values()]) m = Math.max(m, s.maxHeld);
    return m;
  }

  /** The chunk to forward (a new object), or null when everything in it is held back. */
  transform(chunk: ChatCompletionChunk): ChatCompletionChunk | null {
    let keep = chunk.choices.length === 0; // usage-only chunks pass
    const choices = chunk.choices.map((c) => {
      const delta = { ...c.delta };
      let text = "";
      if (typeof c.delta.content === "string" && c.delta.content.length) text = this.scanner(this.content, c.index, false).push(c.delta.content);
      let tools: ChunkToolCallDelta[] | undefined;
      if (c.delta.tool_calls) {
        tools = c.delta.tool_calls.map((tc) => {
          const args = tc.function?.arguments;
          if (typeof args !== "string") return tc;
          const out = this.scanner(this.tools, `${c.index}:${tc.index}`, true).push(args);
          return { ...tc, function: { ...tc.function, arguments: out } };
        });
      }
      if (c.finish_reason !== null && c.finish_reason !== undefined) {
        text += this.content.get(c.index)?.flush() ?? "";
        for (const [key, s] of this.tools) {
          const [ci, ti] = key.split(":").map(Number);
          if (ci !== c.index) continue;
          const rest = s.flush();
          if (!rest) continue;
          tools ??= [];
          const existing = tools.find((t) => t.index === ti);
          if (existing) existing.function = { ...existing.function, arguments: (existing.function?.arguments ?? "") + rest };
          else tools.push({ index: ti!, function: { arguments: rest } });
        }
      }
      if (typeof c.delta.content === "string" || text) delta.content = text;
      if (tools) delta.tool_calls = tools.filter((t) => t.id !== undefined || t.function?.name !== undefined || (t.function?.arguments ?? "") !== "" || t.type !== undefined);
      if (delta.tool_calls && delta.tool_calls.length === 0) delete delta.tool_calls;
      const hasContent = (delta.content ?? "") !== "" || delta.tool_calls !== undefined || delta.role !== undefined || c.finish_reason !== null || delta.refusal != null;
      if (hasContent) keep = true;
      return { ...c, delta };
    });
    if (!keep && !chunk.usage) return null;
    return { ...chunk, choices };
  }

  private scanner<K>(map: Map<K, StreamScanner>, key: K, json: boolean): StreamScanner {
    let s = map.get(key);
    if (!s) map.set(key, (s = new StreamScanner(this.redactor, json)));
    return s;
  }
}
