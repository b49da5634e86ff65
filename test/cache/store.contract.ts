/**
 * The CacheStore contract, written once and run against every implementation
 * (memory-store.test.ts, redis-store.test.ts). Expiry is awaited by polling, never timed.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { CacheStore } from "../../src/cache/store.ts";
import { waitFor } from "../helpers/gateway.ts";

export function cacheStoreContract(name: string, make: () => Promise<CacheStore>): void {
  describe(`CacheStore contract: ${name}`, () => {
    let store: CacheStore;
    beforeEach(async () => {
      store = await make();
    });
    afterEach(async () => {
      await store.purge().catch(() => {});
      await store.close();
    });

    test("get returns what set stored, per tenant and hash; unknown is null", async () => {
      await store.set("t1", "h1", "value one ✓", 60_000);
      expect(await store.get("t1", "h1")).toBe("value one ✓");
      expect(await store.get("t1", "h2")).toBeNull();
      expect(await store.get("t2", "h1")).toBeNull(); // another tenant never sees it
      await store.set("t1", "h1", "replaced", 60_000);
      expect(await store.get("t1", "h1")).toBe("replaced");
    });

    test("an entry expires after its time to live", async () => {
      await store.set("t1", "short", "x", 50);
      await store.set("t1", "long", "y", 60_000);
      await waitFor(async () => (await store.get("t1", "short")) === null, 3000, "the entry to expire");
      expect(await store.get("t1", "long")).toBe("y");
    });

    test("usage counts entries and bytes per tenant and overall", async () => {
      await store.set("t1", "a", "12345", 60_000);
      await store.set("t1", "b", "123", 60_000);
      await store.set("t2", "a", "1", 60_000);
      expect(await store.usage("t1")).toEqual({ entries: 2, bytes: 8 });
      expect(await store.usage("t2")).toEqual({ entries: 1, bytes: 1 });
      const all = await store.usage();
      expect(all.entries).toBeGreaterThanOrEqual(3);
    });

    test("purge of one tenant leaves the others; purge of all empties the store", async () => {
      await store.set("t1", "a", "1", 60_000);
      await store.set("t1", "b", "2", 60_000);
      await store.set("t2", "a", "3", 60_000);
      expect(await store.purge("t1")).toBe(2);
      expect(await store.get("t1", "a")).toBeNull();
      expect(await store.get("t2", "a")).toBe("3");
      expect(await store.purge()).toBeGreaterThanOrEqual(1);
      expect(await store.get("t2", "a")).toBeNull();
    });

    test("counters add up per tenant and sum over all", async () => {
      store.count("t1", "hits");
      store.count("t1", "hits", 2);
      store.count("t1", "saved_micros", 1500);
      store.count("t2", "misses");
      await waitFor(async () => (await store.counters("t1")).hits === 3, 3000, "counters");
      expect(await store.counters("t1")).toMatchObject({ hits: 3, misses: 0, saved_micros: 1500, errors: 0, semantic_hits: 0 });
      const all = await store.counters();
      expect(all.misses).toBeGreaterThanOrEqual(1);
      expect(all.hits).toBeGreaterThanOrEqual(3);
      expect(store.health().ok).toBe(true);
    });
  });
}
