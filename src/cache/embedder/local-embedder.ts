/**
 * The built-in local embedder: the semantic tier's default `embeddings_model` (`local`), a
 * sentence-embedding model (all-MiniLM-L6-v2, 384 dimensions) run in-process through ONNX Runtime
 * in a worker thread, so the request thread never runs the model. Free: no provider, no cost.
 *
 * The model files (model.onnx + tokenizer.json) live in a directory: `TOLLGATE_EMBEDDER_MODEL_DIR`,
 * default `.services/embedder/all-minilm-l6-v2-q` (fetched once by `scripts/embedder-model.sh
 * install`, which `make test` runs). Without them the gateway starts as usual and the embedder
 * reports `degraded` (a semantic lookup then counts an embeddings failure and misses); it looks
 * for the files again at most every `recheckMs` and starts once they are there. The worker starts
 * on first use (a gateway whose semantic tier is off never loads the model): `idle` until then.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { WorkerRpc } from "../worker-rpc.ts";

/** The `embeddings_model` value that selects the built-in embedder (also the default). */
export { LOCAL_EMBEDDINGS_MODEL } from "../policy.ts";

/** Where the install script puts the default model (relative to the repository root). */
export const DEFAULT_MODEL_DIR = resolve(import.meta.dir, "../../../.services/embedder/all-minilm-l6-v2-q");

/** `idle`: the model is installed and loads on first use; `degraded`: it is missing (or failed to load). */
/** Health text without a file system path (/ready is unauthenticated). */
const NO_MODEL = "no model.onnx + tokenizer.json in the model directory (TOLLGATE_EMBEDDER_MODEL_DIR, default .services/embedder/all-minilm-l6-v2-q): run bash scripts/embedder-model.sh install";

export type EmbedderState = "ready" | "loading" | "idle" | "degraded";

export interface EmbedderHealth {
  state: EmbedderState;
  dimensions?: number;
  detail?: string;
}

export interface LocalEmbedderOptions {
  /** Directory with model.onnx and tokenizer.json (default {@link DEFAULT_MODEL_DIR}). */
  dir?: string;
  /** ONNX Runtime intra-op threads in the worker (default 1: the request threads keep the other cores). */
  threads?: number;
  /** How often a missing model is looked for again (default 10 s). */
  recheckMs?: number;
  /** Longest one embedding may take (default 5 s; the plugin's own timeout is usually shorter). */
  timeoutMs?: number;
}

export class LocalEmbedder {
  readonly dir: string;
  private rpc: WorkerRpc | undefined;
  private starting: Promise<void> | undefined;
  private dims: number | undefined;
  private lastCheck = 0;
  private problem: string | undefined;

  constructor(private readonly opts: LocalEmbedderOptions = {}) {
    this.dir = opts.dir ?? DEFAULT_MODEL_DIR;
  }

  private presence: { at: number; ok: boolean } | undefined;

  /** {@link present}, looked up at most once a second (health is polled). */
  private presentCached(): boolean {
    const now = Date.now();
    if (!this.presence || now - this.presence.at > 1000) this.presence = { at: now, ok: this.present() };
    return this.presence.ok;
  }

  /** Whether the model files are present. */
  private present(): boolean {
    return existsSync(join(this.dir, "model.onnx")) && existsSync(join(this.dir, "tokenizer.json"));
  }

  /**
   * Start the worker if the model is there (returns at once; loading runs in the worker). Called
   * at start and by every embed while not ready.
   */
  start(): void {
    if (this.starting || this.rpc) return;
    const now = Date.now();
    if (this.lastCheck && now - this.lastCheck < (this.opts.recheckMs ?? 10_000)) return;
    this.lastCheck = now;
    if (!this.present()) {
      this.problem = NO_MODEL;
      return;
    }
    const rpc = new WorkerRpc(new URL("./embed-worker.ts", import.meta.url), { dir: this.dir, threads: this.opts.threads ?? 1 }, { timeoutMs: this.opts.timeoutMs ?? 5000 });
    this.starting = rpc
      .call<{ dims: number }>("info", {}, [], 60_000)
      .then((info) => {
        this.dims = info.dims;
        this.rpc = rpc;
        this.problem = undefined;
      })
      .catch((err: Error) => {
        this.problem = `the model did not load: ${err.message.slice(0, 200)}`;
        void rpc.close();
      })
      .finally(() => {
        this.starting = undefined;
      });
  }

  /** Resolves once the worker is ready (or failed to start); for tests and benches. */
  async ready(): Promise<EmbedderHealth> {
    this.lastCheck = 0;
    this.start();
    await this.starting;
    return this.health();
  }

  health(): EmbedderHealth {
    const state: EmbedderState = this.rpc ? "ready" : this.starting ? "loading" : this.problem === undefined && this.presentCached() ? "idle" : "degraded";
    if (state === "degraded" && !this.problem) this.problem = NO_MODEL;
    return { state, ...(this.dims ? { dimensions: this.dims } : {}), ...(state !== "ready" && this.problem ? { detail: this.problem } : {}) };
  }

  /** The unit vector of `text`; rejects while the model is missing or loading. */
  async embed(text: string): Promise<Float32Array> {
    if (!this.rpc) {
      this.start();
      if (this.starting) await this.starting;
      if (!this.rpc) throw new Error(`local embedder not ready: ${this.problem ?? "loading"}`);
    }
    return this.rpc.call<Float32Array>("embed", { text });
  }

  async close(): Promise<void> {
    await this.starting;
    await this.rpc?.close();
    this.rpc = undefined;
  }
}
