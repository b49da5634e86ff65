/**
 * The official `openai` SDK (the lockfile's version, unchanged) against `POST /v1/responses`
 * over three targets: echo, a fake OpenAI upstream speaking Responses (native pass-through,
 * stream split every 7 bytes) and the fake Anthropic upstream (translation through the
 * canonical chat model). Every Responses body sent upstream validates against OpenAI's
 * published `CreateResponse` schema, every streamed event against `ResponseStreamEvent`.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { type FakeAnthropic, startFakeAnthropic } from "../fakes/anthropic-upstream.ts";
import { type FakeOpenAIResponses, startFakeOpenAIResponses } from "../fakes/openai-responses-upstream.ts";
import { startTestGateway, type TestGateway, waitFor, writeConfigFile } from "../helpers/gateway.ts";
import { openaiSpecValidators, schemaErrors } from "../helpers/openai-spec.ts";

let gw: TestGateway;
let client: OpenAI;
let oai: FakeOpenAIResponses;
let ant: FakeAnthropic;
const spec = openaiSpecValidators();

beforeAll(async () => {
  oai = startFakeOpenAIResponses();
  ant = startFakeAnthropic({ apiKey: "sk-ant-test" });
  process.env.RESP_TEST_OAI_KEY = "sk-oai-test";
  process.env.RESP_TEST_ANT_KEY = "sk-ant-test";
  const file = await writeConfigFile([
    "providers:",
    "  - id: oai",
    "    kind: openai",
    `    base_url: ${oai.url}`,
    "    api_key_env: RESP_TEST_OAI_KEY",
    "    models: [gpt-up]",
    "  - id: ant",
    "    kind: anthropic",
    `    base_url: ${ant.url}`,
    "    api_key_env: RESP_TEST_ANT_KEY",
    "    models: [claude-up]",
  ]);
  gw = await startTestGateway({ TOLLGATE_CONFIG: file });
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "unused-in-first-run-mode", maxRetries: 0 });
});
afterAll(async () => {
  await gw.dispose();
  await oai.close();
  await ant.close();
});
beforeEach(() => {
  oai.reset();
  ant.reset();
});

const TEXT = "Ünïcödé ✓ and emoji 🦊 — split me anywhere";
const ANT_TEXT = "Bonjour ✓ from 🦊 Anthropic";
// Streams: the fake OpenAI Responses upstream writes 7-byte pieces, the fake Anthropic 5-byte pieces.

type Target = { name: string; model: string; expected: (input: string) => string; setText?: (t: string) => void };
const targets: Target[] = [
  { name: "echo", model: "echo", expected: (input) => input },
  { name: "fake OpenAI (Responses pass-through)", model: "gpt-up", expected: (input) => input },
  { name: "fake Anthropic (translation)", model: "claude-up", expected: () => ANT_TEXT, setText: (t) => ant.setBehavior({ kind: "ok", content: t, chunkSize: 3, splitBytes: 5 }) },
];

/** Every upstream Responses body validates against OpenAI's CreateResponse schema. */
function expectUpstreamValid() {
  for (const r of oai.requests) expect(schemaErrors(spec.createResponse, r.body)).toBe("");
}

/** Raw SSE from the gateway (what any client receives), each event validated. */
async function rawEvents(body: Record<string, unknown>): Promise<any[]> {
  const res = await fetch(`${gw.url}/v1/responses`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...body, stream: true }) });
  expect(res.status).toBe(200);
  const text = await res.text();
  const events = text.split("\n\n").filter((b) => b.includes("data: ")).map((b) => JSON.parse(b.slice(b.indexOf("data: ") + 6)));
  events.forEach((e, i) => {
    expect(e.sequence_number).toBe(i);
    expect(schemaErrors(spec.streamEvent, e)).toBe("");
  });
  return events;
}

