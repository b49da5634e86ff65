/**
 * Semantic cache quality on labelled paraphrase pairs, through the gateway (issue 31): a gateway
 * on the embedded defaults with the semantic tier on and the built-in local embedder (no
 * provider). For every pair, sentence 1 is asked first (a miss: its answer is stored), then
 * sentence 2 — each pair under its own system prompt, so its own scope, so a lookup can only find
 * its partner. The lookup's best similarity comes back in `x-tollgate-cache-similarity`.
 *
 * Reported: the threshold curve (at each threshold, a hit is a pair whose similarity reaches it:
 * precision = hits labelled paraphrase / hits, recall = paraphrase pairs hit / paraphrase pairs),
 * the lowest threshold from which precision stays ≥ 0.95, and — in a second pass with the policy's threshold
 * set to the default — the precision and recall of the `semantic-hit`s the gateway actually gave.
 *
 * Each precision comes with its Wilson 95% interval (the hits are a sample: at a high threshold
 * they are few, and the interval says how little a 1.000 on ten hits proves).
 *
 *   PAIRS=pairs.tsv bun run bench/semantic-quality.ts      (LIMIT=2000 THRESHOLD=0.9 CONCURRENCY=4)
 *   PAIRS=a.tsv,b.tsv …                                    (several files, pooled; LIMIT per file)
 *   SIMS_OUT=sims.tsv …                                    (also writes label + similarity per pair)
 *
 * PAIRS: TSVs with a header naming the two texts and the label, in one of the public layouts:
 * `sentence1, sentence2, label` (PAWS, GLUE), `question1, question2, is_duplicate` (Quora
 * question pairs) or `#1 String, #2 String, Quality` (MRPC; its header starts with a byte-order
 * mark, which is stripped); label 1 = paraphrase.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSettings } from "../src/config/env.ts";
import { startGateway } from "../src/main.ts";
import { DEFAULT_THRESHOLD } from "../src/cache/policy.ts";

const file = process.env.PAIRS;
if (!file) {
  console.error("PAIRS=<labelled pairs .tsv> is required (see the header of this file)");
  process.exit(2);
}
const LIMIT = Number(process.env.LIMIT ?? 2000);
const THRESHOLD = Number(process.env.THRESHOLD ?? DEFAULT_THRESHOLD);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 4);
const ADMIN = "quality-bench-admin-key-0123456789";

function readPairs(path: string): Array<{ s1: string; s2: string; para: boolean }> {
  const [head, ...lines] = readFileSync(path, "utf8").replace(/^\uFEFF/, "").split(/\r?\n/).filter(Boolean);
  const cols = head!.split("\t");
  const pick = (...names: string[]) => cols.findIndex((c) => names.includes(c.trim()));
  const [a, b, l] = [pick("sentence1", "question1", "#1 String"), pick("sentence2", "question2", "#2 String"), pick("label", "is_duplicate", "Quality")];
  if (a < 0 || b < 0 || l < 0) throw new Error(`${path}: unknown layout: ${head}`);
  return lines
    .map((line) => line.split("\t"))
    .filter((f) => f[a]?.trim() && f[b]?.trim() && (f[l]?.trim() === "0" || f[l]?.trim() === "1"))
    .slice(0, LIMIT)
    .map((f) => ({ s1: f[a]!.trim(), s2: f[b]!.trim(), para: f[l]!.trim() === "1" }));
}
const pairs = file.split(",").flatMap(readPairs);

/** Wilson score interval (95%) of a proportion `good / n`. */
function wilson(good: number, n: number): [number, number] {
  if (n === 0) return [0, 1];
  const z = 1.959964;
  const p = good / n;
  const centre = (p + (z * z) / (2 * n)) / (1 + (z * z) / n);
  const half = (z / (1 + (z * z) / n)) * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n));
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}
const ci = (good: number, n: number) => wilson(good, n).map((x) => x.toFixed(3)).join("–");

