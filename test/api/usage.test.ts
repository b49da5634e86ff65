/**
 * The analytics API end to end: requests through the gateway → request.completed events → the usage
 * projection → embedded chDB → /api/v1/usage/*. Expected numbers are computed from the events
 * themselves, so the test shows the API reports exactly what was recorded.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { EventEnvelope } from "../../src/events/envelope.ts";
import { bucketStarts, parseUsageQuery } from "../../src/api/usage.ts";
import { post, startTestGateway, type TestGateway, waitFor } from "../helpers/gateway.ts";

const ADMIN = "usage-api-admin-key-0123456789";
let gw: TestGateway;
let off: TestGateway;
const keys: Record<string, string> = {};
let keyPrefixOfT1 = "";

const admin = (method: string, path: string, body?: unknown) =>
  fetch(`${gw.url}${path}`, { method, headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` }, ...(body ? { body: JSON.stringify(body) } : {}) });
const usage = async (path: string, key = ADMIN) => fetch(`${gw.url}/api/v1/usage/${path}`, { headers: { authorization: `Bearer ${key}` } });
const json = async <T = Record<string, unknown>>(r: Response) => (await r.json()) as T;
const chat = (key: string, content: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  post(`${gw.url}/v1/chat/completions`, { model: "echo", messages: [{ role: "user", content }], ...extra }, { authorization: `Bearer ${key}`, ...headers });

interface Sums {
  requests: number;
  input_tokens: number;
  output_tokens: number;
  cost_micros: number;
  errors: number;
}
function sums(events: EventEnvelope[], tenant?: string): Sums {
  const s: Sums = { requests: 0, input_tokens: 0, output_tokens: 0, cost_micros: 0, errors: 0 };
  for (const e of events) {
    if (e.type !== "request.completed" || (tenant && e.tenant !== tenant)) continue;
    const p = e.payload as Record<string, number | string>;
    s.requests++;
    s.input_tokens += Number(p.inputTokens);
    s.output_tokens += Number(p.outputTokens);
    s.cost_micros += Math.round(Number(p.costUsd) * 1e6);
    if (p.status === "error") s.errors++;
  }
  return s;
}

beforeAll(async () => {
  gw = await startTestGateway({ TOLLGATE_ADMIN_KEY: ADMIN, TOLLGATE_ANALYTICS: "on" });
  for (const t of ["t1", "t2"]) expect((await admin("POST", "/api/v1/admin/tenants", { id: t, name: t })).status).toBe(201);
  expect((await admin("POST", "/api/v1/prices", { id: "echo/echo", input: 1000, output: 2000 })).status).toBe(201);
  for (const [name, tenant, service] of [["k1", "t1", "web"], ["k2", "t2", "batch"]] as const) {
    const r = await json<{ key: string; prefix: string }>(await admin("POST", "/api/v1/admin/keys", { tenant_id: tenant, name, service }));
    keys[name] = r.key;
    if (name === "k1") keyPrefixOfT1 = r.prefix;
  }
  // t1: 3 successful requests of different sizes; t2: 2 successful, 1 refused by the key's model list.
  for (const c of ["one two three", "four five six seven eight", "nine"]) expect((await chat(keys.k1!, c)).status).toBe(200);
  for (const c of ["alpha beta", "gamma delta epsilon"]) expect((await chat(keys.k2!, c, { stream: true, stream_options: { include_usage: true } })).status).toBe(200);
  expect((await chat(keys.k2!, "x", { model: "no-such-model" })).status).toBe(404);
  await waitFor(async () => gw.analytics?.status().state === "ready", 30_000, "analytics ready");
  const expected = sums(await gw.events()).requests;
  await waitFor(async () => (await json<{ data: { requests: number } }>(await usage("summary?days=1"))).data?.requests === expected, 20_000, "projection caught up");
  off = await startTestGateway({ TOLLGATE_ADMIN_KEY: ADMIN });
}, 60_000);
afterAll(async () => {
  await gw?.dispose();
  await off?.dispose();
});

describe("usage API", () => {
  test("summary equals the sums of the recorded request.completed events, exactly", async () => {
    const events = await gw.events();
    const s = sums(events);
    const body = await json<{ tenant: null; data: Record<string, number> }>(await usage("summary?days=1"));
    expect(body.tenant).toBeNull();
    expect(body.data).toMatchObject({ requests: s.requests, input_tokens: s.input_tokens, output_tokens: s.output_tokens, cost_micros: s.cost_micros, cost_usd: s.cost_micros / 1e6 });
    expect(s.cost_micros).toBeGreaterThan(0);
    expect(body.data.error_rate).toBeCloseTo(s.errors / s.requests, 12);
    expect(s.errors).toBe(1);
    expect(body.data.p50_ms).toBeGreaterThan(0);
    expect(body.data.p99_ms).toBeGreaterThanOrEqual(body.data.p95_ms!);
    expect(body.data.p95_ms).toBeGreaterThanOrEqual(body.data.p50_ms!);
  });

  test("request.completed carries the key prefix and the attempt count, and the rows keep them", async () => {
    const done = (await gw.events()).filter((e) => e.type === "request.completed" && e.tenant === "t1");
    expect(done).toHaveLength(3);
    for (const e of done) expect(e.payload).toMatchObject({ keyPrefix: keyPrefixOfT1, attempts: 1, service: "web" });
    const rows = await gw.analytics!.store.query<{ key_prefix: string; attempts: number; service: string }>(
      "SELECT key_prefix, attempts, service FROM usage_events FINAL WHERE tenant = {t:String}",
      { t: "t1" },
    );
    expect(rows).toHaveLength(3);
    for (const r of rows) expect(r).toEqual({ key_prefix: keyPrefixOfT1, attempts: 1, service: "web" });
  });

  test("by-tenant, by-service, by-provider, by-model: one row per group with that group's exact sums", async () => {
    const events = await gw.events();
    const customers = await json<{ data: Array<Record<string, number | string>> }>(await usage("by-tenant?days=1&limit=10"));
    const byTenant = Object.fromEntries(customers.data.map((r) => [r.tenant, r]));
    for (const t of ["t1", "t2"]) {
      const s = sums(events, t);
      expect(byTenant[t]).toMatchObject({ requests: s.requests, input_tokens: s.input_tokens, output_tokens: s.output_tokens, cost_micros: s.cost_micros });
    }
    // most expensive first
    const costs = customers.data.map((r) => Number(r.cost_micros));
    expect(costs).toEqual([...costs].sort((a, b) => b - a));
    expect((await json<{ data: unknown[] }>(await usage("by-tenant?days=1&limit=1"))).data).toHaveLength(1);

    const services = await json<{ data: Array<Record<string, number | string>> }>(await usage("by-service?days=1"));
    expect(services.data.find((r) => r.service === "web")).toMatchObject({ requests: 3, cost_micros: sums(events, "t1").cost_micros });
    // Requests without a service are one named row, never a `""` one.
    expect(services.data.some((r) => r.service === "")).toBe(false);
    const unnamed = events.filter((e) => e.type === "request.completed" && !e.payload.service).length;
    if (unnamed > 0) expect(services.data.find((r) => r.service === "(none)")).toMatchObject({ requests: unnamed });
    const providers = await json<{ data: Array<Record<string, number | string>> }>(await usage("by-provider?days=1"));
    const echo = providers.data.find((r) => r.provider === "echo")!;
    const all = sums(events);
    expect(echo).toMatchObject({ requests: all.requests - all.errors, cost_micros: all.cost_micros });
    const models = await json<{ data: Array<Record<string, number | string>> }>(await usage("by-model?days=1"));
    expect(models.data.find((r) => r.model === "echo")).toMatchObject({ requests: all.requests - all.errors });
  });

  test("timeseries: hourly buckets cover the range (zeros included) and add up to the summary", async () => {
    const body = await json<{ interval: string; data: Array<{ bucket: string; requests: number; cost_micros: number }> }>(await usage("timeseries?days=1"));
    expect(body.interval).toBe("hour");
    expect(body.data.length).toBeGreaterThanOrEqual(24);
    expect(body.data.length).toBeLessThanOrEqual(25);
    const all = sums(await gw.events());
    expect(body.data.reduce((a, p) => a + p.requests, 0)).toBe(all.requests);
    expect(body.data.reduce((a, p) => a + p.cost_micros, 0)).toBe(all.cost_micros);
    expect(body.data.filter((p) => p.requests === 0).length).toBeGreaterThan(0);
    const daily = await json<{ interval: string; data: unknown[] }>(await usage("timeseries?days=30&interval=day"));
    expect(daily.interval).toBe("day");
    expect(daily.data.length).toBeGreaterThanOrEqual(30);
  });

  test("a tenant key sees its own tenant only; naming another tenant is 403", async () => {
    const own = await json<{ tenant: string; data: { requests: number } }>(await usage("summary?days=1", keys.k1));
    expect(own.tenant).toBe("t1");
    expect(own.data.requests).toBe(3);
    const customers = await json<{ data: Array<{ tenant: string }> }>(await usage("by-tenant?days=1", keys.k1));
    expect(customers.data.map((r) => r.tenant)).toEqual(["t1"]);
    const other = await usage("summary?days=1&tenant=t2", keys.k1);
    expect(other.status).toBe(403);
    expect((await json<{ error: { code: string } }>(other)).error.code).toBe("tenant_forbidden");
    // The admin may narrow to one tenant.
    expect((await json<{ tenant: string; data: { requests: number } }>(await usage("summary?days=1&tenant=t2"))).data.requests).toBe(3);
  });

  test("no key, a wrong admin key, an unknown virtual key: 401 with stable codes", async () => {
    const none = await fetch(`${gw.url}/api/v1/usage/summary`);
    expect(none.status).toBe(401);
    expect((await json<{ error: { code: string } }>(none)).error.code).toBe("missing_admin_key");
    const wrong = await usage("summary", "not-the-admin-key-at-all");
    expect(wrong.status).toBe(401);
    expect((await json<{ error: { code: string } }>(wrong)).error.code).toBe("invalid_admin_key");
    const bogus = await usage("summary", "tg-" + "A".repeat(32));
    expect(bogus.status).toBe(401);
    expect((await json<{ error: { code: string } }>(bogus)).error.code).toBe("invalid_api_key");
  });

  test("bad parameters: 400 invalid_parameter naming the parameter", async () => {
    for (const [q, param] of [
      ["days=0", "days"],
      ["days=366", "days"],
      ["days=abc", "days"],
      ["from=2025-01-01", "to"],
      ["from=yesterday&to=2025-01-02", "from"],
      ["from=2025-02-01&to=2025-01-01", "from"],
      ["from=2020-01-01&to=2025-01-01", "from"],
      ["days=3&from=2025-01-01&to=2025-01-02", "days"],
      ["interval=minute", "interval"],
      ["limit=0", "limit"],
    ] as const) {
      const r = await usage(`timeseries?${q}`);
      expect(r.status, q).toBe(400);
      const e = (await json<{ error: { code: string; param: string; type: string } }>(r)).error;
      expect(e, q).toMatchObject({ code: "invalid_parameter", param, type: "invalid_request_error" });
    }
  });

  test("from/to: an explicit empty range gives zeros", async () => {
    const body = await json<{ from: string; to: string; data: { requests: number; cost_usd: number; p50_ms: number } }>(await usage("summary?from=2020-01-01&to=2020-01-02"));
    expect(body.from).toBe("2020-01-01T00:00:00.000Z");
    expect(body.data).toMatchObject({ requests: 0, cost_usd: 0, p50_ms: 0 });
  });

  test("POST /api/v1/admin/projections/usage/rebuild: drop and replay in the running gateway, same totals; admin only", async () => {
    const before = await json<{ data: unknown }>(await usage("summary?days=1"));
    const byCustomer = await json<{ data: unknown }>(await usage("by-customer?days=1"));
    const denied = await fetch(`${gw.url}/api/v1/admin/projections/usage/rebuild`, { method: "POST", headers: { authorization: `Bearer ${keys.k1}` } });
    expect(denied.status).toBe(401);
    const r = await fetch(`${gw.url}/api/v1/admin/projections/usage/rebuild`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}` } });
    expect(r.status).toBe(200);
    const body = await json<{ replayed: number; projection: string }>(r);
    expect(body).toMatchObject({ projection: "usage", replayed: sums(await gw.events()).requests });
    expect(gw.analytics!.status().state).toBe("ready");
    expect((await json<{ data: unknown }>(await usage("summary?days=1"))).data).toEqual(before.data);
    expect((await json<{ data: unknown }>(await usage("by-customer?days=1"))).data).toEqual(byCustomer.data);
    // The live projection resumed: a new request still lands.
    expect((await chat(keys.k1!, "after the rebuild")).status).toBe(200);
    const expected = sums(await gw.events()).requests;
    await waitFor(async () => (await json<{ data: { requests: number } }>(await usage("summary?days=1"))).data?.requests === expected, 20_000, "projection resumed");
  });

  test("/ready shows the analytics projection's state and lag (0 once caught up), and off when off", async () => {
    await waitFor(async () => (await gw.analytics!.lag()) === 0, 20_000, "no lag");
    const ready = await json<{ checks: { analytics: Record<string, unknown> } }>(await fetch(`${gw.url}/ready`, { headers: { authorization: `Bearer ${ADMIN}` } }));
    expect(ready.checks.analytics).toMatchObject({ kind: "chdb", state: "ready", lag: 0 });
    const offReady = await fetch(`${off.url}/ready`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(offReady.status).toBe(200);
    expect((await json<{ checks: { analytics: unknown } }>(offReady)).checks.analytics).toEqual({ state: "off" });
  });

  test("with TOLLGATE_ANALYTICS=off: 503 analytics_disabled (after auth)", async () => {
    const r = await fetch(`${off.url}/api/v1/usage/summary`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(r.status).toBe(503);
    expect((await json<{ error: { code: string } }>(r)).error.code).toBe("analytics_disabled");
    expect((await fetch(`${off.url}/api/v1/usage/summary`)).status).toBe(401);
  });
});

describe("usage query parsing (pure)", () => {
  const now = new Date("2025-03-10T12:34:56.000Z");
  test("days ends now; the interval follows the span", () => {
    const q = parseUsageQuery({ days: "2" }, now);
    expect(q.filter.from.toISOString()).toBe("2025-03-08T12:34:56.000Z");
    expect(q.filter.to).toEqual(now);
    expect(q.interval).toBe("hour");
    expect(parseUsageQuery({ days: "3" }, now).interval).toBe("day");
    expect(parseUsageQuery({}, now).limit).toBe(10);
  });
  test("bucket starts are aligned to UTC hours/days and cover [from, to)", () => {
    expect(bucketStarts(new Date("2025-03-01T10:30:00Z"), new Date("2025-03-01T12:00:00Z"), "hour")).toEqual(["2025-03-01T10:00:00Z", "2025-03-01T11:00:00Z"]);
    expect(bucketStarts(new Date("2025-03-01T10:30:00Z"), new Date("2025-03-03T00:00:01Z"), "day")).toEqual(["2025-03-01T00:00:00Z", "2025-03-02T00:00:00Z", "2025-03-03T00:00:00Z"]);
  });
});
