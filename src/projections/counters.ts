/**
 * Counters → state (DESIGN §5): in embedded mode the StateStore lives in the process, so budget
 * spend would start from zero after a restart — and a budget could be spent twice. At start the
 * gateway replays the requests stream and settles, once more, every admitted request of the
 * current budget periods: `budget.reserved` names the budgets and periods a request was admitted
 * against, its `request.completed` the actual cost (the same amount the limits plugin settled).
 *
 * Settles are idempotent per request id, so running this against a store that already has the
 * spend (a shared Redis) changes nothing: on such a store the gateway replays only the last
 * minutes (`replaySettles`, below) to settle what a crash left unsettled.
 * Rate windows (a minute long) are not rebuilt; holds of requests cut short by the stop expire.
 */
import { microsFromNanos, payloadNanos } from "../pricing/money.ts";
import { type EventLog, offsetsSince, readBatches } from "../events/event-log.ts";
import { periodOf } from "../stores/admission.ts";
import type { StateStore } from "../stores/state-store.ts";

export interface CountersRebuilt {
  /** Requests whose spend was settled again. */
  requests: number;
  /** Their total cost, micro-USD (each counted once, whatever the number of budgets). */
  micros: number;
}

type Budgets = Array<{ key: string; period: string }>;

/** Pure: is `period` (`day:…` / `month:…`) the current one at `nowMs`? */
export function isCurrentPeriod(period: string, nowMs: number): boolean {
  const kind = period.startsWith("day:") ? "day" : period.startsWith("month:") ? "month" : undefined;
  return kind !== undefined && periodOf(kind, nowMs).name === period;
}

export async function rebuildBudgetCounters(log: EventLog, store: StateStore, nowMs = Date.now(), from?: readonly number[]): Promise<CountersRebuilt> {
  const out: CountersRebuilt = { requests: 0, micros: 0 };
  for (let p = 0; p < log.partitions("requests"); p++) {
    // A request's events share its tenant's partition, in order: reserved before completed.
    const admitted = new Map<string, Budgets>();
    for await (const batch of readBatches(log, "requests", p, from?.[p] ?? 0, 2000)) {
      // The settles of a batch go out together (they commute; a remote store pipelines them).
      const settles: Promise<unknown>[] = [];
      for (const { event } of batch) {
        const id = event.requestId;
        if (!id) continue;
        if (event.type === "budget.reserved") {
          const budgets = ((event.payload.budgets as Budgets | undefined) ?? []).filter((b) => typeof b?.key === "string" && isCurrentPeriod(b.period, nowMs));
          if (budgets.length) admitted.set(id, budgets.map((b) => ({ key: b.key, period: b.period })));
        } else if (event.type === "request.completed") {
          const budgets = admitted.get(id);
          if (!budgets) continue;
          admitted.delete(id);
          const actualMicros = microsFromNanos(payloadNanos(event.payload, "cost"));
          settles.push(store.settle({ requestId: id, budgets, actualMicros }));
          out.requests++;
          out.micros += actualMicros;
        }
      }
      await Promise.all(settles);
    }
  }
  return out;
}

/**
 * A shared store (Redis): the limits plugin settles beside the answer, so a crash can leave the
 * spend of the last answered requests unsettled (their holds would expire and the spend be
 * lost). At start the gateway settles once more every admitted request of the log since
 * `sinceMs`; those already settled (by whichever instance) are recognised by their settle
 * marker and change nothing, so the window must stay shorter than the store's retention of
 * settled ids (1 h by default). Requests admitted before the window are not replayed.
 */
export async function replaySettles(log: EventLog, store: StateStore, sinceMs: number, nowMs = Date.now()): Promise<CountersRebuilt> {
  return rebuildBudgetCounters(log, store, nowMs, await offsetsSince(log, "requests", sinceMs));
}
