/** Decider specs for tenants and virtual keys: given(events).when(command).then(events). */
import { describe, expect, test } from "bun:test";
import type { ConfigEvent } from "../../src/projections/config/model.ts";
import { fold, given } from "./decider-spec.ts";
import { keyIndex, tenancySnapshot, tenantOf } from "../../src/projections/config/tenancy.ts";

const H1 = "a".repeat(64);
const H2 = "b".repeat(64);
const H3 = "c".repeat(64);
const KEY1 = "key_01jd0000000000000000000001";
const KEY2 = "key_01jd0000000000000000000002";

const acme = { name: "Acme", enabled: true };
const tenantCreated = (id = "acme", fields: Record<string, unknown> = acme): ConfigEvent => ({ type: "tenant.created", payload: { kind: "tenant", id, version: 1, fields } });
const keyFields = (over: Record<string, unknown> = {}) => ({ tenant: "acme", prefix: "tg-AbCdE", hash: H1, ...over });
const keyCreated = (id = KEY1, fields: Record<string, unknown> = keyFields()): ConfigEvent => ({ type: "key.created", payload: { kind: "key", id, version: 1, fields } });

describe("tenant", () => {
  test("create fills `enabled`", () =>
    given().when({ type: "create", kind: "tenant", id: "acme", fields: { name: "Acme" } }).then([tenantCreated()]));

  test("create with limits and a budget", () => {
    const fields = { name: "Acme", budget: { amount_usd: 100, period: "month" }, rpm_limit: 600, tpm_limit: 100_000, enabled: true };
    given().when({ type: "create", kind: "tenant", id: "acme", fields }).then([tenantCreated("acme", fields)]);
  });

  test("a negative budget → 400 invalid_config", () =>
    given().when({ type: "create", kind: "tenant", id: "acme", fields: { name: "Acme", budget: { amount_usd: -1, period: "day" } } }).thenFails(400, "invalid_config", "budget.amount_usd"));

  test("an unknown budget period → 400 invalid_config", () =>
    given().when({ type: "create", kind: "tenant", id: "acme", fields: { name: "Acme", budget: { amount_usd: 1, period: "week" } } }).thenFails(400, "invalid_config"));

  test("no name → 400 invalid_config", () => given().when({ type: "create", kind: "tenant", id: "acme", fields: {} }).thenFails(400, "invalid_config", "name"));

  test("a non-slug id → 400 invalid_id", () => given().when({ type: "create", kind: "tenant", id: "Acme Corp", fields: acme }).thenFails(400, "invalid_id"));

  test("create twice → 409 already_exists", () => given(tenantCreated()).when({ type: "create", kind: "tenant", id: "acme", fields: acme }).thenFails(409, "already_exists"));

  test("disable", () =>
    given(tenantCreated())
      .when({ type: "update", kind: "tenant", id: "acme", changes: { enabled: false } })
      .then([{ type: "tenant.updated", payload: { kind: "tenant", id: "acme", version: 2, fields: { ...acme, enabled: false }, changes: { enabled: false } } }]));

  test("delete with a live key → 409 entity_in_use", () =>
    given(tenantCreated(), keyCreated()).when({ type: "delete", kind: "tenant", id: "acme" }).thenFails(409, "entity_in_use"));

  test("delete once its keys are revoked", () =>
    given(tenantCreated(), keyCreated(), { type: "key.revoked", payload: { kind: "key", id: KEY1, version: 2, fields: keyFields({ revoked_at: "2026-01-02T00:00:00.000Z" }), changes: { revoked_at: "2026-01-02T00:00:00.000Z" } } })
      .when({ type: "delete", kind: "tenant", id: "acme" })
      .then([{ type: "tenant.deleted", payload: { kind: "tenant", id: "acme", version: 2 } }]));
});

