import { describe, expect, test } from "bun:test";
import { admit, createHealthTracker, recordLatency, recordOutcome, snapshot, type HealthTracker } from "../../src/routing/health.ts";
import { addOutcome, windowTotals } from "../../src/routing/window.ts";

const KEY = "openai/gpt-4o";
const settings = { breaker: { windowMs: 10_000, minRequests: 2, failureRateToOpen: 0.5, openMs: 1_000 } };

function outcomes(t0: HealthTracker, list: Array<[number, boolean]>, key = KEY): HealthTracker {
  return list.reduce((t, [now, ok]) => recordOutcome(t, key, ok, now).tracker, t0);
}

describe("EWMA latency", () => {
  test("first sample taken as is, then alpha·x + (1 − alpha)·ewma (default alpha 0.3)", () => {
    let t = createHealthTracker();
    t = recordLatency(t, KEY, 100);
    expect(snapshot(t, 0).get(KEY)?.ewmaLatencyMs).toBe(100);
    t = recordLatency(t, KEY, 200);
    expect(snapshot(t, 0).get(KEY)?.ewmaLatencyMs).toBeCloseTo(130, 10);
    t = recordLatency(t, KEY, 0);
    expect(snapshot(t, 0).get(KEY)?.ewmaLatencyMs).toBeCloseTo(91, 10);
  });
  test("custom alpha", () => {
    const t = recordLatency(recordLatency(createHealthTracker({ alpha: 0.5 }), KEY, 100), KEY, 300);
    expect(snapshot(t, 0).get(KEY)?.ewmaLatencyMs).toBe(200);
  });
  test("rejects invalid alpha and ignores invalid samples", () => {
    expect(() => createHealthTracker({ alpha: 0 })).toThrow(RangeError);
    const t = createHealthTracker();
    expect(recordLatency(t, KEY, Number.NaN)).toBe(t);
    expect(recordLatency(t, KEY, -5)).toBe(t);
  });
  test("is immutable: the old tracker is unchanged", () => {
    const t0 = createHealthTracker();
    recordLatency(t0, KEY, 100);
    expect(snapshot(t0, 0).size).toBe(0);
  });
});

describe("error rate and breaker", () => {
  test("rolling error rate and samples", () => {
    const t = outcomes(createHealthTracker(settings), [[0, true], [1, true], [2, true], [3, false]]);
    expect(snapshot(t, 10).get(KEY)).toEqual({ state: "closed", errorRate: 0.25, samples: 4 });
    expect(snapshot(t, 20_000).get(KEY)).toEqual({ state: "closed", errorRate: 0, samples: 0 });
  });
  test("failures open the breaker; the snapshot shows open, then half_open after openMs", () => {
    let t = createHealthTracker(settings);
    t = recordOutcome(t, KEY, false, 0).tracker;
    const r = recordOutcome(t, KEY, false, 1);
    expect(r.transition).toBe("opened");
    t = r.tracker;
    expect(snapshot(t, 500).get(KEY)?.state).toBe("open");
    expect(admit(t, KEY, 500)).toMatchObject({ allowed: false, probe: false });
    expect(snapshot(t, 1_001).get(KEY)?.state).toBe("half_open");
    const probe = admit(t, KEY, 1_001);
    expect(probe).toMatchObject({ allowed: true, probe: true, transition: "half_opened" });
    expect(admit(probe.tracker, KEY, 1_002).allowed).toBe(false);
    const closed = recordOutcome(probe.tracker, KEY, true, 1_050);
    expect(closed.transition).toBe("closed");
    expect(snapshot(closed.tracker, 1_060).get(KEY)?.state).toBe("closed");
    // the error rate still remembers the failures (its window is not reset by the breaker)
    expect(snapshot(closed.tracker, 1_060).get(KEY)?.errorRate).toBeCloseTo(2 / 3, 10);
  });
  test("targets are independent; unknown targets are absent and always admitted", () => {
    const t = outcomes(createHealthTracker(settings), [[0, false], [1, false]]);
    expect(snapshot(t, 2).get("anthropic/claude")).toBeUndefined();
    expect(admit(t, "anthropic/claude", 2)).toMatchObject({ allowed: true, probe: false });
    expect(admit(t, "anthropic/claude", 2).tracker).toBe(t);
  });
  test("keys that look like Object.prototype members are ordinary targets", () => {
    const t = createHealthTracker();
    expect(admit(t, "constructor", 0).allowed).toBe(true);
    expect(snapshot(recordLatency(t, "__proto__", 5), 0).get("__proto__")?.ewmaLatencyMs).toBe(5);
  });
});

describe("outcome window (buckets)", () => {
  test("counts within the window and drops expired buckets", () => {
    let w = addOutcome([], false, 0, 10_000, 10);
    w = addOutcome(w, true, 500, 10_000, 10);
    w = addOutcome(w, true, 1_000, 10_000, 10);
    expect(w.length).toBe(2);
    expect(windowTotals(w, 9_999, 10_000)).toEqual({ ok: 2, failed: 1, total: 3 });
    expect(windowTotals(w, 10_000, 10_000)).toEqual({ ok: 1, failed: 0, total: 1 });
    w = addOutcome(w, true, 25_000, 10_000, 10);
    expect(w.length).toBe(1);
  });
});
