/**
 * Anthropic Messages ⇄ canonical (OpenAI Chat Completions) translation. Pure: no I/O.
 *
 * - `AnthropicMessagesRequest`: the TypeBox schema of `POST /v1/messages`.
 * - `toCanonical(req)`: the request as the pipeline speaks it.
 * - `fromCanonical(completion, model)`: a canonical completion as an Anthropic `message`.
 * - `AnthropicStreamWriter`: canonical chunks → Anthropic SSE events.
 * - `toAnthropicError(error)`: a GatewayError as an Anthropic error body (our `code` kept).
 *
 * Usage in streams: canonical streams report usage in their last chunk, after the text, so
 * `message_start` carries `input_tokens: 0` (or the writer's `inputTokens` option) and the
 * real `input_tokens` / `output_tokens` arrive in `message_delta.usage` (the Anthropic SDK
 * overwrites its snapshot with them).
 */
import { Type as T, type Static } from "@sinclair/typebox";
import { MAX_ID_CHARS } from "../canonical/limits.ts";
import type {
  ChatCompletion,
  ChatCompletionRequest,
  ChatMessage,
  ContentPart,
  FinishReason,
  ToolCall,
  Usage,
} from "../canonical/chat.ts";
import type { GatewayError } from "../pipeline/errors.ts";

// ── request schema ────────────────────────────────────────────────────────────────────────

/** Blocks accept extra fields (`cache_control`, `citations`, …); they are ignored. */
const open = { additionalProperties: true };
const TextBlock = T.Object({ type: T.Literal("text"), text: T.String() }, open);
const ImageSource = T.Union([
  T.Object({ type: T.Literal("base64"), media_type: T.String({ minLength: 1 }), data: T.String({ minLength: 1 }) }, open),
  T.Object({ type: T.Literal("url"), url: T.String({ minLength: 1 }) }, open),
]);
const ImageBlock = T.Object({ type: T.Literal("image"), source: ImageSource }, open);
const ToolUseBlock = T.Object(
  { type: T.Literal("tool_use"), id: T.String({ minLength: 1 }), name: T.String({ minLength: 1 }), input: T.Record(T.String(), T.Unknown()) },
  open,
);
const ToolResultBlock = T.Object(
  {
    type: T.Literal("tool_result"),
    tool_use_id: T.String({ minLength: 1 }),
    content: T.Optional(T.Union([T.String(), T.Array(T.Union([TextBlock, ImageBlock]))])),
    is_error: T.Optional(T.Boolean()),
  },
  open,
);
/** Extended-thinking blocks sent back by clients: accepted and dropped (no canonical form). */
const ThinkingBlock = T.Object({ type: T.Union([T.Literal("thinking"), T.Literal("redacted_thinking")]) }, open);
const ContentBlock = T.Union([TextBlock, ImageBlock, ToolUseBlock, ToolResultBlock, ThinkingBlock]);

const Message = T.Object({
  role: T.Union([T.Literal("user"), T.Literal("assistant")]),
  content: T.Union([T.String(), T.Array(ContentBlock)]),
});

const Tool = T.Object(
  {
    name: T.String({ minLength: 1 }),
    description: T.Optional(T.String()),
    input_schema: T.Object({ type: T.Literal("object") }, open),
    type: T.Optional(T.Union([T.Literal("custom"), T.Null()])),
  },
  open,
);

const parallel = { disable_parallel_tool_use: T.Optional(T.Boolean()) };
const ToolChoice = T.Union([
  T.Object({ type: T.Literal("auto"), ...parallel }),
  T.Object({ type: T.Literal("any"), ...parallel }),
  T.Object({ type: T.Literal("tool"), name: T.String({ minLength: 1 }), ...parallel }),
  T.Object({ type: T.Literal("none") }),
]);

export const AnthropicMessagesRequest = T.Object(
  {
    model: T.String({ minLength: 1, maxLength: MAX_ID_CHARS, description: "A model id or alias routed by the gateway, e.g. `echo`" }),
    max_tokens: T.Integer({ minimum: 1 }),
    messages: T.Array(Message, { minItems: 1 }),
    system: T.Optional(T.Union([T.String(), T.Array(TextBlock)])),
    stop_sequences: T.Optional(T.Array(T.String())),
    temperature: T.Optional(T.Number({ minimum: 0, maximum: 1 })),
    top_p: T.Optional(T.Number({ minimum: 0, maximum: 1 })),
    top_k: T.Optional(T.Integer({ minimum: 0, description: "Accepted and ignored (no canonical equivalent)" })),
    stream: T.Optional(T.Boolean()),
    tools: T.Optional(T.Array(Tool)),
    tool_choice: T.Optional(ToolChoice),
    metadata: T.Optional(T.Object({ user_id: T.Optional(T.Union([T.String({ maxLength: MAX_ID_CHARS }), T.Null()])) }, open)),
  },
  // Other Anthropic fields (`thinking`, `service_tier`, …) are accepted and ignored.
  open,
);
export type AnthropicMessagesRequest = Static<typeof AnthropicMessagesRequest>;
type AnthropicRequestMessage = AnthropicMessagesRequest["messages"][number];
type ImageBlock = Static<typeof ImageBlock>;
type ToolResultBlock = Static<typeof ToolResultBlock>;

