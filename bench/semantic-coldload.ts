/**
 * The cold load of a semantic scope that has no snapshot (issue 31: "the event loop is never
 * blocked for more than 2 ms by the index"): N records (384-dimension vectors) in one scope of the
 * StateStore — Redis with REDIS_URL, else the in-process store — and how late a 1 ms timer on the
 * request thread fires while:
 *
 *   0. idle: nothing running (the machine's own noise);
 *   1. the index worker's start (first lookup of another scope), so it is not counted in 2;
 *   2. cold load: `SemanticTier`'s first lookup of the scope, until every record is indexed (HSCAN
 *      steps of LOAD_SCAN_COUNT, decoded in slices of LOAD_PARSE_SLICE with a yield after each,
 *      every slice posted to the index worker);
 *   3. one HGETALL of the scope: what the tier did before it read in HSCAN steps (one reply of the
 *      whole hash, parsed at once) — the "before" figure, nothing else runs; run last, so its
 *      220 MB of garbage does not land in phase 2.
 *
 * The tier runs with an exact index (crossover above N) so the worker is not 80 s building an
 * HNSW graph (bench/semantic-index.ts measures that, off the request thread); the request thread
 * does the same work either way. Runs in ~15 s at 100k (Redis seeding included).
 *
 *   bun run bench/semantic-coldload.ts        N=100000 REDIS_URL=redis://… bun run bench/semantic-coldload.ts
 */
import { SemanticTier } from "../src/cache/semantic-store.ts";
import { decodeVector, encodeRecord, parseRecord } from "../src/cache/semantic-index/records.ts";
import { MemoryStateStore } from "../src/stores/memory-state-store.ts";
import { RedisStateStore } from "../src/stores/redis-state-store.ts";
import type { HashWrite, StateStore } from "../src/stores/state-store.ts";
import { type LoopDelay, sampler } from "./lib/loop-delay.ts";

const DIMS = 384;
const N = Number(process.env.N ?? 100_000);
const REDIS_URL = process.env.REDIS_URL;

let seed = 11;
const rand = () => ((seed = Math.imul(seed ^ (seed >>> 15), 2246822507) + 0x9e3779b9) >>> 0) / 0xffffffff - 0.5;
const unit = () => {
  const v = Float32Array.from({ length: DIMS }, rand);
  let s = 0;
  for (const x of v) s += x * x;
  const k = 1 / Math.sqrt(s);
  return v.map((x) => x * k);
};
type Stats = LoopDelay;
const rows: string[] = [];
const row = (phase: string, s: Stats, note: string) =>
  rows.push(`| ${phase} | ${s.samples} | ${s.p50.toFixed(2)} | ${s.p99.toFixed(2)} | **${s.max.toFixed(1)}** | ${((s.le2 / s.samples) * 100).toFixed(2)}% | ${s.gt2} | ${note} |`);

const prefix = `tollgate-bench-coldload:${crypto.randomUUID()}:`;
const store: StateStore = REDIS_URL ? await RedisStateStore.connect(REDIS_URL, { prefix, commandTimeoutMs: 60_000 }) : new MemoryStateStore();
let hscans = 0;
const hscan = store.hscan.bind(store);
store.hscan = (key, cursor, count) => (hscans++, hscan(key, cursor, count));

const scope = "bench-scope";
Bun.gc(true);
const key = `semcache:scope:t:${scope}`;
const expires = Date.now() + 3_600_000;
let t0 = performance.now();
for (let i = 0; i < N; i += 1000) {
  const writes: HashWrite[] = [];
  for (let j = i; j < Math.min(N, i + 1000); j++) writes.push({ op: "hset", key, field: crypto.randomUUID(), value: encodeRecord(unit(), expires, `entry-${j}`) });
  await store.applyWrites(writes);
}
await store.applyWrites([{ op: "hset", key: "semcache:scopes:t", field: scope, value: "1" }]);
console.log(`# semantic scope cold load — ${new Date().toISOString()}, ${N.toLocaleString("en")} records, ${REDIS_URL ? "Redis" : "in-process"} store (seeded in ${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);

let s = sampler();
await Bun.sleep(1000);
row("0. idle (machine noise)", s.stop(), "");

const tier = new SemanticTier(store, { crossover: N + 1 });
// Start the index worker first (another scope): its start is not the load's.
s = sampler();
await tier.nearest("t", "warm-up", unit(), 0.99);
await Bun.sleep(200);
row("1. index worker start", s.stop(), "first lookup of another, empty scope: spawns the worker");
Bun.gc(true);
await Bun.sleep(300);
const probe = (await store.hscan(key, "0", 10)).entries[0]![1];
hscans = 0;
s = sampler();
t0 = performance.now();
const first = await tier.nearest("t", scope, decodeVector(parseRecord(probe)!.u), 0.99);
const firstMs = performance.now() - t0;
while ((await tier.stats()).entries < N) await Bun.sleep(20);
const loadMs = performance.now() - t0;
row("2. cold load by the tier (HSCAN steps)", s.stop(), `${hscans} HSCAN steps; first lookup answered after ${(firstMs / 1000).toFixed(2)} s (${first.entry ? "a hit" : "a miss"}), all indexed after ${(loadMs / 1000).toFixed(1)} s`);

await tier.close();
Bun.gc(true);
await Bun.sleep(300);

s = sampler();
t0 = performance.now();
const all = await store.hgetall(key);
const hgetallMs = performance.now() - t0;
await Bun.sleep(20);
row("3. one HGETALL of the scope (before)", s.stop(), `${Object.keys(all).length.toLocaleString("en")} fields in ${(hgetallMs / 1000).toFixed(2)} s`);
if (REDIS_URL) await store.flushAll();
await store.close();

console.log("| phase | samples | delay p50 (ms) | p99 (ms) | max (ms) | ticks ≤ 2 ms late | ticks > 2 ms late | note |");
console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
for (const r of rows) console.log(r);
