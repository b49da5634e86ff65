/** Budget counters rebuilt from the log (embedded mode): only current periods, each request once. */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeEvent } from "../../src/events/envelope.ts";
import { FileEventLog } from "../../src/events/file-log.ts";
import { isCurrentPeriod, rebuildBudgetCounters } from "../../src/projections/counters.ts";
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
