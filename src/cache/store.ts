/**
 * CacheStore: where exact-cache entries live. Two implementations pass one contract suite
 * (test/cache/store.contract.ts): MemoryCacheStore (in-process LRU bounded in bytes, the
 * embedded default) and RedisCacheStore (`REDIS_URL`: shared by every instance).
 *
 * Entries are addressed by tenant and key hash, so a tenant's entries can be counted and purged
 * (`DELETE /v1/cache`) whatever scope (tenant or key) produced the hash.
 */

export type CacheCounter = "hits" | "misses" | "saved_micros" | "errors";

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
  counters(tenant?: string): Promise<Record<CacheCounter, number>>;
  /** Whether the last operations worked (no I/O: read on `/ready`). */
  health(): { ok: boolean; detail?: string };
  close(): Promise<void>;
}

export const emptyCounters = (): Record<CacheCounter, number> => ({ hits: 0, misses: 0, saved_micros: 0, errors: 0 });
