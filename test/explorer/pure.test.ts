/** The explorer's pure parts: the cursor codec, the list's WHERE (bound parameters only), the request's tenant, facts from a timeline. */
import { describe, expect, test } from "bun:test";
import { decodeCursor, encodeCursor, listWhere } from "../../src/explorer/list.ts";
import { requestTenant } from "../../src/explorer/log-index.ts";
import { factsOf } from "../../src/explorer/explain-request.ts";
import { explainRoute } from "../../src/explorer/explain.ts";
import { emptySnapshot } from "../../src/config/snapshot.ts";
import { indexCustomerOverrides } from "../../src/routing/customer-overrides.ts";

describe("list", () => {
  test("a cursor round-trips; anything else is refused", () => {
    const c = { time: "2026-01-02 03:04:05.678", eventId: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b" };
    expect(decodeCursor(encodeCursor(c))).toEqual(c);
    for (const bad of ["nope", Buffer.from("2026-01-02|x').toString()").toString("base64url"), Buffer.from("x|0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b").toString("base64url")]) expect(decodeCursor(bad)).toBeUndefined();
  });
  test("user values are bound parameters, never SQL text", () => {
    const evil = "x' OR 1=1 --";
    const { where, params } = listWhere({ from: new Date(0), to: new Date(1000), tenant: evil, service: evil, user: evil, status: evil, routeLevel: "override", limit: 10 });
    expect(where).not.toContain(evil);
    expect(params.tenant).toBe(evil);
    expect(params.error_code).toBe(evil); // not a status name: an error code
    expect(where).toContain("route_level IN ('customer_service', 'customer', 'tenant_service', 'tenant')");
  });
});

test("a request belongs to the tenant of its request.completed, not of request.received (recorded before auth)", () => {
  const p = (type: string, tenant: string, time_ms: number) => ({ partition: 0, offset: time_ms, type, tenant, time_ms });
  expect(requestTenant([p("request.received", "default", 1), p("route.selected", "acme", 2), p("request.completed", "acme", 3)])).toBe("acme");
  expect(requestTenant([p("request.received", "default", 1), p("auth.denied", "default", 2)])).toBe("default");
});

test("explainRoute checks every level in the routing plugin's order and says why each did not decide", () => {
  const snap = { ...emptySnapshot(), providers: [{ id: "p", kind: "openai" as const, models: ["m"] }], customerOverrides: indexCustomerOverrides([{ id: "o1", userId: "u", tenant: "t", provider: "p", model: "m2" }]) };
  const facts = factsOf({
    id: "r", tenant: "t", config_version: 1, phases: {}, auth: { tenant: "t", key_id: null, key_prefix: null, service: "s", user_id: "u" },
    events: [{ type: "request.completed", time: "", at_ms: 0, partition: 0, offset: 0, config_version: 1, payload: { requestedModel: "m", user: "u", service: "s" } }],
  });
  const d = explainRoute(snap, facts);
  expect(d.checked.map((c) => [c.level, c.matched])).toEqual([["customer_service", false], ["customer", true], ["tenant_service", false], ["tenant", false], ["global", false]]);
  expect(d.checked[0]!.why).toBe("no customer override for user `u` on service `s`");
  expect(d).toMatchObject({ level: "customer", entity: { kind: "customer_override", id: "o1" }, ranking: ["p/m2"] });
  const plain = explainRoute(snap, { ...facts, user: undefined } as never);
  expect(plain).toMatchObject({ level: "listed", entity: { kind: "provider", id: "p" } });
});
