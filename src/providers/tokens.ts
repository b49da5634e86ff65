/**
 * Token counting with the o200k_base encoding (GPT-4o / GPT-4.1 / o-series / GPT-5).
 *
 * User text is always encoded as plain text: a literal `<|endoftext|>` in a prompt counts
 * as the characters it is made of, it never becomes (or throws on) a special token.
 *
 * The tokenizer's own decoder is deliberately not used for splitting text: it shares one
 * streaming TextDecoder across calls, so decoding a token slice that ends inside a
 * multi-byte character would leak bytes into the next decode. Everything here works on
 * the pre-tokenizer's pieces, which are exact substrings of the input.
 */
import { countTokens } from "gpt-tokenizer/encoding/o200k_base";
import { O200K_TOKEN_SPLIT_REGEX } from "gpt-tokenizer/encodingParams/constants";
import { contentText, type ChatMessage } from "../canonical/chat.ts";

const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

/** Tokens every message costs on top of its fields (`<|start|>`, role separator, `<|end|>`). */
export const TOKENS_PER_MESSAGE = 3;
/** Extra token when a message carries a `name`. */
export const TOKENS_PER_NAME = 1;
/** Every reply is primed with `<|start|>assistant<|message|>`. */
export const REPLY_PRIMING_TOKENS = 3;
/** Pieces longer than this (in UTF-16 units) are split further for streaming. */
const MAX_PIECE_LENGTH = 16;

/** Number of o200k_base tokens in `text`. */
export function countTextTokens(text: string): number {
  if (text === "") return 0;
  return countTokens(text, PLAIN_TEXT);
}

/**
 * Prompt tokens of a chat, following OpenAI's accounting for chat models: 3 per message,
 * plus the tokens of its role, text content, name (+1) and tool calls (name + arguments),
 * plus 3 for priming the assistant's reply. Non-text content parts are not counted.
 */
export function countPromptTokens(messages: readonly ChatMessage[]): number {
  let total = REPLY_PRIMING_TOKENS;
  for (const m of messages) {
    total += TOKENS_PER_MESSAGE + countTextTokens(m.role) + countTextTokens(contentText(m.content));
    if (m.name !== undefined) total += TOKENS_PER_NAME + countTextTokens(m.name);
    for (const call of m.tool_calls ?? []) {
      total += countTextTokens(call.function.name) + countTextTokens(call.function.arguments);
    }
    if (m.tool_call_id !== undefined) total += countTextTokens(m.tool_call_id);
  }
  return total;
}

/**
 * Splits `text` into the tokenizer's pre-token pieces (a word with its leading space, a
 * run of punctuation, up to three digits, a run of whitespace), long pieces cut further
 * at code-point boundaries. `splitForStreaming(t).join("") === t` for every string.
 */
export function splitForStreaming(text: string): string[] {
  const pieces: string[] = [];
  for (const piece of pretokenize(text)) {
    if (piece.length <= MAX_PIECE_LENGTH) {
      pieces.push(piece);
      continue;
    }
    let current = "";
    for (const cp of piece) {
      if (current.length + cp.length > MAX_PIECE_LENGTH) {
        pieces.push(current);
        current = "";
      }
      current += cp;
    }
    if (current) pieces.push(current);
  }
  return pieces;
}

/**
 * The longest prefix of `text` (cut at a code-point boundary) that has at most
 * `maxTokens` tokens. `truncated` tells whether anything was cut.
 */
export function truncateToTokens(text: string, maxTokens: number): { text: string; truncated: boolean } {
  const limit = Math.max(0, Math.floor(maxTokens));
  if (countTextTokens(text) <= limit) return { text, truncated: false };

  let kept = "";
  let used = 0;
  for (const piece of pretokenize(text)) {
    const cost = countTextTokens(piece);
    if (used + cost > limit) {
      kept += longestPrefixWithin(piece, limit - used);
      break;
    }
    kept += piece;
    used += cost;
  }
  // Re-tokenizing the cut text can merge differently at the seam: trim until it fits.
  const cps = Array.from(kept);
  while (cps.length > 0 && countTextTokens(cps.join("")) > limit) cps.pop();
  return { text: cps.join(""), truncated: true };
}

/** Binary search over code points for the longest prefix of `piece` within `budget` tokens. */
function longestPrefixWithin(piece: string, budget: number): string {
  if (budget <= 0) return "";
  const cps = Array.from(piece);
  let lo = 0;
  let hi = cps.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (countTextTokens(cps.slice(0, mid).join("")) <= budget) lo = mid;
    else hi = mid - 1;
  }
  return cps.slice(0, lo).join("");
}

/** The o200k pre-tokenizer's matches, with any unmatched gap kept, so pieces cover `text`. */
function pretokenize(text: string): string[] {
  const pieces: string[] = [];
  let at = 0;
  for (const m of text.matchAll(O200K_TOKEN_SPLIT_REGEX)) {
    if (m.index > at) pieces.push(text.slice(at, m.index));
    if (m[0]) pieces.push(m[0]);
    at = m.index + m[0].length;
  }
  if (at < text.length) pieces.push(text.slice(at));
  return pieces;
}
