/**
 * Guardrails end to end through the gateway with a fake OpenAI upstream: values split across
 * SSE chunks (redact never leaks them, restore gives back the exact original), tool-call
 * arguments, the restore round trip (the upstream never sees the value, the client does),
 * blocks on input and output, and fail-closed on a scanner failure.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { DETECTORS } from "../../src/guardrails/scan.ts";
import type { Ctx } from "../../src/pipeline/context.ts";
import { definePlugin } from "../../src/pipeline/plugin.ts";
import type { GuardrailsState } from "../../src/plugins/guardrails.ts";
import { type FakeOpenAI, startFakeOpenAI } from "../fakes/openai-upstream.ts";
import { adminHeaders, post, startTestGateway, type TestGateway, writeConfigFile } from "../helpers/gateway.ts";

const EMAIL = "jane.doe@example.com";
const CARD = "4111 1111 1111 1111";

let fake: FakeOpenAI;
let gw: TestGateway;
/** What a cache would store at onEnd: the upstream answer from ctx.state["guardrails"]. */
const seenAtEnd: Array<{ restore: boolean; upstream: string }> = [];
const cacheProbe = definePlugin({
  name: "cache-probe",
  version: "1.0.0",
  phases: {
    onEnd(ctx: Ctx) {
      const g = ctx.state["guardrails"] as GuardrailsState | undefined;
      if (!g) return;
      const upstream = g.upstreamChunks ? g.upstreamChunks.map((c) => c.choices[0]?.delta.content ?? "").join("") : JSON.stringify(g.upstreamAnswer ?? null);
      seenAtEnd.push({ restore: g.restore, upstream });
    },
  },
});

beforeAll(async () => {
  fake = startFakeOpenAI();
  const file = await writeConfigFile(["providers:", "  - id: local", "    kind: openai", `    base_url: ${fake.url}`, "    models: [small-model]"]);
  gw = await startTestGateway({ TOLLGATE_CONFIG: file }, { plugins: [cacheProbe] });
});
afterAll(async () => {
  await gw.dispose();
  await fake.close();
});
beforeEach(() => fake.reset());

const setGuardrails = async (body: unknown) => {
  const res = await fetch(`${gw.url}/api/v1/admin/guardrails`, { method: "PUT", headers: adminHeaders(), body: JSON.stringify(body) });
  expect(res.status).toBe(200);
};

interface Sse { content: string; pieces: string[]; args: string; errors: Array<{ code: string }>; raw: string }
async function streamChat(messages: unknown[]): Promise<Sse> {
  const res = await post(`${gw.url}/v1/chat/completions`, { model: "local/small-model", stream: true, messages });
  expect(res.status).toBe(200);
  const raw = await res.text();
  const out: Sse = { content: "", pieces: [], args: "", errors: [], raw };
  for (const line of raw.split("\n")) {
    if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
    const ev = JSON.parse(line.slice(6));
    if (ev.error) out.errors.push(ev.error);
    for (const c of ev.choices ?? []) {
      if (c.delta?.content) (out.content += c.delta.content, out.pieces.push(c.delta.content));
      for (const tc of c.delta?.tool_calls ?? []) out.args += tc.function?.arguments ?? "";
    }
  }
  return out;
}

