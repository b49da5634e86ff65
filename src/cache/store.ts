/**
 * CacheStore: where exact-cache entries live. Two implementations pass one contract suite
 * (test/cache/store.contract.ts): MemoryCacheStore (in-process LRU bounded in bytes, the
 * embedded default) and RedisCacheStore (`REDIS_URL`: shared by every instance).
 *
 * Entries are addressed by tenant and key hash, so a tenant's entries can be counted and purged
 * (`DELETE /v1/cache`) whatever scope (tenant or key) produced the hash.
 */

/** Known counters; the semantic tier also counts similarity buckets (`sim_ge_0.97`, …: `SIMILARITY_EDGES` in semantic.ts). */
export const CACHE_COUNTERS = ["hits", "misses", "saved_micros", "errors", "semantic_hits", "semantic_misses", "embedding_errors", "embedding_micros"] as const;
export type CacheCounter = (typeof CACHE_COUNTERS)[number] | `sim_${string}`;

export interface CacheUsage {
  entries: number;
  bytes: number;
}

export interface CacheStore {
  readonly kind: "memory" | "redis";
  /** One round trip: the stored text, or null. Rejects when the store is down or slow (the caller counts a miss). */
  get(tenant: string, hash: string): Promise<string | null>;
  /** Store with a time to live (ms > 0). */
  set(tenant: string, hash: string, value: string, ttlMs: number): Promise<void>;
  /** Delete every entry of one tenant, or of all tenants (undefined). Returns how many were deleted. */
  purge(tenant?: string): Promise<number>;
  /** Live entries and their bytes, of one tenant or all. */
  usage(tenant?: string): Promise<CacheUsage>;
  /** Add to a tenant's counter. Never awaited on the request path; failures are dropped. */
  count(tenant: string, counter: CacheCounter, n?: number): void;
  /** The counters of one tenant, or summed over all. */
  counters(tenant?: string): Promise<Record<string, number>>;
  /** Whether the last operations worked (no I/O: read on `/ready`). */
  health(): { ok: boolean; detail?: string };
  close(): Promise<void>;
}

export const emptyCounters = (): Record<string, number> => Object.fromEntries(CACHE_COUNTERS.map((c) => [c, 0]));
