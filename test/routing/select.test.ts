import { describe, expect, test } from "bun:test";
import { selectTargets } from "../../src/routing/select.ts";
import { RoundRobinState } from "../../src/routing/swrr.ts";
import { targetKey, type Price, type Route, type RouteTarget, type Selection, type TargetHealth } from "../../src/routing/types.ts";
import { CHI2_CRITICAL_P001, chiSquare, mulberry32, noRand, sequence } from "./helpers.ts";

const A: RouteTarget = { provider: "openai", model: "gpt-4o", weight: 3, priority: 1 };
const B: RouteTarget = { provider: "anthropic", model: "claude", weight: 1, priority: 0 };
const C: RouteTarget = { provider: "gemini", model: "flash", weight: 2, priority: 2 };
const route = (strategy: Route["strategy"], targets: RouteTarget[] = [A, B, C], extra: Partial<Route> = {}): Route => ({
  alias: "smart",
  strategy,
  targets,
  ...extra,
});
const none = new Map<string, TargetHealth>();
const closed = (ewmaLatencyMs?: number): TargetHealth => ({ state: "closed", errorRate: 0, samples: 10, ...(ewmaLatencyMs !== undefined ? { ewmaLatencyMs } : {}) });
const open = (): TargetHealth => ({ state: "open", errorRate: 1, samples: 10 });
const keys = (s: Selection): string[] => s.targets.map(targetKey);
const k = targetKey;

describe("priority", () => {
  test("orders by priority ascending without randomness", () => {
    const s = selectTargets(route("priority"), none, {}, {}, noRand);
    expect(keys(s)).toEqual([k(B), k(A), k(C)]);
    expect(s.reason).toContain("priority order");
  });
  test("ties keep config order (default priority 0)", () => {
    const t = [{ provider: "x", model: "1" }, { provider: "y", model: "2" }, { provider: "z", model: "3", priority: -1 }];
    expect(keys(selectTargets(route("priority", t), none, {}, {}, noRand))).toEqual(["z/3", "x/1", "y/2"]);
  });
  test("hints.strategy overrides the route's strategy", () => {
    const s = selectTargets(route("weighted"), none, {}, { strategy: "priority" }, noRand);
    expect(keys(s)).toEqual([k(B), k(A), k(C)]);
  });
});

describe("exclude and prefer", () => {
  test("exclude removes every target of that provider", () => {
    const s = selectTargets(route("priority"), none, {}, { exclude: ["anthropic"] }, noRand);
    expect(keys(s)).toEqual([k(A), k(C)]);
    expect(s.reason).toContain("excluded: anthropic/claude");
  });
  test("excluding everything yields no targets", () => {
    const s = selectTargets(route("priority"), none, {}, { exclude: ["openai", "anthropic", "gemini"] }, noRand);
    expect(s.targets).toEqual([]);
    expect(s.reason).toContain("no eligible target");
  });
  test("prefer moves preferred providers first, keeping strategy order among them", () => {
    const s = selectTargets(route("priority"), none, {}, { prefer: ["gemini", "openai"] }, noRand);
    expect(keys(s)).toEqual([k(A), k(C), k(B)]); // A (prio 1) before C (prio 2), then the rest
    expect(s.reason).toContain("preferred provider: openai, gemini");
  });
  test("a preferred provider not in the route changes nothing", () => {
    const s = selectTargets(route("priority"), none, {}, { prefer: ["mistral"] }, noRand);
    expect(keys(s)).toEqual([k(B), k(A), k(C)]);
    expect(s.reason).not.toContain("preferred");
  });
  test("exclude wins over prefer", () => {
    const s = selectTargets(route("priority"), none, {}, { prefer: ["anthropic"], exclude: ["anthropic"] }, noRand);
    expect(keys(s)).toEqual([k(A), k(C)]);
  });
  test("weighted pick happens among the preferred targets", () => {
    const s = selectTargets(route("weighted"), none, {}, { prefer: ["anthropic", "gemini"] }, sequence(0.5));
    // preferred group: B (1) + C (2) = 3; 0.5·3 = 1.5 → C; then B; then A
    expect(keys(s)).toEqual([k(C), k(B), k(A)]);
  });
});

