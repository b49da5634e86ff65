import { describe, expect, test } from "bun:test";
import { fnv1a32, stableBucket } from "../../src/routing/hash.ts";
import { selectTargets } from "../../src/routing/select.ts";
import type { Route, RouteTarget, TargetHealth } from "../../src/routing/types.ts";
import { mulberry32, noRand, sequence } from "./helpers.ts";

const control: RouteTarget = { provider: "openai", model: "gpt-4o", priority: 0 };
const backup: RouteTarget = { provider: "azure", model: "gpt-4o", priority: 1 };
const candidate: RouteTarget = { provider: "anthropic", model: "claude" };
const abRoute = (percent: number): Route => ({ alias: "smart", strategy: "ab", targets: [control, backup, candidate], ab: { percent, target: 2 } });
const none = new Map<string, TargetHealth>();

describe("fnv1a32", () => {
  test("known vectors", () => {
    expect(fnv1a32("")).toBe(0x811c9dc5);
    expect(fnv1a32("a")).toBe(0xe40c292c);
    expect(fnv1a32("foobar")).toBe(0xbf9cf968);
  });
  test("buckets are in [0, 100)", () => {
    for (let i = 0; i < 1000; i++) {
      const b = stableBucket(`u${i}`);
      expect(b).toBeGreaterThanOrEqual(0);
      expect(b).toBeLessThan(100);
    }
  });
});

describe("ab", () => {
  test("bucket below percent → the A target first, the rest by priority after", () => {
    const s = selectTargets(abRoute(20), none, {}, {}, sequence(0.15));
    expect(s.targets).toEqual([candidate, control, backup]);
    expect(s.reason).toBe("ab bucket 15 < 20%? yes");
  });
  test("bucket at or above percent → the rest by priority, the A target as last fallback", () => {
    const s = selectTargets(abRoute(20), none, {}, {}, sequence(0.2));
    expect(s.targets).toEqual([control, backup, candidate]);
    expect(s.reason).toBe("ab bucket 20 < 20%? no");
  });
  test("percent 0 and 100", () => {
    expect(selectTargets(abRoute(0), none, {}, {}, sequence(0)).targets[0]).toBe(control);
    expect(selectTargets(abRoute(100), none, {}, {}, sequence(0.999)).targets[0]).toBe(candidate);
  });
  test("split ≈ percent over 10,000 users", () => {
    let toA = 0;
    for (let i = 0; i < 10_000; i++) {
      if (selectTargets(abRoute(20), none, {}, { userId: `user-${i}` }, noRand).targets[0] === candidate) toA++;
    }
    // binomial sd = sqrt(10000·0.2·0.8) = 40; allow ~4 sd
    expect(Math.abs(toA - 2000)).toBeLessThan(160);
  });
  test("split ≈ percent over 10,000 anonymous requests (rand)", () => {
    const rand = mulberry32(99);
    let toA = 0;
    for (let i = 0; i < 10_000; i++) if (selectTargets(abRoute(30), none, {}, {}, rand).targets[0] === candidate) toA++;
    expect(Math.abs(toA - 3000)).toBeLessThan(184); // 4 sd of binomial(10000, 0.3)
  });
  test("sticky: the same user gets the same target every time, whatever rand says", () => {
    for (let u = 0; u < 200; u++) {
      const first = selectTargets(abRoute(50), none, {}, { userId: `u${u}` }, noRand).targets[0];
      for (let i = 0; i < 5; i++) expect(selectTargets(abRoute(50), none, {}, { userId: `u${u}` }, noRand).targets[0]).toBe(first as RouteTarget);
    }
    expect(selectTargets(abRoute(50), none, {}, { userId: "alice" }, noRand).reason).toEndWith("(sticky)");
  });
  test("the bucket hashes alias and user: the same user may land differently on another alias", () => {
    const other: Route = { ...abRoute(50), alias: "fast" };
    const differs = Array.from({ length: 50 }, (_, i) => `u${i}`).some(
      (u) => selectTargets(abRoute(50), none, {}, { userId: u }, noRand).targets[0] !== selectTargets(other, none, {}, { userId: u }, noRand).targets[0],
    );
    expect(differs).toBe(true);
  });
  test("an open A target goes last even in the A bucket", () => {
    const health = new Map<string, TargetHealth>([["anthropic/claude", { state: "open", errorRate: 1, samples: 9 }]]);
    expect(selectTargets(abRoute(100), health, {}, {}, sequence(0)).targets).toEqual([control, backup, candidate]);
  });
  test("route without a valid split → priority order", () => {
    const bad: Route = { alias: "smart", strategy: "ab", targets: [backup, control], ab: { percent: 50, target: 7 } };
    const s = selectTargets(bad, none, {}, {}, noRand);
    expect(s.targets).toEqual([control, backup]);
    expect(s.reason).toContain("no valid split");
    const missing: Route = { alias: "smart", strategy: "priority", targets: [backup, control] };
    expect(selectTargets(missing, none, {}, { strategy: "ab" }, noRand).targets).toEqual([control, backup]);
  });
});
