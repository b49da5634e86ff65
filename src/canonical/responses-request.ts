/**
 * Responses request ⇄ canonical chat request. Pure: no I/O.
 *
 * - `normalizeInput(input)`: text or items → items with gateway ids (what is stored).
 * - `toCanonical(req, history)`: the canonical request the pipeline runs, plus the checks a
 *   target must pass (`TargetCheck`: a field only some provider kinds can honour).
 * - `toUpstreamResponses(chat, req, model, stream)`: for providers that speak Responses
 *   (OpenAI, Azure OpenAI): the Responses body rebuilt from the canonical messages (so input
 *   guardrails apply) with every other field of the client's request passed through as is.
 */
import type { ChatCompletionRequest, ChatMessage, ContentPart, ToolCall } from "./chat.ts";
import { contentText } from "./chat.ts";
import { GatewayError } from "../pipeline/errors.ts";
import { newId, type ResponseItem, type ResponsesRequest } from "./responses.ts";

/** A field only some provider kinds can honour: any other kind answers 400 with `param`. */
export interface TargetCheck {
  param: string;
  message: string;
  honouredBy: readonly string[];
}

export interface TranslatedRequest {
  chat: ChatCompletionRequest;
  /** This turn's input items (ids assigned): stored with the response. */
  items: ResponseItem[];
  checks: TargetCheck[];
}

/** Canonical field holding the native-only parts of a Responses request (keyed by the cache, never sent). */
export const PASSTHROUGH_FIELD = "x_responses_passthrough";

/** The kinds that speak Responses natively: the request passes through in Responses format. */
export const NATIVE_RESPONSES_KINDS = ["openai", "azure"] as const;

/** Fields the translation reads (everything else is a pass-through field). */
const KNOWN = new Set([
  "model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls", "text", "reasoning",
  "max_output_tokens", "temperature", "top_p", "metadata", "user", "store", "previous_response_id", "stream",
]);
/** Pass-through fields whose value changes nothing when translated (the defaults). */
const HARMLESS: Record<string, (v: unknown) => boolean> = {
  include: (v) => v == null || (Array.isArray(v) && v.length === 0),
  truncation: (v) => v == null || v === "disabled",
  background: (v) => v == null || v === false,
  service_tier: (v) => v == null || v === "auto" || v === "default",
  stream_options: (v) => v == null || typeof v === "object",
};
/** Kinds whose adapters pass `reasoning_effort` on (OpenAI-style chat APIs) or ignore it by design (echo). */
const REASONING_KINDS = ["openai", "azure", "custom", "together", "echo"] as const;

const bad = (param: string, message: string) => new GatewayError({ status: 400, code: "invalid_request", message, param });

/** Text or items → items, each with an id (messages `msg_…`, function calls `fc_…`). */
export function normalizeInput(input: ResponsesRequest["input"]): ResponseItem[] {
  if (input === undefined) return [];
  if (typeof input === "string") return [{ type: "message", id: newId("msg"), role: "user", content: [{ type: "input_text", text: input }] }];
  return input.map((raw, i) => {
    const item = raw as Record<string, unknown>;
    const type = typeof item.type === "string" ? item.type : item.role !== undefined ? "message" : "";
    if (type === "") throw bad(`input[${i}].type`, "An input item needs a `type` (or a `role` for a message)");
    if (type === "message") {
      const content = typeof item.content === "string" ? [{ type: item.role === "assistant" ? "output_text" : "input_text", text: item.content }] : item.content;
      return { ...item, type, id: typeof item.id === "string" ? item.id : newId("msg"), content } as ResponseItem;
    }
    if (type === "function_call") return { ...item, type, id: typeof item.id === "string" ? item.id : newId("fc") } as ResponseItem;
    return { ...item, type } as ResponseItem;
  });
}

/**
 * The canonical request for a Responses request whose conversation so far is `history`
 * (items of earlier turns: inputs and outputs). Throws 400 (with `param`) for items no
 * provider path can carry; fields only some targets honour come back as `checks`.
 */
