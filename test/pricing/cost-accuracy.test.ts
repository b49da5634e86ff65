/**
 * Cost accuracy, end to end: for 18 provider/model pairs of the bundled catalog, a gateway calls
 * fakes that answer in the vendors' real usage shapes (OpenAI `prompt_tokens_details.cached_tokens`
 * and `completion_tokens_details.reasoning_tokens`; Anthropic `cache_read_input_tokens` /
 * `cache_creation_input_tokens`; Gemini `cachedContentTokenCount` / `thoughtsTokenCount`), and the
 * cost recorded on `request.completed` equals what `@pydantic/genai-prices` itself computes for
 * that usage, to the nano-dollar. No price is configured: the catalog is matched by provider kind.
 * Then an operator's `price` entity overrides one model for new requests only.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { calcPrice } from "@pydantic/genai-prices";
import type { EventEnvelope } from "../../src/events/envelope.ts";
import { CATALOG_VERSION } from "../../src/pricing/catalog.ts";
import { type FakeAnthropic, startFakeAnthropic } from "../fakes/anthropic-upstream.ts";
import { type FakeGemini, startFakeGemini } from "../fakes/gemini-upstream.ts";
import { type FakeOpenAI, startFakeOpenAI } from "../fakes/openai-upstream.ts";
import { adminHeaders, post, startTestGateway, type TestGateway, writeConfigFile } from "../helpers/gateway.ts";

/** Usage in the catalog's terms: input_tokens is the whole input, cache reads/writes are part of it. */
interface CatalogUsage {
  input_tokens: number;
  cache_read_tokens?: number;
  cache_write_tokens?: number;
  output_tokens: number;
}

interface Case {
  provider: string; // gateway provider id
  vendor: string; // the catalog's vendor id
  model: string;
  /** Reasoning / thinking tokens the provider reports (part of the output). */
  reasoning: number;
  /** Sets the fake's answer; returns the usage in the catalog's terms. */
  arrange(): CatalogUsage;
}

let openai: FakeOpenAI;
let claude: FakeAnthropic;
let gemini: FakeGemini;
let gw: TestGateway;

function openaiCase(provider: string, vendor: string, model: string, prompt: number, cached: number, completion: number, reasoning: number): Case {
  return {
    provider, vendor, model, reasoning,
    arrange() {
      openai.setBehavior({ kind: "ok", usage: { prompt_tokens: prompt, completion_tokens: completion, cached_tokens: cached, reasoning_tokens: reasoning } });
      return { input_tokens: prompt, cache_read_tokens: cached, output_tokens: completion };
    },
  };
}

function anthropicCase(model: string, input: number, read: number, write: number, output: number): Case {
  return {
    provider: "claude", vendor: "anthropic", model, reasoning: 0,
    arrange() {
      claude.setBehavior({ kind: "ok", usage: { input_tokens: input, cache_read_input_tokens: read, cache_creation_input_tokens: write, output_tokens: output } });
      return { input_tokens: input + read + write, cache_read_tokens: read, cache_write_tokens: write, output_tokens: output };
    },
  };
}

function geminiCase(model: string, prompt: number, cached: number, candidates: number, thoughts: number): Case {
  return {
    provider: "gem", vendor: "google", model, reasoning: thoughts,
    arrange() {
      gemini.setBehavior({ kind: "ok", usage: { promptTokenCount: prompt, cachedContentTokenCount: cached, candidatesTokenCount: candidates, thoughtsTokenCount: thoughts, totalTokenCount: prompt + candidates + thoughts } });
      return { input_tokens: prompt, cache_read_tokens: cached, output_tokens: candidates + thoughts };
    },
  };
}

