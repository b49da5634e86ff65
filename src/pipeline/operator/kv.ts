/**
 * The key-value store a plugin gets: a view of the StateStore under
 * `plugin:<plugin>:<tenant>:`, so a plugin reaches only its own keys for the current tenant.
 * TTLs come from the StateStore (memory and Redis alike).
 */
import type { StateStore } from "../../stores/state-store.ts";
import type { PluginKv } from "./api.ts";

const MAX_KEY = 256;
const MAX_VALUE = 256 * 1024;

export function pluginKvPrefix(plugin: string, tenant: string): string {
  return `plugin:${plugin}:${tenant}:`;
}

export function scopedKv(store: StateStore, plugin: string, tenant: string): PluginKv {
  const prefix = pluginKvPrefix(plugin, tenant);
  const k = (key: string) => {
    if (typeof key !== "string" || key.length === 0 || key.length > MAX_KEY) throw new TypeError(`kv: a key is a string of 1 to ${MAX_KEY} characters`);
    return prefix + key;
  };
  return {
    get: (key) => store.get(k(key)),
    async set(key, value, opts) {
      if (typeof value !== "string" || value.length > MAX_VALUE) throw new TypeError(`kv: a value is a string of at most ${MAX_VALUE} characters`);
      const ttlMs = opts?.ttlMs;
      if (ttlMs !== undefined && (!Number.isInteger(ttlMs) || ttlMs <= 0)) throw new TypeError("kv: ttlMs must be a positive integer");
      await store.set(k(key), value, ttlMs ? { ttlMs } : undefined);
    },
    del: (key) => store.del(k(key)),
  };
}