const dataDir = mkdtempSync(join(tmpdir(), "tollgate-quality-"));
const gw = await startGateway(loadSettings({ PORT: "0", TOLLGATE_DATA_DIR: dataDir, TOLLGATE_ADMIN_KEY: ADMIN, TOLLGATE_ANALYTICS: "off", TOLLGATE_PLUGINS_DIR: join(dataDir, "none") }), { quiet: true });
const setThreshold = async (threshold: number) => {
  const r = await fetch(`${gw.url}/api/v1/admin/cache`, { method: "PUT", headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` }, body: JSON.stringify({ mode: "all", semantic: { enabled: true, threshold } }) });
  if (r.status !== 200) throw new Error(`policy: ${r.status} ${await r.text()}`);
  for (const until = Date.now() + 3000; gw.snapshot.cache?.global?.semantic?.threshold !== threshold && Date.now() < until; ) await Bun.sleep(20);
};
const ask = async (pass: string, i: number, content: string) => {
  const r = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "echo", temperature: 0, messages: [{ role: "system", content: `${pass} pair ${i}` }, { role: "user", content }] }) });
  await r.arrayBuffer();
  const sim = r.headers.get("x-tollgate-cache-similarity");
  return { cache: r.headers.get("x-tollgate-cache"), similarity: sim === null ? undefined : Number(sim) };
};
async function run(pass: string): Promise<Array<{ cache: string | null; similarity?: number | undefined }>> {
  const pool = async (fn: (i: number) => Promise<void>) => {
    let next = 0;
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < pairs.length; i = next++) await fn(i);
    }));
  };
  await pool(async (i) => void (await ask(pass, i, pairs[i]!.s1)));
  await Bun.sleep(1000); // entries are stored after their responses
  const out: Array<{ cache: string | null; similarity?: number | undefined }> = new Array(pairs.length);
  await pool(async (i) => void (out[i] = await ask(pass, i, pairs[i]!.s2)));
  return out;
}

// Pass 1: threshold 0 — every lookup reports its partner's similarity.
await setThreshold(0);
const sims = (await run("curve")).map((r) => r.similarity ?? -1);
const positives = pairs.filter((p) => p.para).length;
if (process.env.SIMS_OUT) writeFileSync(process.env.SIMS_OUT, `label\tsimilarity\n${pairs.map((p, i) => `${p.para ? 1 : 0}\t${sims[i]}`).join("\n")}\n`);
const at = (t: number) => {
  let hits = 0;
  let good = 0;
  pairs.forEach((p, i) => {
    if (sims[i]! >= t) {
      hits++;
      if (p.para) good++;
    }
  });
  return { hits, good, precision: hits ? good / hits : 1, recall: positives ? good / positives : 0 };
};
console.log(`# semantic cache quality — ${new Date().toISOString()}, ${pairs.length} pairs from ${file} (${positives} labelled paraphrase)\n`);
console.log("| threshold | hits | precision | precision, Wilson 95% | recall |");
console.log("| --- | --- | --- | --- | --- |");
const grid = [0.7, 0.75, 0.8, 0.85, 0.88, 0.9, 0.92, 0.93, 0.94, 0.95, 0.955, 0.96, 0.965, 0.97, 0.975, 0.98, 0.99];
for (const t of grid) {
  const r = at(t);
  console.log(`| ${t.toFixed(3)} | ${r.hits} | ${r.precision.toFixed(3)} | ${ci(r.good, r.hits)} | ${r.recall.toFixed(3)} |`);
}
// The lowest grid threshold from which the precision stays ≥ 0.95 at every row above it (a row
// without hits counts as 1.000; the curve is not monotone where the hits are few, so the lowest
// single point could be a fluke).
const stable = grid.filter((t, k) => at(t).hits > 0 && grid.slice(k).every((u) => at(u).precision >= 0.95))[0];
if (stable === undefined) console.log("\nno grid threshold keeps precision ≥ 0.95 from there up");
else {
  const r = at(stable);
  console.log(`\nlowest threshold from which precision stays ≥ 0.95: ${stable} (${r.hits} hits, precision ${r.precision.toFixed(3)}, Wilson 95% ${ci(r.good, r.hits)}, recall ${r.recall.toFixed(3)})`);
}

// Pass 2: the gateway's own hits at THRESHOLD (fresh scopes).
await setThreshold(THRESHOLD);
const second = await run("default");
let hits = 0;
let good = 0;
second.forEach((r, i) => {
  if (r.cache === "semantic-hit") {
    hits++;
    if (pairs[i]!.para) good++;
  }
});
console.log(`\nthrough the gateway at threshold ${THRESHOLD}: ${hits} semantic hits, precision ${hits ? (good / hits).toFixed(3) : "n/a"} (Wilson 95% ${ci(good, hits)}), recall ${(good / Math.max(1, positives)).toFixed(3)}`);
await gw.stop();
rmSync(dataDir, { recursive: true, force: true });