const CASES: Case[] = [
  openaiCase("oai", "openai", "gpt-4o", 12_345, 4_096, 789, 0),
  openaiCase("oai", "openai", "gpt-4o-mini", 52_001, 32_768, 1_999, 0),
  openaiCase("oai", "openai", "gpt-4-turbo", 3_333, 0, 444, 0),
  openaiCase("oai", "openai", "gpt-4.1", 20_000, 10_240, 3_001, 0),
  openaiCase("oai", "openai", "o3-mini", 1_717, 1_024, 4_242, 3_900), // reasoning tokens are output
  openaiCase("oai", "openai", "o4-mini", 9_876, 2_048, 6_543, 6_000),
  anthropicCase("claude-3-5-haiku-latest", 1_200, 8_000, 2_500, 321),
  anthropicCase("claude-sonnet-4-20250514", 350, 40_000, 0, 1_111),
  anthropicCase("claude-opus-4-1-20250805", 2_000, 0, 12_000, 777),
  anthropicCase("claude-3-haiku-20240307", 4_321, 1_234, 567, 89),
  geminiCase("gemini-2.5-pro", 150_000, 60_000, 2_000, 1_500), // below the 200k tier
  geminiCase("gemini-2.5-pro", 250_001, 100_000, 3_000, 4_000), // above it: every token at the tier price
  geminiCase("gemini-2.5-flash", 8_000, 4_000, 900, 2_100),
  geminiCase("gemini-2.0-flash", 30_303, 10_101, 707, 0),
  geminiCase("gemini-1.5-pro", 130_000, 0, 1_000, 0), // tiered, no cache price
  openaiCase("mis", "mistral", "mistral-large-latest", 5_555, 0, 666, 0),
  openaiCase("mis", "mistral", "mistral-small-latest", 77_777, 0, 8_888, 0),
  openaiCase("tog", "together", "meta-llama/Llama-3.3-70B-Instruct-Turbo", 4_444, 0, 555, 0),
];

/**
 * The recorded cost (`costNanos`, an integer) is the nano-dollar nearest the catalog's exact price:
 * at most half a nano away (the library sums floats, so its figure may sit a hair off the exact
 * decimal). `costUsd` is the same amount as a number.
 */
function expectNearestNano(payload: Record<string, unknown>, catalogUsd: number): void {
  const nanos = payload.costNanos as number;
  expect(Number.isSafeInteger(nanos)).toBe(true);
  expect(Math.abs(nanos - catalogUsd * 1e9)).toBeLessThanOrEqual(0.5 + 1e-3);
  expect(payload.costUsd).toBe(nanos / 1e9);
}

const completed = async (requestId: string): Promise<EventEnvelope> => {
  const e = (await gw.events()).find((x) => x.type === "request.completed" && x.requestId === requestId);
  if (!e) throw new Error(`no request.completed for ${requestId}`);
  return e;
};

async function call(c: Case): Promise<{ requestId: string; status: number }> {
  const r = await post(`${gw.url}/v1/chat/completions`, { model: `${c.provider}/${c.model}`, messages: [{ role: "user", content: "price me" }] });
  return { requestId: r.headers.get("x-request-id") ?? "", status: r.status };
}

beforeAll(async () => {
  openai = startFakeOpenAI();
  claude = startFakeAnthropic();
  gemini = startFakeGemini();
  process.env.FAKE_KEY = "k";
  const file = await writeConfigFile([
    "providers:",
    `  - { id: oai, kind: openai, base_url: "${openai.url}", api_key_env: FAKE_KEY, models: [] }`,
    `  - { id: mis, kind: mistral, base_url: "${openai.url}", api_key_env: FAKE_KEY, models: [] }`,
    `  - { id: tog, kind: together, base_url: "${openai.url}", api_key_env: FAKE_KEY, models: [] }`,
    `  - { id: claude, kind: anthropic, base_url: "${claude.url}", api_key_env: FAKE_KEY, models: [] }`,
    `  - { id: gem, kind: gemini, base_url: "${gemini.url}", api_key_env: FAKE_KEY, models: [] }`,
  ]);
  gw = await startTestGateway({ TOLLGATE_CONFIG: file });
});

afterAll(async () => {
  await gw?.dispose();
  await Promise.all([openai?.close(), claude?.close(), gemini?.close()]);
});

