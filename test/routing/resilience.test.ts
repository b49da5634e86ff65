/**
 * Routing and resilience end to end, against fault-injecting fake upstreams: retries,
 * Retry-After, fallbacks, timeouts, a stall before the first byte, breaker transitions, an
 * upstream 400 returned as is, all targets down, and override precedence.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { type FakeOpenAI, startFakeOpenAI } from "../fakes/openai-upstream.ts";
import { post, startTestGateway, type TestGateway, waitFor } from "../helpers/gateway.ts";

const ADMIN = "routing-admin-key-0123456789";
let primary: FakeOpenAI;
let secondary: FakeOpenAI;
let gw: TestGateway;
/** A server that answers headers for an SSE stream and then never sends a byte. */
let stall: ReturnType<typeof Bun.serve>;

const admin = (method: string, path: string, body?: unknown) =>
  fetch(`${gw.url}${path}`, { method, headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` }, ...(body ? { body: JSON.stringify(body) } : {}) });
const chat = (model: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  post(`${gw.url}/v1/chat/completions`, { model, messages: [{ role: "user", content: "hi" }], ...extra }, headers);
const eventsOf = async (res: Response) => {
  const id = res.headers.get("x-request-id");
  await waitFor(async () => (await gw.events()).some((e) => e.requestId === id && e.type === "request.completed"), 5000, "request.completed");
  return (await gw.events()).filter((e) => e.requestId === id);
};

beforeAll(async () => {
  primary = startFakeOpenAI();
  secondary = startFakeOpenAI();
  stall = Bun.serve({
    port: 0,
    fetch: () => new Response(new ReadableStream({ start() {} }), { headers: { "content-type": "text/event-stream" } }),
  });
  gw = await startTestGateway({ TOLLGATE_ADMIN_KEY: ADMIN });
  // Each scenario has its own provider id for the failing upstream, so breakers do not carry over between tests.
  const primaries = ["p1", "p1d", "p1h", "p1b", "p1x", "p1g"].map((id) => [id, primary.url] as const);
  for (const [id, url] of [...primaries, ["p2", secondary.url], ["stall", `http://127.0.0.1:${stall.port}/v1`], ["dead", "http://127.0.0.1:9/v1"]] as const) {
    expect((await admin("POST", "/api/v1/providers", { id, kind: "custom", base_url: url, models: ["m"] })).status).toBe(201);
  }
  for (const id of ["e1", "e2", "e3"]) expect((await admin("POST", "/api/v1/providers", { id, kind: "echo", models: [`${id}-model`] })).status).toBe(201);
  const route = (id: string, targets: string[], extra: Record<string, unknown> = {}) =>
    admin("POST", "/api/v1/routes", { id, strategy: "priority", targets: targets.map((p, i) => ({ provider: p, model: "m", priority: i })), backoff_base_ms: 10, backoff_max_ms: 50, ...extra });
  expect((await route("chain", ["p1", "p2"], { max_retries: 2 })).status).toBe(201);
  expect((await route("stall-chain", ["stall", "p2"], { attempt_timeout_ms: 300, max_retries: 0 })).status).toBe(201);
  expect((await route("dead-chain", ["dead", "p2"], { max_retries: 1 })).status).toBe(201);
  expect((await route("all-down", ["p1x", "dead"], { max_retries: 1 })).status).toBe(201);
  expect((await route("short-deadline", ["p1d", "p2"], { max_retries: 3, deadline_ms: 1500 })).status).toBe(201);
  expect((await route("hang-chain", ["p1h", "p2"], { attempt_timeout_ms: 300, max_retries: 0 })).status).toBe(201);
  expect((await route("bad-chain", ["p1b", "p2"], { max_retries: 2 })).status).toBe(201);
});
afterAll(async () => {
  await gw.dispose();
  await primary.close();
  await secondary.close();
  stall.stop(true);
});
beforeEach(() => {
  primary.reset();
  secondary.reset();
});

