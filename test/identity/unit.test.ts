/** The pure parts of identity: claims mapping, the decider's identity rules, the audit page, the failure limiter. */
import { describe, expect, test } from "bun:test";
import { mapClaims } from "../../src/identity/jwt/claims.ts";
import { auditPage } from "../../src/identity/audit.ts";
import { FailureLimiter } from "../../src/identity/failures.ts";
import { decide, evolve } from "../../src/projections/config/decider.ts";
import { type ConfigCommand, type ConfigState, initialState } from "../../src/projections/config/model.ts";
import type { JwtIssuerFields } from "../../src/identity/entities.ts";
import type { StoredEvent } from "../../src/events/event-log.ts";
import { makeEvent } from "../../src/events/envelope.ts";

const HASH = (c: string) => c.repeat(64);
function run(state: ConfigState, ...cmds: ConfigCommand[]): ConfigState {
  let s = state;
  for (const cmd of cmds) for (const e of decide(s, cmd)) s = evolve(s, e, { time: new Date().toISOString(), actor: "t", position: s.version });
  return s;
}
const withTenant = () => run(initialState(), { type: "create", kind: "tenant", id: "acme", fields: { name: "Acme" } });
const adminCmd = (id: string, fields: Record<string, unknown>): ConfigCommand => ({ type: "create", kind: "admin", id, fields: { prefix: "tga-AbCd", hash: HASH(id.at(-1)!), ...fields } });

describe("claims mapping", () => {
  const issuer: JwtIssuerFields = { issuer: "i", audience: "a", jwks_url: "http://x", enabled: true, claims: { tenant: "https://t.dev/tenant", service: "azp", user_id: "app.customer", models: "scope_models", rpm_limit: "rpm" }, tenant_map: { "9f1c-guid": "acme" }, tpm_limit: 1000 };
  test("namespaced claims by exact name, dot paths, tenant_map, models as a string, limits, scope defaults to the service", () => {
    const m = mapClaims("idp", issuer, { sub: "s1", azp: "billing", "https://t.dev/tenant": "9f1c-guid", app: { customer: "c-7" }, scope_models: "gpt-4o mini-*", rpm: "30" });
    expect(m).toEqual({ ok: true, subject: "s1", key: { id: "jwt:idp:billing", tenant: "acme", prefix: "jwt:idp", service: "billing", user: "c-7", models: ["gpt-4o", "mini-*"], rpm_limit: 30, tpm_limit: 1000 } });
  });
  test("no tenant → refused; a fixed tenant wins; the scope falls back to sub; junk limits are ignored", () => {
    expect(mapClaims("idp", issuer, { sub: "s1" }).ok).toBe(false);
    const m = mapClaims("idp", { ...issuer, tenant: "fixed" }, { sub: "s1", rpm: -3 });
    expect(m).toMatchObject({ ok: true, key: { id: "jwt:idp:s1", tenant: "fixed", tpm_limit: 1000 } });
    expect((m as { key: { rpm_limit?: number } }).key.rpm_limit).toBeUndefined();
  });
});

