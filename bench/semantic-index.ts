/**
 * Semantic index benchmark (issue 31), on the gateway's own index code (src/cache/semantic-index/
 * scope-index.ts), run in this thread so every operation is timed alone:
 *
 *   1. crossover: lookup p50 of exact search vs HNSW at 256 … 8k entries;
 *   2. 100k entries: incremental add p50/p99, lookup p50/p99, recall@1 against exact search
 *      (same vectors, same queries), snapshot save, and restart to a ready index (snapshot load);
 *
 * for two kinds of 384-dimension unit vectors: `random` (uniform on the sphere: the hardest case
 * for HNSW) and `clustered` (2,000 topics with questions spread around each: closer to what
 * sentence embeddings of real traffic look like). Queries are stored vectors plus noise (a
 * paraphrase of something asked before).
 *
 *   bun run bench/semantic-index.ts          N=100000 QUERIES=300 KINDS=random,clustered ES=64 EA=64 M=16 CROSSOVER=0 bun run bench/semantic-index.ts
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_HNSW, ScopeIndex } from "../src/cache/semantic-index/scope-index.ts";
import { VectorIndex } from "../src/cache/semantic.ts";

const DIMS = 384;
const N = Number(process.env.N ?? 100_000);
const QUERIES = Number(process.env.QUERIES ?? 300);
const KINDS = (process.env.KINDS ?? "random,clustered").split(",");
const FOREVER = Number.MAX_SAFE_INTEGER;
// HNSW parameters (default: the gateway's); e.g. ES=128 to trade lookup time for recall.
const HNSW = { connectivity: Number(process.env.M ?? DEFAULT_HNSW.connectivity), expansionAdd: Number(process.env.EA ?? DEFAULT_HNSW.expansionAdd), expansionSearch: Number(process.env.ES ?? DEFAULT_HNSW.expansionSearch) };
const SKIP_CROSSOVER = process.env.CROSSOVER === "0";

let seed = 42;
const rand = () => ((seed = Math.imul(seed ^ (seed >>> 15), 2246822507) + 0x9e3779b9) >>> 0) / 0xffffffff - 0.5;
const unit = (v: Float32Array) => {
  let s = 0;
  for (const x of v) s += x * x;
  const k = 1 / Math.sqrt(s);
  return v.map((x) => x * k);
};
const noise = (v: Float32Array, amount: number) => unit(v.map((x) => x + rand() * amount));
const randomVec = () => unit(Float32Array.from({ length: DIMS }, rand));
function vectors(kind: string, n: number): Float32Array[] {
  if (kind === "random") return Array.from({ length: n }, randomVec);
  const topics = Array.from({ length: 2000 }, randomVec);
  return Array.from({ length: n }, (_, i) => noise(topics[i % topics.length]!, 0.12));
}
const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
const ms = (x: number) => (x < 1 ? `${(x * 1000).toFixed(0)} µs` : `${x.toFixed(2)} ms`);

console.log(`# semantic index — ${new Date().toISOString()}, ${DIMS} dims, HNSW connectivity ${HNSW.connectivity}, expansion add ${HNSW.expansionAdd} / search ${HNSW.expansionSearch}\n`);

if (!SKIP_CROSSOVER) console.log("## crossover (clustered vectors, lookup p50, 200 queries)\n| entries | exact | HNSW |\n| --- | --- | --- |");
for (const n of SKIP_CROSSOVER ? [] : [256, 512, 1024, 2048, 4096, 8192]) {
  const vs = vectors("clustered", n);
  const exact = new ScopeIndex(DIMS, { crossover: Infinity });
  const hnsw = new ScopeIndex(DIMS, { crossover: 0, hnsw: HNSW });
  vs.forEach((v, i) => {
    exact.add(String(i), v, FOREVER);
    hnsw.add(String(i), v, FOREVER);
  });
  const te: number[] = [];
  const th: number[] = [];
  for (let q = 0; q < 200; q++) {
    const v = noise(vs[(q * 7919) % n]!, 0.05);
    let s = performance.now();
    exact.nearest(v, 0);
    te.push(performance.now() - s);
    s = performance.now();
    hnsw.nearest(v, 0);
    th.push(performance.now() - s);
  }
  console.log(`| ${n.toLocaleString("en")} | ${ms(pct(te, 0.5))} | ${ms(pct(th, 0.5))} |`);
}

for (const kind of KINDS) {
  console.log(`\n## ${N.toLocaleString("en")} entries, ${kind} vectors\n`);
  const vs = vectors(kind, N);
  const idx = new ScopeIndex(DIMS, { hnsw: HNSW }); // as the gateway: exact first, HNSW from the crossover on
  const adds: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const s = performance.now();
    idx.add(`id-${i}`, vs[i]!, FOREVER);
    adds.push(performance.now() - s);
  }
  const build = performance.now() - t0;
  const exact = new VectorIndex(DIMS, N);
  vs.forEach((v, i) => exact.add(`id-${i}`, v, FOREVER));
  const look: number[] = [];
  let agree = 0;
  for (let q = 0; q < QUERIES; q++) {
    const v = noise(vs[(q * 7919) % N]!, 0.05);
    const s = performance.now();
    const a = idx.nearest(v, 0);
    look.push(performance.now() - s);
    if (a?.id === exact.nearest(v, 0)?.id) agree++;
  }
  const dir = mkdtempSync(join(tmpdir(), "tollgate-semidx-"));
  let s = performance.now();
  idx.save(join(dir, "scope"), Date.now());
  const save = performance.now() - s;
  const bytes = statSync(join(dir, "scope.usearch")).size + statSync(join(dir, "scope.json")).size;
  s = performance.now();
  const loaded = ScopeIndex.load(join(dir, "scope"), { hnsw: HNSW })!;
  const load = performance.now() - s;
  const same = loaded.index.nearest(vs[123]!, 0)?.id === "id-123";
  rmSync(dir, { recursive: true, force: true });
  console.log("| what | value |");
  console.log("| --- | --- |");
  console.log(`| incremental add p50 / p99 (crossover promotion included in the total) | ${ms(pct(adds, 0.5))} / ${ms(pct(adds, 0.99))} |`);
  console.log(`| build by incremental adds, total | ${(build / 1000).toFixed(1)} s |`);
  console.log(`| lookup p50 / p99 (${QUERIES} queries) | ${ms(pct(look, 0.5))} / ${ms(pct(look, 0.99))} |`);
  console.log(`| recall@1 against exact search | ${(agree / QUERIES).toFixed(3)} |`);
  console.log(`| snapshot save | ${ms(save)} (${(bytes / 2 ** 20).toFixed(0)} MiB) |`);
  console.log(`| restart: snapshot load to a ready index | ${ms(load)} (answers: ${same}) |`);
}
