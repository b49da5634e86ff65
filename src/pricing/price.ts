/**
 * Pure pricing decisions: which price applies to a provider/model (an operator's `price`
 * config entity, else the bundled catalog), and what a call's usage costs at that price.
 *
 * The cost is exact to the nano-dollar: per-1M-token rates (read as exact decimals) × tokens are
 * summed in integer arithmetic and rounded once, half-up, to the nano-dollar (see money.ts). Token classes follow the catalog's (genai-prices') model: `prompt_tokens`
 * is the whole input, of which `cached_tokens` were cache reads and `cache_write_tokens` cache
 * writes; `completion_tokens` includes reasoning tokens (billed as output). A tiered rate's
 * tier is chosen by the whole input's size and applies to every token of its class.
 *
 * @example
 * const price = priceFor(ctx.config, "openai-prod", "gpt-4o");   // config override or catalog
 * const usd = price ? costOf(usage, price) : 0;
 */
import type { Usage } from "../canonical/chat.ts";
import type { ConfigSnapshot, Price } from "../config/snapshot.ts";
import { CATALOG_VERSION, type CatalogPrice, catalogPrice } from "./catalog.ts";
import { microsFromNanos, nanosOfTokens, usdFromNanos } from "./money.ts";

/** USD per 1M tokens: flat, or tiered by the request's input size (`price` once input > `start`). */
export type Rate = number | { base: number; tiers: ReadonlyArray<{ start: number; price: number }> };

/** Where a price comes from: the bundled catalog (its version) or an operator's price entity. */
export type PriceSource =
  | { kind: "catalog"; version: string; vendor: string; model: string }
  | { kind: "config"; id: string; version?: number; updatedAt?: string };

export interface EffectivePrice {
  input: Rate;
  output: Rate;
  cachedInput?: Rate;
  cacheWrite?: Rate;
  source: PriceSource;
}

/** `catalog:@pydantic/genai-prices@0.1.8` or `config:price/openai/gpt-4o@v2` (for events and analytics). */
export function sourceLabel(s: PriceSource): string {
  return s.kind === "catalog" ? `catalog:${s.version}` : `config:price/${s.id}${s.version !== undefined ? `@v${s.version}` : ""}`;
}

/** A config price (snapshot form) as an effective price. */
export function fromConfig(id: string, p: Price): EffectivePrice {
  const out: EffectivePrice = {
    input: p.input,
    output: p.output,
    source: { kind: "config", id, ...(p.version !== undefined ? { version: p.version } : {}), ...(p.updatedAt ? { updatedAt: p.updatedAt } : {}) },
  };
  if (p.cachedInput !== undefined) out.cachedInput = p.cachedInput;
  if (p.cacheWrite !== undefined) out.cacheWrite = p.cacheWrite;
  return out;
}

/**
 * The price in force for `model` on provider `providerId`: the operator's `price` entity
 * (`<provider>/<model>`) when there is one, else the catalog's price for the provider's vendor
 * (matched by the provider's `kind`), else undefined (nobody knows: `price.missing`).
 * Reusable outside the request path (e.g. valuing cache hits at today's price).
 */
export function priceFor(snapshot: Pick<ConfigSnapshot, "prices" | "providers">, providerId: string, model: string, at?: Date): EffectivePrice | undefined {
  const id = `${providerId}/${model}`;
  const configured = Object.hasOwn(snapshot.prices, id) ? snapshot.prices[id] : undefined;
  if (configured) return fromConfig(id, configured);
  const provider = snapshot.providers.find((p) => p.id === providerId);
  if (!provider) return undefined;
  const c = catalogPrice({ kind: provider.kind, model, ...(provider.baseUrl ? { baseUrl: provider.baseUrl } : {}) }, at);
  return c ? fromCatalog(c) : undefined;
}

const effective = new WeakMap<CatalogPrice, EffectivePrice>();

/** A catalog price as an effective price (built once per catalog entry; shared, do not mutate). */
function fromCatalog(c: CatalogPrice): EffectivePrice {
  let out = effective.get(c);
  if (!out) {
    out = { input: c.input, output: c.output, source: { kind: "catalog", version: CATALOG_VERSION, vendor: c.vendor, model: c.catalogModel } };
    if (c.cachedInput !== undefined) out.cachedInput = c.cachedInput;
    if (c.cacheWrite !== undefined) out.cacheWrite = c.cacheWrite;
    effective.set(c, out);
  }
  return out;
}

