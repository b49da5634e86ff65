/**
 * Pure translation between the canonical (OpenAI Chat Completions) shapes and Google's
 * Generative Language API v1beta (`models/{model}:generateContent`).
 *
 * Request: system/developer messages → `systemInstruction`; user → `user` turns, assistant →
 * `model` turns, tool results → `functionResponse` parts in a `user` turn; consecutive
 * same-role turns are merged. Parameters → `generationConfig`, tools → `functionDeclarations`,
 * tool_choice → `toolConfig.functionCallingConfig`. Response: the first candidate's parts →
 * one assistant message (text joined, `functionCall` → tool_calls), `finishReason` →
 * finish_reason, `usageMetadata` → usage.
 *
 * A request that cannot be expressed for Gemini (an unsupported content part, an image URL
 * that is neither http(s) nor `data:`, tool-call arguments that are not a JSON object, a tool
 * result whose function cannot be named) is a 400 `invalid_request` GatewayError.
 */
import type { ChatCompletion, ChatCompletionRequest, ChatMessage, ContentPart, FinishReason, ToolCall, Usage } from "../../canonical/chat.ts";
import { contentText } from "../../canonical/chat.ts";
import { errors } from "../../pipeline/errors.ts";
import { countPromptTokens, countTextTokens } from "../tokens.ts";
import { toGeminiSchema } from "./schema.ts";
import type { GeminiCandidate, GeminiContent, GeminiFunctionCallingConfig, GeminiPart, GeminiRequest, GeminiResponse, GeminiUsageMetadata } from "./wire.ts";

export type * from "./wire.ts";

type Json = Record<string, unknown>;

/**
 * Google's documented placeholder for a functionCall part that has no real thought signature
 * (history written by another model or client). Gemini 3 rejects unsigned function calls in
 * the current turn; this value tells it to skip the check.
 */
export const SKIP_THOUGHT_SIGNATURE = "skip_thought_signature_validator";

