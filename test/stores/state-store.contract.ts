/**
 * The StateStore contract, written once and run against every implementation
 * (memory-state-store.test.ts, redis-state-store.test.ts). Nothing here knows which store it
 * talks to: anything time-based is awaited by polling, never asserted to the millisecond.
 * Admission (rate limits, budgets) is in admission.contract.ts, run from here.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { HashWrite, StateStore } from "../../src/stores/state-store.ts";
import { admissionContract } from "./admission.contract.ts";
import { scopedKv } from "../../src/pipeline/operator/kv.ts";

export interface MadeStore {
  store: StateStore;
  cleanup: () => Promise<void>;
  /** Move the store's clock forward by `ms` at once (an injected clock); without it, tests wait for real. */
  advance?: (ms: number) => void;
}

export type StateStoreFactory = () => Promise<MadeStore>;

/** Poll `check` until it returns true (or throw after `timeoutMs`). */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(10);
  }
}

/** Fisher–Yates, so concurrent callers do not arrive in version order. */
function shuffled<T>(items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

export function stateStoreContract(name: string, factory: StateStoreFactory): void {
  describe(`StateStore contract: ${name}`, () => {
    let store: StateStore;
    /** Every store a test opened (the main one first), closed and cleaned up after it. */
    let opened: MadeStore[] = [];

    async function openStore(): Promise<StateStore> {
      const made = await factory();
      opened.push(made);
      return made.store;
    }

    beforeEach(async () => {
      opened = [];
      store = await openStore();
    });
    afterEach(async () => {
      for (const { store: s, cleanup } of opened) {
        await s.close();
        await cleanup();
      }
    });

    describe("strings", () => {
      test("get on a missing key is null", async () => {
        expect(await store.get("missing")).toBeNull();
      });

      test("set then get; set overwrites; del removes; del of a missing key is fine", async () => {
        await store.set("k", "one");
        expect(await store.get("k")).toBe("one");
        await store.set("k", "two");
        expect(await store.get("k")).toBe("two");
        await store.del("k");
        expect(await store.get("k")).toBeNull();
        await store.del("k");
        await store.del("never-set");
      });

      test("values round-trip byte for byte (empty, unicode, JSON, long)", async () => {
        const values = ["", "héllo 🌍 世界", JSON.stringify({ a: [1, "x\n\"y\""], b: null }), "x".repeat(100_000)];
        for (const [i, v] of values.entries()) await store.set(`v${i}`, v);
        for (const [i, v] of values.entries()) expect(await store.get(`v${i}`)).toBe(v);
      });

      test("keys are opaque strings (colons, spaces, glob characters)", async () => {
        const keys = ["a:b:c", "with space", "star*", "q?[x]", "back\\slash"];
        for (const k of keys) await store.set(k, `v-${k}`);
        for (const k of keys) expect(await store.get(k)).toBe(`v-${k}`);
        expect(await store.get("star")).toBeNull();
      });

      test("deletePrefix removes exactly the keys under the prefix (glob characters are literal)", async () => {
        await store.set("resp:t1:a", "1", { ttlMs: 60_000 });
        await store.set("resp:t1:b", "2");
        await store.set("resp:t10:a", "3");
        await store.set("resp:t*:c", "4");
        await store.set("other", "5");
        expect(await store.deletePrefix("resp:t1:")).toBe(2);
        expect(await store.get("resp:t1:a")).toBeNull();
        expect(await store.get("resp:t1:b")).toBeNull();
        expect(await store.get("resp:t10:a")).toBe("3");
        expect(await store.deletePrefix("resp:t*")).toBe(1);
        expect(await store.get("resp:t10:a")).toBe("3");
        expect(await store.get("other")).toBe("5");
        expect(await store.deletePrefix("nothing:")).toBe(0);
      });
    });

    describe("TTL", () => {
      test("a key set with ttlMs expires", async () => {
        await store.set("short", "v", { ttlMs: 50 });
        await waitFor(async () => (await store.get("short")) === null, "the key to expire");
      });

      test("a long TTL keeps the value readable", async () => {
        await store.set("long", "v", { ttlMs: 60_000 });
        expect(await store.get("long")).toBe("v");
      });

      test("set without ttlMs replaces the value and clears an earlier TTL", async () => {
        await store.set("k", "old", { ttlMs: 50 });
        await store.set("k", "new");
        await Bun.sleep(200);
        expect(await store.get("k")).toBe("new");
      });

      test("set with a new TTL replaces the old one", async () => {
        await store.set("k", "a", { ttlMs: 60_000 });
        await store.set("k", "b", { ttlMs: 50 });
        await waitFor(async () => (await store.get("k")) === null, "the shorter TTL to apply");
      });

      test("a non-positive or non-finite ttlMs rejects", async () => {
        for (const ttlMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
          await expect(store.set("k", "v", { ttlMs })).rejects.toThrow();
        }
        expect(await store.get("k")).toBeNull();
      });
    });

    describe("plugin key-value store (scopedKv)", () => {
      test("a plugin reads its own keys for its tenant only: other tenants and plugins see nothing", async () => {
        const mine = scopedKv(store, "notifier", "acme");
        await mine.set("cursor", "42");
        expect(await mine.get("cursor")).toBe("42");
        expect(await scopedKv(store, "notifier", "globex").get("cursor")).toBeNull();
        expect(await scopedKv(store, "other", "acme").get("cursor")).toBeNull();
        await mine.del("cursor");
        expect(await mine.get("cursor")).toBeNull();
      });

      test("TTLs expire plugin keys; bad keys, values and TTLs are refused", async () => {
        const kv = scopedKv(store, "notifier", "acme");
        await kv.set("short", "v", { ttlMs: 50 });
        await kv.set("long", "v", { ttlMs: 60_000 });
        await waitFor(async () => (await kv.get("short")) === null, "the plugin key to expire");
        expect(await kv.get("long")).toBe("v");
        await expect(kv.set("", "v")).rejects.toThrow();
        await expect(kv.set("k", "v", { ttlMs: -5 })).rejects.toThrow();
        await expect(kv.set("k", 7 as unknown as string)).rejects.toThrow();
      });
    });

    describe("hashes", () => {
      test("hget and hgetall on a missing key", async () => {
        expect(await store.hget("nohash", "f")).toBeNull();
        expect(await store.hgetall("nohash")).toEqual({});
      });

      test("hget on a missing field of an existing hash is null", async () => {
        await store.applyVersioned("ver", 1, [{ op: "hset", key: "h", field: "a", value: "1" }]);
        expect(await store.hget("h", "a")).toBe("1");
        expect(await store.hget("h", "b")).toBeNull();
      });

      test("hgetall returns a copy, not live state", async () => {
        await store.applyVersioned("ver", 1, [{ op: "hset", key: "h", field: "a", value: "1" }]);
        const first = await store.hgetall("h");
        first.a = "changed";
        first.b = "added";
        expect(await store.hgetall("h")).toEqual({ a: "1" });
      });

      test("del removes a hash", async () => {
        await store.applyVersioned("ver", 1, [{ op: "hset", key: "h", field: "a", value: "1" }]);
        await store.del("h");
        expect(await store.hgetall("h")).toEqual({});
      });

      /** Every step of a full HSCAN of `key`, from cursor "0" back to "0". */
      async function scanAll(key: string, count: number, between?: (step: number) => Promise<void>) {
        const steps: Array<Array<[string, string]>> = [];
        let cursor = "0";
        do {
          const r = await store.hscan(key, cursor, count);
          steps.push(r.entries);
          cursor = r.cursor;
          if (steps.length > 100_000) throw new Error("hscan never returned cursor 0");
          if (cursor !== "0") await between?.(steps.length);
        } while (cursor !== "0");
        return steps;
      }

      test("hscan reads a large hash in several steps, every field with its value", async () => {
        const writes: HashWrite[] = [];
        for (let i = 0; i < 2500; i++) writes.push({ op: "hset", key: "big", field: `f${i}`, value: `v${i}-é-{"j":${i}}` });
        await store.applyWrites(writes);
        const steps = await scanAll("big", 100);
        // COUNT is a hint, but a 2,500-field hash is not one reply.
        expect(steps.length).toBeGreaterThanOrEqual(5);
        const got = Object.fromEntries(steps.flat());
        expect(got).toEqual(await store.hgetall("big"));
        expect(Object.keys(got)).toHaveLength(2500);
        expect(got.f1234).toBe(`v1234-é-{"j":1234}`);
      });

      test("hscan of a missing key is empty; a small hash comes whole; a string key and a bad count reject", async () => {
        expect(await store.hscan("nohash", "0", 10)).toEqual({ cursor: "0", entries: [] });
        await store.applyWrites([
          { op: "hset", key: "small", field: "a", value: "1" },
          { op: "hset", key: "small", field: "b", value: "2" },
        ]);
        const steps = await scanAll("small", 1000);
        expect(Object.fromEntries(steps.flat())).toEqual({ a: "1", b: "2" });
        await store.set("str", "v");
        await expect(store.hscan("str", "0", 10)).rejects.toThrow(/WRONGTYPE/);
        await expect(store.hscan("small", "0", 0)).rejects.toThrow();
      });

      test("hscan returns every field present for the whole scan while others are added and removed", async () => {
        const writes: HashWrite[] = [];
        for (let i = 0; i < 1000; i++) writes.push({ op: "hset", key: "live", field: `keep${i}`, value: String(i) });
        for (let i = 0; i < 500; i++) writes.push({ op: "hset", key: "live", field: `drop${i}`, value: "x" });
        await store.applyWrites(writes);
        const steps = await scanAll("live", 50, async (step) => {
          const w: HashWrite[] = [];
          for (let i = 0; i < 20; i++) w.push({ op: "hset", key: "live", field: `new${step}-${i}`, value: "n" });
          for (let i = 0; i < 20; i++) w.push({ op: "hdel", key: "live", field: `drop${(step * 20 + i) % 500}` });
          await store.applyWrites(w);
        });
        const seen = new Map(steps.flat());
        for (let i = 0; i < 1000; i++) expect(seen.get(`keep${i}`)).toBe(String(i));
      });

      test("string and hash ops on the wrong kind of key reject (one keyspace)", async () => {
        await store.set("str", "v");
        await store.applyVersioned("ver", 1, [{ op: "hset", key: "h", field: "a", value: "1" }]);
        await expect(store.hget("str", "a")).rejects.toThrow(/WRONGTYPE/);
        await expect(store.hgetall("str")).rejects.toThrow(/WRONGTYPE/);
        await expect(store.get("h")).rejects.toThrow(/WRONGTYPE/);
        // set replaces whatever is there.
        await store.set("h", "now a string");
        expect(await store.get("h")).toBe("now a string");
      });
    });

    describe("applyVersioned", () => {
      test("applies the first version (absent = -1, so 0 applies) and stores the version", async () => {
        expect(await store.applyVersioned("ver", 0, [{ op: "hset", key: "h", field: "a", value: "1" }])).toBe(true);
        expect(await store.get("ver")).toBe("0");
        expect(await store.hgetall("h")).toEqual({ a: "1" });
      });

      test("applies writes in order", async () => {
        const writes: HashWrite[] = [
          { op: "hset", key: "h", field: "a", value: "1" },
          { op: "hset", key: "h", field: "a", value: "2" },
          { op: "hset", key: "h", field: "b", value: "x" },
          { op: "hdel", key: "h", field: "b" },
          { op: "hset", key: "gone", field: "z", value: "1" },
          { op: "del", key: "gone" },
          { op: "del", key: "h2" },
          { op: "hset", key: "h2", field: "c", value: "3" },
        ];
        expect(await store.applyVersioned("ver", 1, writes)).toBe(true);
        expect(await store.hgetall("h")).toEqual({ a: "2" });
        expect(await store.hgetall("gone")).toEqual({});
        expect(await store.hgetall("h2")).toEqual({ c: "3" });
      });

      test("refuses an equal or lower version and writes nothing", async () => {
        expect(await store.applyVersioned("ver", 5, [{ op: "hset", key: "h", field: "a", value: "five" }])).toBe(true);
        const stale: HashWrite[] = [
          { op: "hset", key: "h", field: "a", value: "stale" },
          { op: "hset", key: "other", field: "x", value: "stale" },
          { op: "del", key: "h" },
        ];
        expect(await store.applyVersioned("ver", 5, stale)).toBe(false);
        expect(await store.applyVersioned("ver", 4, stale)).toBe(false);
        expect(await store.applyVersioned("ver", -1, stale)).toBe(false);
        expect(await store.get("ver")).toBe("5");
        expect(await store.hgetall("h")).toEqual({ a: "five" });
        expect(await store.hgetall("other")).toEqual({});
        expect(await store.applyVersioned("ver", 6, [{ op: "hset", key: "h", field: "a", value: "six" }])).toBe(true);
        expect(await store.get("ver")).toBe("6");
        expect(await store.hgetall("h")).toEqual({ a: "six" });
      });

      test("versions may skip; large safe integers work", async () => {
        expect(await store.applyVersioned("ver", 10, [])).toBe(true);
        expect(await store.applyVersioned("ver", 1_000_000_000_000, [])).toBe(true);
        expect(await store.applyVersioned("ver", 999_999_999_999, [])).toBe(false);
        expect(await store.get("ver")).toBe("1000000000000");
      });

      test("an empty write list still records the version (a replayed no-op event)", async () => {
        expect(await store.applyVersioned("ver", 3, [])).toBe(true);
        expect(await store.get("ver")).toBe("3");
        expect(await store.applyVersioned("ver", 3, [])).toBe(false);
      });

      test("version keys are independent", async () => {
        expect(await store.applyVersioned("ver:a", 7, [{ op: "hset", key: "ha", field: "f", value: "a" }])).toBe(true);
        expect(await store.applyVersioned("ver:b", 1, [{ op: "hset", key: "hb", field: "f", value: "b" }])).toBe(true);
        expect(await store.hget("ha", "f")).toBe("a");
        expect(await store.hget("hb", "f")).toBe("b");
      });

      test("a write against a non-hash key rejects and nothing of the batch is applied", async () => {
        await store.set("str", "plain");
        await store.applyVersioned("ver", 1, [{ op: "hset", key: "h", field: "a", value: "1" }]);
        const bad: HashWrite[] = [
          { op: "hset", key: "h", field: "a", value: "partial" },
          { op: "del", key: "h" },
          { op: "hset", key: "str", field: "x", value: "y" },
        ];
        await expect(store.applyVersioned("ver", 2, bad)).rejects.toThrow(/WRONGTYPE/);
        expect(await store.get("ver")).toBe("1");
        expect(await store.hgetall("h")).toEqual({ a: "1" });
        expect(await store.get("str")).toBe("plain");
        // A del earlier in the same batch makes the key writable as a hash.
        const ok: HashWrite[] = [
          { op: "del", key: "str" },
          { op: "hset", key: "str", field: "x", value: "y" },
        ];
        expect(await store.applyVersioned("ver", 2, ok)).toBe(true);
        expect(await store.hgetall("str")).toEqual({ x: "y" });
      });

      test("rejects a non-integer version and a write to the version key itself", async () => {
        await expect(store.applyVersioned("ver", 1.5, [])).rejects.toThrow();
        await expect(store.applyVersioned("ver", Number.NaN, [])).rejects.toThrow();
        await expect(store.applyVersioned("ver", 1, [{ op: "del", key: "ver" }])).rejects.toThrow();
        expect(await store.get("ver")).toBeNull();
      });

      test("is atomic under 50 concurrent callers racing with different versions", async () => {
        const versions = shuffled(Array.from({ length: 50 }, (_, i) => i * 3 + 1));
        const max = Math.max(...versions);
        // Each caller rewrites `state` whole (del + hset v + hset owner) and leaves a marker.
        const writesFor = (v: number): HashWrite[] => [
          { op: "del", key: "state" },
          { op: "hset", key: "state", field: "v", value: String(v) },
          { op: "hset", key: "markers", field: `m${v}`, value: "1" },
          { op: "hset", key: "state", field: "owner", value: `caller-${v}` },
          { op: "hdel", key: "markers", field: `m${v - 1}` },
        ];
        const results = await Promise.all(versions.map((v) => store.applyVersioned("ver", v, writesFor(v))));
        const applied = versions.filter((_, i) => results[i]);

        // The highest version always wins and is stored.
        expect(applied).toContain(max);
        expect(await store.get("ver")).toBe(String(max));
        // The data is exactly the winner's batch: no interleaving of two batches.
        expect(await store.hgetall("state")).toEqual({ v: String(max), owner: `caller-${max}` });
        // A caller's writes are present if and only if it reported true.
        const markers = Object.keys(await store.hgetall("markers")).sort();
        expect(markers).toEqual(applied.map((v) => `m${v}`).sort());

        // Replaying every caller now changes nothing.
        const replay = await Promise.all(versions.map((v) => store.applyVersioned("ver", v, writesFor(v))));
        expect(replay.every((r) => r === false)).toBe(true);
        expect(await store.hgetall("state")).toEqual({ v: String(max), owner: `caller-${max}` });
      });

      test("sequential increasing versions all apply, each one's data in turn", async () => {
        for (let v = 0; v < 20; v++) {
          expect(await store.applyVersioned("ver", v, [{ op: "hset", key: "h", field: "v", value: String(v) }])).toBe(true);
          expect(await store.hget("h", "v")).toBe(String(v));
        }
      });
    });

    describe("applyWrites", () => {
      test("applies hset, hdel and del in order, unconditionally", async () => {
        await store.applyWrites([
          { op: "hset", key: "h", field: "a", value: "1" },
          { op: "hset", key: "h", field: "b", value: "2" },
          { op: "hset", key: "gone", field: "x", value: "1" },
        ]);
        await store.applyWrites([{ op: "hdel", key: "h", field: "a" }, { op: "del", key: "gone" }]);
        expect(await store.hgetall("h")).toEqual({ b: "2" });
        expect(await store.hgetall("gone")).toEqual({});
      });

      test("concurrent writers of distinct fields of one hash (same instant) all land", async () => {
        const writes = Array.from({ length: 200 }, (_, i) => store.applyWrites([{ op: "hset", key: "scope", field: `e${i}`, value: String(i) }, { op: "hset", key: "index", field: "scope", value: "1" }]));
        await Promise.all(writes);
        expect(Object.keys(await store.hgetall("scope")).length).toBe(200);
      });

      test("a write onto a string key rejects", async () => {
        await store.set("str", "x");
        await expect(store.applyWrites([{ op: "hset", key: "str", field: "f", value: "1" }])).rejects.toThrow(/WRONGTYPE/);
      });
    });

    describe("locks", () => {
      test("acquire returns a token; a second acquire gets null while held", async () => {
        const token = await store.acquireLock("lock", 10_000);
        expect(typeof token).toBe("string");
        expect(token?.length).toBeGreaterThan(0);
        expect(await store.acquireLock("lock", 10_000)).toBeNull();
      });

      test("exactly one of 20 concurrent acquirers gets the lock", async () => {
        const tokens = await Promise.all(Array.from({ length: 20 }, () => store.acquireLock("lock", 10_000)));
        const winners = tokens.filter((t): t is string => t !== null);
        expect(winners).toHaveLength(1);
      });

      test("tokens are unique per acquisition", async () => {
        const seen = new Set<string>();
        for (let i = 0; i < 10; i++) {
          const t = await store.acquireLock("lock", 10_000);
          expect(t).not.toBeNull();
          seen.add(t as string);
          expect(await store.releaseLock("lock", t as string)).toBe(true);
        }
        expect(seen.size).toBe(10);
      });

      test("release only with the right token; released lock can be taken again", async () => {
        const token = await store.acquireLock("lock", 10_000);
        expect(token).not.toBeNull();
        expect(await store.releaseLock("lock", "not-the-token")).toBe(false);
        expect(await store.acquireLock("lock", 10_000)).toBeNull();
        expect(await store.releaseLock("lock", token as string)).toBe(true);
        expect(await store.releaseLock("lock", token as string)).toBe(false);
        const next = await store.acquireLock("lock", 10_000);
        expect(next).not.toBeNull();
        expect(next).not.toBe(token);
      });

      test("releasing a lock nobody holds is false", async () => {
        expect(await store.releaseLock("free-lock", "anything")).toBe(false);
      });

      test("an expired lock can be acquired by another; the old token no longer releases it", async () => {
        const first = await store.acquireLock("lock", 50);
        expect(first).not.toBeNull();
        let second: string | null = null;
        await waitFor(async () => (second = await store.acquireLock("lock", 10_000)) !== null, "the lock to expire");
        expect(second).not.toBe(first);
        expect(await store.releaseLock("lock", first as string)).toBe(false);
        expect(await store.acquireLock("lock", 10_000)).toBeNull();
        expect(await store.releaseLock("lock", second as unknown as string)).toBe(true);
      });

      test("locks are independent per key", async () => {
        expect(await store.acquireLock("lock:a", 10_000)).not.toBeNull();
        expect(await store.acquireLock("lock:b", 10_000)).not.toBeNull();
      });

      test("a non-positive ttlMs rejects", async () => {
        await expect(store.acquireLock("lock", 0)).rejects.toThrow();
        await expect(store.acquireLock("lock", -5)).rejects.toThrow();
        expect(await store.acquireLock("lock", 10_000)).not.toBeNull();
      });
    });

    describe("flushAll", () => {
      test("removes strings, hashes, versions and locks; the store stays usable", async () => {
        await store.set("s", "1");
        await store.set("t", "2", { ttlMs: 60_000 });
        await store.applyVersioned("ver", 9, [{ op: "hset", key: "h", field: "a", value: "1" }]);
        await store.acquireLock("lock", 60_000);
        await store.flushAll();
        expect(await store.get("s")).toBeNull();
        expect(await store.get("t")).toBeNull();
        expect(await store.get("ver")).toBeNull();
        expect(await store.hgetall("h")).toEqual({});
        expect(await store.acquireLock("lock", 60_000)).not.toBeNull();
        // A replayed projection starts from scratch: version 0 applies again.
        expect(await store.applyVersioned("ver", 0, [])).toBe(true);
      });

      test("flushes many keys (more than one batch)", async () => {
        await Promise.all(Array.from({ length: 2500 }, (_, i) => store.set(`bulk:${i}`, String(i))));
        await store.flushAll();
        for (const i of [0, 999, 1000, 2499]) expect(await store.get(`bulk:${i}`)).toBeNull();
      });

      test("flushing an empty store is fine", async () => {
        await store.flushAll();
        await store.flushAll();
      });

      test("removes only this store's keys, not another store's", async () => {
        const other = await openStore();
        await store.set("same-key", "mine");
        await other.set("same-key", "theirs");
        await other.applyVersioned("ver", 1, [{ op: "hset", key: "h", field: "a", value: "theirs" }]);
        await store.flushAll();
        expect(await store.get("same-key")).toBeNull();
        expect(await other.get("same-key")).toBe("theirs");
        expect(await other.hgetall("h")).toEqual({ a: "theirs" });
      });
    });

    admissionContract({
      store: () => store,
      elapse: async (ms) => {
        const advance = opened[0]?.advance;
        if (advance) advance(ms);
        else await Bun.sleep(ms);
      },
      other: openStore,
    });

    describe("clock, health, close", () => {
      test("timeMs is close to Date.now()", async () => {
        const t = await store.timeMs();
        expect(Number.isInteger(t)).toBe(true);
        expect(Math.abs(t - Date.now())).toBeLessThan(5000);
      });

      test("timeMs does not go backwards between calls", async () => {
        const a = await store.timeMs();
        const b = await store.timeMs();
        expect(b).toBeGreaterThanOrEqual(a);
      });

      test("health is ok", async () => {
        const h = await store.health();
        expect(h.ok).toBe(true);
      });

      test("after close, health is not ok, calls reject, and close is idempotent", async () => {
        await store.close();
        const h = await store.health();
        expect(h.ok).toBe(false);
        await expect(store.get("k")).rejects.toThrow();
        await store.close();
      });
    });
  });
}
