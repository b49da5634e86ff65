/**
 * Clients built for one vendor, answered by another: the Anthropic SDK streams from a Gemini
 * upstream and the OpenAI SDK streams from an Anthropic upstream (both fakes speaking the exact
 * wire formats), tool calls included; embeddings go to Gemini.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { type FakeAnthropic, startFakeAnthropic } from "../fakes/anthropic-upstream.ts";
import { type FakeGemini, startFakeGemini } from "../fakes/gemini-upstream.ts";
import { startTestGateway, type TestGateway, writeConfigFile } from "../helpers/gateway.ts";

let gemini: FakeGemini;
let claude: FakeAnthropic;
let gw: TestGateway;

beforeAll(async () => {
  gemini = startFakeGemini({ apiKey: "g-key" });
  claude = startFakeAnthropic({ apiKey: "a-key" });
  process.env.FAKE_GEMINI_KEY = "g-key";
  process.env.FAKE_ANTHROPIC_KEY = "a-key";
  const file = await writeConfigFile([
      "providers:",
      `  - { id: google, kind: gemini, base_url: "${gemini.url}", api_key_env: FAKE_GEMINI_KEY, models: [gemini-2.5-flash, text-embedding-004] }`,
      `  - { id: claude, kind: anthropic, base_url: "${claude.url}", api_key_env: FAKE_ANTHROPIC_KEY, models: [claude-sonnet-4-5] }`,
      "models:",
      "  - { alias: fast, provider: google, model: gemini-2.5-flash }",
      "  - { alias: smart, provider: claude, model: claude-sonnet-4-5 }",
    ]);
  gw = await startTestGateway({ TOLLGATE_CONFIG: file });
});
afterAll(async () => {
  await gw.dispose();
  await gemini.close();
  await claude.close();
});

describe("cross-provider", () => {
  test("Anthropic SDK → Gemini upstream, streamed", async () => {
    gemini.setBehavior({ kind: "ok", text: "Bonjour from Gemini, via the Anthropic API", chunkSize: 6 });
    const client = new Anthropic({ baseURL: gw.url, apiKey: "client-key", maxRetries: 0 });
    const stream = client.messages.stream({ model: "fast", max_tokens: 200, system: "Be brief.", messages: [{ role: "user", content: "Say hello" }] });
    const deltas: string[] = [];
    stream.on("text", (t) => deltas.push(t));
    const final = await stream.finalMessage();
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join("")).toBe("Bonjour from Gemini, via the Anthropic API");
    expect(final.stop_reason).toBe("end_turn");
    expect(final.usage.output_tokens).toBeGreaterThan(0);
    const seen = gemini.requests.at(-1)!;
    expect(seen.path).toContain("/models/gemini-2.5-flash:streamGenerateContent");
    expect(seen.headers["x-goog-api-key"]).toBe("g-key");
    expect(seen.body.systemInstruction).toEqual({ parts: [{ text: "Be brief." }] });
  });

  test("OpenAI SDK → Anthropic upstream, streamed, with a tool call reassembled exactly", async () => {
    claude.setBehavior({ kind: "ok", toolUse: { name: "get_weather", input: { city: "Paris", unit: "celsius" }, fragmentSize: 4 } });
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "client-key", maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: "smart",
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: "user", content: "Weather in Paris?" }],
      tools: [{ type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } }],
    });
    let name = "";
    let args = "";
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        for (const tc of c.delta.tool_calls ?? []) {
          name += tc.function?.name ?? "";
          args += tc.function?.arguments ?? "";
        }
        if (c.finish_reason) finish = c.finish_reason;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(name).toBe("get_weather");
    expect(JSON.parse(args)).toEqual({ city: "Paris", unit: "celsius" });
    expect(finish).toBe("tool_calls");
    expect(usage!.completion_tokens).toBeGreaterThan(0);
    const seen = claude.requests.at(-1)!;
    expect(seen.headers["x-api-key"]).toBe("a-key");
    expect(seen.body.tools[0]).toMatchObject({ name: "get_weather", input_schema: { type: "object" } });
  });

  test("embeddings through the Gemini provider", async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "client-key", maxRetries: 0 });
    const res = await client.embeddings.create({ model: "google/text-embedding-004", input: ["alpha", "beta"] });
    expect(res.data).toHaveLength(2);
    expect(res.data[0]!.embedding.length).toBeGreaterThan(0);
    expect(gemini.requests.at(-1)!.path).toContain(":batchEmbedContents");
  });

  test("providers without embeddings say so with a stable code", async () => {
    const r = await fetch(`${gw.url}/v1/embeddings`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "smart", input: "x" }) });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe("embeddings_not_supported");
  });
});