for (const t of targets) {
  describe(`openai SDK responses over ${t.name}`, () => {
    beforeEach(() => t.setText?.(ANT_TEXT));

    test("responses.create with text: output_text exact, usage, stored and readable by id", async () => {
      const r = await client.responses.create({ model: t.model, input: TEXT, instructions: "Be terse." });
      expect(r.object).toBe("response");
      expect(r.status).toBe("completed");
      expect(r.output_text).toBe(t.expected(TEXT));
      expect(r.usage!.input_tokens).toBeGreaterThan(0);
      expect(r.usage!.output_tokens).toBeGreaterThan(0);
      expect(schemaErrors(spec.response, JSON.parse(JSON.stringify(r)))).toBe("");
      const again = await client.responses.retrieve(r.id);
      expect(again.output_text).toBe(t.expected(TEXT));
      expectUpstreamValid();
      if (t.model === "gpt-up") expect(oai.requests[0]!.body).toMatchObject({ model: "gpt-up", instructions: "Be terse.", store: false, stream: false });
      if (t.model === "claude-up") expect(ant.requests[0]!.body.system).toContain("Be terse.");
    });

    test("responses.stream with text: deltas join to the exact text; every event valid with sequence_number", async () => {
      const stream = client.responses.stream({ model: t.model, input: TEXT });
      const deltas: string[] = [];
      stream.on("response.output_text.delta", (e) => deltas.push(e.delta));
      const final = await stream.finalResponse();
      expect(deltas.join("")).toBe(t.expected(TEXT));
      expect(final.output_text).toBe(t.expected(TEXT));
      expect(final.status).toBe("completed");
      const events = await rawEvents({ model: t.model, input: TEXT });
      expect(events.map((e) => e.type)).toEqual([
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        ...events.filter((e) => e.type === "response.output_text.delta").map(() => "response.output_text.delta"),
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
      ]);
      expect(events.at(-1).response.usage.output_tokens).toBeGreaterThan(0);
      expectUpstreamValid();
    });

    test("previous_response_id across three turns: every turn sees the whole conversation", async () => {
      const one = await client.responses.create({ model: t.model, input: "turn one" });
      const two = await client.responses.create({ model: t.model, input: "turn two", previous_response_id: one.id });
      const three = await client.responses.create({ model: t.model, input: "turn three", previous_response_id: two.id });
      expect(three.previous_response_id).toBe(two.id);
      expect(three.output_text).toBe(t.expected("turn three"));
      const items = await client.responses.inputItems.list(three.id, { order: "asc" });
      const texts = items.data.map((i: any) => i.content?.map((c: any) => c.text).join(""));
      expect(texts).toEqual(["turn one", t.expected("turn one"), "turn two", t.expected("turn two"), "turn three"]);
      if (t.model === "gpt-up") {
        expect(oai.requests[2]!.body.previous_response_id).toBeUndefined();
        expect(oai.requests[2]!.body.input.map((i: any) => i.content)).toEqual(["turn one", "turn one", "turn two", "turn two", "turn three"]);
      }
      if (t.model === "claude-up") expect(ant.requests[2]!.body.messages.map((m: any) => m.role)).toEqual(["user", "assistant", "user", "assistant", "user"]);
      expectUpstreamValid();
    });

    test("json_schema output", async () => {
      const json = '{"city":"Paris","temp_c":21}';
      t.setText?.(json);
      const r = await client.responses.create({
        model: t.model,
        input: json,
        text: { format: { type: "json_schema", name: "weather", strict: true, schema: { type: "object", properties: { city: { type: "string" }, temp_c: { type: "number" } }, required: ["city", "temp_c"], additionalProperties: false } } },
      });
      expect(JSON.parse(r.output_text)).toEqual({ city: "Paris", temp_c: 21 });
      if (t.model === "gpt-up") expect(oai.requests[0]!.body.text.format).toMatchObject({ type: "json_schema", name: "weather", strict: true });
      if (t.model === "claude-up") expect(ant.requests[0]!.body.system).toContain("JSON");
      expectUpstreamValid();
    });

    test("image input", async () => {
      const image = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
      const r = await client.responses.create({
        model: t.model,
        input: [{ role: "user", content: [{ type: "input_text", text: "What is this?" }, { type: "input_image", image_url: image, detail: "auto" }] }],
      });
      expect(r.output_text).toBe(t.expected("What is this?"));
      if (t.model === "gpt-up") expect(oai.requests[0]!.body.input[0].content[1]).toEqual({ type: "input_image", image_url: image, detail: "auto" });
      if (t.model === "claude-up") expect(ant.requests[0]!.body.messages[0].content[1]).toMatchObject({ type: "image", source: { type: "base64", media_type: "image/png" } });
      expectUpstreamValid();
    });

    test("function tool round trip: the call, then function_call_output in the next request", async () => {
      const tools = [{ type: "function" as const, name: "get_weather", description: "Weather", strict: true, parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false } }];
      if (t.model === "gpt-up") oai.setBehavior({ kind: "ok", toolCall: { name: "get_weather", arguments: '{"city":"Paris"}' } });
      if (t.model === "claude-up") ant.setBehavior({ kind: "ok", toolUse: { id: "toolu_w1", name: "get_weather", input: { city: "Paris" }, fragmentSize: 3 } });
      const first = await client.responses.create({ model: t.model, input: "Weather in Paris?", tools });
      const call = first.output.find((i) => i.type === "function_call");
      // echo never calls tools: the client makes up the call, as a replayed conversation would
      const callItem = call ?? { type: "function_call" as const, call_id: "call_local", name: "get_weather", arguments: '{"city":"Paris"}' };
      if (t.model !== "echo") {
        expect(call).toMatchObject({ type: "function_call", name: "get_weather" });
        expect(JSON.parse((call as any).arguments)).toEqual({ city: "Paris" });
      }
      if (t.model === "claude-up") ant.setBehavior({ kind: "ok", content: "It is 21°C." });
      const second = await client.responses.create({
        model: t.model,
        tools,
        input: [
          { role: "user", content: "Weather in Paris?" },
          { type: "function_call", call_id: (callItem as any).call_id, name: "get_weather", arguments: (callItem as any).arguments },
          { type: "function_call_output", call_id: (callItem as any).call_id, output: "21°C" },
        ],
      });
      if (t.model === "gpt-up") expect(second.output_text).toBe("result: 21°C");
      if (t.model === "claude-up") {
        expect(second.output_text).toBe("It is 21°C.");
        const sent = ant.requests.at(-1)!.body.messages;
        expect(sent[1].content[0]).toMatchObject({ type: "tool_use", name: "get_weather", input: { city: "Paris" } });
        expect(sent[2].content[0]).toMatchObject({ type: "tool_result", content: "21°C" });
      }
      if (t.model === "echo") expect(second.output_text).toBe("Weather in Paris?");
      expectUpstreamValid();
    });
  });
}