describe("key", () => {
  test("create for an existing tenant", () =>
    given(tenantCreated()).when({ type: "create", kind: "key", id: KEY1, fields: keyFields() }).then([keyCreated()]));

  test("create with every option; times are normalized", () => {
    const fields = keyFields({ service: "search", user: "u1", name: "ci", models: ["gpt-4o", "fast"], rpm_limit: 60, tpm_limit: 10_000, budget: { amount_usd: 5, period: "day" }, expires_at: "2027-01-01T00:00:00Z" });
    given(tenantCreated())
      .when({ type: "create", kind: "key", id: KEY1, fields })
      .then([keyCreated(KEY1, { ...fields, expires_at: "2027-01-01T00:00:00.000Z" })]);
  });

  test("an unknown tenant → 400 unknown_tenant", () =>
    given().when({ type: "create", kind: "key", id: KEY1, fields: keyFields({ tenant: "ghost" }) }).thenFails(400, "unknown_tenant", "tenant_id"));

  test("a negative budget → 400 invalid_config", () =>
    given(tenantCreated()).when({ type: "create", kind: "key", id: KEY1, fields: keyFields({ budget: { amount_usd: -0.01, period: "month" } }) }).thenFails(400, "invalid_config", "budget.amount_usd"));

  test("a zero budget is allowed (a key that may spend nothing)", () =>
    given(tenantCreated()).when({ type: "create", kind: "key", id: KEY1, fields: keyFields({ budget: { amount_usd: 0, period: "month" } }) }).then([keyCreated(KEY1, keyFields({ budget: { amount_usd: 0, period: "month" } }))]));

  test("a duplicate name in the same tenant → 400 duplicate_key_name", () =>
    given(tenantCreated(), keyCreated(KEY1, keyFields({ name: "ci" })))
      .when({ type: "create", kind: "key", id: KEY2, fields: keyFields({ name: "ci", hash: H2 }) })
      .thenFails(400, "duplicate_key_name"));

  test("the same name in another tenant is fine", () =>
    given(tenantCreated(), tenantCreated("globex", { name: "Globex", enabled: true }), keyCreated(KEY1, keyFields({ name: "ci" })))
      .when({ type: "create", kind: "key", id: KEY2, fields: keyFields({ tenant: "globex", name: "ci", hash: H2 }) })
      .then([keyCreated(KEY2, keyFields({ tenant: "globex", name: "ci", hash: H2 }))]));

  test("the name of a revoked key may be reused", () =>
    given(tenantCreated(), keyCreated(KEY1, keyFields({ name: "ci" })), { type: "key.revoked", payload: { kind: "key", id: KEY1, version: 2, fields: keyFields({ name: "ci", revoked_at: "2026-01-02T00:00:00.000Z" }), changes: {} } })
      .when({ type: "create", kind: "key", id: KEY2, fields: keyFields({ name: "ci", hash: H2 }) })
      .then([keyCreated(KEY2, keyFields({ name: "ci", hash: H2 }))]));

  test("renaming onto a taken name → 400 duplicate_key_name", () =>
    given(tenantCreated(), keyCreated(KEY1, keyFields({ name: "ci" })), keyCreated(KEY2, keyFields({ name: "web", hash: H2 })))
      .when({ type: "update", kind: "key", id: KEY2, changes: { name: "ci" } })
      .thenFails(400, "duplicate_key_name"));

  test("a clear key in the fields is refused (only hash + prefix)", () =>
    given(tenantCreated()).when({ type: "create", kind: "key", id: KEY1, fields: { ...keyFields(), key: "tg-0123456789abcdefghijABCDEFGHIJ01" } }).thenFails(400, "invalid_config"));

  test("a hash that is not SHA-256 hex → 400", () =>
    given(tenantCreated()).when({ type: "create", kind: "key", id: KEY1, fields: keyFields({ hash: "tg-secret" }) }).thenFails(400, "invalid_config", "hash"));

  test("a hash already in use → 409", () =>
    given(tenantCreated(), keyCreated()).when({ type: "create", kind: "key", id: KEY2, fields: keyFields() }).thenFails(409, "already_exists"));

  test("a bad key id → 400 invalid_id", () => given(tenantCreated()).when({ type: "create", kind: "key", id: "tg-abc", fields: keyFields() }).thenFails(400, "invalid_id"));

  test("a bad expires_at → 400 invalid_config", () =>
    given(tenantCreated()).when({ type: "create", kind: "key", id: KEY1, fields: keyFields({ expires_at: "tomorrow" }) }).thenFails(400, "invalid_config", "expires_at"));

  test("revoked_at cannot be set at create, nor tenant / hash changed by update", () => {
    given(tenantCreated()).when({ type: "create", kind: "key", id: KEY1, fields: keyFields({ revoked_at: "2026-01-01T00:00:00Z" }) }).thenFails(400, "invalid_config", "revoked_at");
    given(tenantCreated(), keyCreated()).when({ type: "update", kind: "key", id: KEY1, changes: { tenant: "other" } }).thenFails(400, "invalid_config", "tenant");
    given(tenantCreated(), keyCreated()).when({ type: "update", kind: "key", id: KEY1, changes: { hash: H2 } }).thenFails(400, "invalid_config", "hash");
  });

  test("update limits and expiry (null removes)", () =>
    given(tenantCreated(), keyCreated(KEY1, keyFields({ rpm_limit: 10 })))
      .when({ type: "update", kind: "key", id: KEY1, changes: { rpm_limit: null, expires_at: "2027-06-01T00:00:00+02:00" } })
      .then([{ type: "key.updated", payload: { kind: "key", id: KEY1, version: 2, fields: keyFields({ expires_at: "2027-05-31T22:00:00.000Z" }), changes: { rpm_limit: null, expires_at: "2027-05-31T22:00:00.000Z" } } }]));

  test("keys are revoked, never deleted", () => given(tenantCreated(), keyCreated()).when({ type: "delete", kind: "key", id: KEY1 }).thenFails(400, "invalid_request"));

  test("rotate: new hash and prefix, the old hash kept until the grace ends", () =>
    given(tenantCreated(), keyCreated())
      .when({ type: "rotate", kind: "key", id: KEY1, hash: H2, prefix: "tg-XyZ12", previousValidUntil: "2026-01-01T01:00:00Z" })
      .then([
        {
          type: "key.rotated",
          payload: {
            kind: "key",
            id: KEY1,
            version: 2,
            fields: keyFields({ hash: H2, prefix: "tg-XyZ12", previous_hash: H1, previous_valid_until: "2026-01-01T01:00:00.000Z" }),
            changes: { hash: H2, prefix: "tg-XyZ12", previous_hash: H1, previous_valid_until: "2026-01-01T01:00:00.000Z" },
          },
        },
      ]));

  test("rotate twice: the first secret is dropped, the second becomes the previous", () => {
    const rotated: ConfigEvent = { type: "key.rotated", payload: { kind: "key", id: KEY1, version: 2, fields: keyFields({ hash: H2, previous_hash: H1, previous_valid_until: "2026-01-01T01:00:00.000Z" }), changes: {} } };
    given(tenantCreated(), keyCreated(), rotated)
      .when({ type: "rotate", kind: "key", id: KEY1, hash: H3, prefix: "tg-33333", previousValidUntil: "2026-01-01T02:00:00.000Z" })
      .then([
        {
          type: "key.rotated",
          payload: {
            kind: "key",
            id: KEY1,
            version: 3,
            fields: keyFields({ hash: H3, prefix: "tg-33333", previous_hash: H2, previous_valid_until: "2026-01-01T02:00:00.000Z" }),
            changes: { hash: H3, prefix: "tg-33333", previous_hash: H2, previous_valid_until: "2026-01-01T02:00:00.000Z" },
          },
        },
      ]);
  });

  test("rotate a missing key → 404; a stale version → 409", () => {
    given(tenantCreated()).when({ type: "rotate", kind: "key", id: KEY1, hash: H2, prefix: "tg-x", previousValidUntil: "2026-01-01T00:00:00Z" }).thenFails(404, "not_found");
    given(tenantCreated(), keyCreated()).when({ type: "rotate", kind: "key", id: KEY1, hash: H2, prefix: "tg-x", previousValidUntil: "2026-01-01T00:00:00Z", expectedVersion: 7 }).thenFails(409, "version_conflict");
  });

  test("revoke sets revoked_at", () =>
    given(tenantCreated(), keyCreated())
      .when({ type: "revoke", kind: "key", id: KEY1, at: "2026-01-02T00:00:00Z" })
      .then([{ type: "key.revoked", payload: { kind: "key", id: KEY1, version: 2, fields: keyFields({ revoked_at: "2026-01-02T00:00:00.000Z" }), changes: { revoked_at: "2026-01-02T00:00:00.000Z" } } }]));

  describe("after revocation", () => {
    const revoked: ConfigEvent = { type: "key.revoked", payload: { kind: "key", id: KEY1, version: 2, fields: keyFields({ revoked_at: "2026-01-02T00:00:00.000Z" }), changes: {} } };
    test("revoking again records nothing", () => given(tenantCreated(), keyCreated(), revoked).when({ type: "revoke", kind: "key", id: KEY1, at: "2026-01-03T00:00:00Z" }).then([]));
    test("rotate → 409 key_revoked", () =>
      given(tenantCreated(), keyCreated(), revoked).when({ type: "rotate", kind: "key", id: KEY1, hash: H2, prefix: "tg-x", previousValidUntil: "2026-01-01T00:00:00Z" }).thenFails(409, "key_revoked"));
    test("update → 409 key_revoked", () => given(tenantCreated(), keyCreated(), revoked).when({ type: "update", kind: "key", id: KEY1, changes: { rpm_limit: 5 } }).thenFails(409, "key_revoked"));
  });
});

