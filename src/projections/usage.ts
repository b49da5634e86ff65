/**
 * Usage projection: `request.completed` events → `usage_events` in the AnalyticsStore.
 *
 * A consumer group reads the requests stream in batches; each batch is inserted with a
 * deterministic deduplication token (`requests:<partition>:<first>-<last>`) and the offsets are
 * committed only after the insert is acknowledged. A slow or down store makes the projection
 * lag (the same batch is retried), never lose. `usage_events` is a ReplacingMergeTree read with
 * FINAL, so a replay never changes an API total. The hourly rollup (a materialized view) is
 * deduplicated by the same tokens: exact for full replays, whose batches are fixed by offsets;
 * a live batch re-delivered with other boundaries after a crash can count twice there until
 * `repairUsageRollup` (the API never reads the rollup).
 */
import type { AnalyticsStore } from "../analytics/store.ts";
import { rebuildHourlyRollup } from "../analytics/queries.ts";
import { toUsageRow } from "../analytics/schema.ts";
import type { EventLog, StoredEvent, Subscription } from "../events/event-log.ts";

export const USAGE_GROUP = "usage-projection";

/** Pure: the rows and the dedup token of one batch (one partition, in order). */
export function usageBatch(batch: readonly StoredEvent[]) {
  const rows = batch.flatMap((r) => {
    const row = toUsageRow(r.event);
    return row ? [row] : [];
  });
  const first = batch[0];
  const last = batch.at(-1);
  const token = first && last ? `${first.stream}:${first.partition}:${first.offset}-${last.offset}` : "";
  return { rows, token };
}

/** Keep `usage_events` current from the requests stream (returns the running subscription). */
export function startUsageProjection(log: EventLog, store: AnalyticsStore, opts: { group?: string; onError?: (err: unknown) => void } = {}): Subscription {
  return log.consume(
    "requests",
    opts.group ?? USAGE_GROUP,
    async (batch) => {
      const { rows, token } = usageBatch(batch);
      if (rows.length) await store.insert(rows, token);
    },
    { maxBatch: 1000, ...(opts.onError ? { onError: opts.onError } : {}) },
  );
}

/**
 * Drop the usage tables and replay the whole requests stream from offset 0 (the materialized
 * view refills the hourly rollup as it goes). Returns the rows written.
 */
export async function rebuildUsage(log: EventLog, store: AnalyticsStore): Promise<number> {
  await store.drop();
  await store.migrate();
  return replayUsage(log, store);
}

/**
 * Replay the whole requests stream into the store, in batches fixed by offsets (1,000 records
 * per partition read), so a second replay sends the same batches with the same deduplication
 * tokens: neither `usage_events` nor the rollup count anything twice.
 */
export async function replayUsage(log: EventLog, store: AnalyticsStore): Promise<number> {
  let written = 0;
  for (let p = 0; p < log.partitions("requests"); p++) {
    for (let offset = 0; ; ) {
      const batch = await log.read("requests", p, offset, 1000);
      if (batch.length === 0) break;
      const { rows, token } = usageBatch(batch);
      if (rows.length) await store.insert(rows, token);
      written += rows.length;
      offset = batch.at(-1)!.offset + 1;
    }
  }
  return written;
}

/** Recompute the hourly rollup from the deduplicated events (after live batches were re-sent with other boundaries). */
export { rebuildHourlyRollup as repairUsageRollup };
