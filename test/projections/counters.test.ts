/** Budget counters rebuilt from the log (embedded mode): only current periods, each request once. */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeEvent } from "../../src/events/envelope.ts";
import { FileEventLog } from "../../src/events/file-log.ts";
import { isCurrentPeriod, rebuildBudgetCounters, replaySettles } from "../../src/projections/counters.ts";
import { RedisStateStore } from "../../src/stores/redis-state-store.ts";
import { availableOrFail } from "../helpers/services.ts";
import { MemoryStateStore } from "../../src/stores/memory-state-store.ts";

const dir = mkdtempSync(join(tmpdir(), "tollgate-counters-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const NOW = Date.UTC(2026, 10, 22, 15, 0, 0);

test("isCurrentPeriod", () => {
  expect(isCurrentPeriod("day:2026-11-22", NOW)).toBe(true);
  expect(isCurrentPeriod("day:2026-11-21", NOW)).toBe(false);
  expect(isCurrentPeriod("month:2026-11", NOW)).toBe(true);
  expect(isCurrentPeriod("month:2026-10", NOW)).toBe(false);
  expect(isCurrentPeriod("week:2026-47", NOW)).toBe(false);
});

test("settles each admitted request of the current periods once, with the cost of its request.completed", async () => {
  const log = await FileEventLog.open({ dir: join(dir, "log") });
  const req = (id: string, budgets: Array<{ key: string; period: string }> | null, costUsd: number) => [
    ...(budgets ? [{ key: "t1", event: makeEvent({ type: "budget.reserved", tenant: "t1", requestId: id, payload: { reserveMicros: 99_999, budgets } }) }] : []),
    { key: "t1", event: makeEvent({ type: "request.completed", tenant: "t1", requestId: id, payload: { costUsd } }) },
  ];
  const cur = [{ key: "budget:key:k1", period: "month:2026-11" }, { key: "budget:tenant:t1", period: "day:2026-11-22" }];
  await log.append("requests", [
    ...req("a", cur, 0.0123),
    ...req("b", cur, 0.0045),
    ...req("old", [{ key: "budget:key:k1", period: "month:2026-10" }], 5), // last month: not counted
    ...req("free", null, 1), // no budget: nothing to settle
    { key: "t1", event: makeEvent({ type: "budget.reserved", tenant: "t1", requestId: "cut", payload: { budgets: cur } }) }, // never completed
  ]);
  const store = new MemoryStateStore({ now: () => NOW });
  expect(await rebuildBudgetCounters(log, store, NOW)).toEqual({ requests: 2, micros: 16_800 });
  expect((await store.peekBudget("budget:key:k1", "month")).spentMicros).toBe(16_800);
  expect((await store.peekBudget("budget:tenant:t1", "day")).spentMicros).toBe(16_800);
  expect((await store.peekBudget("budget:key:k1", "month")).reservedMicros).toBe(0);
  // Twice: settles are idempotent per request id.
  await rebuildBudgetCounters(log, store, NOW);
  expect((await store.peekBudget("budget:key:k1", "month")).spentMicros).toBe(16_800);
  await store.close();
  await log.close();
});

test("v2 events: the integer costNanos is settled, rounded half-up to the micro-dollar like the live settle", async () => {
  const log = await FileEventLog.open({ dir: join(dir, "log-v2") });
  const cur = [{ key: "budget:key:k2", period: "month:2026-11" }];
  const req = (id: string, payload: Record<string, unknown>) => [
    { key: "t1", event: makeEvent({ type: "budget.reserved", tenant: "t1", requestId: id, payload: { reserveMicros: 99, budgets: cur } }) },
    { key: "t1", event: makeEvent({ type: "request.completed", v: 2, tenant: "t1", requestId: id, payload }) },
  ];
  // 13,500 nanos → 14 µ$; 600 → 1; 1,499 → 1; a v1 event's costUsd still counts.
  await log.append("requests", [...req("a", { costNanos: 13_500, costUsd: 0.0000135 }), ...req("b", { costNanos: 600, costUsd: 6e-7 }), ...req("c", { costNanos: 1_499 }), ...req("d", { costUsd: 0.000021 })]);
  const store = new MemoryStateStore({ now: () => NOW });
  expect(await rebuildBudgetCounters(log, store, NOW)).toEqual({ requests: 4, micros: 14 + 1 + 1 + 21 });
  expect((await store.peekBudget("budget:key:k2", "month")).spentMicros).toBe(37);
  await store.close();
  await log.close();
});

// Issue 30: on a shared store the limits plugin settles beside the answer; a start settles the
// log's last minutes again (what a crash left unsettled), on a real Redis.
const REDIS_URL = process.env.REDIS_URL;
if (availableOrFail("settle replay on Redis", "Redis", REDIS_URL ? undefined : "REDIS_URL not set: start it with scripts/redis.sh start")) {
  test("replaySettles: settles the window's unsettled requests once; settled ones and those before the window are left alone", async () => {
    const store = await RedisStateStore.connect(REDIS_URL!, { prefix: `tollgate-test:${crypto.randomUUID()}:` });
    const log = await FileEventLog.open({ dir: join(dir, "log-replay") });
    const now = Date.now();
    const key = `budget:key:replay-${crypto.randomUUID()}`;
    const admit = async (id: string) => {
      const r = await store.admit({ requestId: id, rates: [], budgets: [{ key, limitMicros: 1_000_000, period: "day" }], reserveMicros: 5_000, reservationTtlMs: 600_000 });
      if (!r.allowed) throw new Error("not admitted");
      return r.budgets.map((b) => ({ key: b.key, period: b.period }));
    };
    const pair = (id: string, budgets: Array<{ key: string; period: string }>, costNanos: number, at: number) => [
      { key: "t1", event: makeEvent({ type: "budget.reserved", tenant: "t1", requestId: id, time: new Date(at - 5), payload: { reserveMicros: 5_000, budgets } }) },
      { key: "t1", event: makeEvent({ type: "request.completed", v: 2, tenant: "t1", requestId: id, time: new Date(at), payload: { costNanos } }) },
    ];
    // Outside the window (10 min ago): its settle, if lost, is not replayed.
    const old = await admit("old");
    // Settled live (its receipt is in the store): replaying it changes nothing.
    const live = await admit("live");
    await store.settle({ requestId: "live", budgets: live, actualMicros: 700 });
    // Answered, then the process died before its settle landed.
    const cut = await admit("cut");
    // Enough filler that the window's start is found by probing back, not by reading it all.
    const filler = Array.from({ length: 600 }, (_, i) => ({ key: "t1", event: makeEvent({ type: "request.received", tenant: "t1", requestId: `f${i}`, time: new Date(now - 9 * 60_000 + i * 100), payload: {} }) }));
    await log.append("requests", [...pair("old", old, 9_000_000, now - 10 * 60_000), ...filler, ...pair("live", live, 700_000, now - 30_000), ...pair("cut", cut, 1_234_000, now - 20_000)]);

    const before = await store.peekBudget(key, "day");
    expect(before).toMatchObject({ spentMicros: 700, reservedMicros: 10_000 }); // old's and cut's holds
    expect(await replaySettles(log, store, now - 120_000, now)).toEqual({ requests: 2, micros: 700 + 1_234 });
    const after = await store.peekBudget(key, "day");
    expect(after.spentMicros).toBe(700 + 1_234); // cut settled; live not twice; old not at all
    expect(after.reservedMicros).toBe(5_000); // old's hold is left to expire
    // A second start changes nothing.
    await replaySettles(log, store, now - 120_000, now);
    expect((await store.peekBudget(key, "day")).spentMicros).toBe(700 + 1_234);
    await store.flushAll();
    await store.close();
    await log.close();
  });
}