// ── request: Anthropic → canonical ────────────────────────────────────────────────────────

/** The canonical request for an Anthropic Messages request. */
export function toCanonical(req: AnthropicMessagesRequest): ChatCompletionRequest {
  const messages: ChatMessage[] = [];
  const system = typeof req.system === "string" ? req.system : req.system?.map((b) => b.text).join("\n");
  if (system) messages.push({ role: "system", content: system });
  for (const m of req.messages) messages.push(...(m.role === "user" ? userMessages(m) : [assistantMessage(m)]));

  const out: ChatCompletionRequest = { model: req.model, messages, max_tokens: req.max_tokens, stream: req.stream === true };
  if (req.stream === true) out.stream_options = { include_usage: true };
  if (req.temperature !== undefined) out.temperature = req.temperature;
  if (req.top_p !== undefined) out.top_p = req.top_p;
  if (req.stop_sequences?.length) out.stop = req.stop_sequences;
  if (req.metadata?.user_id) out.user = req.metadata.user_id;
  if (req.tools?.length) {
    out.tools = req.tools.map((t) => ({
      type: "function" as const,
      function: { name: t.name, ...(t.description !== undefined ? { description: t.description } : {}), parameters: t.input_schema },
    }));
  }
  const choice = req.tool_choice;
  if (choice) {
    out.tool_choice =
      choice.type === "auto" ? "auto" : choice.type === "any" ? "required" : choice.type === "none" ? "none" : { type: "function", function: { name: choice.name } };
    if (choice.type !== "none" && choice.disable_parallel_tool_use === true && out.tools) out.parallel_tool_calls = false;
  }
  return out;
}

/** A user turn: each `tool_result` becomes a `tool` message (first, as OpenAI requires), the rest one user message. */
function userMessages(m: AnthropicRequestMessage): ChatMessage[] {
  if (typeof m.content === "string") return [{ role: "user", content: m.content }];
  const tools: ChatMessage[] = [];
  const parts: ContentPart[] = [];
  for (const block of m.content) {
    if (block.type === "text") parts.push({ type: "text", text: block.text });
    else if (block.type === "image") parts.push(imagePart(block));
    else if (block.type === "tool_result") {
      const { text, images } = toolResultContent(block);
      tools.push({ role: "tool", tool_call_id: block.tool_use_id, content: block.is_error ? `Error: ${text}` : text });
      parts.push(...images); // tool messages cannot carry images: they follow in the user message
    }
  }
  if (parts.length === 0) return tools.length ? tools : [{ role: "user", content: "" }];
  const only = parts[0];
  const content = parts.length === 1 && only?.type === "text" ? (only as { text: string }).text : parts;
  return [...tools, { role: "user", content }];
}

function assistantMessage(m: AnthropicRequestMessage): ChatMessage {
  if (typeof m.content === "string") return { role: "assistant", content: m.content };
  let text = "";
  const calls: ToolCall[] = [];
  for (const block of m.content) {
    if (block.type === "text") text += block.text;
    else if (block.type === "tool_use") {
      calls.push({ id: block.id, type: "function", function: { name: block.name, arguments: JSON.stringify(block.input) } });
    }
  }
  if (calls.length === 0) return { role: "assistant", content: text };
  return { role: "assistant", content: text || null, tool_calls: calls };
}

function imagePart(block: ImageBlock): ContentPart {
  const s = block.source;
  const url = s.type === "base64" ? `data:${s.media_type};base64,${s.data}` : s.url;
  return { type: "image_url", image_url: { url } };
}

function toolResultContent(block: ToolResultBlock): { text: string; images: ContentPart[] } {
  if (block.content === undefined) return { text: "", images: [] };
  if (typeof block.content === "string") return { text: block.content, images: [] };
  const texts: string[] = [];
  const images: ContentPart[] = [];
  for (const b of block.content) {
    if (b.type === "text") texts.push(b.text);
    else images.push(imagePart(b));
  }
  return { text: texts.join("\n"), images };
}

// ── response: canonical → Anthropic ───────────────────────────────────────────────────────

export type AnthropicStopReason = "end_turn" | "max_tokens" | "stop_sequence" | "tool_use" | "refusal";
export type AnthropicContentBlock =
  | { type: "text"; text: string }
  | { type: "tool_use"; id: string; name: string; input: Record<string, unknown> };