describe("retries and fallbacks", () => {
  test("500s are retried on the same target, then the next target answers", async () => {
    primary.setBehavior({ kind: "error", status: 500 });
    secondary.setBehavior({ kind: "ok", content: "from p2" });
    const res = await chat("chain");
    expect(res.status).toBe(200);
    expect(((await res.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content).toBe("from p2");
    expect(primary.requests).toHaveLength(3); // 1 + max_retries 2
    expect(secondary.requests).toHaveLength(1);
    const events = await eventsOf(res);
    expect(events.filter((e) => e.type === "provider.attempt.failed").map((e) => [e.payload.provider, e.payload.attempt, e.payload.code])).toEqual([
      ["p1", 0, "upstream_error"], ["p1", 1, "upstream_error"], ["p1", 2, "upstream_error"],
    ]);
    expect(events.find((e) => e.type === "route.selected")?.payload).toMatchObject({ strategy: "priority", targets: ["p1/m", "p2/m"] });
    expect(events.find((e) => e.type === "request.completed")?.payload).toMatchObject({ status: "ok", provider: "p2" });
  });

  test("429 with Retry-After is honoured: the retry waits for it", async () => {
    primary.enqueue({ kind: "error", status: 429, headers: { "retry-after": "1" } }, { kind: "ok", content: "after waiting" });
    const t0 = performance.now();
    const res = await chat("chain");
    const waited = performance.now() - t0;
    expect(res.status).toBe(200);
    expect(primary.requests).toHaveLength(2);
    expect(secondary.requests).toHaveLength(0);
    expect(waited).toBeGreaterThanOrEqual(950); // the 1 s the upstream asked for (not the 10–50 ms backoff)
  });

  test("a Retry-After longer than the deadline falls back at once", async () => {
    primary.setBehavior({ kind: "error", status: 429, headers: { "retry-after": "30" } });
    const res = await chat("short-deadline");
    expect(res.headers.get("x-tollgate-provider")).toBe("p2");
    expect(res.status).toBe(200);
    expect(primary.requests).toHaveLength(1);
    expect(secondary.requests).toHaveLength(1);
  });

  test("a refused connection (unreachable upstream) falls back", async () => {
    const res = await chat("dead-chain");
    expect(res.status).toBe(200);
    const failed = (await eventsOf(res)).filter((e) => e.type === "provider.attempt.failed").map((e) => e.payload.code);
    expect(failed).toEqual(["upstream_unreachable", "upstream_unreachable"]);
  });

  test("an upstream that stalls before the first byte of a stream is cut at the attempt timeout and the stream falls back", async () => {
    secondary.setBehavior({ kind: "ok", content: "streamed by p2" });
    const t0 = performance.now();
    const res = await chat("stall-chain", { stream: true });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(performance.now() - t0).toBeLessThan(5_000);
    const content = text.split("\n\n").filter((l) => l.startsWith("data: {")).map((l) => JSON.parse(l.slice(6)).choices[0]?.delta?.content ?? "").join("");
    expect(content).toBe("streamed by p2");
    const failed = (await eventsOf(res)).find((e) => e.type === "provider.attempt.failed");
    expect(failed?.payload).toMatchObject({ provider: "stall", code: "upstream_timeout" });
  });

  test("an upstream that hangs without headers is cut at the timeout", async () => {
    primary.setBehavior({ kind: "hang" });
    secondary.setBehavior({ kind: "ok", content: "p2 in time" });
    const t0 = performance.now();
    const res = await chat("hang-chain");
    expect(res.status).toBe(200);
    const took = performance.now() - t0;
    expect(took).toBeGreaterThanOrEqual(290); // it did wait for the 300 ms attempt timeout…
    expect(took).toBeLessThan(3_000); // …and no longer
    expect(res.headers.get("x-tollgate-provider")).toBe("p2");
    expect((await eventsOf(res)).find((e) => e.type === "provider.attempt.failed")?.payload).toMatchObject({ provider: "p1h", code: "upstream_timeout" });
  });

  test("an upstream 400 is returned as is: not retried, no fallback", async () => {
    primary.setBehavior({ kind: "error", status: 400, message: "bad parameter", code: "invalid_value" });
    const res = await chat("bad-chain");
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("invalid_value");
    expect(primary.requests).toHaveLength(1);
    expect(secondary.requests).toHaveLength(0);
  });

  test("all targets down: 503 all_targets_failed with every attempt listed", async () => {
    primary.setBehavior({ kind: "error", status: 503 });
    const res = await chat("all-down");
    expect(res.status).toBe(503);
    const body = (await res.json()) as { error: { code: string; attempts: Array<{ provider: string; code: string }> } };
    expect(body.error.code).toBe("all_targets_failed");
    expect(body.error.attempts.map((a) => `${a.provider}:${a.code}`)).toEqual(["p1x:upstream_overloaded", "p1x:upstream_overloaded", "dead:upstream_unreachable", "dead:upstream_unreachable"]);
  });

  test("unknown alias: 404 model_not_found", async () => {
    const res = await chat("no-such-route");
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("model_not_found");
  });
});

describe("circuit breaker", () => {
  test("opens after repeated failures (then the target is skipped), half-opens after open_ms, closes on a good probe", async () => {
    expect((await admin("POST", "/api/v1/breakers", { id: "default", window_ms: 10_000, min_requests: 3, failure_rate: 0.5, open_ms: 400 })).status).toBe(201);
    expect((await admin("POST", "/api/v1/routes", { id: "guarded", strategy: "priority", targets: [{ provider: "p1g", model: "m" }, { provider: "p2", model: "m", priority: 1 }], max_retries: 0 })).status).toBe(201);
    primary.setBehavior({ kind: "error", status: 500 });
    const types: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await chat("guarded");
      expect(res.status).toBe(200); // p2 answers every time
      types.push(...(await eventsOf(res)).map((e) => e.type));
    }
    expect(types).toContain("circuit.opened");
    const health = (await (await fetch(`${gw.url}/v1/providers/p1g/health`)).json()) as { state: string; targets: Array<{ model: string; state: string; error_rate: number }> };
    expect(health.targets.find((t) => t.model === "m")).toMatchObject({ state: "open", error_rate: 1 });
    // While open, p1 is not called at all.
    const before = primary.requests.length;
    expect((await chat("guarded")).status).toBe(200);
    expect(primary.requests.length).toBe(before);
    // After open_ms a probe goes through; p1 has recovered: the breaker closes.
    await Bun.sleep(450);
    primary.setBehavior({ kind: "ok", content: "p1 is back" });
    const probe = await chat("guarded");
    expect(probe.headers.get("x-tollgate-provider")).toBe("p1g");
    expect((await eventsOf(probe)).map((e) => e.type)).toContain("circuit.closed");
    const list = (await (await fetch(`${gw.url}/v1/providers`)).json()) as { data: Array<{ id: string; targets: Array<{ state: string; ewma_latency_ms: number | null }> }> };
    expect(list.data.find((p) => p.id === "p1g")!.targets[0]).toMatchObject({ state: "closed" });
  });
});

describe("customer overrides", () => {
  test("tenant+service > tenant-wide > global, at every level", async () => {
    const r = (id: string, provider: string) => ({ id, strategy: "priority", targets: [{ provider, model: `${provider}-model` }] });
    expect((await admin("POST", "/api/v1/routes", r("tiered", "e1"))).status).toBe(201);
    const via = async (headers: Record<string, string> = {}) => (await chat("tiered", {}, headers)).headers.get("x-tollgate-provider");
    expect(await via()).toBe("e1"); // global
    expect((await admin("POST", "/api/v1/route-overrides", r("default/tiered", "e2"))).status).toBe(201);
    expect(await via()).toBe("e2"); // tenant-wide beats global
    expect(await via({ "x-tollgate-service": "billing" })).toBe("e2");
    expect((await admin("POST", "/api/v1/route-overrides", r("default/billing/tiered", "e3"))).status).toBe(201);
    expect(await via({ "x-tollgate-service": "billing" })).toBe("e3"); // tenant+service beats tenant-wide
    expect(await via({ "x-tollgate-service": "search" })).toBe("e2");
    expect(await via()).toBe("e2");
    expect((await admin("DELETE", `/api/v1/route-overrides/${encodeURIComponent("default/tiered")}`)).status).toBe(200);
    expect(await via()).toBe("e1"); // back to global
    expect(await via({ "x-tollgate-service": "billing" })).toBe("e3");
  });

  test("per-request hints: x-tollgate-strategy and routing.prefer / exclude (the provider never sees `routing`)", async () => {
    expect((await admin("POST", "/api/v1/routes", { id: "two", strategy: "priority", targets: [{ provider: "p1", model: "m" }, { provider: "p2", model: "m", priority: 1 }] })).status).toBe(201);
    const res = await chat("two", { routing: { exclude: ["p1"] } });
    expect(res.headers.get("x-tollgate-provider")).toBe("p2");
    expect(secondary.requests.at(-1)!.body.routing).toBeUndefined();
    const pref = await chat("two", { routing: { prefer: ["p2"] } });
    expect(pref.headers.get("x-tollgate-provider")).toBe("p2");
    const bad = await chat("two", {}, { "x-tollgate-strategy": "fastest-please" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("invalid_strategy");
  });
});
