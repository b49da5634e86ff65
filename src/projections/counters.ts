/**
 * Counters → state (DESIGN §5): in embedded mode the StateStore lives in the process, so budget
 * spend would start from zero after a restart — and a budget could be spent twice. At start the
 * gateway replays the requests stream and settles, once more, every admitted request of the
 * current budget periods: `budget.reserved` names the budgets and periods a request was admitted
 * against, its `request.completed` the actual cost (the same amount the limits plugin settled).
 *
 * Settles are idempotent per request id, so running this against a store that already has the
 * spend (a shared Redis) would change nothing; the gateway only runs it for the memory store.
 * Rate windows (a minute long) are not rebuilt; holds of requests cut short by the stop expire.
 */
import { microsFromNanos, payloadNanos } from "../pricing/money.ts";
import { type EventLog, readBatches } from "../events/event-log.ts";
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

export async function rebuildBudgetCounters(log: EventLog, store: StateStore, nowMs = Date.now()): Promise<CountersRebuilt> {
  const out: CountersRebuilt = { requests: 0, micros: 0 };
  for (let p = 0; p < log.partitions("requests"); p++) {
    // A request's events share its tenant's partition, in order: reserved before completed.
    const admitted = new Map<string, Budgets>();
    for await (const batch of readBatches(log, "requests", p, 0, 2000)) {
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
          await store.settle({ requestId: id, budgets, actualMicros });
          out.requests++;
          out.micros += actualMicros;
        }
      }
    }
  }
  return out;
}
