import type { Settings } from "../config/env.ts";
import { MemoryCacheStore } from "./memory-store.ts";
import { RedisCacheStore } from "./redis-store.ts";
import type { CacheStore } from "./store.ts";

/** The cache store: Redis when REDIS_URL is set (shared by every instance), else in-process. */
export function openCacheStore(settings: Pick<Settings, "redisUrl" | "redisPrefix" | "cacheMaxBytes" | "cacheTimeoutMs">): CacheStore {
  if (settings.redisUrl) return new RedisCacheStore(settings.redisUrl, { prefix: settings.redisPrefix, timeoutMs: settings.cacheTimeoutMs });
  return new MemoryCacheStore({ maxBytes: settings.cacheMaxBytes });
}
