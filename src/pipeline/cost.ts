import type { Usage } from "../canonical/chat.ts";
import type { ConfigSnapshot, Price } from "../config/snapshot.ts";
import { nanosFromUsd, usdFromNanos } from "../pricing/money.ts";
import { costNanos, costOf, priceFor, sourceLabel } from "../pricing/price.ts";
import type { Ctx } from "./context.ts";

/**
 * Cost of a call in USD from its usage and a flat price (USD per 1M tokens). Cached input tokens
 * are billed at the cached price when one is given, else at the input price. No price → 0.
 * Exact to the nano-dollar (the rounding rule is in `src/pricing/money.ts`).
 */
export function computeCost(usage: Usage, price: Price | undefined): number {
  return costOf(usage, price);
}

/**
 * The cost of a call to `providerId`/`model` at the price in force (config override, else the
 * catalog), in integer nano-dollars (and as USD), and that price's source label; `source` is
 * absent when nobody knows the model.
 */
export function priceCall(config: Pick<ConfigSnapshot, "prices" | "providers">, providerId: string, model: string, usage: Usage): { costUsd: number; costNanos: number; source?: string } {
  const price = priceFor(config, providerId, model);
  if (!price) return { costUsd: 0, costNanos: 0 };
  const nanos = costNanos(usage, price);
  return { costUsd: usdFromNanos(nanos), costNanos: nanos, source: sourceLabel(price.source) };
}

/** The request's cost in integer nanos: `ctx.costNanos` when set, else `ctx.costUsd` converted. */
export function costNanosOf(ctx: Pick<Ctx, "costUsd" | "costNanos">): number {
  return ctx.costNanos ?? nanosFromUsd(ctx.costUsd);
}

/** Sets the request's cost (integer nanos is the authority; `costUsd` follows it). */
export function setCostNanos(ctx: Pick<Ctx, "costUsd" | "costNanos">, nanos: number): void {
  ctx.costNanos = nanos;
  ctx.costUsd = usdFromNanos(nanos);
}
