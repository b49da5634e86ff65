/** The pure pieces of plugin isolation and loading: breaker, stats, timeout, ordering, manifest, events, settings. */
import { describe, expect, test } from "bun:test";
import { Type } from "@sinclair/typebox";
import { HookStats, HookTimeoutError, PluginBreaker, withTimeout } from "../../src/pipeline/operator/guard.ts";
import { ManifestError, parseManifest } from "../../src/pipeline/operator/manifest.ts";
import { orderOperatorPlugins } from "../../src/pipeline/operator/order.ts";
import { namespacedEvent } from "../../src/pipeline/operator/view.ts";
import { asRefusal } from "../../src/pipeline/operator/runtime.ts";
import { refuse } from "../../src/pipeline/operator/api.ts";
import { decide } from "../../src/projections/config/decider.ts";
import { initialState } from "../../src/projections/config/model.ts";
import { effectiveSettings, enabledFor } from "../../src/projections/config/plugins.ts";

describe("PluginBreaker", () => {
  test("opens after N consecutive failures, lets one trial through after openMs, closes on its success", () => {
    let now = 0;
    const b = new PluginBreaker({ failuresToOpen: 3, openMs: 1000, now: () => now });
    expect(b.failure()).toBeUndefined();
    b.success(); // a success resets the count
    b.failure();
    b.failure();
    expect(b.failure()).toBe("open");
    expect(b.allow()).toBe(false);
    now = 1000;
    expect(b.allow()).toBe(true); // the trial
    expect(b.allow()).toBe(false); // only one
    expect(b.success()).toBe("closed");
    expect(b.allow()).toBe(true);
  });

  test("a failed trial opens it again for another openMs", () => {
    let now = 0;
    const b = new PluginBreaker({ failuresToOpen: 1, openMs: 100, now: () => now });
    b.failure();
    now = 100;
    expect(b.allow()).toBe(true);
    expect(b.failure()).toBe("open");
    now = 150;
    expect(b.allow()).toBe(false);
    now = 200;
    expect(b.allow()).toBe(true);
  });
});

test("HookStats: p50 / p99 over the last calls", () => {
  const s = new HookStats(100);
  for (let i = 1; i <= 100; i++) s.record("inspect", i);
  expect(s.summary().inspect).toEqual({ calls: 100, p50_ms: 50, p99_ms: 99 });
});

test("withTimeout: a result in time passes, a hang rejects with HookTimeoutError", async () => {
  expect(await withTimeout(Promise.resolve(7), 50)).toBe(7);
  expect(await withTimeout(7 as unknown as Promise<number>, 50)).toBe(7);
  await expect(withTimeout(new Promise(() => {}), 20)).rejects.toBeInstanceOf(HookTimeoutError);
});

describe("orderOperatorPlugins", () => {
  const p = (name: string, o: { before?: string[]; after?: string[]; order?: number } = {}) => ({ name, before: o.before ?? [], after: o.after ?? [], ...(o.order !== undefined ? { order: o.order } : {}) });
  test("name order, then configured order, then before/after hints", () => {
    expect(orderOperatorPlugins([p("c"), p("a"), p("b")]).ordered.map((x) => x.name)).toEqual(["a", "b", "c"]);
    expect(orderOperatorPlugins([p("c", { order: -1 }), p("a"), p("b")]).ordered.map((x) => x.name)).toEqual(["c", "a", "b"]);
    expect(orderOperatorPlugins([p("a", { after: ["c"] }), p("b"), p("c")]).ordered.map((x) => x.name)).toEqual(["c", "a", "b"]);
    expect(orderOperatorPlugins([p("a"), p("b"), p("c", { before: ["a"] })]).ordered.map((x) => x.name)).toEqual(["c", "a", "b"]);
    expect(orderOperatorPlugins([p("a", { after: ["ghost"] })]).ordered.map((x) => x.name)).toEqual(["a"]);
  });
  test("a cycle is broken and reported", () => {
    const { ordered, cycles } = orderOperatorPlugins([p("a", { after: ["b"] }), p("b", { after: ["a"] })]);
    expect(ordered.map((x) => x.name).sort()).toEqual(["a", "b"]);
    expect(cycles).toHaveLength(1);
  });
});

