import { countPromptTokens } from "../providers/tokens.ts";
import type { Ctx } from "./context.ts";

const KEY = "pipeline.promptTokens";

/**
 * The request's prompt tokens, counted once per request and shared by every step that needs
 * them (lowest-cost routing, admission, usage estimates). Valid from the `route` phase on:
 * input plugins (`inspect`) have changed the messages by then, and nothing changes them after.
 */
export function promptTokensOf(ctx: Ctx): number {
  const cached = ctx.state[KEY] as { messages: unknown; tokens: number } | undefined;
  if (cached && cached.messages === ctx.request.messages) return cached.tokens;
  const tokens = countPromptTokens(ctx.request.messages);
  ctx.state[KEY] = { messages: ctx.request.messages, tokens };
  return tokens;
}
