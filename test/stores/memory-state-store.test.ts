import { describe, expect, test } from "bun:test";
import { MemoryStateStore } from "../../src/stores/memory-state-store.ts";
import { stateStoreContract, waitFor } from "./state-store.contract.ts";

stateStoreContract("MemoryStateStore", async () => ({ store: new MemoryStateStore(), cleanup: async () => {} }));

describe("MemoryStateStore specifics", () => {
  test("the sweep drops expired keys nobody reads", async () => {
    const store = new MemoryStateStore({ sweepIntervalMs: 10 });
    try {
      for (let i = 0; i < 100; i++) await store.set(`k${i}`, "v", { ttlMs: 20 });
      await store.set("forever", "v");
      await store.acquireLock("lock", 20);
      expect(store.size).toBe(102);
      await waitFor(() => store.size === 1, "the sweep to drop expired keys");
      expect(await store.get("forever")).toBe("v");
    } finally {
      await store.close();
    }
  });

  test("TTLs follow the injected clock (expiry is lazy on read)", async () => {
    let now = 1_000;
    const store = new MemoryStateStore({ clock: () => now, sweepIntervalMs: 60_000 });
    try {
      await store.set("k", "v", { ttlMs: 100 });
      const token = await store.acquireLock("lock", 100);
      now += 99;
      expect(await store.get("k")).toBe("v");
      expect(await store.acquireLock("lock", 100)).toBeNull();
      now += 1;
      expect(await store.get("k")).toBeNull();
      expect(await store.releaseLock("lock", token as string)).toBe(false);
      expect(store.size).toBe(0);
    } finally {
      await store.close();
    }
  });

  test("an open store's sweep timer does not keep the process alive", async () => {
    const script = `
      import { MemoryStateStore } from ${JSON.stringify(new URL("../../src/stores/memory-state-store.ts", import.meta.url).pathname)};
      const store = new MemoryStateStore({ sweepIntervalMs: 50 });
      await store.set("k", "v", { ttlMs: 60_000 });
      console.log("done");
    `;
    const started = Date.now();
    const proc = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
    const killer = setTimeout(() => proc.kill(), 10_000);
    const code = await proc.exited;
    clearTimeout(killer);
    expect(await new Response(proc.stdout).text()).toContain("done");
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  test("rejects a non-positive sweep interval", () => {
    expect(() => new MemoryStateStore({ sweepIntervalMs: 0 })).toThrow(RangeError);
  });
});
