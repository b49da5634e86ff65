/** customer_override: decider specs (given/when/then) and the pure resolution order. */
import { describe, expect, test } from "bun:test";
import type { ConfigEvent } from "../../src/projections/config/model.ts";
import { customerOverrideIndex } from "../../src/projections/config/customer-overrides.ts";
import { indexCustomerOverrides, resolveCustomerOverride } from "../../src/routing/customer-overrides.ts";
import { fold, given } from "./decider-spec.ts";

const provider: ConfigEvent = { type: "provider.created", payload: { kind: "provider", id: "oai", version: 1, fields: { kind: "openai", models: [], enabled: true, priority: 0 } } };
const tenant: ConfigEvent = { type: "tenant.created", payload: { kind: "tenant", id: "acme", version: 1, fields: { name: "Acme", enabled: true } } };
const created = (id: string, fields: Record<string, unknown>, version = 1): ConfigEvent => ({ type: "customer_override.created", payload: { kind: "customer_override", id, version, fields } });
const ID = "ovr_0123456789abcdef";

describe("customer_override decider", () => {
  test("create → created, fields as given", () =>
    given(provider).when({ type: "create", kind: "customer_override", id: ID, fields: { user_id: "u1", service: "billing", provider: "oai", model: "gpt-4o" } })
      .then([created(ID, { user_id: "u1", service: "billing", provider: "oai", model: "gpt-4o" })]));

  test("an unknown provider → 400 unknown_provider; an unknown tenant → 400 unknown_tenant", () => {
    given().when({ type: "create", kind: "customer_override", id: ID, fields: { user_id: "u1", provider: "oai", model: "m" } }).thenFails(400, "unknown_provider", "provider");
    given(provider).when({ type: "create", kind: "customer_override", id: ID, fields: { user_id: "u1", tenant: "nope", provider: "oai", model: "m" } }).thenFails(400, "unknown_tenant", "tenant");
    given(provider, tenant).when({ type: "create", kind: "customer_override", id: ID, fields: { user_id: "u1", tenant: "acme", provider: "oai", model: "m" } })
      .then([created(ID, { user_id: "u1", tenant: "acme", provider: "oai", model: "m" })]);
  });

  test("one override per (tenant, service, user_id): a second → 409; another service or tenant is fine", () => {
    const first = created(ID, { user_id: "u1", provider: "oai", model: "m" });
    given(provider, first).when({ type: "create", kind: "customer_override", id: "ovr_aaaaaaaaaaaa", fields: { user_id: "u1", provider: "oai", model: "n" } }).thenFails(409, "already_exists");
    given(provider, first).when({ type: "create", kind: "customer_override", id: "ovr_aaaaaaaaaaaa", fields: { user_id: "u1", service: "s", provider: "oai", model: "n" } })
      .then([created("ovr_aaaaaaaaaaaa", { user_id: "u1", service: "s", provider: "oai", model: "n" })]);
  });

  test("missing user_id, an unknown field or a bad id → 400", () => {
    given(provider).when({ type: "create", kind: "customer_override", id: ID, fields: { provider: "oai", model: "m" } }).thenFails(400, "invalid_config");
    given(provider).when({ type: "create", kind: "customer_override", id: ID, fields: { user_id: "u", provider: "oai", model: "m", colour: 1 } }).thenFails(400, "invalid_config");
    given(provider).when({ type: "create", kind: "customer_override", id: "u1", fields: { user_id: "u", provider: "oai", model: "m" } }).thenFails(400, "invalid_id");
  });

  test("delete → deleted; a provider in use by an override cannot be deleted", () => {
    const first = created(ID, { user_id: "u1", provider: "oai", model: "m" });
    given(provider, first).when({ type: "delete", kind: "customer_override", id: ID }).then([{ type: "customer_override.deleted", payload: { kind: "customer_override", id: ID, version: 2 } }]);
    given(provider, first).when({ type: "delete", kind: "provider", id: "oai" }).thenFails(409, "entity_in_use");
  });

  test("the snapshot index leaves out overrides to a provider that is not live", () => {
    const state = fold([provider, created(ID, { user_id: "u1", provider: "oai", model: "m" })]);
    expect(customerOverrideIndex(state, new Map([["oai", {}]])).size).toBe(1);
    expect(customerOverrideIndex(state, new Map()).size).toBe(0);
  });
});

describe("resolveCustomerOverride", () => {
  const o = (id: string, userId: string, extra: { service?: string; tenant?: string } = {}) => ({ id, userId, provider: "p", model: id, ...extra });
  const index = indexCustomerOverrides([
    o("any", "u1"),
    o("any-billing", "u1", { service: "billing" }),
    o("acme", "u1", { tenant: "acme" }),
    o("acme-billing", "u1", { tenant: "acme", service: "billing" }),
    o("globex-only", "u2", { tenant: "globex" }),
  ]);
  const pick = (tenant: string, service: string | undefined, user: string | undefined) => {
    const r = resolveCustomerOverride(index, tenant, service, user);
    return r ? [r.override.id, r.level] : undefined;
  };
  test("customer+service before customer; tenant-scoped before every-tenant at each level", () => {
    expect(pick("acme", "billing", "u1")).toEqual(["acme-billing", "customer_service"]);
    expect(pick("globex", "billing", "u1")).toEqual(["any-billing", "customer_service"]);
    expect(pick("acme", "web", "u1")).toEqual(["acme", "customer"]);
    expect(pick("globex", undefined, "u1")).toEqual(["any", "customer"]);
  });
  test("a tenant-scoped override applies inside its tenant only; no user → none", () => {
    expect(pick("globex", undefined, "u2")).toEqual(["globex-only", "customer"]);
    expect(pick("acme", undefined, "u2")).toBeUndefined();
    expect(pick("acme", "billing", undefined)).toBeUndefined();
    expect(resolveCustomerOverride(undefined, "acme", undefined, "u1")).toBeUndefined();
  });
});