describe("cost accuracy against the bundled catalog", () => {
  test("at least 15 distinct provider/model pairs", () => {
    expect(new Set(CASES.map((c) => `${c.vendor}/${c.model}`)).size).toBeGreaterThanOrEqual(15);
  });

  for (const [i, c] of CASES.entries()) {
    test(`${c.provider} (${c.vendor}) ${c.model} #${i}: recorded cost = the catalog's price for the provider's usage, to the nano-dollar`, async () => {
      const usage = c.arrange();
      const { requestId, status } = await call(c);
      expect(status).toBe(200);
      const expected = calcPrice({ ...usage }, c.model, { providerId: c.vendor });
      expect(expected).not.toBeNull();
      expect(expected!.total_price).toBeGreaterThan(0);
      const p = (await completed(requestId)).payload;
      expectNearestNano(p, expected!.total_price);
      expect(p.priceSource).toBe(`catalog:${CATALOG_VERSION}`);
      expect(p.inputTokens).toBe(usage.input_tokens);
      expect(p.outputTokens).toBe(usage.output_tokens);
      expect(p.cachedTokens).toBe(usage.cache_read_tokens ?? 0);
      expect(p.cacheWriteTokens).toBe(usage.cache_write_tokens ?? 0);
      expect(p.reasoningTokens).toBe(c.reasoning);
      const events = await gw.events();
      expect(events.some((e) => e.type === "price.missing" && e.requestId === requestId)).toBe(false);
    });
  }

  test("streamed answers are priced the same (usage from the final chunk)", async () => {
    const c = CASES[0]!;
    const usage = c.arrange();
    const r = await post(`${gw.url}/v1/chat/completions`, { model: `${c.provider}/${c.model}`, stream: true, messages: [{ role: "user", content: "price me" }] });
    expect(r.status).toBe(200);
    await r.text();
    const p = (await completed(r.headers.get("x-request-id")!)).payload;
    expectNearestNano(p, calcPrice({ ...usage }, c.model, { providerId: c.vendor })!.total_price);
  });

  test("an operator's price overrides the catalog for new requests only; GET /api/v1/prices shows the source", async () => {
    const c = CASES[0]!;
    const before = await (await fetch(`${gw.url}/api/v1/prices?provider=oai&model=gpt-4o`, { headers: adminHeaders() })).json() as { data: Array<{ input: number; source: { kind: string; label: string } }> };
    expect(before.data[0]).toMatchObject({ input: 2.5, output: 10, cached_input: 1.25, source: { kind: "catalog", label: `catalog:${CATALOG_VERSION}`, catalog_model: "gpt-4o" } });
    const usage = c.arrange();
    const old = await call(c);
    const created = await post(`${gw.url}/api/v1/prices`, { id: "oai/gpt-4o", input: 5, output: 20, cached_input: 1 }, adminHeaders());
    expect(created.status).toBe(201);
    const after = await (await fetch(`${gw.url}/api/v1/prices?provider=oai&model=gpt-4o`, { headers: adminHeaders() })).json() as { data: Array<Record<string, unknown>> };
    expect(after.data[0]).toMatchObject({ input: 5, output: 20, cached_input: 1, cache_write: null, source: { kind: "config", label: "config:price/oai/gpt-4o@v1", version: 1 } });
    const fresh = await call(c);
    const oldP = (await completed(old.requestId)).payload;
    const newP = (await completed(fresh.requestId)).payload;
    expectNearestNano(oldP, calcPrice({ ...usage }, c.model, { providerId: c.vendor })!.total_price);
    const cached = usage.cache_read_tokens ?? 0;
    expect(newP.costNanos).toBe(((usage.input_tokens - cached) * 5 + cached * 1 + usage.output_tokens * 20) * 1000);
    expect(newP.priceSource).toBe("config:price/oai/gpt-4o@v1");
    // The earlier request's record is a fact: unchanged.
    expect((await completed(old.requestId)).payload.costUsd).toBe(oldP.costUsd);
  });

  test("price.missing only when neither a price entity nor the catalog knows the model; unknown pairs are 404 on /api/v1/prices", async () => {
    openai.setBehavior({ kind: "ok" });
    const r = await post(`${gw.url}/v1/chat/completions`, { model: "oai/my-finetune-nobody-knows", messages: [{ role: "user", content: "hi" }] });
    expect(r.status).toBe(200);
    const id = r.headers.get("x-request-id")!;
    const events = await gw.events();
    expect(events.some((e) => e.type === "price.missing" && e.requestId === id)).toBe(true);
    expect((await completed(id)).payload).toMatchObject({ costUsd: 0, priceSource: null });
    const p = await fetch(`${gw.url}/api/v1/prices?provider=oai&model=my-finetune-nobody-knows`, { headers: adminHeaders() });
    expect(p.status).toBe(404);
    expect(((await p.json()) as { error: { code: string } }).error.code).toBe("price_not_found");
    expect((await fetch(`${gw.url}/api/v1/prices?provider=nope&model=x`, { headers: adminHeaders() })).status).toBe(404);
  });
});
