/** Exactly-once writes into event-id-keyed analytics tables: which rows of a batch are not stored yet. */
import type { AnalyticsStore } from "../analytics/store.ts";
import { toClickHouseTime } from "../analytics/schema.ts";

/**
 * The rows not yet in `table` (default `usage_events`; by event id), looked up within the batch's
 * time range. Shared by every projection into an event-id-keyed table (usage, provider attempts).
 * `IN (subquery)` builds a set once; `has(array, event_id)` scanned the whole id list for every
 * stored row of the range (quadratic on a replay over stored rows; live, the range holds few).
 */
export async function unseenRows<R extends { event_id: string; time: string }>(store: AnalyticsStore, rows: R[], table: "usage_events" | "provider_attempts" = "usage_events"): Promise<R[]> {
  if (rows.length === 0) return rows;
  let from = rows[0]!.time;
  let to = from;
  for (const r of rows) {
    if (r.time < from) from = r.time;
    if (r.time > to) to = r.time;
  }
  const seen = await store.query<{ event_id: string }>(
    `SELECT DISTINCT event_id FROM ${table}
     WHERE time >= {from:DateTime64(3, 'UTC')} AND time <= {to:DateTime64(3, 'UTC')}
       AND event_id IN (SELECT arrayJoin(splitByChar(',', {ids:String})))`,
    { from: toClickHouseTime(from), to: toClickHouseTime(to), ids: rows.map((r) => r.event_id).join(",") },
  );
  if (seen.length === 0) return rows;
  const known = new Set(seen.map((r) => r.event_id));
  return rows.filter((r) => !known.has(r.event_id));
}