describe("decider: admin identities and issuers", () => {
  test("a tenant_admin needs an existing tenant; other roles none; names unique among live admins", () => {
    const s = withTenant();
    expect(() => decide(s, adminCmd("adm_0000000001", { name: "a", role: "tenant_admin" }))).toThrow(expect.objectContaining({ param: "tenant" }));
    expect(() => decide(s, adminCmd("adm_0000000001", { name: "a", role: "tenant_admin", tenant: "ghost" }))).toThrow(expect.objectContaining({ code: "unknown_tenant" }));
    expect(() => decide(s, adminCmd("adm_0000000001", { name: "a", role: "operator", tenant: "acme" }))).toThrow(expect.objectContaining({ param: "tenant" }));
    expect(() => decide(s, adminCmd("adm_0000000001", { name: "a", role: "root" }))).toThrow(expect.objectContaining({ code: "invalid_config" }));
    const s2 = run(s, adminCmd("adm_0000000001", { name: "a", role: "tenant_admin", tenant: "acme" }));
    expect(() => decide(s2, adminCmd("adm_0000000002", { name: "a", role: "analyst" }))).toThrow(expect.objectContaining({ code: "duplicate_admin_name" }));
    expect(() => decide(s2, adminCmd("adm_0000000001", { name: "b", role: "analyst", revoked_at: "2026-01-01T00:00:00Z" }))).toThrow();
  });
  test("revoke → admin.revoked (again: nothing); a revoked admin cannot be changed; admins are not deleted; a tenant with a live tenant_admin is not deleted", () => {
    const s = run(withTenant(), adminCmd("adm_0000000001", { name: "a", role: "tenant_admin", tenant: "acme" }));
    expect(() => decide(s, { type: "delete", kind: "tenant", id: "acme" })).toThrow(expect.objectContaining({ code: "entity_in_use" }));
    expect(() => decide(s, { type: "delete", kind: "admin", id: "adm_0000000001" })).toThrow(expect.objectContaining({ code: "invalid_request" }));
    const revoke: ConfigCommand = { type: "revoke", kind: "admin", id: "adm_0000000001", at: "2026-12-01T00:00:00Z" };
    expect(decide(s, revoke).map((e) => e.type)).toEqual(["admin.revoked"]);
    const s2 = run(s, revoke);
    expect(decide(s2, revoke)).toEqual([]);
    expect(() => decide(s2, { type: "update", kind: "admin", id: "adm_0000000001", changes: { role: "owner" } })).toThrow(expect.objectContaining({ code: "admin_revoked" }));
    expect(decide(s2, { type: "delete", kind: "tenant", id: "acme" }).map((e) => e.type)).toEqual(["tenant.deleted"]);
  });
  test("an issuer needs a key source and a tenant source; HS keys and private keys are refused", () => {
    const s = withTenant();
    const base = { issuer: "https://i", audience: "a", tenant: "acme" };
    expect(decide(s, { type: "create", kind: "jwt_issuer", id: "idp", fields: { ...base, jwks_url: "https://i/jwks" } }).map((e) => e.type)).toEqual(["jwt_issuer.created"]);
    expect(() => decide(s, { type: "create", kind: "jwt_issuer", id: "idp", fields: base })).toThrow(expect.objectContaining({ param: "jwks_url" }));
    expect(() => decide(s, { type: "create", kind: "jwt_issuer", id: "idp", fields: { ...base, tenant: undefined, jwks_url: "https://i/jwks" } })).toThrow(expect.objectContaining({ param: "tenant" }));
    expect(() => decide(s, { type: "create", kind: "jwt_issuer", id: "idp", fields: { ...base, public_keys: [{ kty: "oct", k: "x" }] } })).toThrow();
    expect(() => decide(s, { type: "create", kind: "jwt_issuer", id: "idp", fields: { ...base, public_keys: [{ kty: "EC", crv: "P-256", x: "a", y: "b", d: "secret" }] } })).toThrow(expect.objectContaining({ param: "public_keys.0" }));
    expect(() => decide(s, { type: "create", kind: "jwt_issuer", id: "idp", fields: { ...base, jwks_url: "https://i", algorithms: ["HS256"] } })).toThrow();
  });
  test("audit-only facts on the config stream change no entity, only the position", () => {
    const s = withTenant();
    const next = evolve(s, { type: "audit.sign_in_failed" as never, payload: { kind: "audit" as never, id: "x", version: 1 } }, { time: "", actor: "anonymous", position: 7 });
    expect(next.entities).toEqual(s.entities);
    expect(next.version).toBe(8);
  });
});

