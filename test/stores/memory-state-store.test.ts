import { describe, expect, test } from "bun:test";
import { MemoryStateStore } from "../../src/stores/memory-state-store.ts";
import { stateStoreContract, waitFor } from "./state-store.contract.ts";

stateStoreContract("MemoryStateStore", async () => {
  // Real time plus an offset the tests move forward: admission windows pass without waiting.
  let offset = 0;
  const store = new MemoryStateStore({ now: () => Date.now() + offset });
  return { store, cleanup: async () => {}, advance: (ms) => void (offset += ms) };
});

describe("MemoryStateStore specifics", () => {
  test("the sweep drops expired keys nobody reads", async () => {
    const store = new MemoryStateStore({ sweepIntervalMs: 10 });
    try {
      for (let i = 0; i < 100; i++) await store.set(`k${i}`, "v", { ttlMs: 20 });
      await store.set("forever", "v");
      await store.acquireLock("lock", 20);
      expect(store.size).toBe(102);
      await waitFor(() => store.size === 1, "the sweep to drop expired keys");
      expect(await store.get("forever")).toBe("v");
    } finally {
      await store.close();
    }
  });

  test("TTLs follow the injected clock (expiry is lazy on read)", async () => {
    let now = 1_000;
    const store = new MemoryStateStore({ clock: () => now, sweepIntervalMs: 60_000 });
    try {
      await store.set("k", "v", { ttlMs: 100 });
      const token = await store.acquireLock("lock", 100);
      now += 99;
      expect(await store.get("k")).toBe("v");
      expect(await store.acquireLock("lock", 100)).toBeNull();
      now += 1;
      expect(await store.get("k")).toBeNull();
      expect(await store.releaseLock("lock", token as string)).toBe(false);
      expect(store.size).toBe(0);
    } finally {
      await store.close();
    }
  });

  test("an open store's sweep timer does not keep the process alive", async () => {
    const script = `
      import { MemoryStateStore } from ${JSON.stringify(new URL("../../src/stores/memory-state-store.ts", import.meta.url).pathname)};
      const store = new MemoryStateStore({ sweepIntervalMs: 50 });
      await store.set("k", "v", { ttlMs: 60_000 });
      console.log("done");
    `;
    const started = Date.now();
    const proc = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
    const killer = setTimeout(() => proc.kill(), 10_000);
    const code = await proc.exited;
    clearTimeout(killer);
    expect(await new Response(proc.stdout).text()).toContain("done");
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  test("rejects a non-positive sweep interval", () => {
    expect(() => new MemoryStateStore({ sweepIntervalMs: 0 })).toThrow(RangeError);
  });
});

describe("MemoryStateStore admission on an injected wall clock", () => {
  test("timeMs and period names follow `now`; a new day and month start fresh budgets", async () => {
    let now = Date.UTC(2026, 11, 31, 23, 59, 59, 900);
    const store = new MemoryStateStore({ now: () => now, sweepIntervalMs: 60_000 });
    try {
      expect(await store.timeMs()).toBe(now);
      const admit = () =>
        store.admit({
          requestId: crypto.randomUUID(),
          rates: [],
          budgets: [
            { key: "k", limitMicros: 100, period: "day" },
            { key: "k", limitMicros: 100, period: "month" },
          ],
          reserveMicros: 100,
          reservationTtlMs: 3_600_000,
        });
      const first = await admit();
      expect(first.budgets.map((b) => b.period)).toEqual(["day:2026-12-31", "month:2026-12"]);
      const denied = await admit();
      expect(denied).toMatchObject({ allowed: false, denied: { kind: "budget", retryAfterMs: 100 } });
      now += 100;
      const next = await admit();
      expect(next).toMatchObject({ allowed: true, budgets: [{ period: "day:2027-01-01", reservedMicros: 100 }, { period: "month:2027-01", reservedMicros: 100 }] });
    } finally {
      await store.close();
    }
  });

  test("the sweep drops idle windows, finished budget periods and forgotten settled ids", async () => {
    let now = Date.UTC(2026, 10, 22, 23, 0);
    const store = new MemoryStateStore({ now: () => now, sweepIntervalMs: 10, settledRetentionMs: 60_000 });
    try {
      const r = await store.admit({
        requestId: "a",
        rates: [{ key: "rpm", limit: 10, windowMs: 60_000, cost: 1 }],
        budgets: [{ key: "b", limitMicros: 100, period: "day" }],
        reserveMicros: 10,
        reservationTtlMs: 60_000,
      });
      await store.settle({ requestId: "a", budgets: [{ key: "b", period: r.budgets[0]?.period as string }], actualMicros: 5 });
      expect(store.size).toBe(3);
      now += 60_000; // the window is idle, the settled id forgotten; the day is not over
      await waitFor(() => store.size === 1, "the idle window and the settled id to go");
      expect((await store.peekBudget("b", "day")).spentMicros).toBe(5);
      now += 25 * 3600_000; // past the day's end and its grace
      await waitFor(() => store.size === 0, "the finished period to go");
    } finally {
      await store.close();
    }
  });

  test("a settled id is forgotten after settledRetentionMs (then a settle counts again)", async () => {
    let now = 1_000_000;
    const store = new MemoryStateStore({ now: () => now, settledRetentionMs: 100 });
    try {
      const settle = { requestId: "late", budgets: [], actualMicros: 0 };
      expect(await store.settle(settle)).toEqual({ settled: true });
      now += 99;
      expect(await store.settle(settle)).toEqual({ settled: false });
      now += 1;
      expect(await store.settle(settle)).toEqual({ settled: true });
    } finally {
      await store.close();
    }
  });

  test("a clock that steps back keeps the window log ordered", async () => {
    let now = 1_000_000;
    const store = new MemoryStateStore({ now: () => now });
    try {
      const spec = { key: "r", limit: 3, windowMs: 1000, cost: 1 };
      const admit = () => store.admit({ requestId: crypto.randomUUID(), rates: [spec], budgets: [], reserveMicros: 0, reservationTtlMs: 1000 });
      await admit();
      now -= 500;
      await admit();
      expect((await store.peekRate("r", 3, 1000)).resetMs).toBe(1000);
      now += 1000; // 1_000_500: the entry at 999_500 has left, the one at 1_000_000 has not
      expect(await store.peekRate("r", 3, 1000)).toEqual({ key: "r", limit: 3, remaining: 2, resetMs: 500 });
    } finally {
      await store.close();
    }
  });

  test("rejects a non-positive settledRetentionMs", () => {
    expect(() => new MemoryStateStore({ settledRetentionMs: 0 })).toThrow(RangeError);
  });
});
