/**
 * The request-id → log-position index: a projection of the requests stream into the analytics
 * store's `request_log_index` table (one row per event that carries a request id: its partition,
 * offset, type, time and tenant). A timeline reads the positions here and the events from the log
 * (file log or Kafka) — a point lookup on the table's sorting key, never a scan of the log.
 *
 * Exactly-once enough: rows are keyed by (request_id, partition, offset) in a ReplacingMergeTree
 * and read with DISTINCT, so a batch delivered twice changes nothing a reader sees. Offsets are
 * committed after the insert is acknowledged (the consumer group's contract).
 */
import type { AnalyticsStore } from "../analytics/store.ts";
import type { EventLog, StoredEvent } from "../events/event-log.ts";

export interface LogIndexRow {
  request_id: string;
  tenant: string;
  type: string;
  time_ms: number;
  partition: number;
  offset: number;
}

/** Pure: the index rows of a batch (events without a request id are not indexed). */
export function indexRows(batch: readonly StoredEvent[]): LogIndexRow[] {
  const out: LogIndexRow[] = [];
  for (const r of batch) {
    const id = r.event.requestId;
    if (!id) continue;
    out.push({ request_id: id, tenant: r.event.tenant, type: r.event.type, time_ms: Date.parse(r.event.time) || 0, partition: r.partition, offset: r.offset });
  }
  return out;
}

const INDEX_COLUMNS = ["request_id", "tenant", "type", "time_ms", "partition", "offset"] as const;

/** Writes rows (one `insertRows`: value arrays, the fast shape for chDB). */
export async function writeIndexRows(store: Pick<AnalyticsStore, "insertRows">, rows: readonly LogIndexRow[]): Promise<void> {
  if (rows.length === 0) return;
  await store.insertRows("request_log_index", INDEX_COLUMNS, rows.map((r) => [r.request_id, r.tenant, r.type, r.time_ms, r.partition, r.offset]));
}

export interface LogPosition {
  partition: number;
  offset: number;
  type: string;
  tenant: string;
  time_ms: number;
}

/** The positions of one request's events, in time order (empty when the id is unknown). */
export async function positionsOf(store: Pick<AnalyticsStore, "query">, requestId: string): Promise<LogPosition[]> {
  const rows = await store.query<LogPosition>(
    `SELECT DISTINCT partition, offset, type, tenant, time_ms FROM request_log_index WHERE request_id = {id:String} ORDER BY time_ms, partition, offset LIMIT 1000`,
    { id: requestId },
  );
  return rows.map((r) => ({ partition: Number(r.partition), offset: Number(r.offset), type: r.type, tenant: r.tenant, time_ms: Number(r.time_ms) }));
}

/**
 * The tenant a request belongs to: the tenant of its `request.completed` (else of its latest
 * event). `request.received` is recorded before authentication, under `default`, so it never decides.
 */
export function requestTenant(positions: readonly LogPosition[]): string | undefined {
  const completed = positions.find((p) => p.type === "request.completed");
  if (completed) return completed.tenant;
  const later = positions.filter((p) => p.type !== "request.received");
  return (later.at(-1) ?? positions.at(-1))?.tenant;
}

/** Re-index the whole requests stream from offset 0 (after the analytics tables were dropped). */
export async function replayLogIndex(log: EventLog, store: AnalyticsStore): Promise<number> {
  const { readBatches } = await import("../events/event-log.ts");
  let n = 0;
  for (let p = 0; p < log.partitions("requests"); p++) {
    for await (const batch of readBatches(log, "requests", p, 0, 5000)) {
      const rows = indexRows(batch);
      await writeIndexRows(store, rows);
      n += rows.length;
    }
  }
  return n;
}