/** The rate that applies for an input of `inputTokens` tokens. */
export function rateAt(rate: Rate, inputTokens: number): number {
  if (typeof rate === "number") return rate;
  let r = rate.base;
  for (const t of rate.tiers) if (inputTokens > t.start) r = t.price;
  return r;
}

/** Token counts by billing class (every count ≥ 0; the input classes sum to `prompt_tokens`). */
export function tokenClasses(usage: Usage): { uncached: number; cacheRead: number; cacheWrite: number; output: number; input: number } {
  const input = Math.max(0, usage.prompt_tokens || 0);
  const cacheRead = Math.min(Math.max(0, usage.prompt_tokens_details?.cached_tokens ?? 0), input);
  const cacheWrite = Math.min(Math.max(0, usage.prompt_tokens_details?.cache_write_tokens ?? 0), input - cacheRead);
  return { input, uncached: input - cacheRead - cacheWrite, cacheRead, cacheWrite, output: Math.max(0, usage.completion_tokens || 0) };
}

/** Cost in integer nano-dollars of `usage` at `price`: exact, rounded once half-up to the nano. */
export function costNanos(usage: Usage, price: Omit<EffectivePrice, "source">): number {
  const t = tokenClasses(usage);
  const at = (r: Rate | undefined, fallback: Rate) => rateAt(r ?? fallback, t.input);
  return nanosOfTokens([
    [t.uncached, at(price.input, 0)],
    [t.cacheRead, at(price.cachedInput, price.input)],
    [t.cacheWrite, at(price.cacheWrite, price.input)],
    [t.output, at(price.output, 0)],
  ]);
}

/** Cost in integer micro-dollars (the nano cost rounded half-up; budgets count in micros). */
export function costMicros(usage: Usage, price: Omit<EffectivePrice, "source">): number {
  return microsFromNanos(costNanos(usage, price));
}

/** Cost in USD of `usage` at `price` (0 without a price): the exact nano cost as a number. */
export function costOf(usage: Usage, price: Omit<EffectivePrice, "source"> | undefined): number {
  return price ? usdFromNanos(costNanos(usage, price)) : 0;
}

/** The flat (base-tier) rates of a price, for estimates (budget reservations, lowest-cost routing). */
export function flatPrice(p: EffectivePrice, inputTokens = 0): Price {
  const out: Price = { input: rateAt(p.input, inputTokens), output: rateAt(p.output, inputTokens) };
  if (p.cachedInput !== undefined) out.cachedInput = rateAt(p.cachedInput, inputTokens);
  if (p.cacheWrite !== undefined) out.cacheWrite = rateAt(p.cacheWrite, inputTokens);
  return out;
}

/** The dearest per-token rates of a price (every tier), for worst-case budget reservations. */
export function maxRates(p: EffectivePrice): { input: number; output: number } {
  const top = (r: Rate | undefined) => (r === undefined ? 0 : typeof r === "number" ? r : Math.max(r.base, ...r.tiers.map((t) => t.price)));
  return { input: Math.max(top(p.input), top(p.cacheWrite)), output: top(p.output) };
}

/** Flat effective prices (config or catalog) keyed `provider/model` for a route's targets (lowest-cost routing). */
export function targetPrices(snapshot: Pick<ConfigSnapshot, "prices" | "providers">, targets: ReadonlyArray<{ provider: string; model: string }>, inputTokens = 0): Record<string, Price> {
  const out: Record<string, Price> = {};
  for (const t of targets) {
    const p = priceFor(snapshot, t.provider, t.model);
    if (p) out[`${t.provider}/${t.model}`] = flatPrice(p, inputTokens);
  }
  return out;
}

/**
 * The model's context window from the bundled catalog (tokens), or undefined when unknown. What a
 * request without `max_tokens` may produce is at most this minus its prompt (budget reservations).
 */
export function contextWindowFor(snapshot: Pick<ConfigSnapshot, "providers">, providerId: string, model: string): number | undefined {
  const provider = snapshot.providers.find((p) => p.id === providerId);
  if (!provider) return undefined;
  return catalogPrice({ kind: provider.kind, model, ...(provider.baseUrl ? { baseUrl: provider.baseUrl } : {}) })?.contextWindow;
}
