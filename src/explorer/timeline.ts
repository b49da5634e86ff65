/**
 * A request's timeline: the positions come from the request-id index (log-index.ts), the events
 * from the log itself (file log or Kafka), read by offset. In order, with each event's time from
 * the start of the request and the per-phase timings the runner recorded on `request.completed`.
 */
import type { AnalyticsStore } from "../analytics/store.ts";
import type { EventEnvelope } from "../events/envelope.ts";
import type { EventLog } from "../events/event-log.ts";
import { type LogPosition, positionsOf, requestTenant } from "./log-index.ts";

export interface TimelineEvent {
  type: string;
  time: string;
  /** ms since the request's first event. */
  at_ms: number;
  partition: number;
  offset: number;
  config_version: number | null;
  payload: Record<string, unknown>;
}

export interface Timeline {
  id: string;
  tenant: string;
  config_version: number | null;
  /** Who called (from `request.completed`; a successful authentication records no event of its own). */
  auth: { tenant: string; key_id: string | null; key_prefix: string | null; service: string | null; user_id: string | null };
  /** Per-phase wall time in ms (authenticate, admit, inspect, lookup, route, call, respond). */
  phases: Record<string, number>;
  events: TimelineEvent[];
  /** The `request.completed` event's envelope, for explain. */
  completed?: EventEnvelope;
}

/** Reads the events at `positions` (one read per position, in parallel), dropping any whose id does not match. */
async function readAt(log: Pick<EventLog, "read">, requestId: string, positions: readonly LogPosition[]) {
  const read = await Promise.all(positions.map((p) => log.read("requests", p.partition, p.offset, 1).then((r) => r[0])));
  return read.filter((r): r is NonNullable<typeof r> => r !== undefined && r.event.requestId === requestId);
}

/**
 * The timeline of `requestId`, or undefined when it is unknown or (with `tenant`) belongs to
 * another tenant: the caller answers both with the same 404.
 */
export async function timelineOf(store: Pick<AnalyticsStore, "query">, log: Pick<EventLog, "read">, requestId: string, tenant?: string): Promise<Timeline | undefined> {
  const positions = await positionsOf(store, requestId);
  if (positions.length === 0) return undefined;
  const owner = requestTenant(positions);
  if (owner === undefined || (tenant !== undefined && owner !== tenant)) return undefined;
  const records = (await readAt(log, requestId, positions)).sort((a, b) => a.event.time.localeCompare(b.event.time) || a.event.id.localeCompare(b.event.id));
  if (records.length === 0) return undefined;
  const t0 = Date.parse(records[0]!.event.time);
  const completed = records.find((r) => r.event.type === "request.completed")?.event;
  const timings = completed?.payload.timings;
  const p = completed?.payload ?? {};
  const s = (v: unknown) => (typeof v === "string" && v !== "" ? v : null);
  return {
    id: requestId,
    tenant: owner,
    auth: { tenant: owner, key_id: s(p.keyId), key_prefix: s(p.keyPrefix), service: s(p.service), user_id: s(p.user) },
    config_version: completed?.configVersion ?? records.find((r) => r.event.configVersion !== undefined)?.event.configVersion ?? null,
    phases: timings && typeof timings === "object" ? (timings as Record<string, number>) : {},
    events: records.map((r) => ({
      type: r.event.type,
      time: r.event.time,
      at_ms: Date.parse(r.event.time) - t0,
      partition: r.partition,
      offset: r.offset,
      config_version: r.event.configVersion ?? null,
      payload: r.event.payload,
    })),
    ...(completed ? { completed } : {}),
  };
}
