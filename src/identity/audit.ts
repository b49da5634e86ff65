/**
 * Pure: the audit trail as a view over the config stream — every entity change (with its
 * actor) and every audit-only fact (failed sign-ins, permission refusals), newest first, with
 * filters and a cursor (the log position to continue below).
 */
import type { StoredEvent } from "../events/event-log.ts";

export interface AuditFilter {
  /** An identity id or name. */
  actor?: string;
  /** An entity kind (`route`), or kind and id (`route:gpt-fast`); `audit` = audit-only facts. */
  entity?: string;
  from?: Date;
  to?: Date;
  /** Positions below this one only (the previous page's `next_cursor`). */
  before?: number;
  limit: number;
}

export interface AuditEntry {
  position: number;
  id: string;
  time: string;
  type: string;
  entity: { kind: string; id: string } | null;
  actor: Record<string, unknown>;
  request_id: string | null;
  changes?: Record<string, unknown>;
  details?: Record<string, unknown>;
}

const SECRET_FIELDS = new Set(["api_key_enc", "hash", "previous_hash"]);
const scrub = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, SECRET_FIELDS.has(k) ? "(hidden)" : v]));

export function auditEntry(r: StoredEvent): AuditEntry {
  const { kind, id, actor, fields: _f, changes, version: _v, ...rest } = r.event.payload as Record<string, unknown> & { kind: string; id: string };
  const who = (actor as Record<string, unknown> | undefined) ?? { name: r.event.actor ?? "unknown" };
  const isAudit = kind === "audit";
  const entry: AuditEntry = {
    position: r.offset,
    id: r.event.id,
    time: r.event.time,
    type: r.event.type,
    entity: isAudit ? null : { kind, id },
    actor: who,
    request_id: (who.request_id as string | undefined) ?? (rest.request_id as string | undefined) ?? r.event.requestId ?? null,
  };
  if (changes) entry.changes = scrub(changes as Record<string, unknown>);
  if (isAudit) entry.details = rest;
  return entry;
}

export function auditPage(records: readonly StoredEvent[], f: AuditFilter): { data: AuditEntry[]; next_cursor: string | null } {
  const data: AuditEntry[] = [];
  const [kind, id] = f.entity ? [f.entity.split(":")[0], f.entity.includes(":") ? f.entity.slice(f.entity.indexOf(":") + 1) : undefined] : [];
  for (let i = records.length - 1; i >= 0; i--) {
    const r = records[i]!;
    if (f.before !== undefined && r.offset >= f.before) continue;
    const t = Date.parse(r.event.time);
    if (f.to && t > f.to.getTime()) continue;
    if (f.from && t < f.from.getTime()) break; // oldest first in the log: nothing older matches
    const e = auditEntry(r);
    if (kind && (e.entity?.kind ?? "audit") !== kind) continue;
    if (id !== undefined && e.entity?.id !== id) continue;
    if (f.actor && e.actor.id !== f.actor && e.actor.name !== f.actor) continue;
    data.push(e);
    if (data.length === f.limit) return { data, next_cursor: i > 0 ? String(r.offset) : null };
  }
  return { data, next_cursor: null };
}
