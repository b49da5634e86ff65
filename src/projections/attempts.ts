/**
 * Provider attempts → `provider_attempts` (the provider SLA report's rows), written by the usage
 * projection beside the usage rows of the same batch. Exactly once like them: rows whose event id
 * is stored already are dropped before the insert, and the table is a ReplacingMergeTree read
 * with FINAL, so a batch re-delivered after a crash counts nothing twice.
 */
import { type AnalyticsStore, toColumns } from "../analytics/store.ts";
import { storedValue, toAttemptRow } from "../analytics/schema.ts";
import type { StoredEvent } from "../events/event-log.ts";
import { unseenRows } from "./unseen.ts";

/** `unseen`: the caller knows no row of this batch can be stored yet (see `WriteOptions`): no lookup. */
export async function writeAttempts(store: AnalyticsStore, batch: readonly StoredEvent[], unseen = false): Promise<number> {
  const rows = batch.flatMap((r) => {
    const row = toAttemptRow(r.event);
    return row ? [row] : [];
  });
  if (rows.length === 0) return 0;
  const fresh = unseen ? rows : await unseenRows(store, rows, "provider_attempts");
  if (fresh.length === 0) return 0;
  const { columns, values } = toColumns(fresh, storedValue);
  await store.insertRows("provider_attempts", columns, values);
  return fresh.length;
}

