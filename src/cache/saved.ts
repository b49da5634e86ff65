/**
 * What a cache hit saved: the answer's usage at TODAY's price of the provider model that first
 * produced it. The one place the cache reads prices (swap in the price catalog here).
 */
import type { Usage } from "../canonical/chat.ts";
import type { ConfigSnapshot } from "../config/snapshot.ts";
import { computeCost } from "../pipeline/cost.ts";

export function savedUsd(config: Pick<ConfigSnapshot, "prices">, provider: string | null, model: string | null, usage: Usage | undefined): number {
  if (!provider || !model || !usage) return 0;
  return computeCost(usage, config.prices[`${provider}/${model}`]);
}
