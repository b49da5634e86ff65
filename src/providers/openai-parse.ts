/**
 * Reading what an OpenAI-style upstream sends back: JSON bodies, error bodies, streamed
 * chunks, completions and embeddings, checked and brought to the canonical shapes.
 *
 * Pure functions (plus one small stream-state class); the HTTP side lives in `openai.ts`.
 * Everything that rejects an answer throws the `invalid` error the caller passes in, so the
 * adapter decides the error's provider and code.
 */
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Usage } from "../canonical/chat.ts";
import type { EmbeddingsRequest, EmbeddingsResponse } from "../canonical/embeddings.ts";
import { countPromptTokens, countTextTokens } from "./tokens.ts";

export type Json = Record<string, unknown>;
/** Builds the adapter's "upstream sent something unusable" error. */
export type Invalid = (what: string) => Error;

/** Parses a JSON object or throws `invalid`. */
export function parseJson(text: string, invalid: Invalid): Json {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid(`malformed JSON: ${text.slice(0, 120)}`);
  }
  if (!isObject(value)) throw invalid("JSON that is not an object");
  return value;
}

export interface UpstreamErrorInfo {
  message?: string;
  code?: string;
  param?: string;
}

/**
 * Reads an error body in the shapes OpenAI-style servers use:
 * `{error:{message,type,code,param}}` (OpenAI, Azure, Groq, Together), `{error:"…"}` (Ollama),
 * `{message:"…",code,…}` (vLLM), `{message:{detail:[…]}}` (Mistral's validation errors).
 */
export function parseErrorBody(text: string): UpstreamErrorInfo {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return {}; // not JSON: the caller falls back to the raw text
  }
  if (!isObject(body)) return {};
  const err = body.error;
  if (typeof err === "string") return { message: err };
  const src = isObject(err) ? err : body;
  const info: UpstreamErrorInfo = {};
  if (typeof src.message === "string") info.message = src.message;
  else if (src.message !== undefined && src.message !== null) info.message = JSON.stringify(src.message).slice(0, 500);
  if (typeof src.code === "string" && src.code) info.code = src.code;
  if (typeof src.param === "string" && src.param) info.param = src.param;
  return info;
}

/** The `error` of a 200 answer (some servers report failures that way), as a message; undefined when none. */
export function errorInBody(raw: Json, text: string): string | undefined {
  if (raw.error === undefined || raw.error === null) return undefined;
  return parseErrorBody(text).message ?? "unknown error";
}

/**
 * Tracks a stream's identity (id/created/model), completion and usage across chunks.
 * Chunks that carry neither choices nor usage (Azure opens with one holding only
 * `prompt_filter_results`, and empty `id`/`model`/`created: 0`) are not passed on alone:
 * their extra fields ride on the next chunk.
 */
export class StreamState {
  finished = false;
  private id: string | undefined;
  private created: number | undefined;
  private model: string | undefined;
  private sawUsage = false;
  private completionText = "";
  private carried: Json = {};

  constructor(
    private readonly req: ChatCompletionRequest,
    private readonly requestedModel: string,
    private readonly invalid: Invalid,
  ) {}

  /** The canonical chunk for an upstream chunk, or undefined when it is held back. */
  accept(raw: Json): ChatCompletionChunk | undefined {
    if (raw.choices !== undefined && raw.choices !== null && !Array.isArray(raw.choices)) {
      throw this.invalid("a chunk whose `choices` is not a list");
    }
    this.id ??= nonEmptyString(raw.id);
    this.created ??= typeof raw.created === "number" && raw.created > 0 ? raw.created : undefined;
    this.model ??= nonEmptyString(raw.model);
    const choices = (raw.choices ?? []) as ChatCompletionChunk["choices"];
    const hasUsage = isObject(raw.usage);
    if (choices.length === 0 && !hasUsage) {
      const { id: _i, object: _o, created: _c, model: _m, choices: _ch, usage: _u, ...extras } = raw;
      Object.assign(this.carried, extras);
      return undefined;
    }
    const chunk = { ...this.carried, ...raw, ...this.identity(), object: "chat.completion.chunk", choices } as ChatCompletionChunk;
    this.carried = {};
    for (const choice of choices) {
      if (choice.finish_reason) this.finished = true;
      const delta = choice.delta ?? {};
      if (typeof delta.content === "string") this.completionText += delta.content;
      for (const call of delta.tool_calls ?? []) this.completionText += (call.function?.name ?? "") + (call.function?.arguments ?? "");
    }
    if (hasUsage) this.sawUsage = true;
    return chunk;
  }

