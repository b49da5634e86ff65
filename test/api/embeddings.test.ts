/** POST /v1/embeddings through the pipeline: the OpenAI SDK, usage recorded, plugins see the inputs. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { definePlugin } from "../../src/pipeline/plugin.ts";
import { echoVector } from "../../src/providers/echo.ts";
import { countTextTokens } from "../../src/providers/tokens.ts";
import { post, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

let gw: TestGateway;
let client: OpenAI;
// An input plugin that redacts e-mail addresses: embeddings pass through it like chat does.
const redact = definePlugin({
  name: "redact-email",
  version: "1.0.0",
  phases: {
    inspect(ctx) {
      for (const m of ctx.request.messages) if (typeof m.content === "string") m.content = m.content.replace(/\S+@\S+/g, "[EMAIL]");
    },
  },
});

beforeAll(async () => {
  gw = await startTestGateway({}, { plugins: [redact] });
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "x", maxRetries: 0 });
});
afterAll(() => gw.dispose());

describe("POST /v1/embeddings", () => {
  test("the OpenAI SDK gets one vector per input, of what reached the provider (after plugins)", async () => {
    const res = await client.embeddings.create({ model: "echo", input: ["hello world", "mail me at a@b.example"] });
    expect(res.data).toHaveLength(2);
    expect(res.data[0]!.embedding).toEqual(echoVector("hello world", 8));
    expect(res.data[1]!.embedding).toEqual(echoVector("mail me at [EMAIL]", 8));
    expect(res.usage.prompt_tokens).toBe(countTextTokens("hello world") + countTextTokens("mail me at [EMAIL]"));
  });

  test("usage is recorded in request.completed with the embeddings operation", async () => {
    const r = await post(`${gw.url}/v1/embeddings`, { model: "echo", input: "one input", dimensions: 4 });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { data: Array<{ embedding: number[] }> };
    expect(body.data[0]!.embedding).toHaveLength(4);
    const done = (await gw.events()).find((e) => e.requestId === r.headers.get("x-request-id") && e.type === "request.completed");
    expect(done?.payload).toMatchObject({ status: "ok", endpoint: "embeddings", operation: "embeddings", inputTokens: countTextTokens("one input"), outputTokens: 0, provider: "echo" });
  });

  test("bad input: missing input → 400 invalid_request; unknown model → 404", async () => {
    const a = await post(`${gw.url}/v1/embeddings`, { model: "echo" });
    expect(a.status).toBe(400);
    expect(((await a.json()) as { error: { code: string; param: string } }).error).toMatchObject({ code: "invalid_request", param: "input" });
    const b = await post(`${gw.url}/v1/embeddings`, { model: "nope", input: "x" });
    expect(b.status).toBe(404);
  });
});