describe("breaker state", () => {
  test("open targets go last, not removed", () => {
    const health = new Map([[k(B), open()]]);
    const s = selectTargets(route("priority"), health, {}, {}, noRand);
    expect(keys(s)).toEqual([k(A), k(C), k(B)]);
    expect(s.reason).toContain("breaker open: moved last anthropic/claude");
  });
  test("a preferred but open target goes after healthy ones", () => {
    const health = new Map([[k(C), open()]]);
    const s = selectTargets(route("priority"), health, {}, { prefer: ["gemini"] }, noRand);
    expect(keys(s)).toEqual([k(B), k(A), k(C)]);
  });
  test("all open: strategy order kept", () => {
    const health = new Map([[k(A), open()], [k(B), open()], [k(C), open()]]);
    const s = selectTargets(route("priority"), health, {}, {}, noRand);
    expect(keys(s)).toEqual([k(B), k(A), k(C)]);
    expect(s.reason).toContain("breaker open on every target");
  });
  test("half_open targets stay in place (the request is the probe)", () => {
    const health = new Map<string, TargetHealth>([[k(B), { state: "half_open", errorRate: 1, samples: 5 }]]);
    expect(keys(selectTargets(route("priority"), health, {}, {}, noRand))).toEqual([k(B), k(A), k(C)]);
  });
  test("weighted never picks an open target first", () => {
    const health = new Map([[k(A), open()]]);
    const rand = mulberry32(7);
    for (let i = 0; i < 200; i++) {
      const s = selectTargets(route("weighted"), health, {}, {}, rand);
      expect(s.targets[0]).not.toBe(A);
      expect(s.targets[2]).toBe(A);
    }
  });
});

describe("weighted", () => {
  test("rand picks by cumulative weight; rest by descending weight", () => {
    // weights A3 B1 C2, total 6, cumulative [3, 4, 6]
    expect(keys(selectTargets(route("weighted"), none, {}, {}, sequence(0)))).toEqual([k(A), k(C), k(B)]);
    expect(keys(selectTargets(route("weighted"), none, {}, {}, sequence(0.55)))).toEqual([k(B), k(A), k(C)]);
    const s = selectTargets(route("weighted"), none, {}, {}, sequence(0.99));
    expect(keys(s)).toEqual([k(C), k(A), k(B)]);
    expect(s.reason).toBe("weighted pick gemini/flash (weight 2 of 6)");
  });
  test("weight 0 is never picked first but remains a fallback", () => {
    const t = [{ ...A, weight: 0 }, B];
    const rand = mulberry32(1);
    for (let i = 0; i < 100; i++) expect(keys(selectTargets(route("weighted", t), none, {}, {}, rand))).toEqual([k(B), k(A)]);
  });
  test("10,000 selections match the weights (chi-square, p = 0.001)", () => {
    const targets = [A, B, C, { provider: "mistral", model: "large", weight: 4 }];
    const weights = targets.map((t) => t.weight ?? 1);
    const counts = targets.map(() => 0);
    const rand = mulberry32(42);
    for (let i = 0; i < 10_000; i++) {
      const first = selectTargets(route("weighted", targets), none, {}, {}, rand).targets[0];
      const idx = targets.indexOf(first as RouteTarget);
      counts[idx] = (counts[idx] ?? 0) + 1;
    }
    const chi = chiSquare(counts, weights);
    expect(chi).toBeLessThan(CHI2_CRITICAL_P001[targets.length - 1] as number);
  });
  test("the chi-square check does reject a wrong distribution", () => {
    // uniform counts against weights 3:1:2 must fail the test (guards the statistic itself)
    expect(chiSquare([3334, 3333, 3333], [3, 1, 2])).toBeGreaterThan(CHI2_CRITICAL_P001[2] as number);
  });
});

