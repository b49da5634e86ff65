/**
 * Pure: tenants and keys of the folded config state as the request path reads them — a Map
 * from key hash to key record (one lookup per request, no secret comparison) and the tenants.
 */
import type { KeyRecord, TenancySnapshot, TenantRecord } from "../../config/tenancy.ts";
import type { ConfigState, Entity } from "./model.ts";

/** One record per key; by its current hash, and by its previous hash after a rotation. */
export function keyIndex(state: ConfigState): Map<string, KeyRecord> {
  const index = new Map<string, KeyRecord>();
  for (const e of Object.values(state.entities.key)) {
    const record = keyRecord(e);
    index.set(e.fields.hash, record);
    // Kept after the grace too, so an old key gets `expired_api_key` rather than `invalid_api_key`.
    if (e.fields.previous_hash && e.fields.previous_valid_until) {
      index.set(e.fields.previous_hash, { ...record, grace_until_ms: Date.parse(e.fields.previous_valid_until) });
    }
  }
  return index;
}

export function keyRecord(e: Entity<"key">): KeyRecord {
  const f = e.fields;
  const r: KeyRecord = { id: e.id, tenant: f.tenant, prefix: f.prefix };
  if (f.service !== undefined) r.service = f.service;
  if (f.user !== undefined) r.user = f.user;
  if (f.name !== undefined) r.name = f.name;
  if (f.models) r.models = [...f.models];
  if (f.rpm_limit !== undefined) r.rpm_limit = f.rpm_limit;
  if (f.tpm_limit !== undefined) r.tpm_limit = f.tpm_limit;
  if (f.budget) r.budget = { ...f.budget };
  if (f.expires_at) {
    r.expires_at = f.expires_at;
    r.expires_at_ms = Date.parse(f.expires_at);
  }
  if (f.revoked_at) r.revoked_at = f.revoked_at;
  return r;
}

/** A tenant as the request path sees it (undefined when there is none). */
export function tenantOf(state: ConfigState, id: string): TenantRecord | undefined {
  const e = state.entities.tenant[id];
  if (!e) return undefined;
  const f = e.fields;
  const r: TenantRecord = { id: e.id, name: f.name, enabled: f.enabled };
  if (f.rpm_limit !== undefined) r.rpm_limit = f.rpm_limit;
  if (f.tpm_limit !== undefined) r.tpm_limit = f.tpm_limit;
  if (f.budget) r.budget = { ...f.budget };
  if (f.models) r.models = [...f.models];
  return r;
}

/** The tenancy part of the config snapshot. */
export function tenancySnapshot(state: ConfigState): TenancySnapshot {
  const tenants: Record<string, TenantRecord> = {};
  for (const id of Object.keys(state.entities.tenant)) tenants[id] = tenantOf(state, id)!;
  return { keys: keyIndex(state), tenants, anyKeys: Object.keys(state.entities.key).length > 0 };
}
