/**
 * The cache and a redact/restore input plugin (the shape the guardrails plugin has): the key is
 * taken after redaction, the entry holds placeholders — never the original values — and output
 * plugins run again on a hit, restoring the values of the request at hand.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { definePlugin } from "../../src/pipeline/plugin.ts";
import { post, startTestGateway, type TestGateway, waitFor } from "../helpers/gateway.ts";

const EMAIL = /[\w.+-]+@[\w-]+\.[\w.]+/g;
/** Redacts e-mail addresses to <EMAIL_n> on the way in, restores them on the way out (JSON and stream). */
const redactRestore = definePlugin({
  name: "test-redact-restore",
  version: "1.0.0",
  phases: {
    inspect(ctx) {
      const map: Record<string, string> = {};
      let n = 0;
      for (const m of ctx.request.messages) {
        if (typeof m.content !== "string") continue;
        m.content = m.content.replace(EMAIL, (found) => {
          const ph = `<EMAIL_${++n}>`;
          map[ph] = found;
          return ph;
        });
      }
      ctx.state["test.map"] = map;
    },
    respond(ctx) {
      const map = ctx.state["test.map"] as Record<string, string>;
      if (ctx.answer?.kind !== "response") return;
      const r = structuredClone(ctx.answer.response);
      for (const c of r.choices) c.message.content = (c.message.content ?? "").replace(/<EMAIL_\d+>/g, (ph) => map[ph] ?? ph);
      ctx.answer = { ...ctx.answer, response: r };
    },
  },
});

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({}, { plugins: [redactRestore] });
});
afterAll(() => gw.dispose());

const ask = (content: string) => post(`${gw.url}/v1/chat/completions`, { model: "echo", temperature: 0, messages: [{ role: "user", content }] });

test("the entry holds placeholders; a hit is restored with the asking request's own values", async () => {
  const tag = crypto.randomUUID();
  const first = await ask(`write to bob@example.com about ${tag}`);
  expect(first.headers.get("x-tollgate-cache")).toBe("miss");
  expect(((await first.json()) as any).choices[0].message.content).toBe(`write to bob@example.com about ${tag}`);
  const raw = await waitFor(() => gw.cache.get("default", first.headers.get("x-tollgate-cache-key")!), 3000, "the entry");
  expect(raw).toContain("<EMAIL_1>");
  expect(raw).not.toContain("bob@example.com");

  const second = await ask(`write to carol@example.org about ${tag}`);
  expect(second.headers.get("x-tollgate-cache")).toBe("hit"); // same redacted request, same key
  expect(second.headers.get("x-tollgate-cache-key")).toBe(first.headers.get("x-tollgate-cache-key"));
  expect(((await second.json()) as any).choices[0].message.content).toBe(`write to carol@example.org about ${tag}`);
});