describe("streamed output", () => {
  test("redact: a card, an e-mail and a placeholder split across three chunks never reach the client", async () => {
    await setGuardrails({ pii: { action: "redact" } });
    fake.setBehavior({ kind: "ok", contentChunks: ["Card 4111 1111 ", "1111 1111, mail jane.d", "oe@example.com, ref [EMA", "IL_7] ok."] });
    const s = await streamChat([{ role: "user", content: "hi" }]);
    expect(s.content).toBe("Card [CARD_1], mail [EMAIL_1], ref [EMAIL_7] ok.");
    expect(s.raw).not.toContain("4111");
    expect(s.raw).not.toContain("jane.d");
    // Hold-back is short: text before a value is forwarded before the value completes.
    expect(s.pieces[0]).toBe("Card ");
  });

  test("restore: placeholders split across chunks come back as the exact original text", async () => {
    await setGuardrails({ pii: { action: "restore" } });
    fake.setBehavior({ kind: "ok", contentChunks: ["Writing to [EMA", "IL_1] about card [CARD", "_1] now."] });
    const s = await streamChat([{ role: "user", content: `Email ${EMAIL} about my card ${CARD}.` }]);
    expect(JSON.stringify(fake.requests[0]!.body)).not.toContain(EMAIL);
    expect(JSON.stringify(fake.requests[0]!.body)).not.toContain("4111");
    expect(fake.requests[0]!.body.messages[0].content).toBe("Email [EMAIL_1] about my card [CARD_1].");
    expect(s.content).toBe(`Writing to ${EMAIL} about card ${CARD} now.`);
    // What a cache may store keeps the placeholders.
    expect(seenAtEnd.at(-1)).toEqual({ restore: true, upstream: "Writing to [EMAIL_1] about card [CARD_1] now." });
  });

  test("restore: tool-call arguments split across chunks are restored (JSON stays valid)", async () => {
    await setGuardrails({ pii: { action: "restore" } });
    const args = '{"to":"[EMAIL_1]","card":"[CARD_1]"}';
    fake.setBehavior({ kind: "ok", toolCalls: [{ id: "call_1", name: "send_mail", arguments: args, argumentChunks: ['{"to":"[EM', 'AIL_1]","card":"[CA', 'RD_1]"}'] }] });
    const s = await streamChat([{ role: "user", content: `Mail ${EMAIL}, card ${CARD}` }]);
    expect(JSON.parse(s.args)).toEqual({ to: EMAIL, card: CARD });
  });

  test("redact: an e-mail split across tool-call argument chunks is redacted", async () => {
    await setGuardrails({ pii: { action: "redact" } });
    fake.setBehavior({ kind: "ok", toolCalls: [{ id: "call_1", name: "send_mail", arguments: `{"to":"${EMAIL}"}`, argumentChunks: ['{"to":"jane', ".doe@exa", 'mple.com"}'] }] });
    const s = await streamChat([{ role: "user", content: "hi" }]);
    expect(JSON.parse(s.args)).toEqual({ to: "[EMAIL_1]" });
    expect(s.raw).not.toContain("jane");
  });

  test("block on output: the stream ends with an error event pii_blocked", async () => {
    await setGuardrails({ pii: { action: "off", actions: { card: "block" } } });
    fake.setBehavior({ kind: "ok", contentChunks: ["Your card is 4111 ", "1111 1111 1111 ok"] });
    const s = await streamChat([{ role: "user", content: "hi" }]);
    expect(s.errors.map((e) => e.code)).toEqual(["pii_blocked"]);
    expect(s.raw).not.toContain("4111");
  });
});

