import type { Usage } from "../canonical/chat.ts";
import type { Price } from "../config/snapshot.ts";

/**
 * Cost of a call in USD from its usage and a price (USD per 1M tokens). Cached input tokens are
 * billed at the cached price when one is given, else at the input price. No price → 0.
 * Rounded to micro-dollars so sums stay exact.
 */
export function computeCost(usage: Usage, price: Price | undefined): number {
  if (!price) return 0;
  const cached = Math.min(usage.prompt_tokens_details?.cached_tokens ?? 0, usage.prompt_tokens);
  const uncached = usage.prompt_tokens - cached;
  const micro =
    uncached * price.input + cached * (price.cachedInput ?? price.input) + usage.completion_tokens * price.output;
  // price per 1M tokens × tokens = micro-dollars
  return Math.round(micro) / 1_000_000;
}
