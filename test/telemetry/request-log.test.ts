/**
 * The request log: one JSON line per request at info with ids, tenant, key prefix, provider,
 * model, status, code, latency, tokens and cost — and never the prompt, the completion or the key.
 * LOG_LEVEL above info silences it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { applyLogLevel } from "../../src/telemetry/log.ts";
import { startTestGateway, type TestGateway, waitFor } from "../helpers/gateway.ts";
import { uniq } from "../helpers/services.ts";

const ADMIN = "request-log-admin-key-0123456789";
const MARKER = `SECRET-PROMPT-MARKER-${uniq()}`;
let gw: TestGateway;
const lines: string[] = [];

const admin = (method: string, path: string, body?: unknown) =>
  fetch(`${gw.url}${path}`, { method, headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` }, ...(body ? { body: JSON.stringify(body) } : {}) });

beforeAll(async () => {
  gw = await startTestGateway({ TOLLGATE_ADMIN_KEY: ADMIN }, { requestLog: (l) => lines.push(l) });
  expect((await admin("POST", "/api/v1/admin/tenants", { id: "logs", name: "Logs" })).status).toBe(201);
  expect((await admin("POST", "/api/v1/prices", { id: "echo/echo", input: 1000, output: 2000 })).status).toBe(201);
});
afterAll(async () => {
  await gw?.dispose();
});

describe("request log", () => {
  test("one JSON line per request with the fields, no prompt, completion or key", async () => {
    const created = (await (await admin("POST", "/api/v1/admin/keys", { tenant_id: "logs", name: "log-key" })).json()) as { key: string; prefix?: string };
    const key = created.key;
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const send = (model: string) =>
      fetch(`${gw.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${key}`, traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
        body: JSON.stringify({ model, messages: [{ role: "user", content: `please repeat ${MARKER}` }] }),
      });
    lines.length = 0;
    const ok = await send("echo");
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content).toContain(MARKER); // echo answers with the prompt
    const bad = await send("no-such-model");
    expect(bad.status).toBe(404);
    const [okLine, badLine] = await waitFor(() => (lines.length >= 2 ? lines : undefined), 5000, "2 log lines");
    expect(lines).toHaveLength(2);
    for (const l of lines) {
      expect(l).not.toContain("\n");
      expect(l).not.toContain(MARKER);
      expect(l).not.toContain(key);
    }
    const a = JSON.parse(okLine!);
    expect(a).toMatchObject({
      level: "info",
      msg: "request",
      request_id: ok.headers.get("x-request-id"),
      trace_id: traceId,
      tenant: "logs",
      provider: "echo",
      model: "echo",
      status: "ok",
      http_status: 200,
      code: null,
      cached: false,
      attempts: 1,
    });
    expect(typeof a.key_prefix).toBe("string");
    expect(key.startsWith(a.key_prefix)).toBe(true);
    expect(a.key_prefix.length).toBeLessThan(key.length);
    expect(a.latency_ms).toBeGreaterThan(0);
    expect(a.input_tokens).toBeGreaterThan(0);
    expect(a.output_tokens).toBeGreaterThan(0);
    expect(a.cost_usd).toBeGreaterThan(0);
    expect(Number.isNaN(Date.parse(a.time))).toBe(false);
    expect("span_id" in a).toBe(true); // null here: tracing is off in this process
    const b = JSON.parse(badLine!);
    expect(b).toMatchObject({ request_id: bad.headers.get("x-request-id"), status: "error", http_status: 404, code: "model_not_found", tenant: "logs", input_tokens: 0 });
  });

  test("LOG_LEVEL=warn silences the info line (the default sink is console.info, once per turn of the event loop)", async () => {
    const got: string[] = [];
    const original = console.info;
    const sink = { debug: () => {}, log: () => {}, info: (l: string) => got.push(l), warn: () => {} };
    console.info = (l: string) => sink.info(l);
    const quietGw = await startTestGateway({}, { quiet: false });
    try {
      const r1 = await fetch(`${quietGw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "echo", messages: [{ role: "user", content: "hi" }] }) });
      expect(r1.status).toBe(200);
      await waitFor(() => got.some((l) => l.includes(r1.headers.get("x-request-id")!)), 5000, "info line");
      applyLogLevel("warn", sink);
      const r2 = await fetch(`${quietGw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "echo", messages: [{ role: "user", content: "hi" }] }) });
      expect(r2.status).toBe(200);
      await quietGw.emitter.flush();
      expect(got.some((l) => l.includes(r2.headers.get("x-request-id")!))).toBe(false);
    } finally {
      console.info = original;
      await quietGw.dispose();
    }
  });
});