export function toCanonical(req: ResponsesRequest, history: ResponseItem[] = []): TranslatedRequest {
  const items = normalizeInput(req.input);
  const messages: ChatMessage[] = [];
  if (req.instructions) messages.push({ role: "system", content: req.instructions });
  addItems(messages, history, "previous_response_id");
  addItems(messages, items, "input");
  if (!messages.some((m) => m.role !== "system")) throw bad("input", "`input` must contain at least one item");

  const chat: ChatCompletionRequest = { model: req.model, messages };
  if (req.stream === true) {
    chat.stream = true;
    chat.stream_options = { include_usage: true };
  }
  if (req.max_output_tokens != null) chat.max_completion_tokens = req.max_output_tokens;
  if (req.temperature != null) chat.temperature = req.temperature;
  if (req.top_p != null) chat.top_p = req.top_p;
  if (req.user !== undefined) chat.user = req.user;
  if (req.metadata) chat.metadata = req.metadata;
  if (req.parallel_tool_calls != null) chat.parallel_tool_calls = req.parallel_tool_calls;

  const checks: TargetCheck[] = [];
  const passthrough: Record<string, unknown> = {};
  const nativeOnly = (param: string, message: string, value: unknown) => {
    checks.push({ param, message, honouredBy: NATIVE_RESPONSES_KINDS });
    passthrough[param] = value;
  };
  const tools: NonNullable<ChatCompletionRequest["tools"]> = [];
  (req.tools ?? []).forEach((tool, i) => {
    const t = tool as Record<string, unknown>;
    if (t.type !== "function") return nativeOnly(`tools[${i}].type`, `Tool type \`${String(t.type)}\` needs a provider that speaks the Responses API`, t);
    if (typeof t.name !== "string" || t.name === "") throw bad(`tools[${i}].name`, "A function tool needs a `name`");
    const fn: Record<string, unknown> = { name: t.name };
    if (typeof t.description === "string") fn.description = t.description;
    if (t.parameters && typeof t.parameters === "object") fn.parameters = t.parameters;
    if (typeof t.strict === "boolean") fn.strict = t.strict;
    tools.push({ type: "function", function: fn as { name: string } });
  });
  if (tools.length) chat.tools = tools;
  if (req.tool_choice != null) {
    const c = req.tool_choice as unknown;
    if (c === "auto" || c === "none" || c === "required") chat.tool_choice = c;
    else if (isObject(c) && c.type === "function" && typeof c.name === "string") chat.tool_choice = { type: "function", function: { name: c.name } };
    else nativeOnly("tool_choice", "This `tool_choice` needs a provider that speaks the Responses API", c);
  }
  const format = req.text?.format as Record<string, unknown> | undefined;
  if (format && format.type !== "text") {
    if (format.type === "json_object") chat.response_format = { type: "json_object" };
    else if (format.type === "json_schema") {
      if (typeof format.name !== "string" || !isObject(format.schema)) throw bad("text.format", "A `json_schema` format needs `name` and `schema`");
      const js: Record<string, unknown> = { name: format.name, schema: format.schema };
      if (typeof format.strict === "boolean") js.strict = format.strict;
      if (typeof format.description === "string") js.description = format.description;
      chat.response_format = { type: "json_schema", json_schema: js } as ChatCompletionRequest["response_format"];
    } else throw bad("text.format.type", `Unknown text format \`${String(format.type)}\``);
  }
  const effort = req.reasoning?.effort;
  if (effort != null) {
    (chat as Record<string, unknown>).reasoning_effort = effort;
    checks.push({ param: "reasoning.effort", message: "This provider cannot honour `reasoning.effort`", honouredBy: REASONING_KINDS });
  }
  for (const [key, value] of Object.entries(req)) {
    if (KNOWN.has(key) || HARMLESS[key]?.(value)) continue;
    nativeOnly(key, `\`${key}\` needs a provider that speaks the Responses API`, value);
  }
  // What only a native provider receives changes the answer: it is part of the canonical request
  // (so of the cache key). No adapter sends it: a request that has it is refused by every other kind.
  if (checks.some((c) => c.honouredBy === NATIVE_RESPONSES_KINDS)) (chat as Record<string, unknown>)[PASSTHROUGH_FIELD] = passthrough;
  return { chat, items, checks };
}

/** The first check a provider kind fails, as the 400 to answer (undefined: it can serve the request). */
export function checkTarget(checks: readonly TargetCheck[], kind: string): GatewayError | undefined {
  const failed = checks.find((c) => !c.honouredBy.includes(kind));
  return failed ? bad(failed.param, `${failed.message} (provider kind \`${kind}\`)`) : undefined;
}