  /** A final `choices: []` chunk with computed usage, when the upstream sent none. */
  usageChunkIfMissing(): ChatCompletionChunk | undefined {
    if (this.sawUsage) return undefined;
    return { ...this.identity(), object: "chat.completion.chunk", choices: [], usage: computeUsage(this.req, this.completionText) };
  }

  private identity() {
    this.id ??= `chatcmpl-${crypto.randomUUID().replaceAll("-", "")}`;
    this.created ??= Math.floor(Date.now() / 1000);
    return { id: this.id, created: this.created, model: this.model ?? this.requestedModel };
  }
}

/** A completion as the canonical `chat.completion`: identity filled in, usage computed when absent. */
export function normalizeCompletion(raw: Json, req: ChatCompletionRequest, model: string, invalid: Invalid): ChatCompletion {
  if (!Array.isArray(raw.choices)) throw invalid("a completion without `choices`");
  const choices = raw.choices.map((c: unknown, i) => {
    if (!isObject(c)) throw invalid("a choice that is not an object");
    const message = isObject(c.message) ? c.message : {};
    // A content-filtered answer may come without `content`: canonical says null.
    return { ...c, index: typeof c.index === "number" ? c.index : i, message: { role: "assistant", ...message, content: message.content ?? null } };
  });
  const completion = {
    ...raw,
    id: nonEmptyString(raw.id) ?? `chatcmpl-${crypto.randomUUID().replaceAll("-", "")}`,
    object: "chat.completion",
    created: typeof raw.created === "number" && raw.created > 0 ? raw.created : Math.floor(Date.now() / 1000),
    model: nonEmptyString(raw.model) ?? model,
    choices,
  } as ChatCompletion;
  if (!isObject(completion.usage)) {
    const text = completion.choices
      .map((c) => (c.message.content ?? "") + (c.message.tool_calls ?? []).map((t) => t.function.name + t.function.arguments).join(""))
      .join("");
    completion.usage = computeUsage(req, text);
  }
  return completion;
}

/**
 * An embeddings answer, checked: one embedding (a list of numbers, or base64 text) per
 * input, usage computed from the input when the upstream sends none.
 */
export function normalizeEmbeddings(raw: Json, req: EmbeddingsRequest, model: string, invalid: Invalid): EmbeddingsResponse {
  if (!Array.isArray(raw.data)) throw invalid("an embeddings answer without `data`");
  const inputs = embeddingInputs(req.input);
  if (raw.data.length !== inputs.length) throw invalid(`${raw.data.length} embeddings for ${inputs.length} inputs`);
  const data = raw.data.map((item: unknown, i) => {
    const e = isObject(item) ? item.embedding : undefined;
    const vector = typeof e === "string" || (Array.isArray(e) && e.every((x) => typeof x === "number"));
    if (!isObject(item) || !vector) throw invalid(`embedding ${i} that is neither a list of numbers nor base64 text`);
    return { object: "embedding" as const, index: typeof item.index === "number" ? item.index : i, embedding: e as number[] | string };
  });
  const u = isObject(raw.usage) ? raw.usage : undefined;
  const usage =
    u && typeof u.prompt_tokens === "number"
      ? { prompt_tokens: u.prompt_tokens, total_tokens: typeof u.total_tokens === "number" ? u.total_tokens : u.prompt_tokens }
      : embeddingUsage(inputs);
  return { object: "list", data, model: nonEmptyString(raw.model) ?? model, usage };
}

/** The request's inputs one per expected embedding: text, or an already tokenized input. */
function embeddingInputs(input: EmbeddingsRequest["input"]): Array<string | number[]> {
  if (typeof input === "string") return [input];
  if (input.length > 0 && typeof input[0] === "number") return [input as number[]];
  return input as Array<string | number[]>;
}

function embeddingUsage(inputs: Array<string | number[]>): EmbeddingsResponse["usage"] {
  const tokens = inputs.reduce((sum, x) => sum + (typeof x === "string" ? countTextTokens(x) : x.length), 0);
  return { prompt_tokens: tokens, total_tokens: tokens };
}

export function computeUsage(req: ChatCompletionRequest, completionText: string): Usage {
  const prompt = countPromptTokens(req.messages);
  const completion = countTextTokens(completionText);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === "string" && value ? value : undefined;
}