describe("tenancy snapshot", () => {
  test("keyIndex: by hash, the previous hash too with its grace end; tenantOf; anyKeys", () => {
    const state = fold([
      tenantCreated("acme", { name: "Acme", enabled: true, rpm_limit: 100, budget: { amount_usd: 10, period: "month" } }),
      keyCreated(KEY1, keyFields({ models: ["echo"], expires_at: "2027-01-01T00:00:00.000Z", tpm_limit: 1000 })),
      { type: "key.rotated", payload: { kind: "key", id: KEY1, version: 2, fields: keyFields({ hash: H2, prefix: "tg-22222", models: ["echo"], expires_at: "2027-01-01T00:00:00.000Z", tpm_limit: 1000, previous_hash: H1, previous_valid_until: "2026-01-01T01:00:00.000Z" }), changes: {} } },
    ]);
    const index = keyIndex(state);
    expect([...index.keys()].sort()).toEqual([H1, H2]);
    expect(index.get(H2)).toEqual({ id: KEY1, tenant: "acme", prefix: "tg-22222", models: ["echo"], tpm_limit: 1000, expires_at: "2027-01-01T00:00:00.000Z", expires_at_ms: Date.parse("2027-01-01T00:00:00.000Z") });
    expect(index.get(H1)?.grace_until_ms).toBe(Date.parse("2026-01-01T01:00:00.000Z"));
    expect(tenantOf(state, "acme")).toEqual({ id: "acme", name: "Acme", enabled: true, rpm_limit: 100, budget: { amount_usd: 10, period: "month" } });
    expect(tenantOf(state, "ghost")).toBeUndefined();
    expect(tenancySnapshot(state).anyKeys).toBe(true);
    expect(tenancySnapshot(fold([tenantCreated()])).anyKeys).toBe(false);
  });

  test("a revoked key stays in the index (so it is refused as revoked, not unknown)", () => {
    const state = fold([tenantCreated(), keyCreated(), { type: "key.revoked", payload: { kind: "key", id: KEY1, version: 2, fields: keyFields({ revoked_at: "2026-01-02T00:00:00.000Z" }), changes: {} } }]);
    expect(keyIndex(state).get(H1)?.revoked_at).toBe("2026-01-02T00:00:00.000Z");
  });
});
