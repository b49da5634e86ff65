/**
 * The cache and a redact/restore input plugin (the shape the guardrails plugin has): the key is
 * taken after redaction, the entry holds placeholders — never the original values — and output
 * plugins run again on a hit, restoring the values of the request at hand.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { definePlugin } from "../../src/pipeline/plugin.ts";
import { adminHeaders, post, startTestGateway, type TestGateway, waitFor } from "../helpers/gateway.ts";

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

test("with the real guardrails plugin in restore mode: no e-mail reaches the cache, hits are restored per request (JSON and stream)", async () => {
  const real = await startTestGateway();
  try {
    const put = await fetch(`${real.url}/api/v1/admin/guardrails`, { method: "PUT", headers: adminHeaders(), body: JSON.stringify({ pii: { action: "restore", types: ["email"] } }) });
    expect(put.status).toBe(200);
    const tag = crypto.randomUUID();
    const chat = (content: string, stream = false) => post(`${real.url}/v1/chat/completions`, { model: "echo", temperature: 0, stream, messages: [{ role: "user", content }] });
    const first = await chat(`mail dave@example.com re ${tag}`);
    expect(first.headers.get("x-tollgate-cache")).toBe("miss");
    expect(((await first.json()) as any).choices[0].message.content).toBe(`mail dave@example.com re ${tag}`);
    const raw = await waitFor(() => real.cache.get("default", first.headers.get("x-tollgate-cache-key")!), 3000, "the entry");
    expect(raw).not.toContain("dave@example.com");
    expect(raw).toContain("[EMAIL_1]");

    const hit = await chat(`mail erin@example.net re ${tag}`);
    expect(hit.headers.get("x-tollgate-cache")).toBe("hit");
    expect(((await hit.json()) as any).choices[0].message.content).toBe(`mail erin@example.net re ${tag}`);

    const streamed = await chat(`mail frank@example.org re ${tag}`, true);
    expect(streamed.headers.get("x-tollgate-cache")).toBe("hit");
    const text = (await streamed.text())
      .split("\n")
      .filter((l) => l.startsWith("data: {"))
      .map((l) => JSON.parse(l.slice(6)).choices?.[0]?.delta?.content ?? "")
      .join("");
    expect(text).toBe(`mail frank@example.org re ${tag}`);

    // The real cache and guardrail events feed /metrics (no wiring beyond the events).
    const metrics = await (await fetch(`${real.url}/metrics`)).text();
    const value = (re: RegExp) => Number(re.exec(metrics)?.[1] ?? NaN);
    expect(value(/^llm_cache_requests_total\{[^}]*result="hit"[^}]*\} (\d+)/m)).toBe(2);
    expect(value(/^llm_cache_requests_total\{[^}]*result="miss"[^}]*\} (\d+)/m)).toBe(1);
    expect(value(/^llm_guardrail_violations_total\{[^}]*type="email"[^}]*\} (\d+)/m)).toBeGreaterThanOrEqual(3);
    expect(metrics).not.toContain("example.");
  } finally {
    await real.dispose();
  }
});