describe("round_robin (smooth weighted)", () => {
  const a = { provider: "a", model: "m", weight: 5 };
  const b = { provider: "b", model: "m", weight: 1 };
  const c = { provider: "c", model: "m", weight: 1 };
  test("5:1:1 yields nginx's sequence a a b a c a a, repeating", () => {
    const rr = new RoundRobinState();
    const picks = Array.from({ length: 14 }, () => selectTargets(route("round_robin", [a, b, c]), none, {}, {}, noRand, rr).targets[0]?.provider);
    expect(picks.join(" ")).toBe("a a b a c a a a a b a c a a");
  });
  test("rest of the list is by descending weight", () => {
    const rr = new RoundRobinState();
    selectTargets(route("round_robin", [a, b, c]), none, {}, {}, noRand, rr); // a
    selectTargets(route("round_robin", [a, b, c]), none, {}, {}, noRand, rr); // a
    const s = selectTargets(route("round_robin", [a, b, c]), none, {}, {}, noRand, rr);
    expect(s.targets.map((t) => t.provider)).toEqual(["b", "a", "c"]);
    expect(s.reason).toBe("round-robin pick b/m");
  });
  test("state is per alias", () => {
    const rr = new RoundRobinState();
    const r1 = { ...route("round_robin", [a, b, c]), alias: "one" };
    const r2 = { ...route("round_robin", [a, b, c]), alias: "two" };
    selectTargets(r1, none, {}, {}, noRand, rr);
    selectTargets(r1, none, {}, {}, noRand, rr);
    expect(selectTargets(r1, none, {}, {}, noRand, rr).targets[0]?.provider).toBe("b");
    expect(selectTargets(r2, none, {}, {}, noRand, rr).targets[0]?.provider).toBe("a");
  });
  test("open targets sit out the rotation", () => {
    const rr = new RoundRobinState();
    const health = new Map([[k(a), open()]]);
    const picks = Array.from({ length: 4 }, () => selectTargets(route("round_robin", [a, b, c]), health, {}, {}, noRand, rr).targets.map((t) => t.provider).join(""));
    expect(picks).toEqual(["bca", "cba", "bca", "cba"]);
  });
  test("without state: weight order", () => {
    const s = selectTargets(route("round_robin", [b, a, c]), none, {}, {}, noRand);
    expect(s.targets.map((t) => t.provider)).toEqual(["a", "b", "c"]);
    expect(s.reason).toContain("without state");
  });
});

describe("least_latency", () => {
  test("ascending EWMA latency", () => {
    const health = new Map([[k(A), closed(300)], [k(B), closed(120)], [k(C), closed(80)]]);
    const s = selectTargets(route("least_latency"), health, {}, {}, noRand);
    expect(keys(s)).toEqual([k(C), k(B), k(A)]);
    expect(s.reason).toBe("least latency: gemini/flash (80ms)");
  });
  test("unmeasured targets go first (explore), ties by config order", () => {
    const health = new Map([[k(A), closed(50)], [k(C), closed(50)]]);
    const s = selectTargets(route("least_latency", [A, C, B]), health, {}, {}, noRand);
    expect(keys(s)).toEqual([k(B), k(A), k(C)]);
    expect(s.reason).toContain("unmeasured");
  });
  test("an open target goes last even when fastest", () => {
    const health = new Map([[k(A), { ...open(), ewmaLatencyMs: 10 }], [k(B), closed(100)], [k(C), closed(200)]]);
    expect(keys(selectTargets(route("least_latency"), health, {}, {}, noRand))).toEqual([k(B), k(C), k(A)]);
  });
});

describe("lowest_cost", () => {
  const prices: Record<string, Price> = {
    [k(A)]: { input: 2.5, output: 10 },
    [k(B)]: { input: 3, output: 15 },
    [k(C)]: { input: 0.1, output: 0.4 },
  };
  test("ascending estimated cost", () => {
    const s = selectTargets(route("lowest_cost"), none, prices, { promptTokens: 1000, maxTokens: 500 }, noRand);
    expect(keys(s)).toEqual([k(C), k(A), k(B)]);
    expect(s.reason).toBe("lowest cost: gemini/flash ($0.000300)");
  });
  test("the token mix can flip the order", () => {
    const p: Record<string, Price> = { "x/in-cheap": { input: 1, output: 20 }, "y/out-cheap": { input: 5, output: 2 } };
    const t = [{ provider: "x", model: "in-cheap" }, { provider: "y", model: "out-cheap" }];
    expect(keys(selectTargets(route("lowest_cost", t), none, p, { promptTokens: 100_000, maxTokens: 10 }, noRand))).toEqual(["x/in-cheap", "y/out-cheap"]);
    expect(keys(selectTargets(route("lowest_cost", t), none, p, { promptTokens: 10, maxTokens: 4000 }, noRand))).toEqual(["y/out-cheap", "x/in-cheap"]);
  });
  test("unknown price goes last", () => {
    const s = selectTargets(route("lowest_cost"), none, { [k(B)]: prices[k(B)] as Price }, {}, noRand);
    expect(keys(s)).toEqual([k(B), k(A), k(C)]);
  });
  test("no price at all: config order", () => {
    const s = selectTargets(route("lowest_cost"), none, {}, {}, noRand);
    expect(keys(s)).toEqual([k(A), k(B), k(C)]);
    expect(s.reason).toContain("no price known");
  });
});
