/**
 * `GET /api/v1/prices?provider=&model=`: the effective price of a provider's model — the
 * operator's `price` entity, else the bundled catalog — and where it comes from.
 * (Without `provider` or `model` the route lists the `price` entities, see admin.ts.)
 */
import { Type as T } from "@sinclair/typebox";
import type { ConfigSnapshot } from "../config/snapshot.ts";
import { GatewayError } from "../pipeline/errors.ts";
import { type EffectivePrice, priceFor, type Rate, sourceLabel } from "../pricing/price.ts";

const RateSchema = T.Union([T.Number(), T.Object({ base: T.Number(), tiers: T.Array(T.Object({ start: T.Integer(), price: T.Number() })) })], { description: "USD per 1M tokens: flat, or tiered by the request's input tokens (`price` once input > `start`)" });
export const EffectivePriceView = T.Object({
  provider: T.String(),
  model: T.String(),
  input: RateSchema,
  output: RateSchema,
  cached_input: T.Union([RateSchema, T.Null()]),
  cache_write: T.Union([RateSchema, T.Null()]),
  source: T.Object({ kind: T.Union([T.Literal("catalog"), T.Literal("config")]), label: T.String(), version: T.Union([T.String(), T.Integer(), T.Null()]), catalog_model: T.Union([T.String(), T.Null()]) }),
});

export const EffectivePriceList = T.Object({ object: T.Literal("list"), data: T.Array(EffectivePriceView) });
export const PriceQuery = T.Object({
  provider: T.Optional(T.String({ minLength: 1, maxLength: 64, description: "A provider id: its effective prices" })),
  model: T.Optional(T.String({ minLength: 1, maxLength: 256, description: "A model id: its effective price on each provider (with `provider`: that one)" })),
});

function view(provider: string, model: string, p: EffectivePrice): Record<string, unknown> {
  const s = p.source;
  return {
    provider,
    model,
    input: p.input as Rate,
    output: p.output,
    cached_input: p.cachedInput ?? null,
    cache_write: p.cacheWrite ?? null,
    source: { kind: s.kind, label: sourceLabel(s), version: s.version ?? null, catalog_model: s.kind === "catalog" ? s.model : null },
  };
}

/**
 * Effective prices: one provider/model (404 `price_not_found` when neither config nor the
 * catalog knows it), or every listed model of a provider, or a model on every provider listing it.
 */
export function effectivePrices(snapshot: ConfigSnapshot, provider: string | undefined, model: string | undefined): { object: "list"; data: Record<string, unknown>[] } {
  if (provider !== undefined && !snapshot.providers.some((p) => p.id === provider)) {
    throw new GatewayError({ status: 404, code: "provider_not_found", message: `provider \`${provider}\` does not exist or is disabled`, param: "provider" });
  }
  const pairs: Array<[string, string]> = [];
  for (const p of snapshot.providers) {
    if (provider !== undefined && p.id !== provider) continue;
    if (model !== undefined) pairs.push([p.id, model]);
    else for (const m of p.models) pairs.push([p.id, m]);
  }
  const data = pairs.flatMap(([pid, m]) => {
    const price = priceFor(snapshot, pid, m);
    return price ? [view(pid, m, price)] : [];
  });
  if (provider !== undefined && model !== undefined && data.length === 0) {
    throw new GatewayError({ status: 404, code: "price_not_found", message: `Neither a price entity nor the catalog knows \`${provider}/${model}\``, param: "model" });
  }
  return { object: "list", data };
}
