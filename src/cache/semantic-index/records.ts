/**
 * Pure: how the semantic tier lays its entries out in the StateStore (keys, the record of one
 * entry) and names a scope's index in the worker. See src/cache/semantic-store.ts for the layout.
 */
import { createHash } from "node:crypto";

/** One entry: its unit vector (base64 float32), expiry (ms) and encoded (sealed) answer. */
export interface SemanticRecord {
  u: string;
  x: number;
  e: string;
}

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

export const scopeKey = (tenant: string, scope: string) => `semcache:scope:${tenant}:${scope}`;
export const scopesKey = (tenant: string) => `semcache:scopes:${tenant}`;
export const TENANTS_KEY = "semcache:tenants";
/** The journal: what was added to a tenant's scopes in one second. */
export const bucketKey = (tenant: string, sec: number) => `semcache:j:${tenant}:${sec}`;
/** Changes on every purge of the tenant. */
export const epochKey = (tenant: string) => `semcache:epoch:${tenant}`;

/** The index worker's name for a scope: `<tenant hash>-<scope hash>` (a tenant's scopes share a prefix). */
export function indexKey(tenant: string, scope: string): string {
  return `${tenantPrefix(tenant)}${sha(scope).slice(0, 40)}`;
}

export function tenantPrefix(tenant: string): string {
  return `${sha(tenant).slice(0, 16)}-`;
}

export function encodeRecord(unit: Float32Array, expiresAt: number, entry: string): string {
  return JSON.stringify({ u: Buffer.from(unit.buffer, unit.byteOffset, unit.byteLength).toString("base64"), x: expiresAt, e: entry } satisfies SemanticRecord);
}

/** The record, or undefined when it is not one. */
export function parseRecord(raw: string | null | undefined): SemanticRecord | undefined {
  if (!raw) return undefined;
  try {
    const r = JSON.parse(raw) as SemanticRecord;
    return typeof r.u === "string" && typeof r.x === "number" && typeof r.e === "string" ? r : undefined;
  } catch {
    return undefined;
  }
}

export function decodeVector(b64: string): Float32Array {
  const buf = Buffer.from(b64, "base64");
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}
