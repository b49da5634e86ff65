/** authPlugin with a fake ctx: every 401 / 403 code, first-run mode, headers, principal and state. */
import { describe, expect, test } from "bun:test";
import { generateKey, hashKey, isWellFormedKey, keyPrefix, newKeyId } from "../../src/config/keys.ts";
import { type ConfigSnapshot, emptySnapshot } from "../../src/config/snapshot.ts";
import type { Ctx } from "../../src/pipeline/context.ts";
import { GatewayError } from "../../src/pipeline/errors.ts";
import { authenticate, authPlugin, credentialFrom, modelAllowed } from "../../src/plugins/auth.ts";
import { evolve } from "../../src/projections/config/decider.ts";
import { type ConfigEvent, type ConfigState, initialState } from "../../src/projections/config/model.ts";
import { tenancySnapshot } from "../../src/projections/config/tenancy.ts";
import { testCtx } from "../pipeline/helpers.ts";

const NOW = Date.parse("2026-06-01T12:00:00.000Z");
const KEY = generateKey();
const OLD = generateKey();
const OTHER = generateKey();
const KEY_ID = "key_01jd0000000000000000000001";
const OTHER_ID = "key_01jd0000000000000000000002";

const tenant = (id: string, enabled = true): ConfigEvent => ({ type: "tenant.created", payload: { kind: "tenant", id, version: 1, fields: { name: id, enabled, rpm_limit: 100 } } });
const key = (id: string, secret: string, over: Record<string, unknown> = {}, type: ConfigEvent["type"] = "key.created", version = 1): ConfigEvent => ({
  type,
  payload: { kind: "key", id, version, fields: { tenant: "acme", prefix: keyPrefix(secret), hash: hashKey(secret), ...over } },
});

function snapshotOf(...events: ConfigEvent[]): ConfigSnapshot {
  const state = events.reduce<ConfigState>((s, e, i) => evolve(s, e, { time: "t", actor: "test", position: i }), initialState());
  return { ...emptySnapshot(), tenancy: tenancySnapshot(state) };
}

function run(config: ConfigSnapshot, credential: string | undefined, opts: { loopback?: boolean; model?: string; meta?: Ctx["meta"] } = {}) {
  const { ctx, events } = testCtx({ model: opts.model ?? "echo" });
  Object.assign(ctx, { config, principal: { tenant: "default" }, meta: opts.meta ?? {} });
  if (credential !== undefined) ctx.state["auth.credential"] = credential;
  const plugin = authPlugin({ loopback: opts.loopback ?? false, now: () => NOW });
  let error: GatewayError | undefined;
  try {
    plugin.phases.authenticate!(ctx);
  } catch (err) {
    error = err as GatewayError;
  }
  return { ctx, events, error };
}

const live = snapshotOf(tenant("acme"), key(KEY_ID, KEY, { service: "search", models: ["echo", "gpt-4o*"], budget: { amount_usd: 5, period: "day" } }));

describe("keys", () => {
  test("generated keys are tg- + 32 base62, unique; the hash is SHA-256 hex; the prefix is 8 chars", () => {
    const keys = new Set(Array.from({ length: 1000 }, generateKey));
    expect(keys.size).toBe(1000);
    for (const k of keys) expect(isWellFormedKey(k)).toBe(true);
    expect(hashKey("tg-abc")).toBe(new Bun.CryptoHasher("sha256").update("tg-abc").digest("hex"));
    expect(keyPrefix(KEY)).toBe(KEY.slice(0, 8));
    expect(newKeyId()).toMatch(/^key_[0-9a-z]{26}$/);
    expect(newKeyId(1) < newKeyId(2)).toBe(true);
  });

  test("credentialFrom: Bearer, x-api-key, the tg- one wins when both are sent", () => {
    expect(credentialFrom(new Headers({ authorization: `Bearer ${KEY}` }))).toBe(KEY);
    expect(credentialFrom(new Headers({ "x-api-key": KEY }))).toBe(KEY);
    expect(credentialFrom(new Headers({ authorization: "Bearer sk-upstream", "x-api-key": KEY }))).toBe(KEY);
    expect(credentialFrom(new Headers({ authorization: "Basic abc" }))).toBeUndefined();
    expect(credentialFrom(new Headers())).toBeUndefined();
  });

  test("credentialFrom: X-Service-Key carries the same virtual key; a tg- key wins over another credential", () => {
    expect(credentialFrom(new Headers({ "x-service-key": KEY }))).toBe(KEY);
    expect(credentialFrom(new Headers({ authorization: "Bearer sk-upstream", "x-service-key": KEY }))).toBe(KEY);
    expect(credentialFrom(new Headers({ "x-service-key": "not-a-tg-key" }))).toBe("not-a-tg-key"); // then refused as malformed
  });

  test("modelAllowed: absent = all; exact; trailing *", () => {
    expect(modelAllowed(undefined, "x")).toBe(true);
    expect(modelAllowed(["echo"], "echo")).toBe(true);
    expect(modelAllowed(["echo"], "echo-2")).toBe(false);
    expect(modelAllowed(["gpt-4o*"], "gpt-4o-mini")).toBe(true);
  });
});

