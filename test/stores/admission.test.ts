/** The pure parts both stores share: UTC periods and input normalisation. */
import { describe, expect, test } from "bun:test";
import { normalizeAdmission, normalizeSettle, periodEndMs, periodOf } from "../../src/stores/admission.ts";
import { ExpiryHeap } from "../../src/stores/expiry-heap.ts";

describe("periodOf / periodEndMs", () => {
  test("day and month names and ends in UTC", () => {
    expect(periodOf("day", Date.UTC(2026, 10, 22, 23, 59, 59, 999))).toEqual({ name: "day:2026-11-22", endMs: Date.UTC(2026, 10, 23) });
    expect(periodOf("day", Date.UTC(2026, 10, 23))).toEqual({ name: "day:2026-11-23", endMs: Date.UTC(2026, 10, 24) });
    expect(periodOf("month", Date.UTC(2026, 11, 31, 12))).toEqual({ name: "month:2026-12", endMs: Date.UTC(2027, 0, 1) });
    expect(periodOf("month", Date.UTC(2024, 1, 29))).toEqual({ name: "month:2024-02", endMs: Date.UTC(2024, 2, 1) });
    expect(periodOf("day", 0)).toEqual({ name: "day:1970-01-01", endMs: 86_400_000 });
  });

  test("periodEndMs inverts periodOf and refuses anything that is not a real period", () => {
    for (const ms of [0, Date.UTC(2024, 1, 29, 5), Date.UTC(2026, 11, 31, 23, 59), Date.UTC(2099, 5, 15)]) {
      for (const kind of ["day", "month"] as const) {
        const p = periodOf(kind, ms);
        expect(periodEndMs(p.name)).toBe(p.endMs);
      }
    }
    for (const bad of ["day:2026-13-01", "day:2026-02-30", "month:2026-00", "month:2026-13", "week:2026-01", "day:2026-1-1", "", "day:2026-11-22 "]) {
      expect(periodEndMs(bad)).toBeUndefined();
    }
  });
});

describe("normalizeAdmission / normalizeSettle", () => {
  test("rounds up costs, reserves and windows; a negative reserve counts as 0", () => {
    const n = normalizeAdmission({
      requestId: "r",
      rates: [{ key: "tpm", limit: 100, windowMs: 999.2, cost: 10.1 }],
      budgets: [{ key: "b", limitMicros: 10, period: "day", thresholdPct: 80 }],
      reserveMicros: -4,
      reservationTtlMs: 0.5,
    });
    expect(n).toEqual({
      requestId: "r",
      rates: [{ key: "tpm", limit: 100, windowMs: 1000, cost: 11 }],
      budgets: [{ key: "b", limitMicros: 10, period: "day", thresholdPct: 80 }],
      reserveMicros: 0,
      reservationTtlMs: 1,
    });
    expect(normalizeAdmission({ requestId: "r", rates: [], budgets: [], reserveMicros: 0.01, reservationTtlMs: 1 }).reserveMicros).toBe(1);
  });

  test("the same budget key in two periods is fine; twice in one period is not", () => {
    const base = { requestId: "r", rates: [], reserveMicros: 1, reservationTtlMs: 1 };
    expect(() =>
      normalizeAdmission({ ...base, budgets: [{ key: "b", limitMicros: 1, period: "day" }, { key: "b", limitMicros: 1, period: "month" }] }),
    ).not.toThrow();
    expect(() =>
      normalizeAdmission({ ...base, budgets: [{ key: "b", limitMicros: 1, period: "month" }, { key: "b", limitMicros: 2, period: "month" }] }),
    ).toThrow(RangeError);
    expect(() => normalizeAdmission({ ...base, budgets: [{ key: "b", limitMicros: 1, period: "day", thresholdPct: 0 }] })).toThrow(RangeError);
  });

  test("settle: rates default to none, actual is rounded up", () => {
    expect(normalizeSettle({ requestId: "r", budgets: [{ key: "b", period: "month:2026-11" }], actualMicros: 2.5 })).toEqual({
      requestId: "r",
      budgets: [{ key: "b", period: "month:2026-11" }],
      actualMicros: 3,
      rates: [],
    });
  });
});

describe("ExpiryHeap", () => {
  test("pops in expiry order, whatever the push order; rebuild replaces the content", () => {
    const heap = new ExpiryHeap();
    const ats = Array.from({ length: 500 }, () => Math.floor(Math.random() * 100));
    for (const [i, at] of ats.entries()) heap.push(at, `id${i}`);
    expect(heap.size).toBe(500);
    const popped: number[] = [];
    for (let e = heap.pop(); e; e = heap.pop()) popped.push(e.at);
    expect(popped).toEqual([...ats].sort((a, b) => a - b));
    expect(heap.peek()).toBeUndefined();
    heap.rebuild([{ at: 5, id: "b" }, { at: 1, id: "a" }]);
    expect(heap.pop()).toEqual({ at: 1, id: "a" });
    expect(heap.size).toBe(1);
  });
});
