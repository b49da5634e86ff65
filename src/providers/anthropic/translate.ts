/**
 * Pure translation between the canonical (OpenAI Chat Completions) shapes and Anthropic's
 * Messages API (`POST /v1/messages`, `anthropic-version: 2023-06-01`).
 *
 * Request: system/developer messages → top-level `system`; user/assistant/tool messages →
 * alternating `user`/`assistant` messages of content blocks (text, image, tool_use,
 * tool_result), consecutive same-role messages merged. Response: content blocks → one
 * assistant message (text joined, tool_use → tool_calls), stop_reason → finish_reason,
 * usage → canonical usage (cache reads and writes count as prompt tokens).
 *
 * A request that cannot be expressed for Anthropic (an unsupported content part, a data URL
 * that is not base64, tool-call arguments that are not a JSON object) is a 400 GatewayError.
 */
import type { ChatCompletion, ChatCompletionRequest, ChatMessage, ContentPart, FinishReason, ToolCall, Usage } from "../../canonical/chat.ts";
import { contentText } from "../../canonical/chat.ts";
import { errors } from "../../pipeline/errors.ts";

/** `max_tokens` when the request sets neither `max_completion_tokens` nor `max_tokens`. */
export const DEFAULT_MAX_TOKENS = 4096;

/** Prompt-caching breakpoint, passed through from a content part's `cache_control`. */
export interface AnthropicCacheControl { type: "ephemeral"; ttl?: string }
export interface AnthropicTextBlock { type: "text"; text: string; cache_control?: AnthropicCacheControl }
export interface AnthropicImageBlock {
  type: "image";
  source: { type: "base64"; media_type: string; data: string } | { type: "url"; url: string };
  cache_control?: AnthropicCacheControl;
}
export interface AnthropicToolUseBlock { type: "tool_use"; id: string; name: string; input: Record<string, unknown> }
export interface AnthropicToolResultBlock {
  type: "tool_result";
  tool_use_id: string;
  content: string | Array<AnthropicTextBlock | AnthropicImageBlock>;
}
export type AnthropicContentBlock = AnthropicTextBlock | AnthropicImageBlock | AnthropicToolUseBlock | AnthropicToolResultBlock;

export interface AnthropicMessageParam { role: "user" | "assistant"; content: AnthropicContentBlock[] }

export interface AnthropicTool { name: string; description?: string; input_schema: Record<string, unknown> }

export type AnthropicToolChoice =
  | { type: "auto" | "any"; disable_parallel_tool_use?: boolean }
  | { type: "tool"; name: string; disable_parallel_tool_use?: boolean }
  | { type: "none" };

/** The body of `POST /v1/messages`. */
export interface AnthropicRequest {
  model: string;
  max_tokens: number;
  messages: AnthropicMessageParam[];
  system?: string;
  temperature?: number;
  top_p?: number;
  stop_sequences?: string[];
  tools?: AnthropicTool[];
  tool_choice?: AnthropicToolChoice;
  metadata?: { user_id: string };
  stream?: boolean;
}

export interface AnthropicUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
}

/** A non-streaming answer (`type: "message"`). Unknown block types are tolerated. */
export interface AnthropicMessage {
  id: string;
  type: "message";
  role: "assistant";
  model: string;
  content: Array<{ type: string; text?: unknown; id?: unknown; name?: unknown; input?: unknown }>;
  stop_reason: string | null;
  stop_sequence?: string | null;
  usage?: AnthropicUsage;
}

