/**
 * Semantic cache quality on labelled paraphrase pairs, through the gateway (issue 31): a gateway
 * on the embedded defaults with the semantic tier on and the built-in local embedder (no
 * provider). For every pair, sentence 1 is asked first (a miss: its answer is stored), then
 * sentence 2 — each pair under its own system prompt, so its own scope, so a lookup can only find
 * its partner. The lookup's best similarity comes back in `x-tollgate-cache-similarity`.
 *
 * Reported: the threshold curve (at each threshold, a hit is a pair whose similarity reaches it:
 * precision = hits labelled paraphrase / hits, recall = paraphrase pairs hit / paraphrase pairs),
 * the lowest threshold with precision ≥ 0.95, and — in a second pass with the policy's threshold
 * set to the default — the precision and recall of the `semantic-hit`s the gateway actually gave.
 *
 *   PAIRS=pairs.tsv bun run bench/semantic-quality.ts      (LIMIT=2000 THRESHOLD=0.9 CONCURRENCY=4)
 *
 * PAIRS: a TSV with a header naming the two texts and the label, in one of the public layouts:
 * `sentence1, sentence2, label` (PAWS, GLUE), `question1, question2, is_duplicate` (Quora
 * question pairs) or `#1 String, #2 String, Quality` (MRPC); label 1 = paraphrase.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
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

const [head, ...lines] = readFileSync(file, "utf8").split(/\r?\n/).filter(Boolean);
const cols = head!.split("\t");
const pick = (...names: string[]) => cols.findIndex((c) => names.includes(c.trim()));
const [a, b, l] = [pick("sentence1", "question1", "#1 String"), pick("sentence2", "question2", "#2 String"), pick("label", "is_duplicate", "Quality")];
if (a < 0 || b < 0 || l < 0) throw new Error(`unknown layout: ${head}`);
const pairs = lines
  .map((line) => line.split("\t"))
  .filter((f) => f[a]?.trim() && f[b]?.trim() && (f[l] === "0" || f[l] === "1"))
  .slice(0, LIMIT)
  .map((f) => ({ s1: f[a]!.trim(), s2: f[b]!.trim(), para: f[l] === "1" }));

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
const at = (t: number) => {
  let hits = 0;
  let good = 0;
  pairs.forEach((p, i) => {
    if (sims[i]! >= t) {
      hits++;
      if (p.para) good++;
    }
  });
  return { hits, precision: hits ? good / hits : 1, recall: positives ? good / positives : 0 };
};
console.log(`# semantic cache quality — ${new Date().toISOString()}, ${pairs.length} pairs from ${file} (${positives} labelled paraphrase)\n`);
console.log("| threshold | hits | precision | recall |");
console.log("| --- | --- | --- | --- |");
for (const t of [0.7, 0.75, 0.8, 0.85, 0.88, 0.9, 0.92, 0.94, 0.95, 0.96, 0.97, 0.98, 0.99]) {
  const r = at(t);
  console.log(`| ${t.toFixed(2)} | ${r.hits} | ${r.precision.toFixed(3)} | ${r.recall.toFixed(3)} |`);
}
const lowest = [...new Set(sims.filter((s) => s >= 0))].sort((x, y) => x - y).find((t) => at(t).precision >= 0.95 && at(t).hits > 0);
console.log(`\nlowest threshold with precision ≥ 0.95: ${lowest === undefined ? "none" : lowest.toFixed(4)}`);

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
console.log(`\nthrough the gateway at threshold ${THRESHOLD}: ${hits} semantic hits, precision ${hits ? (good / hits).toFixed(3) : "n/a"}, recall ${(good / Math.max(1, positives)).toFixed(3)}`);
await gw.stop();
rmSync(dataDir, { recursive: true, force: true });
