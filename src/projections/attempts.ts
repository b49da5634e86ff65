/**
 * Provider attempts → `provider_attempts` (the provider SLA report's rows), written by the usage
 * projection beside the usage rows of the same batch. Exactly once like them: rows whose event id
 * is stored already are dropped before the insert, and the table is a ReplacingMergeTree read
 * with FINAL, so a batch re-delivered after a crash counts nothing twice.
 */
import type { AnalyticsStore } from "../analytics/store.ts";
import { type AttemptRow, toAttemptRow, toClickHouseTime } from "../analytics/schema.ts";
import type { StoredEvent } from "../events/event-log.ts";

export const ATTEMPT_TYPES = ["provider.attempt.succeeded", "provider.attempt.failed"];

export async function writeAttempts(store: AnalyticsStore, batch: readonly StoredEvent[]): Promise<number> {
  const rows = batch.flatMap((r) => {
    const row = toAttemptRow(r.event);
    return row ? [row] : [];
  });
  if (rows.length === 0) return 0;
  const fresh = await unseen(store, rows);
  if (fresh.length === 0) return 0;
  let body = "";
  for (const r of fresh) body += JSON.stringify({ ...r, time: toClickHouseTime(r.time) }) + "\n";
  // Inline JSONEachRow data: the same statement on chDB and a ClickHouse server (no new store method).
  await store.exec(`INSERT INTO provider_attempts FORMAT JSONEachRow\n${body}`);
  return fresh.length;
}

async function unseen(store: AnalyticsStore, rows: AttemptRow[]): Promise<AttemptRow[]> {
  let from = rows[0]!.time;
  let to = from;
  for (const r of rows) {
    if (r.time < from) from = r.time;
    if (r.time > to) to = r.time;
  }
  const seen = await store.query<{ event_id: string }>(
    `SELECT DISTINCT event_id FROM provider_attempts
     WHERE time >= {from:DateTime64(3, 'UTC')} AND time <= {to:DateTime64(3, 'UTC')}
       AND has(splitByChar(',', {ids:String}), event_id)`,
    { from: toClickHouseTime(from), to: toClickHouseTime(to), ids: rows.map((r) => r.event_id).join(",") },
  );
  if (seen.length === 0) return rows;
  const known = new Set(seen.map((r) => r.event_id));
  return rows.filter((r) => !known.has(r.event_id));
}
