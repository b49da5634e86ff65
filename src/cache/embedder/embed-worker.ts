/**
 * Worker thread of the built-in local embedder: tokenizes with the model's tokenizer.json
 * (@huggingface/tokenizers) and runs the ONNX sentence-embedding model (onnxruntime-node, one
 * intra-op thread), then mean-pools the last hidden state over the attention mask and scales to
 * unit length — what sentence-transformers does for all-MiniLM-L6-v2. Inputs longer than
 * `MAX_TOKENS` are truncated (the model was trained on at most 256 word pieces).
 */
import { parentPort, workerData } from "node:worker_threads";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import * as ort from "onnxruntime-node";
import { Tokenizer } from "@huggingface/tokenizers";
import { serveRpc } from "../worker-rpc.ts";

export const MAX_TOKENS = 256;

const { dir, threads } = workerData as { dir: string; threads?: number };
const tokenizer = new Tokenizer(JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8")), {});
const sep = tokenizer.token_to_id("[SEP]");
const session = await ort.InferenceSession.create(join(dir, "model.onnx"), { intraOpNumThreads: threads ?? 1, interOpNumThreads: 1, graphOptimizationLevel: "all" });
const wantsTypeIds = session.inputNames.includes("token_type_ids");

async function embed({ text }: { text: string }): Promise<Float32Array> {
  const enc = tokenizer.encode(text);
  let ids = enc.ids;
  let mask = enc.attention_mask;
  if (ids.length > MAX_TOKENS) {
    ids = ids.slice(0, MAX_TOKENS);
    if (sep !== undefined) ids[MAX_TOKENS - 1] = sep;
    mask = mask.slice(0, MAX_TOKENS);
  }
  const n = ids.length;
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor("int64", BigInt64Array.from(ids, BigInt), [1, n]),
    attention_mask: new ort.Tensor("int64", BigInt64Array.from(mask, BigInt), [1, n]),
  };
  if (wantsTypeIds) feeds.token_type_ids = new ort.Tensor("int64", new BigInt64Array(n), [1, n]);
  const out = await session.run(feeds);
  const hidden = out[session.outputNames[0]!]!;
  const dims = hidden.dims[2] as number;
  const data = hidden.data as Float32Array;
  const v = new Float32Array(dims);
  let used = 0;
  for (let t = 0; t < n; t++) {
    if (!mask[t]) continue;
    used++;
    const off = t * dims;
    for (let j = 0; j < dims; j++) v[j]! += data[off + j]!;
  }
  let sum = 0;
  for (let j = 0; j < dims; j++) sum += v[j]! * v[j]!;
  if (!(sum > 0) || used === 0) throw new Error("the model returned a zero vector");
  const inv = 1 / Math.sqrt(sum);
  for (let j = 0; j < dims; j++) v[j]! *= inv;
  return v;
}

// Warm the session (first run allocates), then tell the host the dimensions.
const probe = await embed({ text: "warm up" });
serveRpc(parentPort!, { embed, info: () => ({ dims: probe.length }) });
