/**
 * The bundled price catalog: `@pydantic/genai-prices` (its bundled data only — the package's
 * remote `updatePrices` is never called, so the gateway prices offline and reproducibly).
 * Update the catalog by updating the package (`bun update @pydantic/genai-prices`).
 *
 * A gateway provider is matched to a catalog vendor by its `kind` (`openai-prod` of kind
 * `openai` gets OpenAI's prices); `custom` / `azure` providers by their base URL, then by the
 * model name.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { calcPrice, findProvider, type ModelPrice, type Provider } from "@pydantic/genai-prices";
import type { Rate } from "./price.ts";

/** The catalog's version: the package name and version, e.g. `@pydantic/genai-prices@0.1.8`. */
export const CATALOG_VERSION: string = (() => {
  try {
    const entry = createRequire(import.meta.url).resolve("@pydantic/genai-prices");
    const pkg = JSON.parse(readFileSync(join(dirname(entry), "..", "package.json"), "utf8")) as { name: string; version: string };
    return `${pkg.name}@${pkg.version}`;
  } catch {
    return "@pydantic/genai-prices";
  }
})();

/** Gateway provider kind → the catalog's vendor id (kinds not listed are matched by base URL / model). */
const VENDOR_OF_KIND: Readonly<Record<string, string>> = {
  openai: "openai",
  anthropic: "anthropic",
  gemini: "google",
  mistral: "mistral",
  together: "together",
  azure: "azure",
};

/** A catalog price in USD per 1M tokens, with the vendor and model id the catalog matched. */
export interface CatalogPrice {
  vendor: string;
  catalogModel: string;
  input: Rate;
  output: Rate;
  cachedInput?: Rate;
  cacheWrite?: Rate;
  /** The model's context window in tokens, when the catalog knows it (input + output). */
  contextWindow?: number;
}

export interface CatalogQuery {
  kind: string;
  baseUrl?: string;
  model: string;
}

const DAY_MS = 86_400_000;
/** Per query: the UTC day it was looked up for and the answer (null = unknown). */
const memo = new Map<string, { day: number; price: CatalogPrice | null }>();

/**
 * The catalog's price for a model served by a provider of `kind` (at time `at`, default now, for
 * prices that changed on a date), or undefined when the catalog does not know it. Memoized per
 * UTC day: one Map lookup per request, the catalog scanned once a day per provider/model.
 * The answer is shared: do not mutate it.
 */
export function catalogPrice(q: CatalogQuery, at?: Date): CatalogPrice | undefined {
  if (q.kind === "echo") return undefined;
  const ms = at ? at.getTime() : Date.now();
  const day = Math.floor(ms / DAY_MS);
  const k = `${q.kind}\u0000${q.baseUrl ?? ""}\u0000${q.model}`;
  const hit = memo.get(k);
  if (hit && hit.day === day) return hit.price ?? undefined;
  const price = lookup(q, new Date(ms)) ?? null;
  if (memo.size > 10_000) memo.clear();
  memo.set(k, { day, price });
  return price ?? undefined;
}

function lookup(q: CatalogQuery, at: Date): CatalogPrice | undefined {
  for (const provider of vendorsFor(q)) {
    let r: ReturnType<typeof calcPrice> = null;
    try {
      r = calcPrice({ input_tokens: 0, output_tokens: 0 }, q.model, { provider, timestamp: at });
    } catch {
      r = null;
    }
    if (r) {
      const price = toCatalogPrice(r.provider.id, r.model.id, r.model_price);
      if (price && typeof r.model.context_window === "number" && r.model.context_window > 0) price.contextWindow = r.model.context_window;
      return price;
    }
  }
  return undefined;
}

/** The catalog vendors to try, most specific first. */
function vendorsFor(q: CatalogQuery): Provider[] {
  const out: Provider[] = [];
  const add = (p: Provider | undefined) => {
    if (p && !out.includes(p)) out.push(p);
  };
  const vendor = VENDOR_OF_KIND[q.kind];
  if (vendor) add(findProvider({ providerId: vendor }));
  if (q.baseUrl) add(findProvider({ providerApiUrl: q.baseUrl }));
  if (q.kind === "custom" || q.kind === "azure") add(findProvider({ modelId: q.model.toLowerCase() }));
  return out;
}

function toRate(v: ModelPrice[string]): Rate | undefined {
  if (v === undefined) return undefined;
  if (typeof v === "number") return v;
  return { base: v.base, tiers: [...v.tiers].sort((a, b) => a.start - b.start).map((t) => ({ start: t.start, price: t.price })) };
}

function toCatalogPrice(vendor: string, catalogModel: string, p: ModelPrice): CatalogPrice | undefined {
  const input = toRate(p.input_mtok);
  const output = toRate(p.output_mtok);
  if (input === undefined && output === undefined) return undefined; // priced per request / second only
  const out: CatalogPrice = { vendor, catalogModel, input: input ?? 0, output: output ?? 0 };
  const cachedInput = toRate(p.cache_read_mtok);
  const cacheWrite = toRate(p.cache_write_mtok);
  if (cachedInput !== undefined) out.cachedInput = cachedInput;
  if (cacheWrite !== undefined) out.cacheWrite = cacheWrite;
  return out;
}
