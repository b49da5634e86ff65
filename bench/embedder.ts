/**
 * The built-in local embedder (issue 31): time to embed a 50-token prompt with all-MiniLM-L6-v2.
 *
 *   - `LocalEmbedder.embed` as the gateway calls it: request thread → worker (tokenize with
 *     @huggingface/tokenizers, onnxruntime-node, mean pooling) → back; sequential calls;
 *   - the same model in this thread with onnxruntime-node directly (what the worker costs);
 *   - @huggingface/transformers' feature-extraction pipeline on the same ONNX file, when that
 *     package can be imported (it is not a dependency: `bun add @huggingface/transformers` to
 *     compare; measured once for the choice, see docs/benchmarks.md);
 *   - the request thread's event-loop delay (max and p99) while the worker embeds.
 *
 *   bash scripts/embedder-model.sh install && bun run bench/embedder.ts      RUNS=300 TOLLGATE_EMBEDDER_MODEL_DIR=… bun run bench/embedder.ts
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { Tokenizer } from "@huggingface/tokenizers";
import { DEFAULT_MODEL_DIR, LocalEmbedder } from "../src/cache/embedder/local-embedder.ts";

const DIR = process.env.TOLLGATE_EMBEDDER_MODEL_DIR || DEFAULT_MODEL_DIR;
const RUNS = Number(process.env.RUNS ?? 200);
const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
const f = (x: number) => `${x.toFixed(2)} ms`;

const tokenizer = new Tokenizer(JSON.parse(readFileSync(join(DIR, "tokenizer.json"), "utf8")), {});
// A support question grown word by word to exactly 50 tokens ([CLS] and [SEP] included).
const words = "Hello, I bought a pair of running shoes from your online store last week and they arrived today, but the left shoe is half a size smaller than the right one. Could you tell me how to return or exchange them, whether I have to pay for shipping, and how long the refund usually takes to reach my card?".split(" ");
let prompt = "";
for (const w of words) {
  const next = prompt ? `${prompt} ${w}` : w;
  if (tokenizer.encode(next).ids.length > 50) break;
  prompt = next;
}
const tokens = tokenizer.encode(prompt).ids.length;
console.log(`# local embedder — ${new Date().toISOString()}, ${RUNS} sequential runs, prompt of ${tokens} tokens, model ${DIR}\n`);

async function timeRuns(fn: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < 10; i++) await fn(); // warm-up
  const out: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const s = performance.now();
    await fn();
    out.push(performance.now() - s);
  }
  return out;
}
const rows: string[] = [];
const row = (what: string, xs: number[]) => rows.push(`| ${what} | ${f(pct(xs, 0.5))} | ${f(pct(xs, 0.9))} | ${f(pct(xs, 0.99))} |`);

// 1. The gateway's path, with the event-loop delay of the request thread sampled meanwhile (1 ms timer drift).
const embedder = new LocalEmbedder({ dir: DIR });
let s = performance.now();
await embedder.ready();
const startMs = performance.now() - s;
const drift: number[] = [];
let last = performance.now();
const timer = setInterval(() => {
  const now = performance.now();
  drift.push(Math.max(0, now - last - 1));
  last = now;
}, 1);
row("`LocalEmbedder.embed` (worker, onnxruntime-node)", await timeRuns(() => embedder.embed(prompt)));
clearInterval(timer);
await embedder.close();

// 2. onnxruntime-node in this thread.
const session = await ort.InferenceSession.create(join(DIR, "model.onnx"), { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: "all" });
const direct = async () => {
  const e = tokenizer.encode(prompt);
  const n = e.ids.length;
  const t = (a: number[]) => new ort.Tensor("int64", BigInt64Array.from(a, BigInt), [1, n]);
  return session.run({ input_ids: t(e.ids), attention_mask: t(e.attention_mask), token_type_ids: t(new Array(n).fill(0)) });
};
row("onnxruntime-node in the calling thread (no worker)", await timeRuns(direct));

// 3. @huggingface/transformers, when installed.
const name = "@huggingface/transformers";
const tf = (await import(name).catch(() => undefined)) as any;
if (tf) {
  const root = mkdtempSync(join(tmpdir(), "tollgate-tf-"));
  mkdirSync(join(root, "m", "onnx"), { recursive: true });
  symlinkSync(join(DIR, "model.onnx"), join(root, "m", "onnx", "model.onnx"));
  symlinkSync(join(DIR, "tokenizer.json"), join(root, "m", "tokenizer.json"));
  writeFileSync(join(root, "m", "config.json"), JSON.stringify({ model_type: "bert", hidden_size: 384, num_attention_heads: 12, num_hidden_layers: 6, vocab_size: 30522 }));
  writeFileSync(join(root, "m", "tokenizer_config.json"), JSON.stringify({ tokenizer_class: "BertTokenizer", do_lower_case: true, model_max_length: 256 }));
  tf.env.allowRemoteModels = false;
  tf.env.localModelPath = root;
  const fe = await tf.pipeline("feature-extraction", "m", { dtype: "fp32", session_options: { intraOpNumThreads: 1, interOpNumThreads: 1 } });
  row("@huggingface/transformers pipeline (same ONNX file, calling thread)", await timeRuns(() => fe(prompt, { pooling: "mean", normalize: true })));
  rmSync(root, { recursive: true, force: true });
} else rows.push("| @huggingface/transformers | not installed | | |");

console.log("| path | p50 | p90 | p99 |");
console.log("| --- | --- | --- | --- |");
for (const r of rows) console.log(r);
console.log(`\nworker start (model load + warm-up): ${f(startMs)}; request-thread event-loop delay while embedding: p99 ${f(pct(drift, 0.99))}, max ${f(Math.max(...drift))}`);