describe("whole answers and other endpoints", () => {
  test("restore round trip: the upstream never sees the e-mail, the client does", async () => {
    await setGuardrails({ pii: { action: "restore" } });
    fake.setBehavior({ kind: "ok", content: "I replied to [EMAIL_1]." });
    const res = await post(`${gw.url}/v1/chat/completions`, { model: "local/small-model", messages: [{ role: "system", content: `Support address: ${EMAIL}` }, { role: "user", content: `Please answer ${EMAIL}` }] });
    const body = (await res.json()) as { choices: Array<{ message: { content: string } }> };
    expect(res.status).toBe(200);
    expect(JSON.stringify(fake.requests[0]!.body)).not.toContain(EMAIL);
    // The same value has the same placeholder across the system prompt and the user message.
    expect(fake.requests[0]!.body.messages.map((m: { content: string }) => m.content)).toEqual(["Support address: [EMAIL_1]", "Please answer [EMAIL_1]"]);
    expect(body.choices[0]!.message.content).toBe(`I replied to ${EMAIL}.`);
    expect(seenAtEnd.at(-1)!.restore).toBe(true);
    expect(seenAtEnd.at(-1)!.upstream).toContain("I replied to [EMAIL_1].");
    expect(seenAtEnd.at(-1)!.upstream).not.toContain(EMAIL);
  });

  test("/v1/messages: tool_use input and tool_result content are redacted before the upstream", async () => {
    await setGuardrails({ pii: { action: "restore" } });
    fake.setBehavior({ kind: "ok", content: "Done for [EMAIL_1]." });
    const res = await post(`${gw.url}/v1/messages`, {
      model: "local/small-model",
      max_tokens: 100,
      messages: [
        { role: "user", content: `Look up ${EMAIL}` },
        { role: "assistant", content: [{ type: "tool_use", id: "tu_1", name: "lookup", input: { email: EMAIL } }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "tu_1", content: `Found ${EMAIL}, phone +84 912 345 678` }] },
      ],
    }, { "anthropic-version": "2023-06-01" });
    expect(res.status).toBe(200);
    const sent = JSON.stringify(fake.requests[0]!.body);
    expect(sent).not.toContain(EMAIL);
    expect(sent).not.toContain("912 345 678");
    expect(sent).toContain("[EMAIL_1]");
    const body = (await res.json()) as { content: Array<{ type: string; text: string }> };
    expect(body.content[0]!.text).toBe(`Done for ${EMAIL}.`);
  });

  test("/v1/messages stream: placeholders split across chunks are restored in Anthropic text deltas; block ends with an error event", async () => {
    await setGuardrails({ pii: { action: "restore", actions: { ssn: "block" } } });
    fake.setBehavior({ kind: "ok", contentChunks: ["Sent to [EMA", "IL_1", "] just now."] });
    const res = await post(`${gw.url}/v1/messages`, { model: "local/small-model", max_tokens: 100, stream: true, messages: [{ role: "user", content: `Mail ${EMAIL}` }] }, { "anthropic-version": "2023-06-01" });
    const raw = await res.text();
    const text = raw.split("\n").filter((l) => l.startsWith("data: ")).map((l) => JSON.parse(l.slice(6))).filter((e) => e.type === "content_block_delta").map((e) => e.delta.text ?? "").join("");
    expect(text).toBe(`Sent to ${EMAIL} just now.`);
    fake.setBehavior({ kind: "ok", contentChunks: ["His SSN is 123-", "45-6789."] });
    const blocked = await (await post(`${gw.url}/v1/messages`, { model: "local/small-model", max_tokens: 100, stream: true, messages: [{ role: "user", content: "hi" }] }, { "anthropic-version": "2023-06-01" })).text();
    expect(blocked).toContain("event: error");
    expect(blocked).toContain("pii_blocked");
    expect(blocked).not.toContain("6789");
  });

  test("/v1/embeddings inputs and /api/v1/generate prompts are redacted", async () => {
    await setGuardrails({ pii: { action: "redact" } });
    const emb = await post(`${gw.url}/v1/embeddings`, { model: "local/small-model", input: [`mail ${EMAIL}`, "plain"] });
    expect(emb.status).toBe(200);
    expect(fake.requests.at(-1)!.body.input).toEqual(["mail [EMAIL_1]", "plain"]);
    const gen = await post(`${gw.url}/api/v1/generate`, { model: "echo", prompt: `my card ${CARD}` });
    expect(gen.status).toBe(200);
    expect(JSON.stringify(await gen.json())).toContain("my card [CARD_1]");
  });

  test("block on input: 400 pii_blocked naming the types, never the values", async () => {
    await setGuardrails({ pii: { action: "log", actions: { secret: "block", card: "block" } } });
    const res = await post(`${gw.url}/v1/chat/completions`, { model: "echo", messages: [{ role: "user", content: `key sk-proj-${"a1B2".repeat(10)} card ${CARD} mail ${EMAIL}` }] });
    expect(res.status).toBe(400);
    const text = await res.text();
    const body = JSON.parse(text) as { error: { code: string; types: string[] } };
    expect(body.error.code).toBe("pii_blocked");
    expect(body.error.types).toEqual(["card", "secret"]);
    expect(text).not.toContain("4111");
    expect(text).not.toContain(EMAIL);
    expect(fake.requests).toHaveLength(0);
  });

  test("block on output (JSON): the answer is withheld", async () => {
    await setGuardrails({ pii: { action: "off", actions: { ssn: "block" } } });
    fake.setBehavior({ kind: "ok", content: "His SSN is 123-45-6789." });
    const res = await post(`${gw.url}/v1/chat/completions`, { model: "local/small-model", messages: [{ role: "user", content: "hi" }] });
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(JSON.parse(text).error.code).toBe("pii_blocked");
    expect(text).not.toContain("6789");
  });

  test("a scanner failure fails closed (503 guardrail_failed), or open when the tenant says so", async () => {
    const original = DETECTORS.email;
    DETECTORS.email = () => {
      throw new Error("detector crashed");
    };
    try {
      await setGuardrails({ pii: { action: "redact" } });
      const closed = await post(`${gw.url}/v1/chat/completions`, { model: "echo", messages: [{ role: "user", content: `mail ${EMAIL}` }] });
      expect(closed.status).toBe(503);
      expect(((await closed.json()) as { error: { code: string } }).error.code).toBe("guardrail_failed");
      await setGuardrails({ pii: { action: "redact" }, fail_mode: "open" });
      const open = await post(`${gw.url}/v1/chat/completions`, { model: "echo", messages: [{ role: "user", content: `mail ${EMAIL}` }] });
      expect(open.status).toBe(200);
    } finally {
      DETECTORS.email = original;
    }
    const events = await gw.events();
    expect(events.some((e) => e.type === "guardrail.failed")).toBe(true);
  });

  test("events carry types and counts, never values; request.completed carries the counts", async () => {
    await setGuardrails({ pii: { action: "redact" } });
    await post(`${gw.url}/v1/chat/completions`, { model: "echo", messages: [{ role: "user", content: `mail ${EMAIL} and ${EMAIL}, card ${CARD}` }] });
    const events = await gw.events();
    const last = events.filter((e) => e.type === "request.completed").at(-1)!;
    const mine = events.filter((e) => e.requestId === last.requestId);
    const redacted = mine.find((e) => e.type === "guardrail.redacted")!;
    expect(redacted.payload).toMatchObject({ direction: "input", types: ["card", "email"], counts: { email: 2, card: 1 } });
    expect(last.payload.guardrails).toEqual({ input: { email: 2, card: 1 }, output: {} });
    const all = JSON.stringify(events);
    expect(all).not.toContain(EMAIL);
    expect(all).not.toContain("4111");
  });
});