describe("audit page", () => {
  const rec = (offset: number, type: string, payload: Record<string, unknown>, minutesAgo: number): StoredEvent => ({ offset, partition: 0, event: makeEvent({ type, tenant: "_config", actor: (payload.actor as { name?: string } | undefined)?.name ?? "anonymous", payload, time: new Date(Date.now() - minutesAgo * 60_000) }) }) as StoredEvent;
  const alice = { id: "adm_a", name: "alice", ip: "10.0.0.1", request_id: "r1" };
  const records = [
    rec(0, "route.created", { kind: "route", id: "fast", version: 1, fields: {}, actor: alice }, 30),
    rec(1, "audit.sign_in_failed", { kind: "audit", id: "u", version: 1, code: "invalid_admin_key", ip: "10.0.0.9", request_id: "r2" }, 20),
    rec(2, "key.rotated", { kind: "key", id: "key_1", version: 2, changes: { hash: "f".repeat(64), prefix: "tg-x" }, actor: { id: "bootstrap", name: "admin" } }, 10),
    rec(3, "route.updated", { kind: "route", id: "fast", version: 2, changes: { strategy: "weighted" }, actor: alice }, 5),
  ];
  test("newest first, filters by actor, entity (kind, kind:id, audit), time; hashes hidden", () => {
    expect(auditPage(records, { limit: 10 }).data.map((e) => e.position)).toEqual([3, 2, 1, 0]);
    expect(auditPage(records, { limit: 10, actor: "alice" }).data.map((e) => e.position)).toEqual([3, 0]);
    expect(auditPage(records, { limit: 10, actor: "adm_a", entity: "route:fast" }).data.map((e) => e.request_id)).toEqual(["r1", "r1"]);
    expect(auditPage(records, { limit: 10, entity: "audit" }).data).toMatchObject([{ type: "audit.sign_in_failed", entity: null, request_id: "r2", details: { code: "invalid_admin_key", ip: "10.0.0.9" } }]);
    expect(auditPage(records, { limit: 10, from: new Date(Date.now() - 15 * 60_000) }).data.map((e) => e.position)).toEqual([3, 2]);
    expect(auditPage(records, { limit: 10, to: new Date(Date.now() - 15 * 60_000) }).data.map((e) => e.position)).toEqual([1, 0]);
    expect(auditPage(records, { limit: 10, entity: "key" }).data[0]!.changes).toEqual({ hash: "(hidden)", prefix: "tg-x" });
  });
  test("cursor pages: each page continues below the last position", () => {
    const p1 = auditPage(records, { limit: 3 });
    expect(p1.data.map((e) => e.position)).toEqual([3, 2, 1]);
    expect(p1.next_cursor).toBe("1");
    const p2 = auditPage(records, { limit: 3, before: Number(p1.next_cursor) });
    expect(p2.data.map((e) => e.position)).toEqual([0]);
    expect(p2.next_cursor).toBeNull();
  });
});

describe("failure limiter", () => {
  test("10 failures a minute per source, then blocked until the oldest leaves the window; other sources unaffected", () => {
    const l = new FailureLimiter(10, 60_000);
    const t = 1_000_000;
    const crossed = Array.from({ length: 10 }, (_, i) => l.fail("1.2.3.4", t + i));
    expect(crossed.filter(Boolean)).toHaveLength(1);
    expect(crossed[9]).toBe(true);
    expect(l.blockedFor("1.2.3.4", t + 100)).toBe(60_000 - 100);
    expect(l.blockedFor("5.6.7.8", t + 100)).toBe(0);
    expect(l.blockedFor("1.2.3.4", t + 60_001)).toBe(0);
  });
  test("bounded memory: the oldest source goes when the table is full", () => {
    const l = new FailureLimiter(1, 60_000, 2);
    l.fail("a", 1);
    l.fail("b", 1);
    l.fail("c", 1);
    expect(l.blockedFor("a", 2)).toBe(0);
    expect(l.blockedFor("c", 2)).toBeGreaterThan(0);
  });
});