/** Canonical request → `generateContent` body (the model goes in the URL, not the body). */
export function toGeminiRequest(req: ChatCompletionRequest): GeminiRequest {
  const system: Array<{ text: string }> = [];
  const contents: GeminiContent[] = [];
  const functionNames = new Map<string, string>(); // tool_call id → function name (latest wins)
  const push = (role: GeminiContent["role"], parts: GeminiPart[]) => {
    if (parts.length === 0) return;
    const last = contents.at(-1);
    if (last?.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  };
  req.messages.forEach((m, i) => {
    switch (m.role) {
      case "system":
      case "developer": {
        const text = contentText(m.content);
        if (text) system.push({ text });
        break;
      }
      case "user":
        push("user", userParts(m.content, i));
        break;
      case "assistant":
        push("model", assistantParts(m, i, functionNames));
        break;
      case "tool":
        push("user", [functionResponsePart(m, i, functionNames)]);
        break;
    }
  });

  const body: GeminiRequest = { contents, generationConfig: generationConfig(req) };
  if (system.length > 0) body.systemInstruction = { parts: system };
  const declarations = (req.tools ?? []).filter((t) => t.type === "function").map((t) => functionDeclaration(t.function));
  if (declarations.length > 0) {
    body.tools = [{ functionDeclarations: declarations }];
    const config = functionCallingConfig(req.tool_choice);
    if (config) body.toolConfig = { functionCallingConfig: config };
  }
  return body;
}

function generationConfig(req: ChatCompletionRequest): Json {
  const config: Json = { candidateCount: 1 };
  if (req.temperature != null) config.temperature = req.temperature;
  if (req.top_p != null) config.topP = req.top_p;
  const maxTokens = req.max_completion_tokens ?? req.max_tokens;
  if (maxTokens != null) config.maxOutputTokens = maxTokens;
  const stop = req.stop == null ? [] : typeof req.stop === "string" ? [req.stop] : req.stop;
  if (stop.length > 0) config.stopSequences = stop;
  if (req.presence_penalty != null) config.presencePenalty = req.presence_penalty;
  if (req.frequency_penalty != null) config.frequencyPenalty = req.frequency_penalty;
  if (req.seed != null) config.seed = req.seed;
  const format = req.response_format;
  if (format?.type === "json_object" || format?.type === "json_schema") {
    config.responseMimeType = "application/json";
    const schema = (format as { json_schema?: { schema?: unknown } }).json_schema?.schema;
    if (format.type === "json_schema" && typeof schema === "object" && schema !== null) config.responseSchema = toGeminiSchema(schema);
  }
  return config;
}

function functionDeclaration(fn: { name: string; description?: string; parameters?: Json }): Json {
  const decl: Json = { name: fn.name };
  if (fn.description) decl.description = fn.description;
  const params = fn.parameters ? toGeminiSchema(fn.parameters) : undefined;
  // Gemini rejects an OBJECT schema with empty `properties`: a function without parameters omits them.
  const empty = !params || (params.type === "object" && Object.keys((params.properties as Json | undefined) ?? {}).length === 0);
  if (!empty) decl.parameters = params;
  return decl;
}

function functionCallingConfig(choice: unknown): GeminiFunctionCallingConfig | undefined {
  if (choice == null || choice === "auto") return choice == null ? undefined : { mode: "AUTO" };
  if (choice === "none") return { mode: "NONE" };
  if (choice === "required") return { mode: "ANY" };
  const name = typeof choice === "object" ? (choice as { function?: { name?: unknown } }).function?.name : undefined;
  if (typeof name === "string" && name) return { mode: "ANY", allowedFunctionNames: [name] };
  throw errors.invalidRequest('`tool_choice` must be "auto", "none", "required" or {type:"function",function:{name}}', "tool_choice");
}

function userParts(content: ChatMessage["content"], i: number): GeminiPart[] {
  if (content == null) return [];
  if (typeof content === "string") return content ? [{ text: content }] : [];
  return content.flatMap((part, j) => {
    const translated = userPart(part, `messages[${i}].content[${j}]`);
    return translated ? [translated] : [];
  });
}

function userPart(part: ContentPart, param: string): GeminiPart | undefined {
  const p = part as Json & { type: string };
  if (p.type === "text") return typeof p.text === "string" && p.text ? { text: p.text } : undefined;
  if (p.type === "image_url") return mediaPart((p.image_url as { url?: unknown } | undefined)?.url, param);
  if (p.type === "input_audio") {
    const audio = p.input_audio as { data?: unknown; format?: unknown } | undefined;
    if (typeof audio?.data === "string") return { inlineData: { mimeType: `audio/${audio.format === "mp3" ? "mp3" : "wav"}`, data: audio.data } };
  }
  if (p.type === "file") {
    const data = (p.file as { file_data?: unknown } | undefined)?.file_data;
    if (typeof data === "string" && data.startsWith("data:")) return mediaPart(data, param);
  }
  throw errors.invalidRequest(`content part type \`${p.type}\` is not supported by Gemini (or is incomplete)`, param);
}

const DATA_URL = /^data:([^;,]*)((?:;[^;,]*)*),(.*)$/s;

/** `data:` URL → `inlineData` (percent-encoded payloads are re-encoded as base64); http(s) → `fileData`. */
function mediaPart(url: unknown, param: string): GeminiPart {
  if (typeof url === "string") {
    const m = DATA_URL.exec(url);
    if (m) {
      const [, mime, params = "", payload = ""] = m;
      const data = /;base64/i.test(params) ? payload : Buffer.from(safeDecode(payload), "utf8").toString("base64");
      return { inlineData: { mimeType: mime || "application/octet-stream", data } };
    }
    if (/^https?:\/\//i.test(url)) {
      const mimeType = mimeFromUrl(url);
      return { fileData: { fileUri: url, ...(mimeType ? { mimeType } : {}) } };
    }
  }
  throw errors.invalidRequest("image and file URLs must be http(s) URLs or `data:` URLs", param);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

const MIME_BY_EXTENSION: Record<string, string> = {
  png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg", gif: "image/gif", webp: "image/webp", heic: "image/heic",
  heif: "image/heif", pdf: "application/pdf", mp3: "audio/mp3", wav: "audio/wav", mp4: "video/mp4", txt: "text/plain",
};

function mimeFromUrl(url: string): string | undefined {
  const ext = /\.([a-z0-9]+)$/i.exec(URL.parse(url)?.pathname ?? "")?.[1]?.toLowerCase();
  return ext ? MIME_BY_EXTENSION[ext] : undefined;
}

function assistantParts(m: ChatMessage, i: number, functionNames: Map<string, string>): GeminiPart[] {
  const text = contentText(m.content);
  const parts: GeminiPart[] = text ? [{ text }] : [];
  (m.tool_calls ?? []).forEach((call, j) => {
    functionNames.set(call.id, call.function.name);
    const signature = thoughtSignatureOf(call) ?? (j === 0 ? SKIP_THOUGHT_SIGNATURE : undefined);
    parts.push({
      functionCall: { name: call.function.name, args: parseArguments(call, `messages[${i}].tool_calls[${j}]`) },
      ...(signature ? { thoughtSignature: signature } : {}),
    });
  });
  return parts;
}

function parseArguments(call: ToolCall, param: string): Json {
  const raw = call.function.arguments;
  if (raw.trim() === "") return {};
  try {
    const args: unknown = JSON.parse(raw);
    if (typeof args === "object" && args !== null && !Array.isArray(args)) return args as Json;
  } catch {
    // fall through to the error below
  }
  throw errors.invalidRequest(`tool call \`${call.id}\` has arguments that are not a JSON object`, param);
}

function functionResponsePart(m: ChatMessage, i: number, functionNames: Map<string, string>): GeminiPart {
  const name = (m.tool_call_id !== undefined ? functionNames.get(m.tool_call_id) : undefined) ?? m.name;
  if (!name) throw errors.invalidRequest(`no earlier assistant tool call has the id \`${m.tool_call_id ?? ""}\``, `messages[${i}].tool_call_id`);
  const text = contentText(m.content);
  let response: Json = { content: text };
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) response = parsed as Json;
  } catch {
    // plain text result
  }
  return { functionResponse: { name, response } };
}