describe("authPlugin", () => {
  test("a valid key: principal, meta bound to the key's service, auth.key and auth.tenant for the limits plugin", () => {
    const { ctx, error, events } = run(live, KEY, { meta: { service: "spoofed", user: "u7" } });
    expect(error).toBeUndefined();
    expect(ctx.principal).toEqual({ tenant: "acme", keyId: KEY_ID, keyPrefix: keyPrefix(KEY), service: "search", user: "u7" });
    expect(ctx.meta.service).toBe("search");
    expect(ctx.state["auth.key"]).toMatchObject({ id: KEY_ID, tenant: "acme", budget: { amount_usd: 5, period: "day" } });
    expect(ctx.state["auth.tenant"]).toEqual({ id: "acme", name: "acme", enabled: true, rpm_limit: 100 });
    expect(events).toEqual([]);
  });

  const cases: Array<[string, ConfigSnapshot, string | undefined, number, string, string?]> = [
    ["missing", live, undefined, 401, "missing_api_key"],
    ["empty", live, "", 401, "missing_api_key"],
    ["malformed (short)", live, "tg-abc", 401, "malformed_api_key"],
    ["malformed (not tg-)", live, "sk-0123456789abcdefghijABCDEFGHIJ01", 401, "malformed_api_key"],
    ["malformed (bad char)", live, `${KEY.slice(0, -1)}!`, 401, "malformed_api_key"],
    ["unknown", live, OTHER, 401, "invalid_api_key"],
    ["revoked", snapshotOf(tenant("acme"), key(KEY_ID, KEY, { revoked_at: "2026-06-01T11:59:59.000Z" })), KEY, 401, "revoked_api_key"],
    ["expired", snapshotOf(tenant("acme"), key(KEY_ID, KEY, { expires_at: "2026-06-01T12:00:00.000Z" })), KEY, 401, "expired_api_key"],
    [
      "rotated out, grace over",
      snapshotOf(tenant("acme"), key(KEY_ID, KEY, { hash: hashKey(OTHER), prefix: keyPrefix(OTHER), previous_hash: hashKey(KEY), previous_valid_until: "2026-06-01T11:00:00.000Z" })),
      KEY,
      401,
      "expired_api_key",
    ],
    ["tenant disabled", snapshotOf(tenant("acme", false), key(KEY_ID, KEY)), KEY, 403, "tenant_disabled"],
    [
      "tenant gone",
      snapshotOf(tenant("acme"), key(KEY_ID, KEY), { type: "tenant.deleted", payload: { kind: "tenant", id: "acme", version: 2 } }),
      KEY,
      403,
      "tenant_disabled",
    ],
    ["no tenancy in the snapshot (not loopback)", emptySnapshot(), KEY, 401, "invalid_api_key"],
  ];
  for (const [name, config, credential, status, code] of cases) {
    test(`${name} → ${status} ${code}, with an auth.denied event and no secret`, () => {
      const { error, events } = run(config, credential);
      expect(error).toBeInstanceOf(GatewayError);
      expect({ status: error!.status, code: error!.code }).toEqual({ status, code });
      if (status === 401) expect(error!.headers?.["www-authenticate"]).toContain("Bearer");
      expect(events.map((e) => e.type)).toEqual(["auth.denied"]);
      expect(events[0]!.payload).toMatchObject({ code, status });
      const text = JSON.stringify(events);
      for (const secret of [KEY, OTHER]) expect(text).not.toContain(secret);
      if (credential && isWellFormedKey(credential)) expect(events[0]!.payload.prefix).toBe(keyPrefix(credential));
      else expect(events[0]!.payload.prefix).toBeNull();
    });
  }

  test("a rotated-out key within its grace still works; the new one too", () => {
    const config = snapshotOf(tenant("acme"), key(KEY_ID, KEY, { hash: hashKey(OTHER), prefix: keyPrefix(OTHER), previous_hash: hashKey(KEY), previous_valid_until: "2026-06-01T13:00:00.000Z" }));
    expect(run(config, KEY).error).toBeUndefined();
    expect(run(config, OTHER).ctx.principal.keyId).toBe(KEY_ID);
  });

  test("an expiry in the future is fine", () => {
    expect(run(snapshotOf(tenant("acme"), key(KEY_ID, KEY, { expires_at: "2026-06-01T12:00:01.000Z" })), KEY).error).toBeUndefined();
  });

  test("a model outside the key's list → 403 model_not_allowed; prefix patterns match", () => {
    const { error, events, ctx } = run(live, KEY, { model: "claude-3" });
    expect({ status: error?.status, code: error?.code, param: error?.param }).toEqual({ status: 403, code: "model_not_allowed", param: "model" });
    expect(events[0]!.payload).toMatchObject({ code: "model_not_allowed", keyId: KEY_ID, model: "claude-3" });
    expect(ctx.principal.tenant).toBe("acme"); // recorded against the key's tenant
    expect(run(live, KEY, { model: "gpt-4o-mini" }).error).toBeUndefined();
  });

  test("a revoked key outranks its other faults (expired, disabled tenant)", () => {
    const config = snapshotOf(tenant("acme", false), key(KEY_ID, KEY, { revoked_at: "2026-01-01T00:00:00.000Z", expires_at: "2026-01-01T00:00:00.000Z" }));
    expect(run(config, KEY).error?.code).toBe("revoked_api_key");
  });

  describe("first-run mode", () => {
    const noKeys = snapshotOf(tenant("other"));
    test("no key exists + loopback → tenant default, any credential ignored", () => {
      for (const credential of [undefined, "sk-anything", OTHER]) {
        const { ctx, error, events } = run(noKeys, credential, { loopback: true, meta: { service: "svc" } });
        expect(error).toBeUndefined();
        expect(ctx.principal).toEqual({ tenant: "default", service: "svc" });
        expect(events).toEqual([]);
      }
      expect(run(emptySnapshot(), undefined, { loopback: true }).error).toBeUndefined();
    });

    test("no key exists but not loopback → a key is required", () => {
      expect(run(noKeys, undefined, { loopback: false }).error?.code).toBe("missing_api_key");
      expect(run(noKeys, OTHER, { loopback: false }).error?.code).toBe("invalid_api_key");
    });

    test("once any key exists (even revoked), loopback needs a key too", () => {
      const revokedOnly = snapshotOf(tenant("acme"), key(KEY_ID, KEY, { revoked_at: "2026-01-01T00:00:00.000Z" }));
      expect(run(revokedOnly, undefined, { loopback: true }).error?.code).toBe("missing_api_key");
      expect(run(live, undefined, { loopback: true }).error?.code).toBe("missing_api_key");
      expect(run(live, KEY, { loopback: true }).ctx.principal.tenant).toBe("acme");
    });

    test("a configured, disabled `default` tenant is refused even in first-run mode", () => {
      expect(run(snapshotOf(tenant("default", false)), undefined, { loopback: true }).error?.code).toBe("tenant_disabled");
    });
  });

  test("several keys: each finds its own record", () => {
    const config = snapshotOf(tenant("acme"), tenant("globex"), key(KEY_ID, KEY), { ...key(OTHER_ID, OTHER), payload: { ...key(OTHER_ID, OTHER).payload, fields: { tenant: "globex", prefix: keyPrefix(OTHER), hash: hashKey(OTHER) } } });
    expect(run(config, KEY).ctx.principal).toEqual({ tenant: "acme", keyId: KEY_ID, keyPrefix: keyPrefix(KEY) });
    expect(run(config, OTHER).ctx.principal).toEqual({ tenant: "globex", keyId: OTHER_ID, keyPrefix: keyPrefix(OTHER) });
  });
});

describe("authenticate (pure)", () => {
  test("without a model it skips the model check (e.g. for GET /api/v1/keys/self)", () => {
    const d = authenticate(live.tenancy, KEY, { loopback: false, now: NOW });
    expect(d).toMatchObject({ ok: true, tenantId: "acme", key: { id: KEY_ID } });
    expect(authenticate(live.tenancy, KEY, { loopback: false, now: NOW, model: "nope" })).toMatchObject({ ok: false, code: "model_not_allowed" });
  });
});
