/**
 * Issue 22, finding 8: operational data needs a key. `/metrics` takes an optional token,
 * `/ready` shows only its status without a key, `/v1/models` and `/v1/providers` need a valid
 * key once virtual keys exist (first-run mode on loopback aside, as for model calls).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { adminHeaders, post, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const TOKEN = "metrics-scrape-token-0123456789";
let gw: TestGateway;
let virtualKey = "";
beforeAll(async () => {
  gw = await startTestGateway({ TOLLGATE_METRICS_TOKEN: TOKEN });
  expect((await post(`${gw.url}/api/v1/admin/tenants`, { id: "acme", name: "Acme" }, adminHeaders(gw.adminKey))).status).toBe(201);
  const created = await post(`${gw.url}/api/v1/admin/keys`, { tenant_id: "acme" }, adminHeaders(gw.adminKey));
  expect(created.status).toBe(201);
  virtualKey = ((await created.json()) as { key: string }).key;
});
afterAll(() => gw?.dispose());

const bearer = (k: string) => ({ authorization: `Bearer ${k}` });

describe("/metrics with TOLLGATE_METRICS_TOKEN", () => {
  test("no token → 401; a virtual key → 401; the token or the admin key → 200", async () => {
    const none = await fetch(`${gw.url}/metrics`);
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe("missing_metrics_token");
    expect((await fetch(`${gw.url}/metrics`, { headers: bearer(virtualKey) })).status).toBe(401);
    const ok = await fetch(`${gw.url}/metrics`, { headers: bearer(TOKEN) });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain("tollgate_");
    expect((await fetch(`${gw.url}/metrics`, { headers: bearer(gw.adminKey) })).status).toBe(200);
  });
});

describe("/ready", () => {
  test("without a key: the status alone; with the admin key or the token: the checks", async () => {
    const anon = await fetch(`${gw.url}/ready`);
    expect(anon.status).toBe(200);
    expect(await anon.json()).toEqual({ status: "ready", checks: {} });
    for (const key of [gw.adminKey, TOKEN]) {
      const full = (await (await fetch(`${gw.url}/ready`, { headers: bearer(key) })).json()) as { checks: Record<string, unknown> };
      expect(Object.keys(full.checks)).toContain("event_log");
    }
  });
});

describe("/v1/models and /v1/providers need a key once keys exist", () => {
  for (const path of ["/v1/models", "/v1/providers", "/v1/providers/echo/health"]) {
    test(`${path}: none → 401, a virtual key or the admin key → 200`, async () => {
      expect((await fetch(`${gw.url}${path}`)).status).toBe(401);
      expect((await fetch(`${gw.url}${path}`, { headers: bearer("tg-00000000000000000000000000000000") })).status).toBe(401);
      expect((await fetch(`${gw.url}${path}`, { headers: bearer(virtualKey) })).status).toBe(200);
      expect((await fetch(`${gw.url}${path}`, { headers: bearer(gw.adminKey) })).status).toBe(200);
    });
  }
});