/** The canonical request as an Anthropic Messages request body for `model`. */
export function toAnthropicRequest(req: ChatCompletionRequest, model: string): AnthropicRequest {
  const system: string[] = [];
  const messages: AnthropicMessageParam[] = [];
  req.messages.forEach((m, i) => {
    if (m.role === "system" || m.role === "developer") {
      const text = contentText(m.content);
      if (text) system.push(text);
      return;
    }
    const role = m.role === "assistant" ? "assistant" : "user";
    const blocks = messageBlocks(m, i);
    if (blocks.length === 0) return;
    const last = messages[messages.length - 1];
    if (last && last.role === role) last.content.push(...blocks);
    else messages.push({ role, content: blocks });
  });
  const instruction = jsonInstruction(req.response_format);
  if (instruction) system.push(instruction);

  const out: AnthropicRequest = {
    model,
    max_tokens: req.max_completion_tokens ?? req.max_tokens ?? DEFAULT_MAX_TOKENS,
    messages,
  };
  if (system.length > 0) out.system = system.join("\n\n");
  // Anthropic's temperature range is 0–1 (OpenAI's 0–2): clamp rather than fail.
  if (req.temperature != null) out.temperature = Math.min(1, req.temperature);
  if (req.top_p != null) out.top_p = req.top_p;
  const stops = req.stop == null ? [] : typeof req.stop === "string" ? [req.stop] : req.stop;
  if (stops.length > 0) out.stop_sequences = stops;
  if (req.tools && req.tools.length > 0) {
    out.tools = req.tools.map((t) => ({
      name: t.function.name,
      ...(t.function.description !== undefined ? { description: t.function.description } : {}),
      input_schema: t.function.parameters ?? { type: "object", properties: {} },
    }));
    const choice = toToolChoice(req.tool_choice, req.parallel_tool_calls === false);
    if (choice) out.tool_choice = choice;
  }
  if (req.user) out.metadata = { user_id: req.user };
  return out;
}

/** OpenAI `tool_choice` (+ `parallel_tool_calls: false`) → Anthropic `tool_choice` (undefined = default). */
export function toToolChoice(choice: unknown, disableParallel: boolean): AnthropicToolChoice | undefined {
  const parallel = disableParallel ? { disable_parallel_tool_use: true } : {};
  if (choice === "none") return { type: "none" };
  if (choice === "required") return { type: "any", ...parallel };
  if (typeof choice === "object" && choice !== null) {
    const name = (choice as { function?: { name?: unknown } }).function?.name;
    if (typeof name === "string" && name) return { type: "tool", name, ...parallel };
    throw errors.invalidRequest("`tool_choice` must be \"auto\", \"none\", \"required\" or {type:\"function\",function:{name}}", "tool_choice");
  }
  if (choice === "auto" || disableParallel) return { type: "auto", ...parallel };
  return undefined;
}

function messageBlocks(m: ChatMessage, i: number): AnthropicContentBlock[] {
  if (m.role === "tool") {
    if (!m.tool_call_id) throw errors.invalidRequest("a `tool` message needs `tool_call_id`", `messages[${i}].tool_call_id`);
    const content = typeof m.content === "string" || m.content == null ? (m.content ?? "") : partsToBlocks(m.content, i, false);
    return [{ type: "tool_result", tool_use_id: m.tool_call_id, content }];
  }
  const blocks: AnthropicContentBlock[] =
    typeof m.content === "string" ? textBlock(m.content) : m.content == null ? [] : partsToBlocks(m.content, i, m.role === "assistant");
  if (m.role === "assistant") for (const call of m.tool_calls ?? []) blocks.push(toolUseBlock(call, i));
  return blocks;
}

const textBlock = (text: string, cache: Partial<AnthropicTextBlock> = {}): AnthropicTextBlock[] => (text ? [{ type: "text", text, ...cache }] : []);

function partsToBlocks(parts: ContentPart[], i: number, assistant: boolean): Array<AnthropicTextBlock | AnthropicImageBlock> {
  const out: Array<AnthropicTextBlock | AnthropicImageBlock> = [];
  parts.forEach((p, j) => {
    const part = p as { type: string; text?: unknown; refusal?: unknown; image_url?: { url?: unknown }; cache_control?: unknown };
    const cache = cacheControl(part.cache_control);
    if (part.type === "text" && typeof part.text === "string") out.push(...textBlock(part.text, cache));
    else if (assistant && part.type === "refusal" && typeof part.refusal === "string") out.push(...textBlock(part.refusal));
    else if (!assistant && part.type === "image_url" && typeof part.image_url?.url === "string") out.push({ ...imageBlock(part.image_url.url, `messages[${i}].content[${j}]`), ...cache });
    else throw errors.invalidRequest(`content part type \`${part.type}\` is not supported by Anthropic`, `messages[${i}].content[${j}]`);
  });
  return out;
}

/** A part's `cache_control: {type:"ephemeral", ttl?}` (Anthropic prompt caching), kept as is. */
function cacheControl(v: unknown): { cache_control?: AnthropicCacheControl } {
  if (typeof v !== "object" || v === null || (v as { type?: unknown }).type !== "ephemeral") return {};
  const ttl = (v as { ttl?: unknown }).ttl;
  return { cache_control: { type: "ephemeral", ...(typeof ttl === "string" ? { ttl } : {}) } };
}