function addItems(messages: ChatMessage[], items: readonly ResponseItem[], where: string): void {
  items.forEach((item, i) => {
    const at = `${where}[${i}]`;
    switch (item.type) {
      case "message":
        return void messages.push(messageOf(item, at));
      case "function_call": {
        if (typeof item.call_id !== "string" || typeof item.name !== "string") throw bad(at, "A `function_call` item needs `call_id` and `name`");
        const call: ToolCall = { id: item.call_id, type: "function", function: { name: item.name, arguments: typeof item.arguments === "string" ? item.arguments : "" } };
        const last = messages.at(-1);
        if (last?.role === "assistant") (last.tool_calls ??= []).push(call);
        else messages.push({ role: "assistant", content: null, tool_calls: [call] });
        return;
      }
      case "function_call_output": {
        if (typeof item.call_id !== "string") throw bad(`${at}.call_id`, "A `function_call_output` item needs `call_id`");
        const output = typeof item.output === "string" ? item.output : Array.isArray(item.output) ? partsText(item.output) : JSON.stringify(item.output ?? "");
        return void messages.push({ role: "tool", tool_call_id: item.call_id, content: output });
      }
      case "reasoning":
        return; // a model's own reasoning sent back: no canonical form, as Anthropic thinking blocks
      default:
        throw bad(`${at}.type`, `Input item type \`${item.type}\` is not supported by the gateway`);
    }
  });
}

function messageOf(item: ResponseItem, at: string): ChatMessage {
  const role = item.role;
  if (role !== "user" && role !== "assistant" && role !== "system" && role !== "developer") throw bad(`${at}.role`, "A message `role` is one of user, assistant, system, developer");
  if (!Array.isArray(item.content)) throw bad(`${at}.content`, "Message `content` is text or a list of parts");
  const parts: ContentPart[] = [];
  item.content.forEach((p: unknown, j: number) => {
    const part = isObject(p) ? p : {};
    const pat = `${at}.content[${j}]`;
    if (part.type === "input_text" || part.type === "output_text") {
      if (typeof part.text !== "string") throw bad(`${pat}.text`, "A text part needs `text`");
      parts.push({ type: "text", text: part.text });
    } else if (part.type === "refusal" && typeof part.refusal === "string") parts.push({ type: "text", text: part.refusal });
    else if (part.type === "input_image") {
      if (typeof part.image_url !== "string" || part.image_url === "") throw bad(`${pat}.image_url`, "The gateway takes images as `image_url` (a URL or data URL), not `file_id`");
      parts.push({ type: "image_url", image_url: { url: part.image_url, ...(typeof part.detail === "string" ? { detail: part.detail } : {}) } });
    } else throw bad(`${pat}.type`, `Content part type \`${String(part.type)}\` is not supported by the gateway`);
  });
  if (role === "assistant" || role === "system" || role === "developer") return { role, content: parts.map((p) => (p as { text?: string }).text ?? "").join("") };
  const only = parts[0];
  return { role, content: parts.length === 1 && only?.type === "text" ? (only as { text: string }).text : parts };
}

function partsText(parts: unknown[]): string {
  return parts.map((p) => (isObject(p) && typeof p.text === "string" ? p.text : "")).join("");
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

// ── canonical → upstream Responses (native providers) ─────────────────────────────────────

/** Fields rebuilt by the gateway (the rest of the client's request passes through unchanged). */
const REBUILT = new Set(["model", "input", "instructions", "previous_response_id", "stream", "store"]);

/**
 * The Responses body for a native provider: input items (and `instructions`) from the
 * canonical messages as the plugins left them (redactions included), every other field of
 * the client's request as it sent it. `store: false`: the gateway keeps the conversation.
 */
export function toUpstreamResponses(chat: ChatCompletionRequest, req: ResponsesRequest, model: string, stream: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(req)) if (!REBUILT.has(key) && value !== undefined) body[key] = value;
  const instructions: string[] = [];
  const input: Record<string, unknown>[] = [];
  let leading = true;
  for (const m of chat.messages) {
    if (leading && (m.role === "system" || m.role === "developer")) {
      instructions.push(contentText(m.content));
      continue;
    }
    leading = false;
    if (m.role === "tool") input.push({ type: "function_call_output", call_id: m.tool_call_id ?? "", output: contentText(m.content) });
    else if (m.role === "assistant") {
      const text = contentText(m.content);
      if (text) input.push({ type: "message", role: "assistant", content: text });
      for (const c of m.tool_calls ?? []) input.push({ type: "function_call", call_id: c.id, name: c.function.name, arguments: c.function.arguments });
    } else input.push({ type: "message", role: m.role, content: upstreamContent(m.content) });
  }
  body.model = model;
  if (instructions.length) body.instructions = instructions.join("\n\n");
  body.input = input;
  body.stream = stream;
  body.store = false;
  return body;
}

function upstreamContent(content: ChatMessage["content"]): string | Record<string, unknown>[] {
  if (content == null) return "";
  if (typeof content === "string") return content;
  return content.map((p) => {
    if (p.type === "image_url") {
      const img = (p as { image_url: { url: string; detail?: string } }).image_url;
      return { type: "input_image", image_url: img.url, detail: img.detail ?? "auto" };
    }
    return { type: "input_text", text: (p as { text?: string }).text ?? "" };
  });
}
