import { describe, expect, test } from "bun:test";
import { resolveRoute, type RouteOverrides } from "../../src/routing/overrides.ts";
import type { Route } from "../../src/routing/types.ts";

const r = (alias: string, provider: string): Route => ({ alias, strategy: "priority", targets: [{ provider, model: "m" }] });
const overrides: RouteOverrides = {
  global: { smart: r("smart", "global"), fast: r("fast", "global") },
  tenant: { acme: { smart: r("smart", "acme") } },
  tenantService: { "acme/billing": { smart: r("smart", "acme-billing") } },
};

describe("resolveRoute precedence", () => {
  test("tenant+service beats tenant-wide and global", () => {
    expect(resolveRoute("smart", overrides, "acme", "billing")).toEqual({ route: r("smart", "acme-billing"), level: "tenant_service" });
  });
  test("tenant-wide beats global (other service, or no service)", () => {
    expect(resolveRoute("smart", overrides, "acme", "search")).toEqual({ route: r("smart", "acme"), level: "tenant" });
    expect(resolveRoute("smart", overrides, "acme")).toEqual({ route: r("smart", "acme"), level: "tenant" });
  });
  test("global when the tenant has no override for the alias", () => {
    expect(resolveRoute("fast", overrides, "acme", "billing")).toEqual({ route: r("fast", "global"), level: "global" });
    expect(resolveRoute("smart", overrides, "globex", "billing")).toEqual({ route: r("smart", "global"), level: "global" });
  });
  test("a service override is not visible to another tenant with the same service name", () => {
    const o: RouteOverrides = { ...overrides, tenantService: { "globex/billing": { smart: r("smart", "globex-billing") } } };
    expect(resolveRoute("smart", o, "acme", "billing")?.level).toBe("tenant");
  });
  test("missing alias → undefined", () => {
    expect(resolveRoute("nope", overrides, "acme", "billing")).toBeUndefined();
    expect(resolveRoute("smart", { global: {}, tenant: {}, tenantService: {} }, "acme")).toBeUndefined();
  });
  test("prototype member names are not aliases", () => {
    expect(resolveRoute("constructor", overrides, "acme", "billing")).toBeUndefined();
    expect(resolveRoute("toString", overrides, "__proto__")).toBeUndefined();
  });
});
