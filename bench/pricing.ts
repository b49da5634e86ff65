/**
 * Cost of pricing on the hot path, in-process: `priceFor` (config price, else the bundled
 * catalog, memoized per UTC day) + `costOf`, per request — against the old flat lookup
 * (`prices["provider/model"]` + the flat formula), in the same run.
 *
 *   bun run bench/pricing.ts
 */
import { calcPrice } from "@pydantic/genai-prices";
import type { ConfigSnapshot } from "../src/config/snapshot.ts";
import { emptySnapshot } from "../src/config/snapshot.ts";
import { costOf, priceFor } from "../src/pricing/price.ts";

const snapshot: ConfigSnapshot = {
  ...emptySnapshot(),
  providers: [
    { id: "openai-prod", kind: "openai", models: [] },
    { id: "claude", kind: "anthropic", models: [] },
    { id: "gem", kind: "gemini", models: [] },
    ...Array.from({ length: 10 }, (_, i) => ({ id: `extra-${i}`, kind: "custom" as const, baseUrl: "http://10.0.0.1/v1", models: [] })),
  ],
  prices: { "openai-prod/gpt-4o-mini": { input: 0.15, output: 0.6, cachedInput: 0.075 } },
};
const targets = [["openai-prod", "gpt-4o"], ["claude", "claude-sonnet-4-20250514"], ["gem", "gemini-2.5-pro"], ["openai-prod", "gpt-4o-mini"]] as const;
const usage = { prompt_tokens: 12_000, completion_tokens: 800, total_tokens: 12_800, prompt_tokens_details: { cached_tokens: 4_000 } };
const N = 500_000;
let sink = 0;

let t0 = performance.now();
for (let i = 0; i < N; i++) {
  const [p, m] = targets[i % targets.length]!;
  sink += costOf(usage, priceFor(snapshot, p, m));
}
const catalogUs = ((performance.now() - t0) / N) * 1000;

const flat: Record<string, { input: number; output: number; cachedInput?: number }> = { "openai-prod/gpt-4o": { input: 2.5, output: 10, cachedInput: 1.25 }, "claude/claude-sonnet-4-20250514": { input: 3, output: 15, cachedInput: 0.3 }, "gem/gemini-2.5-pro": { input: 1.25, output: 10 }, "openai-prod/gpt-4o-mini": { input: 0.15, output: 0.6 } };
t0 = performance.now();
for (let i = 0; i < N; i++) {
  const [p, m] = targets[i % targets.length]!;
  const pr = flat[`${p}/${m}`]!;
  const cached = usage.prompt_tokens_details.cached_tokens;
  sink += Math.round((usage.prompt_tokens - cached) * pr.input + cached * (pr.cachedInput ?? pr.input) + usage.completion_tokens * pr.output) / 1e6;
}
const flatUs = ((performance.now() - t0) / N) * 1000;

const M = 2_000;
t0 = performance.now();
for (let i = 0; i < M; i++) sink += calcPrice({ input_tokens: 12_000, cache_read_tokens: 4_000, output_tokens: 800 }, "gemini-2.5-pro", { providerId: "google" })?.total_price ?? 0;
const rawUs = ((performance.now() - t0) / M) * 1000;

console.log("| per request | µs |\n| --- | --- |");
console.log(`| flat config lookup + cost (before) | ${flatUs.toFixed(3)} |`);
console.log(`| priceFor (config or memoized catalog) + costOf (now) | ${catalogUs.toFixed(3)} |`);
console.log(`| genai-prices calcPrice, unmemoized (for reference) | ${rawUs.toFixed(1)} |`);
if (sink < 0) console.log(sink);
