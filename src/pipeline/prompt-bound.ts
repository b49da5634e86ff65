/**
 * The prompt-token figures the limits plugin reserves with (issue 30): a cheap upper bound on
 * the hot path, the exact count only when the bound does not fit.
 *
 * The bound, {@link promptTokenBound}, never tokenizes. It rests on one fact of byte-level BPE:
 * every o200k_base token stands for at least one UTF-8 byte of the text, and user text is encoded
 * with no special tokens (src/providers/tokens.ts), so `countTextTokens(s) <= utf8Bytes(s)` for
 * every string. Mirroring {@link countPromptTokens} field by field with bytes in place of tokens
 * gives `promptTokenBound >= countPromptTokens` for every chat (fuzzed in
 * test/pipeline/prompt-bound.test.ts). Its slack (bytes per token) on samples: English prose
 * 5.6, Chinese 4.1, Japanese 4.0, code 3.0, JSON 2.6.
 *
 * Both figures add what {@link countPromptTokens} does not see but a provider bills as prompt:
 * - each image part: {@link IMAGE_PART_TOKENS} (OpenAI's high-detail maximum for GPT-4o-class
 *   models is 85 + 8 x 170 = 1,445; Anthropic's largest image is about 1,600);
 * - each other non-text part (audio, file): the UTF-8 bytes of its JSON (its base64 payload
 *   dominates; a provider bills far fewer tokens than bytes of base64);
 * - the function definitions in `tools`: the bytes of their JSON (bound) / their tokens (exact).
 *
 * Settle corrects all of it to the provider's reported usage (src/plugins/limits.ts).
 */
import type { ChatCompletionRequest, ChatMessage } from "../canonical/chat.ts";
import { countTextTokens, REPLY_PRIMING_TOKENS, TOKENS_PER_MESSAGE, TOKENS_PER_NAME } from "../providers/tokens.ts";
import type { Ctx } from "./context.ts";
import { promptTokensOf } from "./prompt-tokens.ts";

/** Prompt tokens assumed for one image part (see the module comment). */
export const IMAGE_PART_TOKENS = 1_600;

// The per-message constants are countPromptTokens' own, so the two cannot drift apart.
const PER_MESSAGE = TOKENS_PER_MESSAGE;
const PER_NAME = TOKENS_PER_NAME;
const REPLY_PRIMING = REPLY_PRIMING_TOKENS;

const bytes = (s: string): number => (s.length === 0 ? 0 : Buffer.byteLength(s, "utf8"));

/** Pure: an upper bound on `countPromptTokens(messages)` from UTF-8 byte lengths, no tokenizer. */
export function promptTokenBoundOf(messages: readonly ChatMessage[]): number {
  let total = REPLY_PRIMING;
  for (const m of messages) {
    total += PER_MESSAGE + bytes(m.role);
    const c = m.content;
    if (typeof c === "string") total += bytes(c);
    else if (Array.isArray(c)) {
      for (const p of c) {
        const text = (p as { text?: unknown }).text;
        if (p.type === "text" && typeof text === "string") total += bytes(text);
      }
    }
    if (m.name !== undefined) total += PER_NAME + bytes(m.name);
    if (m.tool_calls) for (const call of m.tool_calls) total += bytes(call.function.name) + bytes(call.function.arguments);
    if (m.tool_call_id !== undefined) total += bytes(m.tool_call_id);
  }
  return total;
}

/** Pure: prompt tokens a provider bills that the text count does not see (images, other parts, tool definitions). */
export function promptExtras(request: Pick<ChatCompletionRequest, "messages" | "tools">, exact: boolean): number {
  let extra = 0;
  for (const m of request.messages) {
    if (!Array.isArray(m.content)) continue;
    for (const p of m.content) {
      if (p.type === "text") continue;
      extra += p.type === "image_url" ? IMAGE_PART_TOKENS : bytes(JSON.stringify(p));
    }
  }
  if (request.tools?.length) {
    const json = JSON.stringify(request.tools);
    extra += exact ? countTextTokens(json) : bytes(json);
  }
  return extra;
}

const BOUND = "limits.promptBound";
const EXACT = "limits.promptExact";

/** The request's cheap prompt-token bound (hot path), computed once per request. */
export function promptTokenBound(ctx: Ctx): number {
  const cached = ctx.state[BOUND] as { messages: unknown; tokens: number } | undefined;
  if (cached && cached.messages === ctx.request.messages) return cached.tokens;
  const tokens = promptTokenBoundOf(ctx.request.messages) + promptExtras(ctx.request, false);
  ctx.state[BOUND] = { messages: ctx.request.messages, tokens };
  return tokens;
}

/** The exact figure (tokenizes: only when the bound does not fit); never above {@link promptTokenBound}. */
export function promptTokensExact(ctx: Ctx): number {
  const cached = ctx.state[EXACT] as { messages: unknown; tokens: number } | undefined;
  if (cached && cached.messages === ctx.request.messages) return cached.tokens;
  const tokens = promptTokensOf(ctx) + promptExtras(ctx.request, true);
  ctx.state[EXACT] = { messages: ctx.request.messages, tokens };
  return tokens;
}
