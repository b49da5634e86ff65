/** Guardrail settings in the decider and the effective policy of a tenant (pure). */
import { describe, expect, test } from "bun:test";
import { compilePolicy, effectiveFields, guardrailsSnapshot, isIdle, policyFor } from "../../src/guardrails/config.ts";
import { decide, evolve } from "../../src/projections/config/decider.ts";
import { type ConfigState, initialState } from "../../src/projections/config/model.ts";
import { GatewayError } from "../../src/pipeline/errors.ts";

const withTenant = (): ConfigState => {
  let s = initialState();
  for (const e of decide(s, { type: "create", kind: "tenant", id: "acme", fields: { name: "Acme" } })) s = evolve(s, e, { time: "t", actor: "a", position: s.version });
  return s;
};
const err = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return e as GatewayError;
  }
  throw new Error("expected an error");
};

describe("decider", () => {
  test("ids are `global` or `tenant:<existing tenant>`", () => {
    const s = withTenant();
    expect(decide(s, { type: "create", kind: "guardrails", id: "global", fields: { pii: { action: "redact" } } })[0]!.type).toBe("guardrails.created");
    expect(decide(s, { type: "create", kind: "guardrails", id: "tenant:acme", fields: {} })[0]!.type).toBe("guardrails.created");
    expect(err(() => decide(s, { type: "create", kind: "guardrails", id: "tenant:nobody", fields: {} }))).toMatchObject({ status: 400, code: "unknown_tenant" });
    expect(err(() => decide(s, { type: "create", kind: "guardrails", id: "acme", fields: {} }))).toMatchObject({ status: 400, code: "invalid_id" });
  });

  test("schema and RE2 errors name the param", () => {
    const s = withTenant();
    expect(err(() => decide(s, { type: "create", kind: "guardrails", id: "global", fields: { pii: { actions: { email: "mask" } } } }))).toMatchObject({ code: "invalid_config", param: "pii.actions.email" });
    expect(err(() => decide(s, { type: "create", kind: "guardrails", id: "global", fields: { blocklist: [{ pattern: "x", kind: "term", action: "block", direction: "both" }, { pattern: "(a)\\1", kind: "regex", action: "block", direction: "both" }] } }))).toMatchObject({ code: "invalid_config", param: "blocklist.1.pattern" });
  });
});

describe("effective policy", () => {
  test("tenant fields over global ones; per-type actions merged; allow and blocklist add up", () => {
    const eff = effectiveFields(
      { pii: { action: "redact", actions: { card: "block", ip: "log" }, allow: ["a@x.io"] }, blocklist: [{ pattern: "g", kind: "term", action: "block", direction: "both" }], max_input_chars: 10 },
      { pii: { action: "restore", actions: { card: "redact" }, allow: ["b@x.io"] }, blocklist: [{ pattern: "t", kind: "term", action: "redact", direction: "input" }], fail_mode: "open" },
    );
    expect(eff.pii).toMatchObject({ action: "restore", actions: { card: "redact", ip: "log" }, allow: ["a@x.io", "b@x.io"] });
    expect(eff.blocklist!.map((r) => r.pattern)).toEqual(["g", "t"]);
    expect(eff.max_input_chars).toBe(10);
    expect(eff.fail_mode).toBe("open");
    const p = compilePolicy(eff);
    expect(p.actions.get("email")).toBe("restore");
    expect(p.actions.get("card")).toBe("redact");
    expect(p.failClosed).toBe(false);
  });

  test("types limit the default action; off is idle; unknown tenants get the global policy", () => {
    const p = compilePolicy(effectiveFields({ pii: { action: "redact", types: ["email"], actions: { secret: "block" } } }, undefined));
    expect([...p.scanTypes].sort()).toEqual(["email", "secret"]);
    expect(isIdle(compilePolicy(effectiveFields(undefined, undefined)))).toBe(true);
    const snap = guardrailsSnapshot({ global: { fields: { pii: { action: "log" } } }, "tenant:acme": { fields: { pii: { action: "block" } } } });
    expect(policyFor(snap, "acme")!.actions.get("email")).toBe("block");
    expect(policyFor(snap, "other")!.actions.get("email")).toBe("log");
    expect(policyFor(undefined, "acme")).toBeUndefined();
  });
});
