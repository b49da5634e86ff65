/**
 * The audit trail: named admins' changes carry who (identity, role, credential), from where
 * (IP, user agent) and which request, in the audit list and the config history; key lifecycle,
 * permission refusals and failed sign-ins are audit entries; failed sign-ins are rate-limited
 * per source; a revoked admin key is refused.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { adminCall, createAdmin, OWNER_KEY } from "./helpers.ts";

let gw: TestGateway;
let alice: { id: string; key: string };
let bob: { id: string; key: string };
let ana: { id: string; key: string };
const owner = () => adminCall(gw.url, OWNER_KEY);

beforeAll(async () => {
  gw = await startTestGateway({ TOLLGATE_ADMIN_KEY: OWNER_KEY });
  expect((await owner()("POST", "/api/v1/admin/tenants", { id: "acme", name: "Acme" })).status).toBe(201);
  alice = await createAdmin(gw.url, "alice@example.com", "operator");
  bob = await createAdmin(gw.url, "bob@example.com", "operator");
  ana = await createAdmin(gw.url, "ana@example.com", "analyst");
});
afterAll(() => gw?.dispose());

describe("audit trail", () => {
  test("two named admins change a route and a budget: the audit list and the history name each, with IP and request id", async () => {
    const a = await adminCall(gw.url, alice.key, { "x-request-id": "req-alice-1", "user-agent": "alice-cli/1.0" })("POST", "/api/v1/routes", { id: "fast", strategy: "priority", targets: [{ provider: "echo", model: "echo" }] });
    expect(a.status).toBe(201);
    expect(a.body.updated_by).toBe("alice@example.com");
    const b = await adminCall(gw.url, bob.key, { "x-request-id": "req-bob-1", "user-agent": "bob-ui/2.0" })("PATCH", "/api/v1/admin/tenants/acme", { budget: { amount_usd: 5, period: "day" } });
    expect(b.status).toBe(200);
    expect(b.body.updated_by).toBe("bob@example.com");

    const byAlice = await owner()("GET", "/api/v1/admin/audit?actor=alice@example.com");
    expect(byAlice.status).toBe(200);
    const route = byAlice.body.data.find((e: any) => e.entity?.kind === "route");
    expect(route).toMatchObject({ type: "route.created", entity: { kind: "route", id: "fast" }, request_id: "req-alice-1", actor: { id: alice.id, name: "alice@example.com", role: "operator", ip: "127.0.0.1", user_agent: "alice-cli/1.0", request_id: "req-alice-1" } });
    expect(route.actor.credential).toMatch(/^tga-/);
    expect(byAlice.body.data.every((e: any) => e.actor.name === "alice@example.com")).toBe(true);

    const byBob = await owner()("GET", `/api/v1/admin/audit?actor=${bob.id}`);
    expect(byBob.body.data).toHaveLength(1);
    expect(byBob.body.data[0]).toMatchObject({ type: "tenant.updated", entity: { kind: "tenant", id: "acme" }, changes: { budget: { amount_usd: 5, period: "day" } }, actor: { name: "bob@example.com", ip: "127.0.0.1", request_id: "req-bob-1" } });

    const hRoute = await owner()("GET", "/api/v1/admin/config/history?entity=route&id=fast");
    expect(hRoute.body.data[0]).toMatchObject({ actor: "alice@example.com", by: { id: alice.id, role: "operator", ip: "127.0.0.1", request_id: "req-alice-1" } });
    const hTenant = await owner()("GET", "/api/v1/admin/config/history?entity=tenant&id=acme");
    expect(hTenant.body.data.at(-1)).toMatchObject({ actor: "bob@example.com", by: { id: bob.id, ip: "127.0.0.1", request_id: "req-bob-1" } });
    // The key hash never shows in the trail.
    const all = await owner()("GET", "/api/v1/admin/audit?limit=1000");
    expect(JSON.stringify(all.body)).not.toMatch(/"hash":"[0-9a-f]{64}"/);
  });

  test("key creation, rotation and revocation are in the trail with their actor", async () => {
    const as = adminCall(gw.url, alice.key);
    const k = await as("POST", "/api/v1/admin/keys", { tenant_id: "acme", name: "svc" });
    expect(k.status).toBe(201);
    expect((await as("POST", `/api/v1/admin/keys/${k.body.id}/rotate`, { grace_seconds: 0 })).status).toBe(201);
    expect((await as("DELETE", `/api/v1/admin/keys/${k.body.id}`)).status).toBe(200);
    const trail = await owner()("GET", `/api/v1/admin/audit?entity=key:${k.body.id}`);
    expect(trail.body.data.map((e: any) => e.type)).toEqual(["key.revoked", "key.rotated", "key.created"]);
    expect(trail.body.data.every((e: any) => e.actor.name === "alice@example.com" && e.actor.ip === "127.0.0.1")).toBe(true);
    expect(JSON.stringify(trail.body)).not.toContain(k.body.key);
  });

  test("a permission refusal is an audit entry naming the identity and the permission", async () => {
    const r = await adminCall(gw.url, ana.key, { "x-request-id": "req-ana-1" })("POST", "/api/v1/routes", { id: "nope", strategy: "priority", targets: [{ provider: "echo", model: "echo" }] });
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe("permission_denied");
    const audit = await owner()("GET", "/api/v1/admin/audit?entity=audit");
    const refusal = audit.body.data.find((e: any) => e.type === "audit.permission_refused" && e.actor.id === ana.id);
    expect(refusal).toMatchObject({ entity: null, request_id: "req-ana-1", actor: { name: "ana@example.com", role: "analyst", ip: "127.0.0.1" }, details: { method: "POST", path: "/api/v1/routes", permission: "config.write" } });
  });

  test("cursor pagination and time filters", async () => {
    const first = await owner()("GET", "/api/v1/admin/audit?limit=3");
    expect(first.body.data).toHaveLength(3);
    expect(first.body.next_cursor).toMatch(/^\d+$/);
    const second = await owner()("GET", `/api/v1/admin/audit?limit=3&cursor=${first.body.next_cursor}`);
    const positions = [...first.body.data, ...second.body.data].map((e: any) => e.position);
    expect(positions).toEqual([...positions].sort((x, y) => y - x)); // newest first, no overlap
    expect(new Set(positions).size).toBe(positions.length);
    const everything = await owner()("GET", "/api/v1/admin/audit?limit=1000");
    expect(everything.body.next_cursor).toBeNull();
    expect(everything.body.data.slice(0, 6).map((e: any) => e.position)).toEqual(positions);
    const future = await owner()("GET", `/api/v1/admin/audit?from=${new Date(Date.now() + 60_000).toISOString()}`);
    expect(future.body.data).toEqual([]);
    const past = await owner()("GET", `/api/v1/admin/audit?to=2000-01-01T00:00:00Z`);
    expect(past.body.data).toEqual([]);
    expect((await owner()("GET", "/api/v1/admin/audit?from=yesterday")).body.error.code).toBe("invalid_request");
  });

  test("an admin answer carries the request id the trail records (the caller's, or a fresh one)", async () => {
    const given = await fetch(`${gw.url}/api/v1/admin/tenants/acme`, { method: "PATCH", headers: { authorization: `Bearer ${alice.key}`, "content-type": "application/json", "x-request-id": "req-hdr-1" }, body: JSON.stringify({ rpm_limit: 100 }) });
    expect(given.headers.get("x-request-id")).toBe("req-hdr-1");
    const fresh = await fetch(`${gw.url}/api/v1/admin/tenants/acme`, { method: "PATCH", headers: { authorization: `Bearer ${alice.key}`, "content-type": "application/json" }, body: JSON.stringify({ rpm_limit: 200 }) });
    const id = fresh.headers.get("x-request-id");
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const trail = await owner()("GET", "/api/v1/admin/audit?entity=tenant:acme&limit=2");
    expect(trail.body.data.map((e: any) => e.request_id)).toEqual([id, "req-hdr-1"]);
  });

  test("whoami names the identity, its role and what it may do", async () => {
    const me = await adminCall(gw.url, ana.key)("GET", "/api/v1/admin/whoami");
    expect(me.body).toMatchObject({ id: ana.id, name: "ana@example.com", role: "analyst", tenant: null });
    expect(me.body.permissions.map((p: any) => p.permission).sort()).toEqual(["self.read", "usage.read"]);
    expect((await owner()("GET", "/api/v1/admin/whoami")).body).toMatchObject({ id: "bootstrap", role: "owner" });
  });

  test("a revoked admin key is refused (401 revoked_admin_key); the revocation is in the trail", async () => {
    expect((await adminCall(gw.url, bob.key)("GET", "/api/v1/routes")).status).toBe(200);
    expect((await owner()("DELETE", `/api/v1/admin/admins/${bob.id}`)).status).toBe(200);
    const r = await adminCall(gw.url, bob.key)("GET", "/api/v1/routes");
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe("revoked_admin_key");
    const trail = await owner()("GET", `/api/v1/admin/audit?entity=admin:${bob.id}`);
    expect(trail.body.data.map((e: any) => e.type)).toEqual(["admin.revoked", "admin.created"]);
    // The admin list shows the prefix and status, never the hash.
    const list = await owner()("GET", "/api/v1/admin/admins");
    const listed = list.body.data.find((a: any) => a.id === bob.id);
    expect(listed).toMatchObject({ status: "revoked", role: "operator" });
    expect(listed.hash).toBeUndefined();
  });

  // Last: it blocks this test's source address.
  test("failed sign-ins are audit entries, and past 10 a minute the source gets 429", async () => {
    const wrong = adminCall(gw.url, "tga-wrongwrongwrongwrongwrongwrong0", { "x-request-id": "req-guess" });
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await wrong("GET", "/api/v1/routes")).status);
    // The revoked-key attempt of the test above was this source's first failure: 9 more, then 429.
    expect(statuses).toEqual([...Array(9).fill(401), 429, 429, 429]);
    const blocked = await owner()("GET", "/api/v1/routes"); // the right key, same source: still waits
    expect(blocked.status).toBe(429);
    expect(blocked.body.error.code).toBe("too_many_failed_attempts");
    const events = (await gw.events("config")).filter((e) => e.type === "audit.sign_in_failed");
    expect(events.length).toBe(10); // one from the revoked-key test, nine guesses; the 429s are not recorded
    expect(events.at(-1)!.payload).toMatchObject({ code: "invalid_admin_key", ip: "127.0.0.1", request_id: "req-guess", path: "/api/v1/routes", rate_limited: true });
    expect(JSON.stringify(events)).not.toContain("wrongwrong");
  });
});
