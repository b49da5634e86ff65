/** Admin API for tenants and virtual keys: config commands → events; keys shown once, stored as hashes. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { hashKey, isWellFormedKey } from "../../src/config/keys.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const ADMIN = "test-admin-key-tenancy-0123";
let gw: TestGateway;
const auth = { authorization: `Bearer ${ADMIN}` };

type Json = Record<string, unknown> & { error?: { code: string; param?: string | null } };
const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
  const res = await fetch(`${gw.url}${path}`, { method, headers: { "content-type": "application/json", ...auth, ...headers }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Json };
};

/** Every key shown by the API in this file: none may appear in events, the store, or lists. */
const shownKeys: string[] = [];

beforeAll(async () => {
  gw = await startTestGateway({ TOLLGATE_ADMIN_KEY: ADMIN });
});
afterAll(() => gw.dispose());

describe("tenants", () => {
  test("the admin key guards every route", async () => {
    for (const [method, path] of [["GET", "/api/v1/admin/tenants"], ["POST", "/api/v1/admin/tenants"], ["GET", "/api/v1/admin/keys"], ["POST", "/api/v1/admin/keys"], ["POST", "/api/v1/admin/keys/key_x/rotate"], ["DELETE", "/api/v1/admin/keys/key_x"]] as const) {
      const res = await fetch(`${gw.url}${path}`, { method, headers: { "content-type": "application/json" }, ...(method === "POST" ? { body: "{}" } : {}) });
      expect(res.status).toBe(401);
      expect(((await res.json()) as Json).error?.code).toBe("missing_admin_key");
    }
  });

  test("create: id from a slug of the name, defaults, ETag; GET one and the list", async () => {
    const res = await call("POST", "/api/v1/admin/tenants", { name: "Acme Corp.", rpm_limit: 600, budget: { amount_usd: 100, period: "month" } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ id: "acme-corp", name: "Acme Corp.", enabled: true, rpm_limit: 600, budget: { amount_usd: 100, period: "month" }, version: 1, updated_by: "admin" });
    expect(res.headers.get("etag")).toBe('"1"');
    expect((await call("GET", "/api/v1/admin/tenants/acme-corp")).body).toMatchObject({ id: "acme-corp", version: 1 });
    expect((await call("POST", "/api/v1/admin/tenants", { id: "globex", name: "Globex" })).status).toBe(201);
    const list = await call("GET", "/api/v1/admin/tenants");
    expect((list.body.data as Json[]).map((t) => t.id)).toEqual(["acme-corp", "globex"]);
  });

  test("invalid tenants: 400 with a code, nothing appended", async () => {
    const before = (await gw.events("config")).length;
    const cases: Array<[unknown, string, string]> = [
      [{ name: "Neg", budget: { amount_usd: -5, period: "day" } }, "invalid_config", "budget.amount_usd"],
      [{ name: "Week", budget: { amount_usd: 5, period: "week" } }, "invalid_config", "budget.period"],
      [{}, "invalid_config", "name"],
      [{ id: "Not A Slug", name: "x" }, "invalid_id", "id"],
      [{ name: "x", colour: "red" }, "invalid_config", "colour"],
    ];
    for (const [body, code, param] of cases) {
      const res = await call("POST", "/api/v1/admin/tenants", body);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code, param });
    }
    expect((await call("POST", "/api/v1/admin/tenants", { name: "Acme Corp." })).status).toBe(409);
    expect((await call("GET", "/api/v1/admin/tenants/ghost")).status).toBe(404);
    expect((await gw.events("config")).length).toBe(before);
  });

  test("PATCH with If-Match; a stale version → 409", async () => {
    const ok = await call("PATCH", "/api/v1/admin/tenants/globex", { tpm_limit: 5000 }, { "if-match": '"1"' });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ tpm_limit: 5000, version: 2 });
    const stale = await call("PATCH", "/api/v1/admin/tenants/globex", { tpm_limit: 1 }, { "if-match": '"1"' });
    expect(stale.status).toBe(409);
    expect(stale.body.error?.code).toBe("version_conflict");
  });
});

