/**
 * The semantic index (src/cache/semantic-index/scope-index.ts) and the tier around it
 * (src/cache/semantic-store.ts) on the in-process StateStore: exact search below the crossover,
 * HNSW above it, incremental removal and expiry, snapshots that a restart loads, journal
 * convergence between two tiers on one store, purge reaching the other tier, a cold scope read in
 * HSCAN steps.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ScopeIndex } from "../../src/cache/semantic-index/scope-index.ts";
import { decodeSlice, decodeVector, encodeRecord, parseRecord, peekRecord } from "../../src/cache/semantic-index/records.ts";
import { LOAD_SCAN_COUNT, SemanticTier } from "../../src/cache/semantic-store.ts";
import { normalized } from "../../src/cache/semantic.ts";
import { MemoryStateStore } from "../../src/stores/memory-state-store.ts";
import type { HashWrite } from "../../src/stores/state-store.ts";
import { waitFor } from "../helpers/gateway.ts";

const D = 32;
const unit = () => normalized(Array.from({ length: D }, () => Math.random() - 0.5))!;
const FOREVER = Number.MAX_SAFE_INTEGER;
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "tollgate-semidx-test-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("ScopeIndex", () => {
  test("exact below the crossover, HNSW above; every entry stays findable through the switch; remove and prune", () => {
    const idx = new ScopeIndex(D, { crossover: 50 });
    const vs = Array.from({ length: 120 }, unit);
    vs.slice(0, 50).forEach((v, i) => idx.add(`e${i}`, v, FOREVER));
    expect(idx.kind).toBe("exact");
    vs.slice(50).forEach((v, i) => idx.add(`e${i + 50}`, v, i === 0 ? 1000 : FOREVER));
    expect(idx.kind).toBe("hnsw");
    for (const [i, v] of vs.entries()) if (i !== 50) expect(idx.nearest(v, 0)?.id).toBe(`e${i}`);
    expect(idx.nearest(vs[7]!, 0)?.similarity).toBeCloseTo(1, 5);
    expect(idx.remove("e7")).toBe(true);
    expect(idx.nearest(vs[7]!, 0)?.id).not.toBe("e7");
    expect(idx.nearest(vs[50]!, 2000)?.id).not.toBe("e50"); // expired: skipped before it is pruned
    expect(idx.prune(2000)).toEqual(["e50"]);
    expect(idx.size).toBe(118);
    expect(() => idx.add("bad", new Float32Array(D + 1), FOREVER)).toThrow(RangeError);
  });

  test("a snapshot (exact or HNSW) loads into an index that answers the same", () => {
    for (const n of [10, 200]) {
      const idx = new ScopeIndex(D, { crossover: 100 });
      const vs = Array.from({ length: n }, unit);
      vs.forEach((v, i) => idx.add(`e${i}`, v, FOREVER));
      const base = join(tmp(), "scope");
      idx.save(base, 12345);
      const loaded = ScopeIndex.load(base, { crossover: 100 })!;
      expect(loaded.savedAt).toBe(12345);
      expect(loaded.index.kind).toBe(n > 100 ? "hnsw" : "exact");
      expect(loaded.index.size).toBe(n);
      for (const [i, v] of vs.entries()) expect(loaded.index.nearest(v, 0)?.id).toBe(`e${i}`);
      loaded.index.add("new", unit(), FOREVER); // labels continue after the loaded ones
      expect(loaded.index.size).toBe(n + 1);
    }
    expect(ScopeIndex.load(join(tmp(), "absent"))).toBeUndefined();
  });
});

describe("records (pure)", () => {
  test("peekRecord reads vector and expiry in place, like parseRecord, whatever the entry holds; other layouts go through JSON", () => {
    const v = unit();
    for (const entry of ["plain", '"},"x":1,"e":"trick', "ünï\n\u0000", ""]) {
      const raw = encodeRecord(v, 1234567, entry);
      const full = parseRecord(raw)!;
      expect(peekRecord(raw)).toEqual({ u: full.u, x: 1234567 });
    }
    const reordered = JSON.stringify({ x: 5, e: "e", u: "AAAAAA==" });
    expect(peekRecord(reordered)).toEqual({ u: "AAAAAA==", x: 5 });
    expect(peekRecord("not json")).toBeUndefined();
    expect(peekRecord('{"u":"AAAA","x":"soon","e":"e"}')).toBeUndefined();
    expect(peekRecord('{"u":"AAAA","x":5,"e":"cut')).toBeUndefined();
  });

  test("decodeSlice: live records into one buffer; expired and unreadable ones to dead; seen ids and other lengths skipped", () => {
    const vs = Array.from({ length: 5 }, unit);
    const entries: Array<[string, string]> = [
      ["a", encodeRecord(vs[0]!, 100, "a")],
      ["old", encodeRecord(vs[1]!, 10, "old")],
      ["b", encodeRecord(vs[2]!, 100, "b")],
      ["junk", "{"],
      ["a", encodeRecord(vs[0]!, 100, "a")], // HSCAN may repeat a field
      ["wide", encodeRecord(normalized(Array.from({ length: D * 2 }, () => 1))!, 100, "wide")],
      ["c", encodeRecord(vs[4]!, 200, "c")],
    ];
    const dead: string[] = [];
    const seen = new Set<string>();
    const out = decodeSlice(entries, 0, entries.length, 50, seen, dead)!;
    expect(out.ids).toEqual(["a", "b", "c"]);
    expect(out.xs).toEqual([100, 100, 200]);
    expect(out.dims).toBe(D);
    expect(out.vectors.length).toBe(3 * D);
    expect([...out.vectors.subarray(D, 2 * D)]).toEqual([...decodeVector(parseRecord(entries[2]![1])!.u)]);
    expect(dead).toEqual(["old", "junk"]);
    expect(decodeSlice(entries, 0, 1, 50, seen, [])).toBeUndefined(); // already seen
  });
});

describe("SemanticTier (in-process store)", () => {
  test("hits at the threshold, misses below; a restart loads the snapshot; an old snapshot is reconciled with the store", async () => {
    const store = new MemoryStateStore();
    const dir = tmp();
    const vs = Array.from({ length: 40 }, unit);
    const a = new SemanticTier(store, { snapshotDir: dir, crossover: 16 });
    expect(await a.nearest("t", "s", vs[0]!, 0.9)).toEqual({}); // empty scope
    for (const [i, v] of vs.entries()) await a.add("t", "s", v, `entry-${i}`, FOREVER);
    expect((await a.nearest("t", "s", vs[3]!, 0.99)).entry).toBe("entry-3");
    const other = unit();
    const below = await a.nearest("t", "s", other, 0.999);
    expect(below.entry).toBeUndefined();
    expect(below.similarity).toBeLessThan(0.999);
    expect((await a.stats()).hnsw_scopes).toBe(1);
    await a.close();
    expect(readdirSync(dir).some((f) => f.endsWith(".usearch"))).toBe(true);

    // Restart: the snapshot answers (a fresh snapshot catches up from the journal).
    const b = new SemanticTier(store, { snapshotDir: dir, crossover: 16 });
    expect((await b.nearest("t", "s", vs[5]!, 0.99)).entry).toBe("entry-5");
    await b.close();

    // An entry deleted from the store while down; a restart two minutes later (snapshot older than the journal): reconciled.
    await store.applyWrites([{ op: "hdel", key: "semcache:scope:t:s", field: Object.keys(await store.hgetall("semcache:scope:t:s"))[0]! }]);
    const remaining = Object.keys(await store.hgetall("semcache:scope:t:s")).length;
    const later = Date.now() + 120_000;
    const c = new SemanticTier(store, { snapshotDir: dir, crossover: 16, now: () => later });
    await c.nearest("t", "s", vs[1]!, 0.99);
    await waitFor(async () => (await c.stats()).entries === remaining || undefined, 3000, "the reconcile");
    await c.close();
  });

  test("two tiers on one store: each finds the other's entries through the journal; a purge on one empties the other", async () => {
    const store = new MemoryStateStore();
    const [a, b] = [new SemanticTier(store, { refreshMs: 50 }), new SemanticTier(store, { refreshMs: 50 })];
    try {
      const v = unit();
      for (const t of [a, b]) expect(await t.nearest("t", "s", v, 0.99)).toEqual({}); // both have the scope open
      await a.add("t", "s", v, "from-a", FOREVER);
      await waitFor(async () => (await b.nearest("t", "s", v, 0.99)).entry === "from-a" || undefined, 2000, "b sees a's entry");
      expect(await a.purge("t")).toBe(1);
      expect((await a.nearest("t", "s", v, 0.99)).entry).toBeUndefined();
      await waitFor(async () => (await b.stats()).entries === 0 || undefined, 2000, "b drops the purged tenant");
      expect((await b.nearest("t", "s", v, 0.99)).entry).toBeUndefined();
    } finally {
      await a.close();
      await b.close();
    }
  });

  test("a scope without a snapshot is read in HSCAN steps (never one HGETALL), yielding between them, and then answers right", async () => {
    // Counts the scope hash's reads, and how many event-loop turns (setImmediate) ran before each step.
    let turns = 0;
    let spinning = true;
    const spin = () => {
      turns++;
      if (spinning) setImmediate(spin);
    };
    spin();
    const steps: number[] = [];
    let hgetalls = 0;
    class CountingStore extends MemoryStateStore {
      override async hscan(key: string, cursor: string, count: number) {
        if (key === "semcache:scope:t:big") steps.push(turns);
        return super.hscan(key, cursor, count);
      }
      override async hgetall(key: string) {
        if (key === "semcache:scope:t:big") hgetalls++;
        return super.hgetall(key);
      }
    }
    const store = new CountingStore();
    const N = 3500;
    const vs = Array.from({ length: N }, unit);
    const writes: HashWrite[] = vs.map((v, i) => ({ op: "hset", key: "semcache:scope:t:big", field: `id-${i}`, value: encodeRecord(v, FOREVER, `entry-${i}`) }));
    for (let i = 0; i < 40; i++) writes.push({ op: "hset", key: "semcache:scope:t:big", field: `old-${i}`, value: encodeRecord(unit(), Date.now() - 1, "expired") });
    await store.applyWrites(writes);
    const tier = new SemanticTier(store);
    try {
      // The first lookup waits for the load (or answers from what is loaded): never a wrong hit.
      const first = await tier.nearest("t", "big", vs[7]!, 0.99);
      expect(first.entry === undefined || first.entry === "entry-7").toBe(true);
      await waitFor(async () => (await tier.stats()).entries === N || undefined, 20_000, "the whole scope indexed");
      expect(hgetalls).toBe(0);
      expect(steps.length).toBeGreaterThanOrEqual(Math.ceil((N + 40) / LOAD_SCAN_COUNT));
      // The event loop turned between every two steps (the in-process store answers without yielding by itself).
      for (let i = 1; i < steps.length; i++) expect(steps[i]!).toBeGreaterThan(steps[i - 1]!);
      for (const i of [0, 7, 1234, N - 1]) expect((await tier.nearest("t", "big", vs[i]!, 0.99)).entry).toBe(`entry-${i}`);
      const other = await tier.nearest("t", "big", unit(), 0.999);
      expect(other.entry).toBeUndefined();
      // Expired records found on the way are deleted from the store.
      await waitFor(async () => !(await store.hscan("semcache:scope:t:big", "0", 100_000)).entries.some(([f]) => f.startsWith("old-")) || undefined, 2000, "expired records deleted");
      expect((await tier.stats()).entries).toBe(N);
    } finally {
      spinning = false;
      await tier.close();
    }
  });

  test("expired entries are pruned from the index and the store", async () => {
    const store = new MemoryStateStore();
    let now = Date.now();
    const tier = new SemanticTier(store, { pruneMs: 30, now: () => now });
    try {
      const v = unit();
      await tier.nearest("t", "s", v, 0.9);
      await tier.add("t", "s", v, "short", now + 1000);
      expect((await tier.nearest("t", "s", v, 0.99)).entry).toBe("short");
      now += 2000;
      expect((await tier.nearest("t", "s", v, 0.99)).entry).toBeUndefined();
      await waitFor(async () => Object.keys(await store.hgetall("semcache:scope:t:s")).length === 0 || undefined, 2000, "pruned from the store");
      expect((await tier.stats()).entries).toBe(0);
    } finally {
      await tier.close();
    }
  });
});
