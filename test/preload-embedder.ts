/**
 * Test-process preload (bunfig.toml): onnxruntime-node hangs when it is loaded after chDB in one
 * process (the reverse order works), and `bun test` runs every file in one process — so when the
 * local embedder's model is installed, load ONNX Runtime first (issue 31, docs/cache.md).
 */
import { LocalEmbedder } from "../src/cache/embedder/local-embedder.ts";

const warm = new LocalEmbedder(process.env.TOLLGATE_EMBEDDER_MODEL_DIR ? { dir: process.env.TOLLGATE_EMBEDDER_MODEL_DIR } : {});
await warm.ready(); // degraded (no model) is fine: nothing to load