describe("native pass-through and translation limits", () => {
  test("unknown fields pass through to a Responses provider; a target that cannot honour one answers 400 with param", async () => {
    const body = { model: "gpt-up", input: "hi", top_logprobs: 2, prompt_cache_key: "k1", tools: [{ type: "web_search" }] };
    const ok = await fetch(`${gw.url}/v1/responses`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    expect(ok.status).toBe(200);
    expect(oai.requests[0]!.body).toMatchObject({ top_logprobs: 2, prompt_cache_key: "k1", tools: [{ type: "web_search" }] });
    expectUpstreamValid();
    for (const model of ["claude-up", "echo"]) {
      const res = await fetch(`${gw.url}/v1/responses`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...body, model }) });
      expect(res.status).toBe(400);
      expect(((await res.json()) as any).error).toMatchObject({ code: "invalid_request", param: "tools[0].type" });
      const { tools: _t, ...noTools } = body;
      const res2 = await fetch(`${gw.url}/v1/responses`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...noTools, model }) });
      expect(res2.status).toBe(400);
      expect(((await res2.json()) as any).error).toMatchObject({ code: "invalid_request", param: "top_logprobs" });
    }
    const effort = await fetch(`${gw.url}/v1/responses`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "claude-up", input: "hi", reasoning: { effort: "high" } }) });
    expect(effort.status).toBe(400);
    expect(((await effort.json()) as any).error.param).toBe("reasoning.effort");
  });

  test("the native stream's usage keeps cached and reasoning tokens, in the response and in request.completed", async () => {
    oai.setBehavior({ kind: "ok", usage: { cached: 3, reasoning: 2 }, splitBytes: 5 });
    const events = await rawEvents({ model: "gpt-up", input: TEXT });
    expect(events.filter((e) => e.type === "response.output_text.delta").map((e) => e.delta).join("")).toBe(TEXT);
    const usage = events.at(-1).response.usage;
    expect(usage.input_tokens_details.cached_tokens).toBe(3);
    expect(usage.output_tokens_details.reasoning_tokens).toBe(2);
    const done = await waitFor(async () => (await gw.events()).findLast((e) => e.type === "request.completed" && (e.payload as any).endpoint === "responses" && (e.payload as any).stream === true), 5000, "request.completed");
    expect(done.payload).toMatchObject({ status: "ok", provider: "oai", cachedTokens: 3, reasoningTokens: 2 });
  });

  test("a failure mid-stream ends the client's stream with a valid response.failed carrying the stable code", async () => {
    oai.setBehavior({ kind: "stream-fail" });
    const events = await rawEvents({ model: "gpt-up", input: "x" });
    expect(events.map((e) => e.type)).toEqual(["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added", "response.output_text.delta", "response.failed"]);
    expect(events.at(-1).response.status).toBe("failed");
    expect(events.at(-1).response.error.message).toContain("upstream_error");
    const stream = client.responses.stream({ model: "gpt-up", input: "x" });
    const final = await stream.finalResponse(); // the SDK hands the failed Response over, status and error set
    expect(final.status).toBe("failed");
    expect(final.error?.message).toContain("upstream_error");
  });

  test("an unknown previous_response_id, input item type or malformed item is a 4xx with param", async () => {
    const post = (b: unknown) => fetch(`${gw.url}/v1/responses`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(b) });
    const missing = await post({ model: "echo", input: "x", previous_response_id: "resp_nope" });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as any).error).toMatchObject({ code: "response_not_found", param: "previous_response_id" });
    const weird = await post({ model: "echo", input: [{ type: "item_reference", id: "x" }] });
    expect(weird.status).toBe(400);
    expect(((await weird.json()) as any).error.param).toBe("input[0].type");
    const file = await post({ model: "echo", input: [{ role: "user", content: [{ type: "input_image", file_id: "file_1" }] }] });
    expect(file.status).toBe(400);
    expect(((await file.json()) as any).error.param).toBe("input[0].content[0].image_url");
  });
});
