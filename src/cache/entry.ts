/**
 * Pure: the cache entry and its codec. An entry holds the final canonical response (content,
 * tool calls, finish reason, usage) and where it came from; it is stored as JSON, sealed with
 * AES-256-GCM when a master key is given (`TOLLGATE_MASTER_KEY`), so no cached answer sits in
 * Redis in clear.
 *
 * Also the two shape conversions the cache needs: canonical stream chunks → one completion
 * (to store a stream), and one completion → chunks in pieces (to replay a hit as a stream).
 */
import type { ChatCompletion, ChatCompletionChunk, ChunkToolCallDelta, ToolCall, Usage } from "../canonical/chat.ts";
import type { EmbeddingsResponse } from "../canonical/embeddings.ts";
import { decryptSecret, encryptSecret } from "../config/secrets.ts";

export interface CacheEntry {
  v: 1;
  /** Epoch ms when stored. */
  storedAt: number;
  /** Provider and provider model that produced it (for the saved-cost price and the response headers). */
  provider: string | null;
  model: string | null;
  answer: { kind: "response"; response: ChatCompletion } | { kind: "embeddings"; response: EmbeddingsResponse };
}

/**
 * Sealed entries are bound to their scope (issue 22): the AES-GCM additional data is the
 * tenant and the cache scope (`tenant:<id>`, `key:<id>`, `user:<id>`), so an entry copied
 * under another tenant's or key's name in Redis does not open. `s1:` (sealed without a scope,
 * before) is read as a miss: entries are short-lived, they refill.
 */
const SEALED = "s2:";
const PLAIN = "p1:";

/** The additional data a sealed entry is bound to. */
export const entryAad = (scope: string): string => `tollgate-cache-entry:${scope}`;

/** Entry → stored text (sealed when `key` is given, bound to `scope`). */
export function encodeEntry(entry: CacheEntry, key?: Buffer, scope = ""): string {
  const json = JSON.stringify(entry);
  return key ? SEALED + encryptSecret(json, key, entryAad(scope)) : PLAIN + json;
}

/**
 * Stored text → entry; undefined when it cannot be read (wrong key or scope, other version,
 * corrupt): a miss, never an error. With a master key, an unsealed entry is refused too (a
 * writer to Redis could otherwise plant answers in clear).
 */
export function decodeEntry(text: string, key?: Buffer, scope = ""): CacheEntry | undefined {
  try {
    let json: string;
    if (text.startsWith(SEALED)) {
      if (!key) return undefined;
      json = decryptSecret(text.slice(SEALED.length), key, entryAad(scope));
    } else if (text.startsWith(PLAIN)) {
      if (key) return undefined;
      json = text.slice(PLAIN.length);
    } else return undefined;
    const e = JSON.parse(json) as CacheEntry;
    return e && e.v === 1 && typeof e.storedAt === "number" && e.answer && typeof e.answer === "object" ? e : undefined;
  } catch {
    return undefined;
  }
}

/** Collects a canonical stream into the completion it amounts to (choice by choice, tool calls joined). */
export class StreamCollector {
  private id = "";
  private created = 0;
  private model = "";
  private fingerprint: string | null | undefined;
  private usage: Usage | undefined;
  private readonly choices = new Map<number, { content: string; sawContent: boolean; refusal: string | null; finish: ChatCompletion["choices"][number]["finish_reason"]; tools: Map<number, ToolCall> }>();

  add(chunk: ChatCompletionChunk): void {
    if (!this.id) {
      this.id = chunk.id;
      this.created = chunk.created;
      this.model = chunk.model;
    }
    if (chunk.system_fingerprint !== undefined) this.fingerprint = chunk.system_fingerprint;
    if (chunk.usage) this.usage = chunk.usage;
    for (const c of chunk.choices) {
      let s = this.choices.get(c.index);
      if (!s) this.choices.set(c.index, (s = { content: "", sawContent: false, refusal: null, finish: null, tools: new Map() }));
      if (typeof c.delta.content === "string") {
        s.content += c.delta.content;
        s.sawContent ||= c.delta.content.length > 0;
      }
      if (c.delta.refusal) s.refusal = (s.refusal ?? "") + c.delta.refusal;
      for (const t of c.delta.tool_calls ?? []) {
        const cur = s.tools.get(t.index) ?? { id: "", type: "function" as const, function: { name: "", arguments: "" } };
        if (t.id) cur.id = t.id;
        if (t.function?.name) cur.function.name += t.function.name;
        if (t.function?.arguments) cur.function.arguments += t.function.arguments;
        s.tools.set(t.index, cur);
      }
      if (c.finish_reason) s.finish = c.finish_reason;
    }
  }

  /** The completion (undefined when nothing arrived). */
  result(): ChatCompletion | undefined {
    if (!this.id) return undefined;
    const choices = [...this.choices.entries()].sort((a, b) => a[0] - b[0]).map(([index, s]) => {
      const tools = [...s.tools.entries()].sort((a, b) => a[0] - b[0]).map(([, t]) => t);
      return {
        index,
        message: { role: "assistant" as const, content: s.sawContent || tools.length === 0 ? s.content : null, ...(tools.length ? { tool_calls: tools } : {}), ...(s.refusal ? { refusal: s.refusal } : {}) },
        finish_reason: s.finish,
      };
    });
    return { id: this.id, object: "chat.completion", created: this.created, model: this.model, ...(this.fingerprint !== undefined ? { system_fingerprint: this.fingerprint } : {}), choices, ...(this.usage ? { usage: this.usage } : {}) };
  }
}

/** Characters per replayed content piece. */
export const REPLAY_PIECE_CHARS = 16;

/** Split text in pieces of about `size` characters, never inside a surrogate pair. */
export function pieces(text: string, size = REPLAY_PIECE_CHARS): string[] {
  const chars = Array.from(text);
  const out: string[] = [];
  for (let i = 0; i < chars.length; i += size) out.push(chars.slice(i, i + size).join(""));
  return out;
}

/**
 * A stored completion as the stream a provider would have sent: a role chunk, the content and
 * each tool call's arguments in pieces, the finish chunk, then a usage-only chunk (the client
 * writer drops it unless usage was asked for).
 */
export function* replayChunks(r: ChatCompletion): Generator<ChatCompletionChunk> {
  const base = { id: r.id, object: "chat.completion.chunk" as const, created: r.created, model: r.model, ...(r.system_fingerprint !== undefined ? { system_fingerprint: r.system_fingerprint } : {}) };
  for (const c of r.choices) {
    const one = (delta: ChatCompletionChunk["choices"][number]["delta"], finish: ChatCompletionChunk["choices"][number]["finish_reason"] = null): ChatCompletionChunk => ({ ...base, choices: [{ index: c.index, delta, finish_reason: finish }] });
    yield one({ role: "assistant", content: "" });
    for (const p of pieces(c.message.content ?? "")) yield one({ content: p });
    if (c.message.refusal) yield one({ refusal: c.message.refusal });
    for (const [index, t] of (c.message.tool_calls ?? []).entries()) {
      const head: ChunkToolCallDelta = { index, id: t.id, type: "function", function: { name: t.function.name, arguments: "" } };
      yield one({ tool_calls: [head] });
      for (const p of pieces(t.function.arguments)) yield one({ tool_calls: [{ index, function: { arguments: p } }] });
    }
    yield one({}, c.finish_reason ?? "stop");
  }
  if (r.usage) yield { ...base, choices: [], usage: r.usage };
}
