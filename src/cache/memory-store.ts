/**
 * The in-process cache store: an LRU bounded in bytes (`TOLLGATE_CACHE_MAX_BYTES`), with a time to
 * live per entry (`lru-cache`). One process only: with `REDIS_URL` the Redis store is used instead.
 */
import { LRUCache } from "lru-cache";
import { type CacheCounter, type CacheStore, type CacheUsage, emptyCounters } from "./store.ts";

export const DEFAULT_CACHE_MAX_BYTES = 64 * 1024 * 1024;

export class MemoryCacheStore implements CacheStore {
  readonly kind = "memory" as const;
  private readonly lru: LRUCache<string, string>;
  private readonly stats = new Map<string, Record<string, number>>();

  constructor(opts: { maxBytes?: number } = {}) {
    const maxBytes = opts.maxBytes ?? DEFAULT_CACHE_MAX_BYTES;
    // Strings are UTF-16 in memory: 2 bytes per code unit (+ the key) is what an entry costs.
    this.lru = new LRUCache<string, string>({ maxSize: maxBytes, maxEntrySize: maxBytes, sizeCalculation: (v, k) => 2 * (v.length + k.length), ttlAutopurge: false, allowStale: false });
  }

  private static id(tenant: string, hash: string): string {
    return `${tenant}\u0000${hash}`;
  }

  async get(tenant: string, hash: string): Promise<string | null> {
    return this.lru.get(MemoryCacheStore.id(tenant, hash)) ?? null;
  }

  async set(tenant: string, hash: string, value: string, ttlMs: number): Promise<void> {
    this.lru.set(MemoryCacheStore.id(tenant, hash), value, { ttl: Math.max(1, Math.ceil(ttlMs)) });
  }

  async purge(tenant?: string): Promise<number> {
    let n = 0;
    for (const k of [...this.lru.keys()]) {
      if (tenant === undefined || k.startsWith(`${tenant}\u0000`)) {
        if (this.lru.delete(k)) n++;
      }
    }
    return n;
  }

  async usage(tenant?: string): Promise<CacheUsage> {
    this.lru.purgeStale();
    let entries = 0;
    let bytes = 0;
    for (const [k, v] of this.lru.entries()) {
      if (tenant !== undefined && !k.startsWith(`${tenant}\u0000`)) continue;
      entries++;
      bytes += Buffer.byteLength(v);
    }
    return { entries, bytes };
  }

  count(tenant: string, counter: CacheCounter, n = 1): void {
    let s = this.stats.get(tenant);
    if (!s) this.stats.set(tenant, (s = emptyCounters()));
    s[counter] = (s[counter] ?? 0) + n;
  }

  async counters(tenant?: string): Promise<Record<string, number>> {
    const out = emptyCounters();
    for (const [t, s] of this.stats) {
      if (tenant !== undefined && t !== tenant) continue;
      for (const [k, v] of Object.entries(s)) out[k] = (out[k] ?? 0) + v;
    }
    return out;
  }

  health(): { ok: boolean } {
    return { ok: true };
  }

  async close(): Promise<void> {
    this.lru.clear();
  }
}