describe("keys", () => {
  let keyId = "";
  let secret = "";

  test("create: the key is shown once, with its prefix; stored as a hash", async () => {
    const res = await call("POST", "/api/v1/admin/keys", { tenant_id: "acme-corp", service: "search", name: "ci", models: ["echo"], rpm_limit: 60, budget: { amount_usd: 5, period: "day" }, expires_at: "2030-01-01T00:00:00Z" });
    expect(res.status).toBe(201);
    secret = String(res.body.key);
    keyId = String(res.body.id);
    shownKeys.push(secret);
    expect(isWellFormedKey(secret)).toBe(true);
    expect(keyId).toMatch(/^key_[0-9a-z]{26}$/);
    expect(res.body).toMatchObject({ tenant_id: "acme-corp", service: "search", name: "ci", prefix: secret.slice(0, 8), models: ["echo"], rpm_limit: 60, budget: { amount_usd: 5, period: "day" }, expires_at: "2030-01-01T00:00:00.000Z", status: "active", version: 1 });
    expect(res.body.hash).toBeUndefined();
    expect(gw.config.state.entities.key[keyId]?.fields.hash).toBe(hashKey(secret));
    // The live snapshot finds it by hash.
    expect(gw.snapshot.tenancy?.keys.get(hashKey(secret))?.id).toBe(keyId);
  });

  test("list and GET show the prefix only (no key, no hash); ?tenant_id filters", async () => {
    const second = await call("POST", "/api/v1/admin/keys", { tenant_id: "globex" });
    expect(second.status).toBe(201);
    shownKeys.push(String(second.body.key));
    const all = await call("GET", "/api/v1/admin/keys");
    expect((all.body.data as Json[]).length).toBe(2);
    const acme = await call("GET", "/api/v1/admin/keys?tenant_id=acme-corp");
    expect((acme.body.data as Json[]).map((k) => k.id)).toEqual([keyId]);
    const one = await call("GET", `/api/v1/admin/keys/${keyId}`);
    for (const view of [one.body, ...(all.body.data as Json[])]) {
      expect(view.key).toBeUndefined();
      expect(view.hash).toBeUndefined();
      expect(view.previous_hash).toBeUndefined();
      expect(String(view.prefix)).toMatch(/^tg-[0-9A-Za-z]{5}$/);
    }
    const text = JSON.stringify([all.body, one.body]);
    for (const k of shownKeys) {
      expect(text).not.toContain(k);
      expect(text).not.toContain(hashKey(k));
    }
  });

  test("invalid keys: unknown tenant 400, negative budget 400, duplicate name 409, gateway-set fields 400; nothing appended", async () => {
    const before = (await gw.events("config")).length;
    const cases: Array<[unknown, number, string]> = [
      [{ tenant_id: "ghost" }, 400, "unknown_tenant"],
      [{}, 400, "invalid_config"],
      [{ tenant_id: "acme-corp", budget: { amount_usd: -1, period: "day" } }, 400, "invalid_config"],
      [{ tenant_id: "acme-corp", name: "ci" }, 400, "duplicate_key_name"],
      [{ tenant_id: "acme-corp", hash: "a".repeat(64) }, 400, "invalid_config"],
      [{ tenant_id: "acme-corp", key: "tg-0123456789abcdefghijABCDEFGHIJ01" }, 400, "invalid_config"],
      [{ tenant_id: "acme-corp", expires_at: "soon" }, 400, "invalid_config"],
      [{ tenant_id: "acme-corp", models: [] }, 400, "invalid_config"],
    ];
    for (const [body, status, code] of cases) {
      const res = await call("POST", "/api/v1/admin/keys", body);
      expect({ status: res.status, code: res.body.error?.code }).toEqual({ status, code });
    }
    expect((await gw.events("config")).length).toBe(before);
  });

  test("PATCH changes limits; the tenant, hash or prefix cannot be patched", async () => {
    const ok = await call("PATCH", `/api/v1/admin/keys/${keyId}`, { tpm_limit: 9000, rpm_limit: null });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ tpm_limit: 9000, version: 2 });
    expect(ok.body.rpm_limit).toBeUndefined();
    expect((await call("PATCH", `/api/v1/admin/keys/${keyId}`, { tenant: "globex" })).status).toBe(400);
    expect((await call("PATCH", `/api/v1/admin/keys/${keyId}`, { prefix: "tg-aaaaa" })).status).toBe(400);
  });

  test("rotate: a new key shown once; the old one valid until previous_valid_until", async () => {
    const t0 = Date.now();
    const res = await call("POST", `/api/v1/admin/keys/${keyId}/rotate`, { grace_seconds: 120 });
    expect(res.status).toBe(201);
    const fresh = String(res.body.key);
    shownKeys.push(fresh);
    expect(isWellFormedKey(fresh)).toBe(true);
    expect(fresh).not.toBe(secret);
    expect(res.body).toMatchObject({ id: keyId, prefix: fresh.slice(0, 8), status: "active", version: 3 });
    const until = Date.parse(String(res.body.previous_valid_until));
    expect(until).toBeGreaterThanOrEqual(t0 + 120_000 - 1000);
    expect(until).toBeLessThanOrEqual(Date.now() + 120_000 + 1000);
    const index = gw.snapshot.tenancy!.keys;
    expect(index.get(hashKey(fresh))?.id).toBe(keyId);
    expect(index.get(hashKey(secret))?.grace_until_ms).toBe(until);
    // Default grace is an hour; a bodiless POST works.
    const again = await fetch(`${gw.url}/api/v1/admin/keys/${keyId}/rotate`, { method: "POST", headers: auth });
    expect(again.status).toBe(201);
    const body = (await again.json()) as Json;
    shownKeys.push(String(body.key));
    expect(Date.parse(String(body.previous_valid_until)) - Date.now()).toBeGreaterThan(3590_000);
    expect((await call("POST", `/api/v1/admin/keys/${keyId}/rotate`, { grace_seconds: -1 })).status).toBe(400);
    expect((await call("POST", "/api/v1/admin/keys/key_0000000000000000/rotate", {})).status).toBe(404);
  });

  test("revoke: revoked_at set by an event; again is harmless; rotate/patch then 409 key_revoked", async () => {
    const res = await call("DELETE", `/api/v1/admin/keys/${keyId}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: keyId, revoked: true, status: "revoked" });
    expect(Number.isNaN(Date.parse(String(res.body.revoked_at)))).toBe(false);
    const n = (await gw.events("config")).length;
    expect((await call("DELETE", `/api/v1/admin/keys/${keyId}`)).status).toBe(200);
    expect((await gw.events("config")).length).toBe(n);
    expect((await call("POST", `/api/v1/admin/keys/${keyId}/rotate`, {})).body.error?.code).toBe("key_revoked");
    expect((await call("PATCH", `/api/v1/admin/keys/${keyId}`, { tpm_limit: 1 })).body.error?.code).toBe("key_revoked");
    expect(gw.snapshot.tenancy?.keys.get(hashKey(shownKeys.at(-1)!))?.revoked_at).toBe(String(res.body.revoked_at));
    // The name of a revoked key may be reused.
    const reuse = await call("POST", "/api/v1/admin/keys", { tenant_id: "acme-corp", name: "ci" });
    expect(reuse.status).toBe(201);
    shownKeys.push(String(reuse.body.key));
  });

  test("a tenant with live keys cannot be deleted (409 entity_in_use)", async () => {
    const res = await call("DELETE", "/api/v1/admin/tenants/globex");
    expect(res.status).toBe(409);
    expect(res.body.error?.code).toBe("entity_in_use");
    expect((await call("POST", "/api/v1/admin/tenants", { name: "Empty" })).status).toBe(201);
    expect((await call("DELETE", "/api/v1/admin/tenants/empty")).body).toMatchObject({ id: "empty", deleted: true });
  });

  test("events: tenant and key facts, hashes at most — never a key in clear (log, history, store)", async () => {
    const events = await gw.events("config");
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(["tenant.created", "key.created", "key.updated", "key.rotated", "key.revoked", "tenant.deleted"]));
    const history = await call("GET", "/api/v1/admin/config/history?entity=key");
    expect((history.body.data as Json[]).map((h) => h.type)).toContain("key.rotated");
    const stored = JSON.stringify(await gw.store.hgetall("config:key"));
    const everything = JSON.stringify(events) + JSON.stringify(history.body) + stored;
    expect(shownKeys.length).toBeGreaterThanOrEqual(5);
    for (const k of shownKeys) {
      expect(everything).not.toContain(k);
      expect(everything).not.toContain(k.slice(3)); // not even without the tg-
    }
    expect(stored).toContain(hashKey(shownKeys.at(-1)!));
  });
});
