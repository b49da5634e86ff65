/** MemoryCacheStore: the contract, plus its byte bound (LRU eviction). */
import { describe, expect, test } from "bun:test";
import { MemoryCacheStore } from "../../src/cache/memory-store.ts";
import { cacheStoreContract } from "./store.contract.ts";

cacheStoreContract("memory", async () => new MemoryCacheStore());

describe("MemoryCacheStore bound", () => {
  test("stays under its byte bound by evicting the least recently used entries", async () => {
    const store = new MemoryCacheStore({ maxBytes: 10_000 });
    const value = "x".repeat(1000); // ~2 KB in memory each
    await store.set("t", "first", value, 60_000);
    for (let i = 0; i < 3; i++) await store.set("t", `n${i}`, value, 60_000);
    await store.get("t", "first"); // recently used: kept
    for (let i = 3; i < 8; i++) await store.set("t", `n${i}`, value, 60_000);
    const usage = await store.usage("t");
    expect(usage.entries).toBeLessThan(9);
    expect(usage.entries).toBeGreaterThan(0);
    expect(await store.get("t", "n0")).toBeNull(); // the oldest unused went first
    expect(await store.get("t", "n7")).toBe(value);
  });

  test("an entry larger than the whole bound is not stored", async () => {
    const store = new MemoryCacheStore({ maxBytes: 1000 });
    await store.set("t", "big", "x".repeat(5000), 60_000);
    expect(await store.get("t", "big")).toBeNull();
  });
});
