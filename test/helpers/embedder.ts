/**
 * The built-in embedder's model for tests: `TOLLGATE_EMBEDDER_MODEL_DIR` (scripts/with-services.sh
 * exports it after `scripts/embedder-model.sh install`) or the default install location. Missing:
 * the suite fails under CI=true, is skipped with a warning elsewhere (test/helpers/services.ts).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_MODEL_DIR } from "../../src/cache/embedder/local-embedder.ts";
import { availableOrFail } from "./services.ts";

export function embedderModelOrFail(name: string): string | undefined {
  const dir = process.env.TOLLGATE_EMBEDDER_MODEL_DIR || DEFAULT_MODEL_DIR;
  const ok = existsSync(join(dir, "model.onnx")) && existsSync(join(dir, "tokenizer.json"));
  return availableOrFail(name, "the local embedder's model", ok ? undefined : `no model in ${dir}: run bash scripts/embedder-model.sh install (make test does)`) ? dir : undefined;
}