export interface AnthropicUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens?: number;
  cache_creation_input_tokens?: number;
}
export interface AnthropicMessage {
  id: string;
  type: "message";
  role: "assistant";
  model: string;
  content: AnthropicContentBlock[];
  stop_reason: AnthropicStopReason | null;
  stop_sequence: string | null;
  usage: AnthropicUsage;
}

/** A canonical completion as an Anthropic `message`; `model` is what the client asked for. */
export function fromCanonical(completion: ChatCompletion, requestedModel: string): AnthropicMessage {
  const choice = completion.choices[0];
  const content: AnthropicContentBlock[] = [];
  const text = choice?.message.content || choice?.message.refusal || "";
  if (text) content.push({ type: "text", text });
  for (const call of choice?.message.tool_calls ?? []) {
    content.push({ type: "tool_use", id: call.id, name: call.function.name, input: parseToolInput(call.function.arguments) });
  }
  const matched = matchedStop(choice);
  return {
    id: messageId(completion.id),
    type: "message",
    role: "assistant",
    model: requestedModel,
    content,
    stop_reason: stopReason(choice?.finish_reason ?? null, content.some((b) => b.type === "tool_use"), matched),
    stop_sequence: matched ?? null,
    usage: toAnthropicUsage(completion.usage),
  };
}

/**
 * Finish reason → stop reason. `stop` is `end_turn` unless the provider named the stop
 * sequence it matched (vLLM's `stop_reason` string), then `stop_sequence`.
 */
export function stopReason(finish: FinishReason | null, hasToolUse: boolean, matchedStopSequence?: string): AnthropicStopReason {
  switch (finish) {
    case "length":
      return "max_tokens";
    case "tool_calls":
    case "function_call":
      return "tool_use";
    case "content_filter":
      return "refusal";
    default:
      if (hasToolUse) return "tool_use";
      return matchedStopSequence !== undefined ? "stop_sequence" : "end_turn";
  }
}

/** Anthropic's `input_tokens` excludes cache reads and writes; OpenAI's `prompt_tokens` includes them. */
export function toAnthropicUsage(usage: Usage | null | undefined): AnthropicUsage {
  const cached = usage?.prompt_tokens_details?.cached_tokens;
  const written = usage?.prompt_tokens_details?.cache_write_tokens;
  const out: AnthropicUsage = { input_tokens: (usage?.prompt_tokens ?? 0) - (cached ?? 0) - (written ?? 0), output_tokens: usage?.completion_tokens ?? 0 };
  if (cached !== undefined) out.cache_read_input_tokens = cached;
  if (written !== undefined) out.cache_creation_input_tokens = written;
  return out;
}

/** `chatcmpl-abc` → `msg_abc`. */
export function messageId(canonicalId: string | undefined): string {
  const rest = (canonicalId ?? "").replace(/^chatcmpl-/, "");
  return `msg_${rest || crypto.randomUUID().replaceAll("-", "")}`;
}

/** Tool arguments as an object; arguments that are not a JSON object are kept as `{ _raw }`. */
function parseToolInput(args: string): Record<string, unknown> {
  if (args.trim() === "") return {};
  try {
    const value: unknown = JSON.parse(args);
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through
  }
  return { _raw: args };
}

export function matchedStop(choice: { finish_reason: FinishReason | null } | undefined): string | undefined {
  const s = (choice as { stop_reason?: unknown } | undefined)?.stop_reason;
  return choice?.finish_reason === "stop" && typeof s === "string" && s !== "" ? s : undefined;
}

// ── errors ────────────────────────────────────────────────────────────────────────────────

export type AnthropicErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "request_too_large"
  | "rate_limit_error"
  | "api_error"
  | "timeout_error"
  | "overloaded_error";
export interface AnthropicErrorBody {
  type: "error";
  error: { type: AnthropicErrorType; message: string; code: string; param?: string };
  request_id?: string;
}

/** A GatewayError as Anthropic's error body; our stable `code` (and `param`) ride along. */
export function toAnthropicError(error: Pick<GatewayError, "status" | "type" | "code" | "message" | "param">, requestId?: string): AnthropicErrorBody {
  const body: AnthropicErrorBody = {
    type: "error",
    error: { type: anthropicErrorType(error), message: error.message, code: error.code, ...(error.param ? { param: error.param } : {}) },
  };
  if (requestId) body.request_id = requestId;
  return body;
}

function anthropicErrorType(error: Pick<GatewayError, "status" | "type">): AnthropicErrorType {
  if (error.status === 413) return "request_too_large";
  switch (error.type) {
    case "invalid_request_error":
    case "authentication_error":
    case "permission_error":
    case "not_found_error":
    case "rate_limit_error":
    case "timeout_error":
    case "overloaded_error":
      return error.type;
    default:
      return error.status < 500 ? "invalid_request_error" : "api_error";
  }
}
