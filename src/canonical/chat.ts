/**
 * The canonical request and response: OpenAI Chat Completions shapes.
 *
 * Every inbound format is translated to these, every provider adapter translates from them.
 * The request is a TypeBox schema (validated at the HTTP edge); responses and chunks are
 * plain types because the gateway produces them itself.
 */
import { Type as T, type Static } from "@sinclair/typebox";
import { MAX_ID_CHARS, MAX_METADATA_PAIRS, MAX_METADATA_VALUE_CHARS } from "./limits.ts";

const TextPart = T.Object({ type: T.Literal("text"), text: T.String() });
const ImagePart = T.Object({
  type: T.Literal("image_url"),
  image_url: T.Object({ url: T.String(), detail: T.Optional(T.String()) }),
});
/** Other content parts (audio, files) pass through untouched. */
const OtherPart = T.Object({ type: T.String() }, { additionalProperties: true });
export const ContentPart = T.Union([TextPart, ImagePart, OtherPart]);

export const ToolCall = T.Object({
  id: T.String(),
  type: T.Literal("function"),
  function: T.Object({ name: T.String(), arguments: T.String() }),
});

export const ChatMessage = T.Object(
  {
    role: T.Union([
      T.Literal("system"),
      T.Literal("developer"),
      T.Literal("user"),
      T.Literal("assistant"),
      T.Literal("tool"),
    ]),
    content: T.Optional(T.Union([T.String(), T.Array(ContentPart), T.Null()])),
    name: T.Optional(T.String()),
    tool_calls: T.Optional(T.Array(ToolCall)),
    tool_call_id: T.Optional(T.String()),
  },
  { additionalProperties: true },
);

export const ChatTool = T.Object({
  type: T.Literal("function"),
  function: T.Object(
    {
      name: T.String({ minLength: 1 }),
      description: T.Optional(T.String()),
      parameters: T.Optional(T.Record(T.String(), T.Unknown())),
      strict: T.Optional(T.Union([T.Boolean(), T.Null()])),
    },
    { additionalProperties: true },
  ),
});

export const ChatCompletionRequest = T.Object(
  {
    model: T.String({ minLength: 1, maxLength: MAX_ID_CHARS, description: "A model id or alias, e.g. `echo`" }),
    messages: T.Array(ChatMessage, { minItems: 1 }),
    stream: T.Optional(T.Union([T.Boolean(), T.Null()])),
    stream_options: T.Optional(
      T.Union([T.Object({ include_usage: T.Optional(T.Boolean()) }, { additionalProperties: true }), T.Null()]),
    ),
    temperature: T.Optional(T.Union([T.Number({ minimum: 0, maximum: 2 }), T.Null()])),
    top_p: T.Optional(T.Union([T.Number({ minimum: 0, maximum: 1 }), T.Null()])),
    max_tokens: T.Optional(T.Union([T.Integer({ minimum: 1 }), T.Null()])),
    max_completion_tokens: T.Optional(T.Union([T.Integer({ minimum: 1 }), T.Null()])),
    n: T.Optional(T.Union([T.Integer({ minimum: 1, maximum: 1 }), T.Null()])),
    stop: T.Optional(T.Union([T.String(), T.Array(T.String()), T.Null()])),
    presence_penalty: T.Optional(T.Union([T.Number(), T.Null()])),
    frequency_penalty: T.Optional(T.Union([T.Number(), T.Null()])),
    seed: T.Optional(T.Union([T.Integer(), T.Null()])),
    user: T.Optional(T.String({ maxLength: MAX_ID_CHARS })),
    tools: T.Optional(T.Array(ChatTool)),
    tool_choice: T.Optional(T.Unknown()),
    parallel_tool_calls: T.Optional(T.Boolean()),
    response_format: T.Optional(
      T.Object({ type: T.String() }, { additionalProperties: true }),
    ),
    metadata: T.Optional(T.Record(T.String(), T.String({ maxLength: MAX_METADATA_VALUE_CHARS }), { maxProperties: MAX_METADATA_PAIRS })),
  },
  { additionalProperties: true },
);

export type ContentPart = Static<typeof ContentPart>;
export type ChatMessage = Static<typeof ChatMessage>;
export type ToolCall = Static<typeof ToolCall>;
export type ChatCompletionRequest = Static<typeof ChatCompletionRequest>;

export type FinishReason = "stop" | "length" | "tool_calls" | "content_filter" | "function_call";

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** `cached_tokens`: cache reads; `cache_write_tokens`: cache writes (both part of `prompt_tokens`). */
  prompt_tokens_details?: { cached_tokens?: number; cache_write_tokens?: number };
  /** Reasoning / thinking tokens (part of `completion_tokens`). */
  completion_tokens_details?: { reasoning_tokens?: number };
}

export interface ChatCompletion {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  system_fingerprint?: string | null;
  choices: Array<{
    index: number;
    message: {
      role: "assistant";
      content: string | null;
      tool_calls?: ToolCall[];
      refusal?: string | null;
    };
    finish_reason: FinishReason | null;
    logprobs?: unknown;
  }>;
  usage?: Usage;
}

export interface ChunkToolCallDelta {
  index: number;
  id?: string;
  type?: "function";
  function?: { name?: string; arguments?: string };
}

export interface ChatCompletionChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  system_fingerprint?: string | null;
  choices: Array<{
    index: number;
    delta: {
      role?: "assistant";
      content?: string | null;
      tool_calls?: ChunkToolCallDelta[];
      refusal?: string | null;
    };
    finish_reason: FinishReason | null;
    logprobs?: unknown;
  }>;
  usage?: Usage | null;
}

/** Text of a message's content, parts joined (non-text parts are skipped). */
export function contentText(content: ChatMessage["content"]): string {
  if (content == null) return "";
  if (typeof content === "string") return content;
  return content
    .map((p) => (p.type === "text" && typeof (p as { text?: unknown }).text === "string" ? (p as { text: string }).text : ""))
    .join("");
}

export function emptyUsage(): Usage {
  return { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
}
