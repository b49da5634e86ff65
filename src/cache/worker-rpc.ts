/**
 * A request/response channel to a worker thread: `call(op, args)` posts `{id, op, args}` and
 * resolves with the worker's `{id, ok, value}` (or rejects with its `{id, ok: false, error}`).
 * The worker starts lazily on the first call (or `start()`); a worker that crashes or exits
 * fails its pending calls and the next call starts a fresh one. The worker never keeps the
 * process alive (unref'd).
 *
 * @example
 * const rpc = new WorkerRpc(new URL("./embed-worker.ts", import.meta.url), { dir });
 * const vector = await rpc.call<Float32Array>("embed", { text: "hello" });
 */
import { Worker } from "node:worker_threads";

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer?: ReturnType<typeof setTimeout>;
}

export type WorkerReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

export class WorkerRpc {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private seq = 0;
  private closed = false;
  /** Why the last worker died (for health). */
  lastError: string | undefined;

  constructor(private readonly entry: URL, private readonly workerData: unknown, private readonly opts: { timeoutMs?: number } = {}) {}

  /** Workers started so far: a caller holding state in the worker sees a restart (a fresh, empty worker) as a new generation. */
  generation = 0;

  get inFlight(): number {
    return this.pending.size;
  }

  private spawn(): Worker {
    const w = new Worker(this.entry, { workerData: this.workerData });
    this.generation++;
    w.unref();
    w.on("message", (m: WorkerReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (p.timer) clearTimeout(p.timer);
      if (m.ok) p.resolve(m.value);
      else p.reject(new Error(m.error));
    });
    const fail = (why: string) => {
      if (this.worker !== w) return;
      this.worker = undefined;
      this.lastError = why;
      for (const [id, p] of this.pending) {
        if (p.timer) clearTimeout(p.timer);
        p.reject(new Error(why));
        this.pending.delete(id);
      }
    };
    w.on("error", (err: Error) => fail(`worker error: ${err.message}`));
    w.on("exit", (code) => fail(`worker exited (${code})`));
    return w;
  }

  /** Post one operation; `transfer` moves buffers instead of copying them. */
  call<T>(op: string, args: unknown, transfer: ArrayBuffer[] = [], timeoutMs = this.opts.timeoutMs): Promise<T> {
    if (this.closed) return Promise.reject(new Error("worker closed"));
    this.worker ??= this.spawn();
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      const p: Pending = { resolve: resolve as (v: unknown) => void, reject };
      if (timeoutMs) {
        p.timer = setTimeout(() => {
          this.pending.delete(id);
          reject(Object.assign(new Error(`worker call \`${op}\` timed out after ${timeoutMs} ms`), { name: "TimeoutError" }));
        }, timeoutMs);
      }
      this.pending.set(id, p);
      this.worker!.postMessage({ id, op, args }, transfer);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = undefined;
    for (const p of this.pending.values()) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(new Error("worker closed"));
    }
    this.pending.clear();
    if (w) await w.terminate();
  }
}

/** Worker side: answer `{id, op, args}` messages with `handlers[op](args)`. */
export function serveRpc(port: import("node:worker_threads").MessagePort, handlers: Record<string, (args: never) => unknown | Promise<unknown>>): void {
  port.on("message", async (m: { id: number; op: string; args: unknown }) => {
    const h = handlers[m.op];
    try {
      if (!h) throw new Error(`unknown op \`${m.op}\``);
      const value = await h(m.args as never);
      const transfer = value instanceof Float32Array ? [value.buffer as ArrayBuffer] : [];
      port.postMessage({ id: m.id, ok: true, value }, transfer);
    } catch (err) {
      port.postMessage({ id: m.id, ok: false, error: (err as Error).message ?? String(err) });
    }
  });
}
