/**
 * Alerts in one gateway process (file log, in-process state): rules and destinations through the
 * admin API (config events with history, the secret write-only), evaluation and a signed delivery
 * of a real error-rate crossing, and the rule kinds' validation errors.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestGateway, type TestGateway, waitFor } from "../helpers/gateway.ts";
import { startFakeOpenAI, type FakeBehavior } from "../fakes/openai-upstream.ts";
import { verifySignature } from "../../src/alerts/delivery.ts";
import { freePort } from "../helpers/services.ts";

const ADMIN = "alerts-gw-admin-key-0123456789";
const SECRET = "alerts-gw-hook-secret-0123456789";

describe("alerts in a gateway", () => {
  let gw: TestGateway;
  const upstream = startFakeOpenAI();
  const got: Array<{ type: string; rule: string; signed: boolean; body: string }> = [];
  const port = freePort();
  const receiver = Bun.serve({
    port,
    hostname: "127.0.0.1",
    async fetch(req) {
      const body = await req.text();
      const j = JSON.parse(body) as { type: string; alert: { rule: string } };
      got.push({ type: j.type, rule: j.alert.rule, signed: verifySignature(SECRET, body, req.headers.get("x-tollgate-signature")), body });
      return new Response("ok");
    },
  });
  const admin = (method: string, path: string, body?: unknown) =>
    fetch(`${gw.url}${path}`, { method, headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });

  beforeAll(async () => {
    gw = await startTestGateway({ TOLLGATE_ADMIN_KEY: ADMIN, TOLLGATE_MASTER_KEY: "alerts-gw-master-key-0123456789" });
  });
  afterAll(async () => {
    await gw.dispose();
    receiver.stop(true);
    await upstream.close();
  });

  test("bad rules and destinations: clear errors with stable codes", async () => {
    const cases: Array<[string, unknown, number, string]> = [
      ["/api/v1/alerts/rules", { id: "x", kind: "error_rate" }, 400, "invalid_config"], // no threshold_pct
      ["/api/v1/alerts/rules", { id: "x", kind: "nope" }, 400, "invalid_config"],
      ["/api/v1/alerts/rules", { id: "x", kind: "key_expiry", tenant: "ghost" }, 400, "unknown_tenant"],
      ["/api/v1/alerts/rules", { id: "x", kind: "key_expiry", destinations: ["ghost"] }, 400, "unknown_destination"],
      ["/api/v1/alerts/rules", { id: "Bad Id", kind: "key_expiry" }, 400, "invalid_id"],
      ["/api/v1/alerts/destinations", { id: "d", kind: "webhook", url: "ftp://x" }, 400, "invalid_config"],
      ["/api/v1/alerts/destinations", { id: "d", kind: "webhook", url: "http://x", secret: "short" }, 400, "invalid_config"],
    ];
    for (const [path, body, status, code] of cases) {
      const r = await admin("POST", path, body);
      const j = (await r.json()) as { error: { code: string; message: string } };
      expect(r.status, JSON.stringify(body)).toBe(status);
      expect(j.error.code, JSON.stringify(body)).toBe(code);
    }
    expect((await fetch(`${gw.url}/api/v1/alerts/rules`)).status).toBe(401);
  });

  test("a destination's secret is write-only: never in a view or the history", async () => {
    const r = await admin("POST", "/api/v1/alerts/destinations", { id: "hook", kind: "webhook", url: `http://127.0.0.1:${port}/h`, secret: SECRET });
    expect(r.status).toBe(201);
    const created = await r.text();
    const one = await (await admin("GET", "/api/v1/alerts/destinations/hook")).text();
    const history = await (await admin("GET", "/api/v1/admin/config/history?entity=alert_destination")).text();
    for (const text of [created, one, history]) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain("secret_enc");
    }
    expect(JSON.parse(one).secret).toMatch(/…/);
    const events = await gw.events("config");
    expect(JSON.stringify(events)).not.toContain(SECRET);
  });

  test("an error-rate crossing is delivered once, signed; the rule has history", async () => {
    expect((await admin("POST", "/api/v1/providers", { id: "up", kind: "openai", base_url: upstream.url, api_key: "sk-up", models: ["up-model"] })).status).toBe(201);
    expect((await admin("POST", "/api/v1/breakers", { id: "default", failure_rate: 0.95, min_requests: 100 })).status).toBe(201);
    expect((await admin("POST", "/api/v1/alerts/rules", { id: "up-errors", kind: "error_rate", provider: "up", threshold_pct: 25, window_s: 60, min_samples: 20 })).status).toBe(201);
    expect((await admin("PATCH", "/api/v1/alerts/rules/up-errors", { threshold_pct: 30 })).status).toBe(200);
    const pattern: FakeBehavior[] = Array.from({ length: 10 }, (_, i) => (i % 2 ? { kind: "error", status: 503 } : { kind: "ok" }));
    for (let i = 0; i < 5; i++) upstream.enqueue(...pattern);
    for (let i = 0; i < 40; i++) await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "up-model", messages: [{ role: "user", content: "hi" }] }) }).then((r) => r.arrayBuffer());
    await waitFor(() => got.some((g) => g.rule === "up-errors"), 15_000, "the alert at the receiver");
    await Bun.sleep(1500);
    const mine = got.filter((g) => g.rule === "up-errors");
    expect(mine.map((g) => g.type)).toEqual(["alert.fired"]);
    expect(mine[0]!.signed).toBe(true);
    expect(JSON.parse(mine[0]!.body).alert).toMatchObject({ ruleKind: "error_rate", scope: "up", threshold: 30, unit: "pct", episode: 1 });
    const open = (await (await admin("GET", "/api/v1/alerts")).json()) as { open: Array<{ rule: string }> };
    expect(open.open.map((o) => o.rule)).toEqual(["up-errors"]);
    const history = (await (await admin("GET", "/api/v1/admin/config/history?entity=alert_rule&id=up-errors")).json()) as { data: Array<{ type: string }> };
    expect(history.data.map((h) => h.type)).toEqual(["alert_rule.created", "alert_rule.updated"]);
    const alertEvents = await gw.events("alerts");
    expect(alertEvents.map((e) => e.type)).toEqual(["alert.fired"]);
  }, 40_000);
});
