/**
 * The semantic tier under load, end to end on the request thread (issue 31): `SemanticTier` over
 * an in-process StateStore with N entries in one scope (384-dimension clustered vectors), its
 * index in the worker thread. The request thread's event-loop delay is sampled by a 1 ms timer
 * (how late each tick fires) through four phases:
 *
 *   0. idle: nothing running (the machine's own noise, the floor of every other row);
 *   1. open: the scope's first lookup loads N records from the store into the index (HSCAN steps
 *      of 500, decoded in slices of 100 with a yield after each; the first lookup answers after at
 *      most 1.5 s) — bench/semantic-coldload.ts measures this phase alone, on Redis too;
 *   2. load: C concurrent clients for D seconds, each looping lookup, lookup, lookup, add;
 *   3. restart: a new tier over the same store and snapshot directory answers its first lookup
 *      (the snapshot is loaded in the worker; nothing is re-embedded or rebuilt).
 *
 *   bun run bench/semantic-eventloop.ts        N=100000 C=16 D=10 bun run bench/semantic-eventloop.ts
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SemanticTier } from "../src/cache/semantic-store.ts";
import { MemoryStateStore } from "../src/stores/memory-state-store.ts";
import { type LoopDelay, pct, sampler } from "./lib/loop-delay.ts";

const DIMS = 384;
const N = Number(process.env.N ?? 100_000);
const C = Number(process.env.C ?? 16);
const D = Number(process.env.D ?? 10);

let seed = 7;
const rand = () => ((seed = Math.imul(seed ^ (seed >>> 15), 2246822507) + 0x9e3779b9) >>> 0) / 0xffffffff - 0.5;
const unit = (v: Float32Array) => {
  let s = 0;
  for (const x of v) s += x * x;
  const k = 1 / Math.sqrt(s);
  return v.map((x) => x * k);
};
const topics = Array.from({ length: 2000 }, () => unit(Float32Array.from({ length: DIMS }, rand)));
const near = (i: number, amount = 0.12) => unit(topics[i % topics.length]!.map((x) => x + rand() * amount));
const rows: string[] = [];
const row = (phase: string, s: LoopDelay, note: string) =>
  rows.push(`| ${phase} | ${s.samples} | ${s.p50.toFixed(2)} | ${s.p99.toFixed(2)} | ${s.max.toFixed(1)} | ${((s.le2 / s.samples) * 100).toFixed(2)}% | ${s.gt5} | ${note} |`);

console.log(`# semantic tier event loop — ${new Date().toISOString()}, ${N.toLocaleString("en")} entries, ${C} clients × ${D} s\n`);
const store = new MemoryStateStore();
const scope = "bench-scope";
const expires = Date.now() + 3_600_000;
for (let i = 0; i < N; i += 1000) {
  const writes = [];
  for (let j = i; j < Math.min(N, i + 1000); j++) {
    const v = near(j);
    writes.push({ op: "hset" as const, key: `semcache:scope:t:${scope}`, field: `id-${j}`, value: JSON.stringify({ u: Buffer.from(v.buffer).toString("base64"), x: expires, e: `entry-${j}` }) });
  }
  await store.applyWrites(writes);
}
await store.applyWrites([{ op: "hset", key: "semcache:scopes:t", field: scope, value: "1" }]);
const dir = mkdtempSync(join(tmpdir(), "tollgate-semev-"));

let s = sampler();
await Bun.sleep(2000);
row("0. idle (machine noise)", s.stop(), "");

let tier = new SemanticTier(store, { snapshotDir: dir });
s = sampler();
let t0 = performance.now();
await tier.nearest("t", scope, near(1, 0.05), 0.9);
const firstAnswer = performance.now() - t0;
while ((await tier.stats()).entries < N) await Bun.sleep(100);
row("1. open: load the scope from the store", s.stop(), `first lookup answered after ${(firstAnswer / 1000).toFixed(1)} s (the load goes on behind it), all ${N.toLocaleString("en")} records indexed after ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const lookups: number[] = [];
let adds = 0;
s = sampler();
const until = performance.now() + D * 1000;
await Promise.all(
  Array.from({ length: C }, async (_, c) => {
    for (let k = 0; performance.now() < until; k++) {
      if (k % 4 === 3) {
        await tier.add("t", scope, near(c * 1000 + k), `new-${c}-${k}`, expires);
        adds++;
      } else {
        const q = near(k * 31 + c, 0.05);
        const a = performance.now();
        await tier.nearest("t", scope, q, 0.9);
        lookups.push(performance.now() - a);
      }
    }
  }),
);
row("2. load: lookups + adds", s.stop(), `${Math.round(lookups.length / D)} lookups/s (p50 ${pct(lookups, 0.5).toFixed(2)} ms, p99 ${pct(lookups, 0.99).toFixed(2)} ms incl. the worker hop), ${Math.round(adds / D)} adds/s`);

t0 = performance.now();
await tier.close(); // writes the snapshot
const saveMs = performance.now() - t0;
tier = new SemanticTier(store, { snapshotDir: dir });
s = sampler();
t0 = performance.now();
const first = await tier.nearest("t", scope, near(5, 0.05), 0);
const ready = performance.now() - t0;
await Bun.sleep(500);
row("3. restart from the snapshot", s.stop(), `first lookup answered ${(ready / 1000).toFixed(2)} s after start (similarity ${first.similarity?.toFixed(3)}); snapshot written in ${(saveMs / 1000).toFixed(2)} s at close`);
await tier.close();
rmSync(dir, { recursive: true, force: true });

console.log("| phase | samples | delay p50 (ms) | p99 (ms) | max (ms) | ticks ≤ 2 ms late | ticks > 5 ms late | note |");
console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
for (const r of rows) console.log(r);
