/**
 * Traces in a real Jaeger (scripts/jaeger.sh): a request that fails once upstream, then falls
 * back and succeeds, read back from Jaeger's query API — the SERVER span, the phase spans, two
 * GenAI CLIENT attempt spans (the first ERROR) with the right parents; the caller's trace id;
 * the traceparent the upstream fakes received; and no prompt text anywhere in the stored spans.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type FakeOpenAI, startFakeOpenAI } from "../fakes/openai-upstream.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { servicesOrFail, uniq } from "../helpers/services.ts";

const services = servicesOrFail(["jaeger"], "traces in Jaeger");

interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: Array<{ refType: string; traceID: string; spanID: string }>;
  tags: Array<{ key: string; type: string; value: unknown }>;
  logs: Array<{ fields: Array<{ key: string; value: unknown }> }>;
}

if (services) {
  const ADMIN = "jaeger-admin-key-0123456789";
  const SERVICE = `tollgate-test-${uniq()}`;
  const MARKER = `PROMPT-MARKER-${uniq()}`;
  const saved: Record<string, string | undefined> = {};
  let primary: FakeOpenAI;
  let secondary: FakeOpenAI;
  let gw: TestGateway;

  const admin = (method: string, path: string, body?: unknown) =>
    fetch(`${gw.url}${path}`, { method, headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` }, ...(body ? { body: JSON.stringify(body) } : {}) });
  const tag = (s: JaegerSpan, key: string) => s.tags.find((t) => t.key === key)?.value;
  const parentOf = (s: JaegerSpan) => s.references.find((r) => r.refType === "CHILD_OF")?.spanID;

  async function readTrace(traceId: string, minSpans: number): Promise<{ spans: JaegerSpan[]; raw: string }> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const res = await fetch(`${services!.jaegerQueryUrl}/api/traces/${traceId}`).catch(() => undefined);
      if (res?.ok) {
        const raw = await res.text();
        const spans = ((JSON.parse(raw) as { data?: Array<{ spans: JaegerSpan[] }> }).data ?? []).flatMap((t) => t.spans);
        if (spans.length >= minSpans) return { spans, raw };
      }
      if (Date.now() > deadline) throw new Error(`trace ${traceId} not in Jaeger with ${minSpans} spans after 20 s`);
      await gw.telemetry.flush();
      await Bun.sleep(200);
    }
  }

  beforeAll(async () => {
    for (const k of ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME", "OTEL_BSP_SCHEDULE_DELAY"]) saved[k] = process.env[k];
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = services.jaegerOtlpUrl;
    process.env.OTEL_SERVICE_NAME = SERVICE;
    process.env.OTEL_BSP_SCHEDULE_DELAY = "100";
    primary = startFakeOpenAI();
    secondary = startFakeOpenAI();
    gw = await startTestGateway({ TOLLGATE_ADMIN_KEY: ADMIN });
    expect(gw.telemetry.tracing).toBeDefined();
    for (const [id, url] of [["p1", primary.url], ["p2", secondary.url]] as const) {
      expect((await admin("POST", "/api/v1/providers", { id, kind: "custom", base_url: url, models: ["m"] })).status).toBe(201);
    }
    expect((await admin("POST", "/api/v1/routes", { id: "chain", strategy: "priority", targets: [{ provider: "p1", model: "m", priority: 0 }, { provider: "p2", model: "m", priority: 1 }], max_retries: 0 })).status).toBe(201);
  });
  afterAll(async () => {
    await gw?.dispose();
    await primary?.close();
    await secondary?.close();
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  });

  describe("traces in Jaeger", () => {
    test("a failed attempt, then a fallback that succeeds: one trace, continued from the caller", async () => {
      const traceId = crypto.randomUUID().replaceAll("-", "");
      const callerSpan = "00f067aa0ba902b7";
      primary.setBehavior({ kind: "error", status: 500 });
      secondary.setBehavior({ kind: "ok", content: "fallback answer", model: "m-2025" });
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", traceparent: `00-${traceId}-${callerSpan}-01`, tracestate: "vendor=abc" },
        body: JSON.stringify({ model: "chain", temperature: 0.3, max_tokens: 50, messages: [{ role: "user", content: `Tell me about ${MARKER}` }] }),
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content).toBe("fallback answer");
      expect(res.headers.get("x-trace-id")).toBe(traceId);

      // The upstreams received the trace: each attempt its own span id.
      expect(primary.requests).toHaveLength(1);
      expect(secondary.requests).toHaveLength(1);
      const tp1 = primary.requests[0]!.headers.traceparent!;
      const tp2 = secondary.requests[0]!.headers.traceparent!;
      expect(tp1).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
      expect(tp2).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
      expect(tp1).not.toBe(tp2);
      expect(primary.requests[0]!.headers.tracestate).toBe("vendor=abc");

      const { spans, raw } = await readTrace(traceId, 6);
      expect(spans.every((s) => s.traceID === traceId)).toBe(true);
      const server = spans.find((s) => tag(s, "span.kind") === "server")!;
      expect(server.operationName).toBe("POST /v1/chat/completions");
      expect(parentOf(server)).toBe(callerSpan);
      expect(tag(server, "http.response.status_code")).toBe(200);
      expect(tag(server, "tollgate.config_version")).toBeGreaterThan(0);
      expect(tag(server, "tollgate.cache.hit")).toBe(false);

      const phases = spans.filter((s) => s.operationName.startsWith("phase "));
      for (const p of phases) expect(parentOf(p)).toBe(server.spanID);
      const names = phases.map((p) => p.operationName);
      for (const p of ["phase authenticate", "phase route", "phase call"]) expect(names).toContain(p);
      const call = phases.find((p) => p.operationName === "phase call")!;

      const attempts = spans.filter((s) => tag(s, "span.kind") === "client").sort((a, b) => Number(tag(a, "tollgate.attempt") ?? 0) - Number(tag(b, "tollgate.attempt") ?? 0) || String(tag(a, "tollgate.provider")).localeCompare(String(tag(b, "tollgate.provider"))));
      expect(attempts).toHaveLength(2);
      const [failed, ok] = [attempts.find((a) => tag(a, "tollgate.provider") === "p1")!, attempts.find((a) => tag(a, "tollgate.provider") === "p2")!];
      for (const a of [failed, ok]) {
        expect(a.operationName).toBe("chat m");
        expect(parentOf(a)).toBe(call.spanID);
        expect(tag(a, "gen_ai.operation.name")).toBe("chat");
        expect(tag(a, "gen_ai.provider.name")).toBe("custom");
        expect(tag(a, "gen_ai.request.model")).toBe("m");
        expect(tag(a, "gen_ai.request.temperature")).toBe(0.3);
        expect(tag(a, "gen_ai.request.max_tokens")).toBe(50);
        expect(tag(a, "server.address")).toBe("127.0.0.1");
      }
      expect(tp1).toContain(failed.spanID);
      expect(tp2).toContain(ok.spanID);
      expect(tag(failed, "server.port")).toBe(primary.port);
      expect(tag(ok, "server.port")).toBe(secondary.port);
      expect(tag(failed, "otel.status_code")).toBe("ERROR");
      expect(tag(failed, "error.type")).toBe("upstream_error");
      expect(tag(ok, "otel.status_code")).not.toBe("ERROR");
      expect(tag(ok, "error.type")).toBeUndefined();
      expect(tag(ok, "gen_ai.response.model")).toBe("m-2025");
      expect(String(tag(ok, "gen_ai.response.id"))).toMatch(/^chatcmpl/);
      expect(tag(ok, "gen_ai.usage.input_tokens")).toBeGreaterThan(0);
      expect(tag(ok, "gen_ai.usage.output_tokens")).toBeGreaterThan(0);
      expect(JSON.stringify(tag(ok, "gen_ai.response.finish_reasons"))).toContain("stop");

      // Attempt facts are span events of the server span; never the prompt, anywhere.
      expect(server.logs.some((l) => l.fields.some((f) => f.key === "event" && f.value === "provider.attempt.failed"))).toBe(true);
      expect(raw).not.toContain(MARKER);
      expect(raw).not.toContain("Tell me about");
      expect(raw).not.toContain("fallback answer");
    }, 60_000);

    test("a caller's unsampled trace (flags 00): the ids propagate, nothing is recorded", async () => {
      const traceId = crypto.randomUUID().replaceAll("-", "");
      primary.reset();
      primary.setBehavior({ kind: "ok", content: "fine" });
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", traceparent: `00-${traceId}-00f067aa0ba902b7-00` },
        body: JSON.stringify({ model: "chain", messages: [{ role: "user", content: "hi" }] }),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-trace-id")).toBe(traceId);
      expect(primary.requests[0]!.headers.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-00$`));
      await gw.telemetry.flush();
      await Bun.sleep(500);
      const found = (await (await fetch(`${services!.jaegerQueryUrl}/api/traces/${traceId}`)).json().catch(() => ({}))) as { data?: unknown[] };
      expect(found.data ?? []).toHaveLength(0);
    }, 60_000);

    test("a stream: the attempt span ends with the stream and carries its usage and finish reason", async () => {
      const traceId = crypto.randomUUID().replaceAll("-", "");
      primary.setBehavior({ kind: "ok", content: "streamed words here" });
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
        body: JSON.stringify({ model: "chain", stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: `stream ${MARKER}` }] }),
      });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain("[DONE]");
      const { spans, raw } = await readTrace(traceId, 4);
      const attempt = spans.find((s) => tag(s, "span.kind") === "client")!;
      expect(tag(attempt, "gen_ai.request.stream")).toBe(true);
      expect(tag(attempt, "gen_ai.usage.output_tokens")).toBeGreaterThan(0);
      expect(JSON.stringify(tag(attempt, "gen_ai.response.finish_reasons"))).toContain("stop");
      const server = spans.find((s) => tag(s, "span.kind") === "server")!;
      expect(tag(server, "tollgate.status")).toBe("ok");
      expect(raw).not.toContain(MARKER);
      expect(raw).not.toContain("streamed words");
    }, 60_000);

    test("a client that leaves mid-stream: the server span is still ended (and exported) as client_disconnected", async () => {
      const traceId = crypto.randomUUID().replaceAll("-", "");
      primary.setBehavior({ kind: "ok", content: "a slow answer in many small pieces", chunkSize: 2, chunkDelayMs: 100 });
      const aborter = new AbortController();
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: "POST",
        signal: aborter.signal,
        headers: { "content-type": "application/json", traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
        body: JSON.stringify({ model: "chain", stream: true, messages: [{ role: "user", content: "hi" }] }),
      });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      await reader.read();
      aborter.abort();
      await primary.waitForCancellation(1, 10_000);
      const { spans } = await readTrace(traceId, 4);
      const server = spans.find((s) => tag(s, "span.kind") === "server")!;
      expect(tag(server, "tollgate.status")).toBe("client_disconnected");
      expect(spans.filter((s) => tag(s, "span.kind") === "client")).toHaveLength(1);
    }, 60_000);
  });
}
