import { describe, expect, test } from "bun:test";
import {
  canPass,
  DEFAULT_BREAKER_SETTINGS,
  effectiveState,
  initialBreakerState,
  recordResult,
  releaseProbe,
  type BreakerSettings,
  type BreakerState,
} from "../../src/routing/breaker.ts";

const S: Partial<BreakerSettings> = { windowMs: 10_000, minRequests: 4, failureRateToOpen: 0.5, openMs: 5_000, halfOpenProbes: 1 };

/** Feeds outcomes at the given times; returns the final state and the transitions seen. */
function feed(state: BreakerState, outcomes: Array<[t: number, ok: boolean]>, settings = S) {
  const transitions: string[] = [];
  for (const [t, ok] of outcomes) {
    const r = recordResult(state, ok, t, settings);
    state = r.state;
    if (r.transition) transitions.push(`${r.transition}@${t}`);
  }
  return { state, transitions };
}

const opened = (): BreakerState => feed(initialBreakerState(), [[0, false], [1, false], [2, false], [3, false]]).state;

describe("defaults", () => {
  test("match the documented values", () => {
    expect(DEFAULT_BREAKER_SETTINGS).toMatchObject({ windowMs: 30_000, minRequests: 5, failureRateToOpen: 0.5, openMs: 15_000, halfOpenProbes: 1 });
  });
  test("a new breaker is closed and lets requests pass", () => {
    expect(canPass(initialBreakerState(), 0)).toMatchObject({ allowed: true, probe: false });
  });
});

describe("closed → open", () => {
  test("opens when samples ≥ minRequests and failure rate ≥ threshold", () => {
    const r = feed(initialBreakerState(), [[0, true], [1, false], [2, true], [3, false]]); // 2/4 = 0.5
    expect(r.state.state).toBe("open");
    expect(r.state.openedAt).toBe(3);
    expect(r.transitions).toEqual(["opened@3"]);
  });
  test("minRequests is respected: 3 failures out of 3 do not open", () => {
    const r = feed(initialBreakerState(), [[0, false], [1, false], [2, false]]);
    expect(r.state.state).toBe("closed");
    expect(r.transitions).toEqual([]);
  });
  test("a failure rate under the threshold stays closed", () => {
    const r = feed(initialBreakerState(), [[0, true], [1, true], [2, false], [3, true], [4, true], [5, false], [6, true]]);
    expect(r.state.state).toBe("closed");
  });
  test("window expiry: old failures no longer count", () => {
    // 3 failures at t=0, then one at t=10_000: the first ones have left the 10 s window
    const r = feed(initialBreakerState(), [[0, false], [1, false], [2, false], [10_000, false]]);
    expect(r.state.state).toBe("closed");
    // within the window they do count
    expect(feed(initialBreakerState(), [[0, false], [1, false], [2, false], [8_999, false]]).state.state).toBe("open");
  });
  test("recordResult does not mutate its input", () => {
    const s0 = initialBreakerState();
    recordResult(s0, false, 0, S);
    expect(s0).toEqual(initialBreakerState());
  });
});

describe("open → half_open → closed / open", () => {
  test("open rejects until openMs elapsed", () => {
    const s = opened();
    expect(canPass(s, 3 + 4_999, S)).toMatchObject({ allowed: false, probe: false });
    expect(effectiveState(s, 3 + 4_999, S)).toBe("open");
    expect(effectiveState(s, 3 + 5_000, S)).toBe("half_open");
  });
  test("after openMs: becomes half_open and admits halfOpenProbes probes", () => {
    const d = canPass(opened(), 5_003, S);
    expect(d).toMatchObject({ allowed: true, probe: true, transition: "half_opened" });
    expect(d.state).toMatchObject({ state: "half_open", probesInFlight: 1 });
    const second = canPass(d.state, 5_004, S);
    expect(second).toMatchObject({ allowed: false, probe: false });
    expect(second.transition).toBeUndefined();
  });
  test("more probes when halfOpenProbes > 1", () => {
    const settings = { ...S, halfOpenProbes: 2 };
    const d1 = canPass(opened(), 6_000, settings);
    const d2 = canPass(d1.state, 6_001, settings);
    const d3 = canPass(d2.state, 6_002, settings);
    expect([d1.allowed, d2.allowed, d3.allowed]).toEqual([true, true, false]);
  });
  test("half_open success → closed with a fresh window", () => {
    const probe = canPass(opened(), 6_000, S);
    const r = recordResult(probe.state, true, 6_100, S);
    expect(r.transition).toBe("closed");
    expect(r.state).toEqual(initialBreakerState());
    expect(canPass(r.state, 6_200, S)).toMatchObject({ allowed: true, probe: false });
    // one failure right after closing does not reopen (old failures are gone)
    expect(recordResult(r.state, false, 6_300, S).state.state).toBe("closed");
  });
  test("half_open failure → open again, timer restarted", () => {
    const probe = canPass(opened(), 6_000, S);
    const r = recordResult(probe.state, false, 6_100, S);
    expect(r.transition).toBe("opened");
    expect(r.state).toMatchObject({ state: "open", openedAt: 6_100, probesInFlight: 0 });
    expect(canPass(r.state, 11_099, S).allowed).toBe(false);
    expect(canPass(r.state, 11_100, S)).toMatchObject({ allowed: true, probe: true, transition: "half_opened" });
  });
  test("the full cycle closed → open → half_open → closed", () => {
    const seen: string[] = [];
    let s = initialBreakerState();
    for (let t = 0; t < 4; t++) {
      const r = recordResult(s, false, t, S);
      s = r.state;
      if (r.transition) seen.push(r.transition);
    }
    const d = canPass(s, 10_000, S);
    if (d.transition) seen.push(d.transition);
    const r = recordResult(d.state, true, 10_050, S);
    if (r.transition) seen.push(r.transition);
    expect(seen).toEqual(["opened", "half_opened", "closed"]);
  });
  test("late results while open change nothing", () => {
    const s = opened();
    expect(recordResult(s, true, 100, S).state).toBe(s);
    expect(recordResult(s, false, 100, S).transition).toBeUndefined();
  });
  test("releaseProbe frees the slot without a verdict", () => {
    const probe = canPass(opened(), 6_000, S);
    const released = releaseProbe(probe.state);
    expect(released).toMatchObject({ state: "half_open", probesInFlight: 0 });
    expect(canPass(released, 6_001, S)).toMatchObject({ allowed: true, probe: true });
    expect(releaseProbe(initialBreakerState())).toEqual(initialBreakerState());
  });
});
