/**
 * The built-in `echo` provider: answers with the text of the last user message exactly as
 * it reached the provider (after every plugin ran), with real token counts and proper
 * OpenAI-style streaming. No network, no keys: useful for demos, tests and for seeing what
 * a real provider would have received.
 */
import { createHash } from "node:crypto";
import type { EmbeddingsRequest, EmbeddingsResponse } from "../canonical/embeddings.ts";
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  FinishReason,
  Usage,
} from "../canonical/chat.ts";
import { contentText } from "../canonical/chat.ts";
import { countPromptTokens, countTextTokens, splitForStreaming, truncateToTokens } from "./tokens.ts";
import { sleep } from "./attempt.ts";
import type { ProviderAdapter, ProviderCallOptions, ProviderConfig } from "./types.ts";

interface EchoAnswer {
  text: string;
  finishReason: FinishReason;
  usage: Usage;
}

/**
 * Creates the echo provider (id `echo`, kind `echo`, model `echo` unless overridden).
 * `cfg.chunkDelayMs` adds a pause between streamed pieces (abortable).
 *
 * Both methods throw the abort reason of `opts.signal` when it aborts.
 */
export function echoProvider(cfg: Partial<ProviderConfig> = {}): ProviderAdapter {
  const chunkDelayMs = Math.max(0, cfg.chunkDelayMs ?? 0);
  return {
    id: cfg.id ?? "echo",
    kind: "echo",
    models: cfg.models ?? ["echo"],

    async complete(req: ChatCompletionRequest, opts: ProviderCallOptions): Promise<ChatCompletion> {
      throwIfAborted(opts.signal);
      const answer = buildAnswer(req);
      return {
        id: completionId(),
        object: "chat.completion",
        created: nowSeconds(),
        model: opts.model,
        choices: [
          {
            index: 0,
            message: { role: "assistant", content: answer.text, refusal: null },
            finish_reason: answer.finishReason,
            logprobs: null,
          },
        ],
        usage: answer.usage,
      };
    },

    /**
     * Deterministic embeddings of what reached the provider: the same text always gives the same
     * unit vector (from SHA-256; 8 dimensions unless `dimensions` asks for more). Not semantic:
     * it lets anyone exercise /v1/embeddings offline, with real token usage.
     */
    async embed(req: EmbeddingsRequest, opts: ProviderCallOptions): Promise<EmbeddingsResponse> {
      throwIfAborted(opts.signal);
      const inputs = typeof req.input === "string" ? [req.input] : (req.input as unknown[]).map((x) => (typeof x === "string" ? x : JSON.stringify(x)));
      const dims = req.dimensions ?? 8;
      const tokens = inputs.reduce((n, t) => n + countTextTokens(t), 0);
      return {
        object: "list",
        data: inputs.map((text, index) => ({ object: "embedding" as const, index, embedding: echoVector(text, dims) })),
        model: opts.model,
        usage: { prompt_tokens: tokens, total_tokens: tokens },
      };
    },

    async *stream(req: ChatCompletionRequest, opts: ProviderCallOptions): AsyncGenerator<ChatCompletionChunk> {
      throwIfAborted(opts.signal);
      const answer = buildAnswer(req);
      const base = { id: completionId(), object: "chat.completion.chunk" as const, created: nowSeconds(), model: opts.model };
      const chunk = (delta: ChatCompletionChunk["choices"][number]["delta"], finish: FinishReason | null): ChatCompletionChunk => ({
        ...base,
        choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
      });

      yield chunk({ role: "assistant", content: "" }, null);
      for (const piece of splitForStreaming(answer.text)) {
        if (chunkDelayMs > 0) await sleep(chunkDelayMs, opts.signal);
        throwIfAborted(opts.signal);
        yield chunk({ content: piece }, null);
      }
      throwIfAborted(opts.signal);
      yield chunk({}, answer.finishReason);
      yield { ...base, choices: [], usage: answer.usage };
    },
  };
}

/** The answer for a request: last user text, JSON-wrapped if asked, cut at the token limit. */
function buildAnswer(req: ChatCompletionRequest): EchoAnswer {
  let text = lastUserText(req);
  if (req.response_format?.type === "json_object" && !isJsonObject(text)) text = JSON.stringify({ echo: text });

  const limit = req.max_completion_tokens ?? req.max_tokens;
  let finishReason: FinishReason = "stop";
  if (limit != null) {
    const cut = truncateToTokens(text, limit);
    text = cut.text;
    if (cut.truncated) finishReason = "length";
  }

  const prompt = countPromptTokens(req.messages);
  const completion = countTextTokens(text);
  return {
    text,
    finishReason,
    usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
  };
}

function lastUserText(req: ChatCompletionRequest): string {
  for (let i = req.messages.length - 1; i >= 0; i--) {
    const m = req.messages[i];
    if (m?.role === "user") return contentText(m.content);
  }
  return "";
}

/** JSON mode promises an object, so `42` or `[1]` get wrapped too. */
function isJsonObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

function completionId(): string {
  return `chatcmpl-${crypto.randomUUID().replaceAll("-", "")}`;
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason ?? new DOMException("The operation was aborted.", "AbortError");
}

/** A unit vector derived from the text's SHA-256 (repeated hashing for more dimensions). */
export function echoVector(text: string, dims: number): number[] {
  const out: number[] = [];
  for (let round = 0; out.length < dims; round++) {
    const digest = createHash("sha256").update(`${round}:${text}`).digest();
    for (let i = 0; i + 1 < digest.length && out.length < dims; i += 2) out.push(digest.readInt16BE(i) / 32768);
  }
  const norm = Math.hypot(...out) || 1;
  return out.map((x) => Math.round((x / norm) * 1e6) / 1e6);
}
