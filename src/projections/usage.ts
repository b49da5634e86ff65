/**
 * Usage projection: `request.completed` events → `usage_events` in the AnalyticsStore, provider
 * attempts → `provider_attempts`, and (the same consumer, each record decoded once) every event
 * with a request id → the request explorer's `request_log_index`.
 *
 * A consumer group reads the requests stream in batches. Each batch is written exactly once:
 *   1. rows whose event id is already stored are dropped (one indexed lookup per batch, bounded by
 *      the batch's time range) — a batch re-delivered after a crash, with whatever boundaries, or a
 *      replay over rows already there, inserts nothing again;
 *   2. the rest is inserted with a deterministic deduplication token
 *      (`requests:<partition>:<first>-<last>`), so an insert retried after a lost acknowledgement is
 *      dropped by the server, base table and rollup alike;
 *   3. offsets are committed only after the insert is acknowledged. A slow or down store makes the
 *      projection lag (the same batch is retried), never lose.
 * Together these keep the hourly rollup (a materialized view, which counts every inserted block)
 * exact, not only `usage_events` (a ReplacingMergeTree read with FINAL). The one writer per
 * partition is the consumer group's; a manual replay next to a running projection can still race
 * it, which `repairUsageRollup` fixes.
 */
import type { AnalyticsStore } from "../analytics/store.ts";
import { rebuildHourlyRollup } from "../analytics/queries.ts";
import { toUsageRow } from "../analytics/schema.ts";
import { indexRows, writeIndexRows } from "../explorer/log-index.ts";
import { writeAttempts } from "./attempts.ts";
import { lingering } from "./linger.ts";
import { unseenRows } from "./unseen.ts";

export { unseenRows };
import { type EventLog, readBatches, type StoredEvent, type Subscription } from "../events/event-log.ts";

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

/**
 * Write one batch of the requests stream to the usage consumer's tables: the log-index rows of
 * every event, then the attempt and usage rows exactly once (any other event type is skipped).
 * Returns the usage rows.
 */
export async function writeProjectionBatch(store: AnalyticsStore, batch: readonly StoredEvent[], opts: WriteOptions = {}): Promise<number> {
  await writeIndexRows(store, indexRows(batch));
  return (await writeBatch(store, batch, opts)).rows;
}

export interface WriteOptions {
  /**
   * The writer knows none of the batch's rows can be stored yet, so step 1's lookup is skipped:
   * the only writer, past the highest offset it may ever have written (the engine process on the
   * file log, see FramedProgress in framed-projection.ts). Otherwise rows are looked up as usual.
   */
  unseen?: boolean;
}

/** Write one batch exactly once (see the module comment); returns its usage rows and those inserted now. */
async function writeBatch(store: AnalyticsStore, batch: readonly StoredEvent[], opts: WriteOptions = {}): Promise<{ rows: number; inserted: number }> {
  await writeAttempts(store, batch, opts.unseen); // provider attempts (issue 29): their own table, before the usage rows
  const { rows, token } = usageBatch(batch);
  const fresh = opts.unseen ? rows : await unseenRows(store, rows);
  if (fresh.length) await store.insert(fresh, token);
  return { rows: rows.length, inserted: fresh.length };
}

export interface UsageProjectionOptions {
  group?: string;
  onError?: (err: unknown) => void;
  /** After a batch that did not fill `maxBatch`, wait this long before reading again (default 500 ms; see linger.ts). */
  lingerMs?: number;
  /** Records per read (default 8000; every record is parsed, for the log index). */
  maxBatch?: number;
}

/**
 * Keep `usage_events`, `provider_attempts` and `request_log_index` current from the requests
 * stream, in this process (returns the running subscription). With the file log and the embedded
 * engine in its own process, src/analytics/framed-projection.ts does the same over there.
 */
export function startUsageProjection(log: EventLog, store: AnalyticsStore, opts: UsageProjectionOptions = {}): Subscription {
  const maxBatch = opts.maxBatch ?? 8000;
  const onError = opts.onError ? { onError: opts.onError } : {};
  return lingering(opts.lingerMs ?? 500, maxBatch, (linger) =>
    log.consume("requests", opts.group ?? USAGE_GROUP, async (batch) => {
      await writeProjectionBatch(store, batch);
      await linger(batch.length);
    }, { maxBatch, ...onError }),
  );
}

/**
 * Drop the usage tables and replay the whole requests stream from offset 0 (the materialized
 * view refills the hourly rollup as it goes). Returns the `request.completed` events replayed.
 */
export async function rebuildUsage(log: EventLog, store: AnalyticsStore): Promise<number> {
  await store.drop();
  await store.migrate();
  return replayUsage(log, store);
}

/**
 * Replay the whole requests stream into the store (batches of 1,000 records per partition read).
 * Rows already stored are skipped, so a second replay writes nothing: neither `usage_events` nor
 * the rollup count anything twice. Returns the `request.completed` events replayed.
 */
export async function replayUsage(log: EventLog, store: AnalyticsStore): Promise<number> {
  let replayed = 0;
  for (let p = 0; p < log.partitions("requests"); p++) {
    for await (const batch of readBatches(log, "requests", p)) replayed += (await writeBatch(store, batch)).rows;
  }
  return replayed;
}

/** Recompute the hourly rollup from the deduplicated events (after a manual replay raced the live projection). */
export { rebuildHourlyRollup as repairUsageRollup };
