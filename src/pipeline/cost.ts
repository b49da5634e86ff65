import type { Usage } from "../canonical/chat.ts";
import type { ConfigSnapshot, Price } from "../config/snapshot.ts";
import { costOf, priceFor, sourceLabel } from "../pricing/price.ts";

/**
 * Cost of a call in USD from its usage and a flat price (USD per 1M tokens). Cached input tokens
 * are billed at the cached price when one is given, else at the input price. No price → 0.
 * Rounded to micro-dollars so sums stay exact. (The pricing rules live in `src/pricing/price.ts`.)
 */
export function computeCost(usage: Usage, price: Price | undefined): number {
  return costOf(usage, price);
}

/**
 * The cost of a call to `providerId`/`model` at the price in force (config override, else the
 * catalog), and that price's source label; `source` is absent when nobody knows the model.
 */
export function priceCall(config: Pick<ConfigSnapshot, "prices" | "providers">, providerId: string, model: string, usage: Usage): { costUsd: number; source?: string } {
  const price = priceFor(config, providerId, model);
  if (!price) return { costUsd: 0 };
  return { costUsd: costOf(usage, price), source: sourceLabel(price.source) };
}