/** Google's OpenAI-compatible layer carries the signature as `extra_content.google.thought_signature`. */
function thoughtSignatureOf(call: ToolCall): string | undefined {
  const sig = (call as { extra_content?: { google?: { thought_signature?: unknown } } }).extra_content?.google?.thought_signature;
  return typeof sig === "string" && sig ? sig : undefined;
}

/** The text (thoughts excluded) and function calls of one candidate's parts; calls are numbered from `firstIndex`. */
export function candidateOutput(candidate: GeminiCandidate | undefined, firstIndex = 0): { text: string; toolCalls: ToolCall[] } {
  let text = "";
  const toolCalls: ToolCall[] = [];
  for (const part of candidate?.content?.parts ?? []) {
    if (typeof part.text === "string" && part.thought !== true) text += part.text;
    if (part.functionCall) toolCalls.push(toToolCall(part, firstIndex + toolCalls.length));
  }
  return { text, toolCalls };
}

function toToolCall(part: GeminiPart, n: number): ToolCall {
  const call: ToolCall = {
    id: `call_${n}`,
    type: "function",
    function: { name: part.functionCall?.name ?? "", arguments: JSON.stringify(part.functionCall?.args ?? {}) },
  };
  if (part.thoughtSignature) Object.assign(call, { extra_content: { google: { thought_signature: part.thoughtSignature } } });
  return call;
}

const FILTERED = new Set(["SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION"]);

/** Gemini `finishReason` → canonical; a normal stop with function calls is `tool_calls`. */
export function toFinishReason(reason: string | undefined, hasToolCalls: boolean): FinishReason {
  if (reason === "MAX_TOKENS") return "length";
  if (reason !== undefined && FILTERED.has(reason)) return "content_filter";
  return hasToolCalls ? "tool_calls" : "stop";
}

/** `usageMetadata` → canonical usage; thinking tokens are billed as output, so they count as completion. */
export function toUsage(u: GeminiUsageMetadata): Usage {
  const prompt = u.promptTokenCount ?? 0;
  const completion = (u.candidatesTokenCount ?? 0) + (u.thoughtsTokenCount ?? 0);
  const usage: Usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
  if (u.cachedContentTokenCount != null) usage.prompt_tokens_details = { cached_tokens: u.cachedContentTokenCount };
  if (u.thoughtsTokenCount) usage.completion_tokens_details = { reasoning_tokens: u.thoughtsTokenCount };
  return usage;
}

/** Usage counted locally (o200k_base) for an upstream answer that carried no `usageMetadata`. */
export function estimateUsage(req: ChatCompletionRequest, completionText: string): Usage {
  const prompt = countPromptTokens(req.messages);
  const completion = countTextTokens(completionText);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** `chatcmpl-<responseId>` when Google sent one, else a random id. */
export function completionId(responseId: unknown): string {
  return `chatcmpl-${typeof responseId === "string" && responseId ? responseId : crypto.randomUUID().replaceAll("-", "")}`;
}

/** A `generateContent` response → canonical completion (a blocked prompt → empty `content_filter` answer). */
export function fromGeminiResponse(raw: GeminiResponse, req: ChatCompletionRequest, model: string): ChatCompletion {
  const candidate = raw.candidates?.[0];
  const { text, toolCalls } = candidateOutput(candidate);
  const blocked = candidate === undefined && raw.promptFeedback?.blockReason !== undefined;
  const finish = blocked ? "content_filter" : toFinishReason(candidate?.finishReason, toolCalls.length > 0);
  const usage = raw.usageMetadata
    ? toUsage(raw.usageMetadata)
    : estimateUsage(req, text + toolCalls.map((c) => c.function.name + c.function.arguments).join(""));
  return {
    id: completionId(raw.responseId),
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: typeof raw.modelVersion === "string" && raw.modelVersion ? raw.modelVersion : model,
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: text || toolCalls.length === 0 ? text : null, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) },
        finish_reason: finish,
        logprobs: null,
      },
    ],
    usage,
  };
}