describe("parseManifest", () => {
  test("fills defaults", () => {
    const m = parseManifest({ name: "x", version: "1", phases: ["inspect"], settings: Type.Object({ n: Type.Integer({ default: 3 }) }) });
    expect(m).toMatchObject({ failurePolicy: "fail-open", timeoutMs: 250, isolation: "inline", defaultEnabled: true, entry: "index.ts", defaultSettings: { n: 3 } });
  });
  test("refuses bad manifests with the reason", () => {
    expect(() => parseManifest({ name: "X Y", version: "1", phases: ["inspect"] })).toThrow(ManifestError);
    expect(() => parseManifest({ name: "x", version: "1", phases: ["teleport"] })).toThrow(/phases/);
    expect(() => parseManifest({ name: "x", version: "1", phases: ["onEvent"], events: ["plugin.failed"] })).toThrow(/events/);
    expect(() => parseManifest({ name: "x", version: "1", phases: ["inspect"], settings: { type: "object" } })).toThrow(/TypeBox/);
    expect(() => parseManifest({ name: "x", version: "1", phases: ["inspect"], settings: Type.Object({ n: Type.Integer({ minimum: 2, default: 1 }) }) })).toThrow(/default settings/);
    expect(() => parseManifest(undefined)).toThrow(ManifestError);
  });
});

test("namespacedEvent: plugin.<name>.<type>, validated", () => {
  expect(namespacedEvent("kw", { type: "blocked", payload: { rule: "x" } })).toEqual({ type: "plugin.kw.blocked", payload: { rule: "x" } });
  expect(() => namespacedEvent("kw", { type: "Bad Type", payload: {} })).toThrow(TypeError);
  expect(() => namespacedEvent("kw", { type: "ok", payload: [] as unknown as Record<string, unknown> })).toThrow(TypeError);
  expect(() => namespacedEvent("kw", { type: "ok", payload: { big: "x".repeat(9000) } })).toThrow(/8192/);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  expect(() => namespacedEvent("kw", { type: "ok", payload: cyclic })).toThrow(/JSON/);
});

test("asRefusal: refuse() and GatewayError are decisions; anything else is a failure", () => {
  expect(asRefusal(refuse(403, "nope", "no"))).toMatchObject({ status: 403, code: "nope" });
  expect(asRefusal(refuse(200, "Bad Code!", "x"))).toMatchObject({ status: 400, code: "plugin_refused" });
  expect(asRefusal(new Error("x"))).toBeUndefined();
  expect(asRefusal("string")).toBeUndefined();
});

describe("plugin config entities (decider)", () => {
  const catalog = new Map([["kw", { schema: Type.Object({ words: Type.Array(Type.String({ minLength: 1 })) }), defaults: { words: [] } }]]);
  const env = { builtinProviders: new Set<string>(), plugins: catalog };
  test("global and tenant scopes; settings validated with param; unknown plugin; global-only fields", () => {
    const s = initialState();
    expect(decide(s, { type: "create", kind: "plugin", id: "acme/kw", fields: { enabled: true, settings: { words: ["a"] } } }, env)[0]!.type).toBe("plugin.created");
    expect(() => decide(s, { type: "create", kind: "plugin", id: "acme/kw", fields: { settings: { words: [""] } } }, env)).toThrow(expect.objectContaining({ code: "invalid_config", param: "settings.words.0" }));
    expect(() => decide(s, { type: "create", kind: "plugin", id: "ghost", fields: {} }, env)).toThrow(expect.objectContaining({ code: "unknown_plugin", status: 400 }));
    expect(() => decide(s, { type: "create", kind: "plugin", id: "acme/kw", fields: { order: 1 } }, env)).toThrow(expect.objectContaining({ param: "order" }));
    expect(() => decide(s, { type: "create", kind: "plugin", id: "Acme/kw", fields: {} }, env)).toThrow(expect.objectContaining({ code: "invalid_id" }));
  });
  test("effective settings and enablement: tenant over global over defaults", () => {
    const snap = { global: { kw: { enabled: false, settings: { a: 1, b: 1 } } }, tenant: { acme: { kw: { enabled: true, settings: { b: 2 } } } } };
    expect(effectiveSettings({ a: 0, b: 0, c: 0 }, snap, "kw", "acme")).toEqual({ a: 1, b: 2, c: 0 });
    expect(effectiveSettings({ a: 0 }, snap, "kw", "globex")).toEqual({ a: 1, b: 1 });
    expect(enabledFor(true, snap, "kw", "acme")).toBe(true);
    expect(enabledFor(true, snap, "kw", "globex")).toBe(false);
    expect(enabledFor(true, undefined, "kw", "globex")).toBe(true);
  });
});