/** `data:<media>;base64,<data>` → a base64 source; `http(s)://` → a URL source. */
export function imageBlock(url: string, param = "image_url"): AnthropicImageBlock {
  if (/^https?:\/\//i.test(url)) return { type: "image", source: { type: "url", url } };
  const m = /^data:([^;,]+)((?:;[^;,]+)*);base64,(.*)$/is.exec(url);
  if (!m) throw errors.invalidRequest("image URLs must be http(s) URLs or base64 `data:` URLs", param);
  return { type: "image", source: { type: "base64", media_type: m[1]!.toLowerCase(), data: m[3]! } };
}

function toolUseBlock(call: ToolCall, i: number): AnthropicToolUseBlock {
  let input: unknown = {};
  if (call.function.arguments.trim() !== "") {
    try {
      input = JSON.parse(call.function.arguments);
    } catch {
      input = undefined;
    }
  }
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw errors.invalidRequest(`tool call \`${call.id}\` has arguments that are not a JSON object`, `messages[${i}].tool_calls`);
  }
  return { type: "tool_use", id: call.id, name: call.function.name, input: input as Record<string, unknown> };
}

/**
 * `response_format` json_object / json_schema → a system instruction. Anthropic has no JSON
 * mode: this asks for JSON, it does not enforce it.
 */
export function jsonInstruction(format: ChatCompletionRequest["response_format"]): string | undefined {
  if (!format) return undefined;
  const base = "Respond with valid JSON only: a single JSON value, no prose before or after it, no Markdown code fences.";
  if (format.type === "json_object") return base;
  if (format.type === "json_schema") {
    const schema = (format as { json_schema?: { schema?: unknown } }).json_schema?.schema;
    return schema === undefined ? base : `${base} The JSON must conform to this JSON Schema:\n${JSON.stringify(schema)}`;
  }
  return undefined;
}

/** Anthropic `stop_reason` → canonical `finish_reason`. */
export function toFinishReason(stopReason: string | null | undefined): FinishReason | null {
  switch (stopReason) {
    case null:
    case undefined:
      return null;
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length";
    case "tool_use":
      return "tool_calls";
    case "refusal":
      return "content_filter";
    default: // end_turn, stop_sequence, pause_turn
      return "stop";
  }
}

/** Anthropic usage → canonical usage: prompt = input + cache reads + cache writes. */
export function toUsage(u: AnthropicUsage | undefined): Usage {
  const cacheRead = u?.cache_read_input_tokens ?? 0;
  const cacheWrite = u?.cache_creation_input_tokens ?? 0;
  const prompt = (u?.input_tokens ?? 0) + cacheRead + cacheWrite;
  const completion = u?.output_tokens ?? 0;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, prompt_tokens_details: { cached_tokens: cacheRead, ...(cacheWrite ? { cache_write_tokens: cacheWrite } : {}) } };
}

/** The canonical id for an Anthropic message id. */
export const completionId = (messageId: string): string => `chatcmpl-${messageId}`;

/** True for a JSON value shaped like a non-streaming Messages answer. */
export function isAnthropicMessage(v: unknown): v is AnthropicMessage {
  if (typeof v !== "object" || v === null) return false;
  const m = v as Record<string, unknown>;
  return m.type === "message" && typeof m.id === "string" && Array.isArray(m.content);
}

/** An Anthropic answer as a canonical ChatCompletion (thinking and other block types are dropped). */
export function fromAnthropicMessage(msg: AnthropicMessage, fallbackModel: string, created = Math.floor(Date.now() / 1000)): ChatCompletion {
  let text = "";
  let sawText = false;
  const toolCalls: ToolCall[] = [];
  for (const block of msg.content) {
    if (block.type === "text" && typeof block.text === "string") {
      text += block.text;
      sawText = true;
    } else if (block.type === "tool_use" && typeof block.id === "string" && typeof block.name === "string") {
      toolCalls.push({ id: block.id, type: "function", function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) } });
    }
  }
  return {
    id: completionId(msg.id),
    object: "chat.completion",
    created,
    model: msg.model || fallbackModel,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: sawText || toolCalls.length === 0 ? text : null,
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
        },
        finish_reason: toFinishReason(msg.stop_reason) ?? "stop",
      },
    ],
    usage: toUsage(msg.usage),
  };
}
