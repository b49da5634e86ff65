/**
 * Phone settings through the admin API and the gateway (issue 23): `pii.phone_regions` and
 * `pii.phone_context`, global and per tenant, validated (400 with `param`, nothing appended), and
 * applied to what the provider receives (echo).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { post, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const ADMIN = "phone-config-admin-key-0123456789abcdef";
let gw: TestGateway;
const keys: Record<string, string> = {};
const admin = (method: string, path: string, body?: unknown) =>
  fetch(`${gw.url}${path}`, { method, headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` }, ...(body ? { body: JSON.stringify(body) } : {}) });
const echoed = async (key: string, content: string) => {
  const r = await post(`${gw.url}/v1/chat/completions`, { model: "echo", messages: [{ role: "user", content }] }, { authorization: `Bearer ${key}` });
  expect(r.status).toBe(200);
  return ((await r.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content;
};

beforeAll(async () => {
  gw = await startTestGateway({ TOLLGATE_ADMIN_KEY: ADMIN });
  for (const t of ["uk", "us"]) {
    expect((await admin("POST", "/api/v1/admin/tenants", { id: t, name: t })).status).toBe(201);
    keys[t] = ((await (await admin("POST", "/api/v1/admin/keys", { tenant_id: t, name: t })).json()) as { key: string }).key;
  }
});
afterAll(() => gw?.dispose());

test("an unknown region or context mode is a 400 naming the param; nothing is appended", async () => {
  const before = (await gw.events("config")).length;
  for (const [body, param] of [[{ pii: { phone_regions: ["GB", "XX"] } }, "pii.phone_regions.1"], [{ pii: { phone_regions: ["gb"] } }, "pii.phone_regions.0"], [{ pii: { phone_context: "sometimes" } }, "pii.phone_context"]] as const) {
    const r = await admin("PUT", "/api/v1/admin/guardrails", body);
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: { param: string } }).error.param).toBe(param);
  }
  expect((await gw.events("config")).length).toBe(before);
});

test("regions and context: global defaults, a tenant's own list, the effective policy shown", async () => {
  expect((await admin("PUT", "/api/v1/admin/guardrails", { pii: { action: "redact" } })).status).toBe(200);
  expect((await admin("PUT", "/api/v1/admin/tenants/us/guardrails", { pii: { phone_regions: ["US"], phone_context: "always" } })).status).toBe(200);
  const eff = (await (await admin("GET", "/api/v1/admin/tenants/us/guardrails")).json()) as { effective: { pii: Record<string, unknown> } };
  expect(eff.effective.pii).toMatchObject({ action: "redact", phone_regions: ["US"], phone_context: "always" });

  // Default regions (GB among them), context `bare`.
  expect(await echoed(keys.uk!, "Reach me at 020 7946 0958 x12.")).toBe("Reach me at [PHONE_1].");
  expect(await echoed(keys.uk!, "Order 0612345678 shipped; phone 0612345678.")).toBe("Order 0612345678 shipped; phone [PHONE_1].");
  expect(await echoed(keys.uk!, "Call +44 7700 900123.")).toBe("Call [PHONE_1].");
  // US only, context `always`: a UK national number is not a phone here; a US one needs a phone word; + numbers always count.
  expect(await echoed(keys.us!, "Reach me at 020 7946 0958.")).toBe("Reach me at 020 7946 0958.");
  expect(await echoed(keys.us!, "Write down (415) 555-2671.")).toBe("Write down (415) 555-2671.");
  expect(await echoed(keys.us!, "Call (415) 555-2671.")).toBe("Call [PHONE_1].");
  expect(await echoed(keys.us!, "Write down +44 20 7946 0958.")).toBe("Write down [PHONE_1].");
});
