/** The pure pricing decisions: which price applies (config > catalog by provider kind) and what usage costs at it. */
import { describe, expect, test } from "bun:test";
import type { ConfigSnapshot } from "../../src/config/snapshot.ts";
import { emptySnapshot } from "../../src/config/snapshot.ts";
import { CATALOG_VERSION } from "../../src/pricing/catalog.ts";
import { costMicros, costOf, maxRates, priceFor, rateAt, sourceLabel, targetPrices } from "../../src/pricing/price.ts";

const snapshot = (extra: Partial<ConfigSnapshot> = {}): ConfigSnapshot => ({
  ...emptySnapshot(),
  providers: [
    { id: "openai-prod", kind: "openai", models: ["gpt-4o"] },
    { id: "claude", kind: "anthropic", models: [] },
    { id: "gem", kind: "gemini", models: [] },
    { id: "local", kind: "echo", models: ["echo"] },
    { id: "vllm", kind: "custom", baseUrl: "http://10.0.0.5:8000/v1", models: ["my-own-model"] },
  ],
  ...extra,
});

describe("priceFor", () => {
  test("the catalog by the provider's kind: a provider named openai-prod of kind openai gets OpenAI's prices", () => {
    const p = priceFor(snapshot(), "openai-prod", "gpt-4o")!;
    expect(p).toMatchObject({ input: 2.5, output: 10, cachedInput: 1.25, source: { kind: "catalog", version: CATALOG_VERSION, vendor: "openai", model: "gpt-4o" } });
    expect(sourceLabel(p.source)).toBe(`catalog:${CATALOG_VERSION}`);
    expect(priceFor(snapshot(), "claude", "claude-3-5-haiku-latest")).toMatchObject({ input: 0.8, output: 4, cachedInput: 0.08, cacheWrite: 1 });
    expect(priceFor(snapshot(), "gem", "gemini-2.5-pro")!.input).toEqual({ base: 1.25, tiers: [{ start: 200_000, price: 2.5 }] });
  });

  test("a config price wins, with its entity version as the source", () => {
    const s = snapshot({ prices: { "openai-prod/gpt-4o": { input: 1, output: 2, version: 3, updatedAt: "2026-12-01T00:00:00.000Z" } } });
    const p = priceFor(s, "openai-prod", "gpt-4o")!;
    expect(p).toMatchObject({ input: 1, output: 2, source: { kind: "config", id: "openai-prod/gpt-4o", version: 3 } });
    expect(p.cachedInput).toBeUndefined();
    expect(sourceLabel(p.source)).toBe("config:price/openai-prod/gpt-4o@v3");
  });

  test("nobody knows: echo, an unknown provider, a model the catalog lacks", () => {
    expect(priceFor(snapshot(), "local", "echo")).toBeUndefined();
    expect(priceFor(snapshot(), "nope", "gpt-4o")).toBeUndefined();
    expect(priceFor(snapshot(), "vllm", "my-own-model")).toBeUndefined();
    expect(priceFor(snapshot(), "openai-prod", "constructor")).toBeUndefined();
  });
});

describe("costOf", () => {
  const price = { input: 3, output: 15, cachedInput: 0.3, cacheWrite: 3.75 };
  test("input classes: uncached, cache reads and cache writes at their rates; output includes reasoning", () => {
    const usage = { prompt_tokens: 10_000, completion_tokens: 2_000, total_tokens: 12_000, prompt_tokens_details: { cached_tokens: 6_000, cache_write_tokens: 1_000 }, completion_tokens_details: { reasoning_tokens: 1_500 } };
    expect(costMicros(usage, price)).toBe(3_000 * 3 + 6_000 * 0.3 + 1_000 * 3.75 + 2_000 * 15);
    expect(costOf(usage, price)).toBe(0.04455);
  });
  test("without a cached or cache-write price those tokens cost the input price; no price costs 0", () => {
    const usage = { prompt_tokens: 1_000, completion_tokens: 10, total_tokens: 1_010, prompt_tokens_details: { cached_tokens: 400, cache_write_tokens: 100 } };
    expect(costMicros(usage, { input: 2, output: 6 })).toBe(1_000 * 2 + 10 * 6);
    expect(costOf(usage, undefined)).toBe(0);
  });
  test("cached counts beyond the prompt are clamped (never a negative uncached count)", () => {
    expect(costMicros({ prompt_tokens: 100, completion_tokens: 0, total_tokens: 100, prompt_tokens_details: { cached_tokens: 500, cache_write_tokens: 50 } }, price)).toBe(100 * 0.3);
  });
  test("tiers: the whole input's size picks the tier, for every class", () => {
    const tiered = { input: { base: 1.25, tiers: [{ start: 200_000, price: 2.5 }] }, output: { base: 10, tiers: [{ start: 200_000, price: 15 }] } };
    expect(rateAt(tiered.input, 200_000)).toBe(1.25);
    expect(rateAt(tiered.input, 200_001)).toBe(2.5);
    expect(costMicros({ prompt_tokens: 200_001, completion_tokens: 100, total_tokens: 0 }, tiered)).toBe(Math.round(200_001 * 2.5 + 100 * 15)); // rounded once, to whole micro-dollars
    expect(maxRates({ ...tiered, source: { kind: "config", id: "x/y" } })).toEqual({ input: 2.5, output: 15 });
  });
  test("targetPrices: flat effective prices for lowest-cost routing", () => {
    const s = snapshot();
    expect(targetPrices(s, [{ provider: "openai-prod", model: "gpt-4o" }, { provider: "local", model: "echo" }])).toEqual({ "openai-prod/gpt-4o": { input: 2.5, output: 10, cachedInput: 1.25 } });
  });
});
