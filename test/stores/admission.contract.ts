/**
 * The admission part of the StateStore contract (rate limits, budget reservations, settle),
 * run by stateStoreContract for every implementation. Time passes through `elapse`: the memory
 * store's injected clock jumps, Redis really waits (short windows, then polling — the server's
 * clock decides, never the test's).
 */
import { describe, expect, test } from "bun:test";
import { periodOf } from "../../src/stores/admission.ts";
import type { AdmissionResult, RateLimitSpec, StateStore } from "../../src/stores/state-store.ts";
import { waitFor } from "./state-store.contract.ts";

export interface AdmissionHarness {
  store(): StateStore;
  /** Let `ms` pass on the store's clock. */
  elapse(ms: number): Promise<void>;
  /** Another store sharing nothing with the first (its own keys). */
  other(): Promise<StateStore>;
}

let counter = 0;
function rid(): string {
  counter++;
  return `req-${counter}-${crypto.randomUUID()}`;
}

function allowedOf(results: AdmissionResult[]): number {
  return results.filter((r) => r.allowed).length;
}

export function admissionContract(h: AdmissionHarness): void {
  const rates = (specs: RateLimitSpec[], requestId = rid()) =>
    h.store().admit({ requestId, rates: specs, budgets: [], reserveMicros: 0, reservationTtlMs: 60_000 });
  const reserve = (key: string, limitMicros: number, reserveMicros: number, opts: { ttlMs?: number; pct?: number; requestId?: string } = {}) =>
    h.store().admit({
      requestId: opts.requestId ?? rid(),
      rates: [],
      budgets: [{ key, limitMicros, period: "day", ...(opts.pct === undefined ? {} : { thresholdPct: opts.pct }) }],
      reserveMicros,
      reservationTtlMs: opts.ttlMs ?? 60_000,
    });
  const settleDay = async (requestId: string, key: string, actualMicros: number) =>
    h.store().settle({ requestId, budgets: [{ key, period: (await h.store().peekBudget(key, "day")).period }], actualMicros });

  describe("admission: rate limits", () => {
    test("RPM: N admitted, then denied (nothing recorded), with retryAfter when the oldest leaves", async () => {
      const spec = { key: "rpm", limit: 5, windowMs: 300, cost: 1 };
      const first = await rates([spec]);
      expect(first).toMatchObject({ allowed: true, rates: [{ key: "rpm", limit: 5, remaining: 4, resetMs: 300 }] });
      await h.elapse(100);
      for (let i = 3; i >= 0; i--) expect((await rates([spec])).rates[0]?.remaining).toBe(i);
      const denied = await rates([spec]);
      if (denied.allowed) throw new Error("expected a denial");
      expect(denied.denied.kind).toBe("rate");
      expect(denied.denied.key).toBe("rpm");
      expect(denied.denied.retryAfterMs).toBe(first.nowMs + 300 - denied.nowMs);
      expect(denied.rates[0]?.remaining).toBe(0);
      expect((await h.store().peekRate("rpm", 5, 300)).remaining).toBe(0);

      // The window slides: once the oldest entry has left (the other four are 100 ms younger), one more fits.
      await h.elapse(denied.denied.retryAfterMs);
      let next: AdmissionResult | undefined;
      await waitFor(async () => (next = await rates([spec])).allowed, "the oldest entry to leave the window");
      expect(next?.rates[0]?.remaining).toBe(0);
    });

    test("exact: never more than N admitted in any window while it slides", async () => {
      const spec = { key: "exact", limit: 4, windowMs: 300, cost: 1 };
      const times: number[] = [];
      const started = (await h.store().timeMs());
      let now = started;
      while (now - started < 1000) {
        const r = await rates([spec]);
        now = r.nowMs;
        if (r.allowed) times.push(r.nowMs);
        await h.elapse(7);
      }
      for (const t of times) expect(times.filter((u) => u >= t && u < t + 300).length).toBeLessThanOrEqual(4);
      expect(times.length).toBeGreaterThanOrEqual(3 * 4);
    });

    test("TPM: costs add up; a cost that does not fit waits for enough old units; one above the limit waits a window", async () => {
      const tpm = (cost: number) => ({ key: "tpm", limit: 100, windowMs: 60_000, cost });
      const a = await rates([tpm(60)]);
      expect(a).toMatchObject({ allowed: true, rates: [{ remaining: 40 }] });
      const b = await rates([tpm(50)]);
      if (b.allowed) throw new Error("expected a denial");
      expect(b.denied.retryAfterMs).toBe(a.nowMs + 60_000 - b.nowMs);
      expect(b.rates[0]?.remaining).toBe(40);
      expect(await rates([tpm(40)])).toMatchObject({ allowed: true, rates: [{ remaining: 0 }] });
      const huge = await rates([{ key: "tpm-other", limit: 100, windowMs: 60_000, cost: 150 }]);
      expect(huge).toMatchObject({ allowed: false, denied: { kind: "rate", key: "tpm-other", retryAfterMs: 60_000 } });
      expect((await h.store().peekRate("tpm-other", 100, 60_000)).remaining).toBe(100);
      // A zero cost records nothing and fits while the window is not over its limit.
      expect(await rates([tpm(0)])).toMatchObject({ allowed: true, rates: [{ remaining: 0 }] });
    });

    test("the wait frees exactly what the request needs (oldest entries first)", async () => {
      const tpm = (cost: number) => ({ key: "tpm", limit: 100, windowMs: 300, cost });
      const a = await rates([tpm(30)]);
      await h.elapse(50);
      const b = await rates([tpm(30)]);
      await h.elapse(50);
      expect((await rates([tpm(40)])).allowed).toBe(true);
      const need50 = await rates([tpm(50)]);
      if (need50.allowed) throw new Error("expected a denial");
      // 30 (first) is not enough, 30 + 30 is: wait for the second entry.
      expect(need50.denied.retryAfterMs).toBe(b.nowMs + 300 - need50.nowMs);
      expect(need50.denied.retryAfterMs).toBeGreaterThan(a.nowMs + 300 - need50.nowMs);
    });

    test("several rates are all-or-nothing; the longest wait is reported", async () => {
      const wide = { key: "wide", limit: 10, windowMs: 60_000, cost: 1 };
      const narrow = { key: "narrow", limit: 1, windowMs: 60_000, cost: 1 };
      expect(await rates([wide, narrow])).toMatchObject({ allowed: true, rates: [{ remaining: 9 }, { remaining: 0 }] });
      const denied = await rates([wide, narrow]);
      expect(denied).toMatchObject({ allowed: false, denied: { kind: "rate", key: "narrow" }, rates: [{ remaining: 9 }, { remaining: 0 }] });
      expect((await h.store().peekRate("wide", 10, 60_000)).remaining).toBe(9);

      const slow = { key: "slow", limit: 1, windowMs: 120_000, cost: 1 };
      expect((await rates([slow])).allowed).toBe(true);
      const both = await rates([narrow, slow]);
      expect(both).toMatchObject({ allowed: false, denied: { key: "slow" } });
    });

    test("settle adds rate units (completion tokens) once", async () => {
      const spec = { key: "tpm", limit: 100, windowMs: 60_000, cost: 10 };
      const id = rid();
      expect((await rates([spec], id)).allowed).toBe(true);
      const extra = { requestId: id, budgets: [], actualMicros: 0, rates: [{ key: "tpm", windowMs: 60_000, cost: 50 }] };
      expect(await h.store().settle(extra)).toEqual({ settled: true });
      expect((await h.store().peekRate("tpm", 100, 60_000)).remaining).toBe(40);
      expect(await h.store().settle(extra)).toEqual({ settled: false });
      expect((await h.store().peekRate("tpm", 100, 60_000)).remaining).toBe(40);
      // Settled units count like admitted ones, even past the limit.
      await h.store().settle({ requestId: rid(), budgets: [], actualMicros: 0, rates: [{ key: "tpm", windowMs: 60_000, cost: 70 }] });
      expect((await h.store().peekRate("tpm", 100, 60_000)).remaining).toBe(0);
      expect((await rates([{ ...spec, cost: 1 }])).allowed).toBe(false);
    });

    test("settle corrects an admission's estimate at the admission's time: the room is reachable at once, and the correction leaves with its entry", async () => {
      const W = 2000;
      const spec = { key: "tpm-fix", limit: 100, windowMs: W, cost: 80 };
      const a = rid();
      const first = await rates([spec], a);
      expect(first.allowed).toBe(true);
      await h.elapse(500);
      expect((await rates([{ ...spec, cost: 10 }])).allowed).toBe(true);
      expect((await rates([{ ...spec, cost: 70 }])).allowed).toBe(false); // 80 + 10 + 70 > 100
      // The first request actually took 20: settle takes 60 back at its admission time.
      expect(await h.store().settle({ requestId: a, budgets: [], actualMicros: 0, rates: [{ key: "tpm-fix", windowMs: W, cost: -60, at: first.nowMs }] })).toEqual({ settled: true });
      expect((await h.store().peekRate("tpm-fix", 100, W)).remaining).toBe(70);
      const full = await rates([{ ...spec, cost: 70 }]);
      expect(full.allowed).toBe(true); // the whole limit is reachable: 20 + 10 + 70 = 100
      expect(full.rates[0]?.remaining).toBe(0);
      // Once the first entry leaves, its correction leaves with it: 10 + 70 remain counted, not 10 + 70 - 60.
      await h.elapse(first.nowMs + W - full.nowMs + 5);
      expect((await h.store().peekRate("tpm-fix", 100, W)).remaining).toBe(20);
      // A correction whose admission has left the window is dropped.
      await h.store().settle({ requestId: rid(), budgets: [], actualMicros: 0, rates: [{ key: "tpm-fix", windowMs: W, cost: -50, at: first.nowMs }] });
      expect((await h.store().peekRate("tpm-fix", 100, W)).remaining).toBe(20);
      // A negative amount without `at` is malformed.
      await expect(h.store().settle({ requestId: rid(), budgets: [], actualMicros: 0, rates: [{ key: "tpm-fix", windowMs: W, cost: -1 }] })).rejects.toThrow(RangeError);
    });

    test("peekRate on an unused key: full, reset 0", async () => {
      expect(await h.store().peekRate("never", 7, 1000)).toEqual({ key: "never", limit: 7, remaining: 7, resetMs: 0 });
    });

    test("200 concurrent admits against RPM 30: exactly 30", async () => {
      const spec = { key: "burst", limit: 30, windowMs: 60_000, cost: 1 };
      const results = await Promise.all(Array.from({ length: 200 }, () => rates([spec])));
      expect(allowedOf(results)).toBe(30);
      expect((await h.store().peekRate("burst", 30, 60_000)).remaining).toBe(0);
    });
  });

  describe("admission: budgets", () => {
    test("reserve, then settle to the actual cost: the rest is released", async () => {
      const id = rid();
      const a = await reserve("b", 1000, 400, { requestId: id });
      expect(a).toMatchObject({ allowed: true, budgets: [{ key: "b", limitMicros: 1000, spentMicros: 0, reservedMicros: 400, crossedThreshold: false }] });
      expect(await h.store().peekBudget("b", "day")).toMatchObject({ limitMicros: 1000, spentMicros: 0, reservedMicros: 400 });
      expect(await settleDay(id, "b", 150)).toEqual({ settled: true });
      expect(await h.store().peekBudget("b", "day")).toMatchObject({ spentMicros: 150, reservedMicros: 0 });
      expect(await reserve("b", 1000, 850)).toMatchObject({ allowed: true, budgets: [{ spentMicros: 150, reservedMicros: 850 }] });
      expect((await reserve("b", 1000, 1)).allowed).toBe(false);
    });

    test("refused when the reserve does not fit: budget denial waits for the period's end, nothing partial", async () => {
      const denied = await h.store().admit({
        requestId: rid(),
        rates: [{ key: "r", limit: 10, windowMs: 60_000, cost: 1 }],
        budgets: [
          { key: "roomy", limitMicros: 1000, period: "month" },
          { key: "tight", limitMicros: 100, period: "day" },
        ],
        reserveMicros: 200,
        reservationTtlMs: 60_000,
      });
      if (denied.allowed) throw new Error("expected a denial");
      expect(denied.denied.kind).toBe("budget");
      expect(denied.denied.key).toBe("tight");
      expect(denied.denied.retryAfterMs).toBe(periodOf("day", denied.nowMs).endMs - denied.nowMs);
      expect(denied.budgets.map((b) => b.reservedMicros)).toEqual([0, 0]);
      expect((await h.store().peekRate("r", 10, 60_000)).remaining).toBe(10);
      expect((await h.store().peekBudget("roomy", "month")).reservedMicros).toBe(0);
      expect((await h.store().peekBudget("tight", "day")).reservedMicros).toBe(0);
    });

    test("an overspent budget refuses even a zero (or negative) reserve; exactly at the limit admits zero", async () => {
      const id = rid();
      expect((await reserve("b", 100, 100, { requestId: id })).allowed).toBe(true);
      expect((await reserve("b", 100, 0)).allowed).toBe(true);
      await settleDay(id, "b", 100);
      expect((await reserve("b", 100, 0)).allowed).toBe(true);
      expect((await reserve("b", 100, 1)).allowed).toBe(false);
      await h.store().settle({ requestId: rid(), budgets: [{ key: "b", period: (await h.store().peekBudget("b", "day")).period }], actualMicros: 50 });
      expect(await h.store().peekBudget("b", "day")).toMatchObject({ spentMicros: 150, reservedMicros: 0 });
      expect((await reserve("b", 100, 0)).allowed).toBe(false);
      expect((await reserve("b", 100, -10)).allowed).toBe(false);
    });

    test("an unsettled reservation expires and frees its hold; settling it late still counts once", async () => {
      const stale = rid();
      expect((await reserve("b", 100, 100, { requestId: stale, ttlMs: 200 })).allowed).toBe(true);
      expect((await reserve("b", 100, 1)).allowed).toBe(false);
      await h.elapse(200);
      await waitFor(async () => (await h.store().peekBudget("b", "day")).reservedMicros === 0, "the hold to expire");
      expect(await reserve("b", 100, 60)).toMatchObject({ allowed: true, budgets: [{ reservedMicros: 60 }] });
      expect(await settleDay(stale, "b", 30)).toEqual({ settled: true });
      expect(await h.store().peekBudget("b", "day")).toMatchObject({ spentMicros: 30, reservedMicros: 60 });
      expect(await settleDay(stale, "b", 30)).toEqual({ settled: false });
      expect(await h.store().peekBudget("b", "day")).toMatchObject({ spentMicros: 30, reservedMicros: 60 });
    });

    test("a thousand holds that expire together are all released; settled ones are not released twice", async () => {
      const ids = Array.from({ length: 1200 }, () => rid());
      const results = await Promise.all(ids.map((id) => reserve("many", 10_000_000, 1_000, { requestId: id, ttlMs: 300 })));
      expect(allowedOf(results)).toBe(1200);
      const period = (await h.store().peekBudget("many", "day")).period;
      await Promise.all(ids.slice(0, 200).map((id) => h.store().settle({ requestId: id, budgets: [{ key: "many", period }], actualMicros: 10 })));
      expect(await h.store().peekBudget("many", "day")).toMatchObject({ spentMicros: 2_000, reservedMicros: 1_000_000 });
      await h.elapse(300);
      await waitFor(async () => (await h.store().peekBudget("many", "day")).reservedMicros === 0, "every hold to expire");
      // A new hold after the mass expiry is tracked (and expires) like any other.
      expect((await reserve("many", 10_000_000, 7, { ttlMs: 300 })).budgets[0]?.reservedMicros).toBe(7);
      await h.elapse(300);
      await waitFor(async () => (await h.store().peekBudget("many", "day")).reservedMicros === 0, "the new hold to expire");
      expect((await h.store().peekBudget("many", "day")).spentMicros).toBe(2_000);
    });

    test("settling twice is harmless (every budget, every rate)", async () => {
      const id = rid();
      const admitted = await h.store().admit({
        requestId: id,
        rates: [{ key: "tpm", limit: 1000, windowMs: 60_000, cost: 100 }],
        budgets: [
          { key: "k", limitMicros: 10_000, period: "day" },
          { key: "k", limitMicros: 100_000, period: "month" },
        ],
        reserveMicros: 500,
        reservationTtlMs: 60_000,
      });
      if (!admitted.allowed) throw new Error("expected an admission");
      const settle = {
        requestId: id,
        budgets: admitted.budgets.map((b) => ({ key: b.key, period: b.period })),
        actualMicros: 321,
        rates: [{ key: "tpm", windowMs: 60_000, cost: 40 }],
      };
      const results = await Promise.all([h.store().settle(settle), h.store().settle(settle), h.store().settle(settle)]);
      expect(results.filter((r) => r.settled)).toHaveLength(1);
      for (const period of ["day", "month"] as const) {
        expect(await h.store().peekBudget("k", period)).toMatchObject({ spentMicros: 321, reservedMicros: 0 });
      }
      expect((await h.store().peekRate("tpm", 1000, 60_000)).remaining).toBe(860);
    });

    test("periods are named from the store's clock (UTC day and month)", async () => {
      const before = await h.store().timeMs();
      const r = await h.store().admit({
        requestId: rid(),
        rates: [],
        budgets: [
          { key: "p", limitMicros: 10, period: "day" },
          { key: "p", limitMicros: 10, period: "month" },
        ],
        reserveMicros: 1,
        reservationTtlMs: 60_000,
      });
      const after = await h.store().timeMs();
      expect(r.nowMs).toBeGreaterThanOrEqual(before);
      expect(r.nowMs).toBeLessThanOrEqual(after);
      expect(r.budgets.map((b) => b.period)).toEqual([periodOf("day", r.nowMs).name, periodOf("month", r.nowMs).name]);
      expect(r.budgets[0]?.period).toMatch(/^day:\d{4}-\d{2}-\d{2}$/);
      expect(r.budgets[1]?.period).toMatch(/^month:\d{4}-\d{2}$/);
      const peek = await h.store().peekBudget("p", "month");
      expect(peek).toMatchObject({ key: "p", limitMicros: 10, reservedMicros: 1, crossedThreshold: false });
    });

    test("crossing the threshold is reported once per period", async () => {
      const step = (micros: number) => reserve("t", 1000, micros, { pct: 80 });
      expect((await step(500)).budgets[0]?.crossedThreshold).toBe(false);
      expect((await step(200)).budgets[0]?.crossedThreshold).toBe(false);
      const denied = await step(400);
      expect(denied.allowed).toBe(false);
      expect(denied.budgets[0]?.crossedThreshold).toBe(false);
      expect((await step(100)).budgets[0]).toMatchObject({ reservedMicros: 800, crossedThreshold: true });
      expect((await step(100)).budgets[0]?.crossedThreshold).toBe(false);
      expect((await step(0)).budgets[0]?.crossedThreshold).toBe(false);
      expect((await h.store().peekBudget("t", "day")).crossedThreshold).toBe(false);
      // Independent per key; spend that crossed it through settle is reported by the next admission.
      const id = rid();
      expect((await reserve("u", 1000, 100, { requestId: id, pct: 80 })).budgets[0]?.crossedThreshold).toBe(false);
      await settleDay(id, "u", 850);
      expect((await reserve("u", 1000, 0, { pct: 80 })).budgets[0]?.crossedThreshold).toBe(true);
      expect((await reserve("u", 1000, 0, { pct: 80 })).budgets[0]?.crossedThreshold).toBe(false);
    });

    test("200 concurrent reservations of X against 50·X: exactly 50; settled spend is exactly 50·X", async () => {
      const X = 12_345;
      const ids = Array.from({ length: 200 }, () => rid());
      const results = await Promise.all(ids.map((id) => reserve("race", 50 * X, X, { requestId: id })));
      expect(allowedOf(results)).toBe(50);
      for (const r of results) if (!r.allowed) expect(r.denied.kind).toBe("budget");
      expect(await h.store().peekBudget("race", "day")).toMatchObject({ spentMicros: 0, reservedMicros: 50 * X });
      const winners = ids.filter((_, i) => results[i]?.allowed);
      const period = (await h.store().peekBudget("race", "day")).period;
      // Every winner settles twice, all at once.
      const settled = await Promise.all(
        [...winners, ...winners].map((id) => h.store().settle({ requestId: id, budgets: [{ key: "race", period }], actualMicros: X })),
      );
      expect(settled.filter((s) => s.settled)).toHaveLength(50);
      expect(await h.store().peekBudget("race", "day")).toMatchObject({ spentMicros: 50 * X, reservedMicros: 0 });
      expect((await reserve("race", 50 * X, 1)).allowed).toBe(false);
    });

    test("flexible reservation: reserves what still fits (≥ the minimum), denies below the minimum", async () => {
      const flex = (key: string, limitMicros: number, reserveMicros: number, minReserveMicros: number, budgets = [{ key, limitMicros, period: "day" as const }]) =>
        h.store().admit({ requestId: rid(), rates: [], budgets, reserveMicros, minReserveMicros, reservationTtlMs: 60_000 });
      // Untouched 50_000 budget, a 200_000 worst case: the first call gets all that fits.
      const first = await flex("flex", 50_000, 200_000, 1_000);
      expect(first).toMatchObject({ allowed: true, reservedMicros: 50_000 });
      // Nothing left: below the minimum → denied, nothing recorded.
      const none = await flex("flex", 50_000, 200_000, 1_000);
      expect(none.allowed).toBe(false);
      if (!none.allowed) expect(none.denied).toMatchObject({ kind: "budget", key: "flex" });
      expect(await h.store().peekBudget("flex", "day")).toMatchObject({ reservedMicros: 50_000 });
      // When the worst case fits it is reserved in full; the tightest of several budgets caps it.
      expect(await flex("roomy", 1_000_000, 200_000, 1_000)).toMatchObject({ allowed: true, reservedMicros: 200_000 });
      const two = await flex("a", 0, 90_000, 10, [{ key: "wide", limitMicros: 1_000_000, period: "day" }, { key: "tight", limitMicros: 30_000, period: "day" }]);
      expect(two).toMatchObject({ allowed: true, reservedMicros: 30_000 });
      // Without minReserveMicros it stays all or nothing.
      expect((await reserve("strict", 50_000, 200_000)).allowed).toBe(false);
    });

    test("200 concurrent flexible reservations never reserve past the limit", async () => {
      const L = 1_000_000;
      const results = await Promise.all(Array.from({ length: 200 }, () => h.store().admit({ requestId: rid(), rates: [], budgets: [{ key: "flexrace", limitMicros: L, period: "day" }], reserveMicros: 30_000, minReserveMicros: 7_000, reservationTtlMs: 60_000 })));
      const granted = results.reduce((sum, r) => sum + (r.allowed ? r.reservedMicros : 0), 0);
      for (const r of results) if (r.allowed) expect(r.reservedMicros).toBeGreaterThanOrEqual(7_000);
      expect(granted).toBeLessThanOrEqual(L);
      expect(granted).toBeGreaterThan(L - 7_000); // filled up to less than one minimum
      expect((await h.store().peekBudget("flexrace", "day")).reservedMicros).toBe(granted);
    });

    test("peekBudget on an unused key: zeros", async () => {
      const peek = await h.store().peekBudget("never", "day");
      expect(peek).toMatchObject({ key: "never", limitMicros: 0, spentMicros: 0, reservedMicros: 0, crossedThreshold: false });
    });
  });

  describe("admission: input and housekeeping", () => {
    test("malformed requests reject and record nothing", async () => {
      const ok = { requestId: "x", rates: [{ key: "r", limit: 10, windowMs: 1000, cost: 1 }], budgets: [], reserveMicros: 0, reservationTtlMs: 1000 };
      const bad = [
        { ...ok, requestId: "" },
        { ...ok, reservationTtlMs: 0 },
        { ...ok, reserveMicros: Number.NaN },
        { ...ok, rates: [{ key: "r", limit: 10, windowMs: 1000, cost: -1 }] },
        { ...ok, rates: [{ key: "r", limit: 1.5, windowMs: 1000, cost: 1 }] },
        { ...ok, rates: [{ key: "r", limit: 10, windowMs: 0, cost: 1 }] },
        { ...ok, rates: [ok.rates[0], ok.rates[0]] },
        {
          ...ok,
          budgets: [
            { key: "b", limitMicros: 1, period: "day" as const },
            { key: "b", limitMicros: 2, period: "day" as const },
          ],
        },
        { ...ok, budgets: [{ key: "b", limitMicros: 1, period: "week" as "day" }] },
      ];
      for (const req of bad) await expect(h.store().admit(req as never)).rejects.toThrow(RangeError);
      expect((await h.store().peekRate("r", 10, 1000)).remaining).toBe(10);
      await expect(h.store().settle({ requestId: "x", budgets: [{ key: "b", period: "day:2026-13-01" }], actualMicros: 1 })).rejects.toThrow(RangeError);
      await expect(h.store().settle({ requestId: "x", budgets: [], actualMicros: -1 })).rejects.toThrow(RangeError);
      await expect(h.store().peekRate("r", -1, 1000)).rejects.toThrow(RangeError);
      await expect(h.store().peekBudget("b", "week" as "day")).rejects.toThrow(RangeError);
      // Nothing was remembered as settled.
      expect(await h.store().settle({ requestId: "x", budgets: [], actualMicros: 0 })).toEqual({ settled: true });
    });

    test("stores do not share admission state; flushAll clears it", async () => {
      const other = await h.other();
      expect((await rates([{ key: "r", limit: 1, windowMs: 60_000, cost: 1 }])).allowed).toBe(true);
      expect((await reserve("b", 10, 10)).allowed).toBe(true);
      expect((await other.peekRate("r", 1, 60_000)).remaining).toBe(1);
      expect((await other.peekBudget("b", "day")).reservedMicros).toBe(0);
      await h.store().flushAll();
      expect((await h.store().peekRate("r", 1, 60_000)).remaining).toBe(1);
      expect((await h.store().peekBudget("b", "day")).reservedMicros).toBe(0);
    });
  });
}
