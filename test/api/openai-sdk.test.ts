/** The official `openai` SDK, pointed at the gateway, gets completions from the echo provider. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { countPromptTokens, countTextTokens } from "../../src/providers/tokens.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

let gw: TestGateway;
let client: OpenAI;

beforeAll(async () => {
  gw = await startTestGateway();
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "unused-in-first-run-mode", maxRetries: 0 });
});
afterAll(() => gw.dispose());

const QUESTION = "Ünïcödé ✓ and emoji 🦊 — what would the provider see?";
const messages = [
  { role: "system" as const, content: "You are terse." },
  { role: "user" as const, content: QUESTION },
];

describe("OpenAI SDK against the gateway (echo provider)", () => {
  test("chat.completions.create returns the last user message with real usage", async () => {
    const res = await client.chat.completions.create({ model: "echo", messages });
    expect(res.object).toBe("chat.completion");
    expect(res.choices[0]!.message.content).toBe(QUESTION);
    expect(res.choices[0]!.finish_reason).toBe("stop");
    expect(res.usage).toEqual({
      prompt_tokens: countPromptTokens(messages),
      completion_tokens: countTextTokens(QUESTION),
      total_tokens: countPromptTokens(messages) + countTextTokens(QUESTION),
    });
  });

  test("a streamed completion arrives in several chunks that join to the answer, with usage at the end", async () => {
    const stream = await client.chat.completions.create({ model: "echo", messages, stream: true, stream_options: { include_usage: true } });
    const pieces: string[] = [];
    let usage: OpenAI.CompletionUsage | null | undefined;
    let finish: string | null = null;
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        if (c.delta.content) pieces.push(c.delta.content);
        if (c.finish_reason) finish = c.finish_reason;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(pieces.length).toBeGreaterThan(3);
    expect(pieces.join("")).toBe(QUESTION);
    expect(finish).toBe("stop");
    expect(usage?.completion_tokens).toBe(countTextTokens(QUESTION));
    expect(usage?.prompt_tokens).toBe(countPromptTokens(messages));
  });

  test("without include_usage no usage chunk is sent", async () => {
    const stream = await client.chat.completions.create({ model: "echo", messages, stream: true });
    let sawUsage = false;
    for await (const chunk of stream) if (chunk.usage) sawUsage = true;
    expect(sawUsage).toBe(false);
  });

  test("models.list includes echo", async () => {
    const ids: string[] = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids).toContain("echo");
  });

  test("SDK errors carry the gateway's status and code", async () => {
    const err = (await client.chat.completions.create({ model: "no-such-model", messages }).catch((e) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.status).toBe(404);
    expect(err.code).toBe("model_not_found");
  });

  test("each request is recorded: request.received and request.completed with tokens and provider", async () => {
    const res = await client.chat.completions.create({ model: "echo", messages: [{ role: "user", content: "record me" }] }).withResponse();
    const requestId = res.response.headers.get("x-request-id")!;
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    const events = (await gw.events()).filter((e) => e.requestId === requestId);
    expect(events.map((e) => e.type)).toEqual(["request.received", "route.selected", "provider.attempt.succeeded", "request.completed"]);
    const done = events.at(-1)!;
    expect(done.tenant).toBe("default");
    expect(done.payload).toMatchObject({
      status: "ok",
      httpStatus: 200,
      provider: "echo",
      model: "echo",
      inputTokens: countPromptTokens([{ role: "user", content: "record me" }]),
      outputTokens: countTextTokens("record me"),
      errorCode: null,
    });
    expect(typeof done.payload.latencyMs).toBe("number");
  });
});
