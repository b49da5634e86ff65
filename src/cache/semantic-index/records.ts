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

/** Live records of one slice of a scope, their vectors in one buffer (what the index worker takes). */
export interface DecodedSlice {
  ids: string[];
  xs: number[];
  /** `ids.length` rows of `dims` floats. */
  vectors: Float32Array;
  dims: number;
}

/**
 * The vector (base64) and expiry of a record without parsing its entry — a cold load reads every
 * record of a scope, and the entry (a whole cached response) is only needed on a hit: the layout
 * {@link encodeRecord} writes is read in place, anything else through {@link parseRecord}.
 */
export function peekRecord(raw: string): { u: string; x: number } | undefined {
  if (raw.startsWith('{"u":"')) {
    const uEnd = raw.indexOf('"', 6);
    if (uEnd > 0 && raw.startsWith(',"x":', uEnd + 1)) {
      const xEnd = raw.indexOf(",", uEnd + 6);
      const x = xEnd > 0 ? Number(raw.slice(uEnd + 6, xEnd)) : NaN;
      if (Number.isFinite(x) && raw.startsWith(',"e":"', xEnd) && raw.endsWith('"}')) return { u: raw.slice(6, uEnd), x };
    }
  }
  const r = parseRecord(raw);
  return r && { u: r.u, x: r.x };
}

/**
 * Records `[from, to)` of a store read: the live ones (not `seen` before — a scan may return a
 * field twice) decoded straight into one buffer of `dims` floats per row (`dims` absent: the first
 * record's), ids of expired or unreadable records into `dead`. A vector of another length (another
 * embeddings model) is skipped. Undefined when nothing is live.
 */
export function decodeSlice(entries: Array<[string, string]>, from: number, to: number, now: number, seen: Set<string>, dead: string[], dims?: number): DecodedSlice | undefined {
  const ids: string[] = [];
  const xs: number[] = [];
  let vectors: Float32Array | undefined;
  let bytes: Buffer | undefined;
  for (let i = from; i < to; i++) {
    const [id, raw] = entries[i]!;
    if (seen.has(id)) continue;
    const r = peekRecord(raw);
    if (!r || r.x <= now) {
      dead.push(id);
      continue;
    }
    seen.add(id);
    const len = Buffer.byteLength(r.u, "base64");
    dims ??= len / 4;
    if (len !== dims * 4 || dims < 1) continue;
    if (!vectors) {
      vectors = new Float32Array((to - i) * dims);
      bytes = Buffer.from(vectors.buffer, vectors.byteOffset, vectors.byteLength);
    }
    if (bytes!.write(r.u, ids.length * dims * 4, dims * 4, "base64") !== dims * 4) continue;
    ids.push(id);
    xs.push(r.x);
  }
  if (!vectors || ids.length === 0 || dims === undefined) return undefined;
  return { ids, xs, vectors: vectors.subarray(0, ids.length * dims), dims };
}
