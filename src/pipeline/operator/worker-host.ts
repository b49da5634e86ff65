/**
 * `isolation: "worker"`: the plugin runs in its own worker thread. A hang (timeout), a crash or
 * memory over the limit terminates the worker; pending calls fail (and follow the plugin's
 * policy) and the next call starts a fresh worker.
 *
 * Memory: Bun ignores `resourceLimits` on workers (measured: a worker with
 * maxOldGenerationSizeMb 64 grew to 2.9 GB). So the host enforces the limit itself: the worker
 * reports its heap every 50 ms (over the limit: terminated). A synchronous allocation loop never
 * reports, so while a call is in flight the host also samples the process RSS every 20 ms and
 * terminates the worker when it grew by more than the limit + 64 MB (a backstop: RSS is the
 * whole process's, so it leaves room for other work).
 */
import { Worker } from "node:worker_threads";
import { dirname, join } from "node:path";
import { ProcessChannel } from "./process-channel.ts";
import type { Ctx } from "../context.ts";
import { GatewayError } from "../errors.ts";
import type { StateStore } from "../../stores/state-store.ts";
import { scopedKv } from "./kv.ts";
import { PluginCrashError, type Invoker } from "./runtime.ts";
import { namespacedEvent, pluginLog, viewData } from "./view.ts";

const ENTRY = join(import.meta.dir, "worker-entry.ts");

interface Pending {
  ctx: Ctx;
  hook: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

export interface WorkerOptions {
  name: string;
  entry: string;
  /** `process`: a separate Bun process with a clean environment (process-channel.ts). Default `worker`. */
  mode?: "worker" | "process";
  /** The plugin's folder (a process plugin's working directory). */
  dir?: string;
  memoryLimitMb: number;
  store: StateStore;
  /** How long a fresh worker may take to import the entry. Default 10 s. */
  startTimeoutMs?: number;
}

/** What the host talks to: a worker thread, or a plugin process with the same interface. */
type Channel = Pick<Worker, "postMessage" | "on"> & { terminate(): Promise<unknown> };

export class WorkerInvoker implements Invoker {
  readonly kind: "worker" | "process";
  restarts = 0;
  /** The hooks the entry defines (known once a worker started). */
  hooks: string[] = [];
  /** Process isolation: whether the plugin process confined its file system (Landlock ABI). */
  sandbox: { ok: boolean; abi: number; reason?: string } | undefined;
  private warned = false;
  private worker: Channel | undefined;
  private ready: Promise<Channel> | undefined;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  private sampler: ReturnType<typeof setInterval> | undefined;
  private rssBaseline = 0;
  private stopped = false;
  /** The last terminated worker's exit: a new one starts only after it (its memory is gone by then). */
  private terminating: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: WorkerOptions) {
    this.kind = opts.mode ?? "worker";
  }

  private get limitBytes(): number {
    return this.opts.memoryLimitMb * 1024 * 1024;
  }

  /** Start the worker and wait until the entry imported; rejects with the import error. */
  start(): Promise<Channel> {
    if (this.ready) return this.ready;
    this.ready = this.terminating.then(() => this.spawn());
    this.ready.catch(() => {});
    return this.ready;
  }

  private spawn(): Promise<Channel> {
    const w: Channel = this.kind === "process"
      ? (new ProcessChannel(ENTRY, this.opts.entry, this.opts.dir ?? dirname(this.opts.entry)) as unknown as Channel)
      : new Worker(ENTRY, { workerData: { entry: this.opts.entry }, env: {}, stdout: false, stderr: false });
    this.worker = w;
    const ready = new Promise<Channel>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.reset("crash", "worker did not start in time");
        reject(new Error("worker did not start in time"));
      }, this.opts.startTimeoutMs ?? 10_000);
      w.on("message", (m: { t: string; message?: string; hooks?: string[]; sandbox?: { ok: boolean; abi: number; reason?: string } }) => {
        if (m.t === "ready") {
          clearTimeout(timer);
          this.hooks = m.hooks ?? [];
          if (m.sandbox) {
            this.sandbox = m.sandbox;
            if (!m.sandbox.ok && !this.warned) {
              this.warned = true;
              console.warn(`[plugins] ${this.opts.name}: process not confined to its files (${m.sandbox.reason}): it can read what the gateway's OS user can`);
            }
          }
          resolve(w);
        } else if (m.t === "load_error") {
          clearTimeout(timer);
          this.reset("crash", m.message ?? "import failed");
          reject(new Error(m.message));
        } else this.onMessage(w, m as never);
      });
      w.on("error", (err: Error) => {
        clearTimeout(timer);
        if (this.worker === w) this.reset("crash", `worker error: ${err.name}`);
        reject(err);
      });
      w.on("exit", (code) => {
        clearTimeout(timer);
        if (this.worker === w) this.reset("crash", `worker exited (${code})`);
        reject(new Error(`worker exited (${code})`));
      });
    });
    ready.catch(() => {});
    return ready;
  }

  async invoke(hook: string, ctx: Ctx, settings: Readonly<Record<string, unknown>>, args: unknown[]): Promise<unknown> {
    if (this.stopped) throw new PluginCrashError("crash", "plugin stopped");
    const w = await this.start();
    const id = ++this.seq;
    const view = viewData(ctx, this.opts.name, settings);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { ctx, hook, resolve, reject });
      this.watchMemory();
      w.postMessage({ t: "call", id, hook, view, args });
    });
  }

  private onMessage(w: Channel, m: { t: string; id: number; ok?: boolean; value?: unknown; request?: Ctx["request"]; error?: Record<string, unknown>; bytes?: number; event?: never; level?: "info" | "warn" | "error"; message?: string; fields?: Record<string, unknown>; kvId?: number; op?: "get" | "set" | "del"; key?: string; ttlMs?: number; label?: string; ms?: number }): void {
    if (w !== this.worker) return; // a terminated worker's last words
    if (m.t === "heap") {
      if ((m.bytes ?? 0) > this.limitBytes) this.reset("memory", `worker heap ${Math.round((m.bytes ?? 0) / 1048576)} MB over the ${this.opts.memoryLimitMb} MB limit`);
      return;
    }
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.t === "result") {
      this.pending.delete(m.id);
      this.idleCheck();
      if (m.ok) {
        if (m.request && p.hook !== "onEvent" && p.hook !== "onEnd") p.ctx.request = m.request;
        p.resolve(m.value ?? undefined);
      } else p.reject(rebuildError(m.error ?? {}));
    } else if (m.t === "emit") {
      try {
        p.ctx.emit(namespacedEvent(this.opts.name, m.event!));
      } catch (err) {
        pluginLog(this.opts.name, p.ctx.principal.tenant).warn(`event dropped: ${(err as Error).message}`);
      }
    } else if (m.t === "log") {
      pluginLog(this.opts.name, p.ctx.principal.tenant)[m.level ?? "info"](m.message ?? "", m.fields);
    } else if (m.t === "span") {
      p.ctx.timings[`plugin.${this.opts.name}.${m.label}`] = Math.round((m.ms ?? 0) * 100) / 100;
    } else if (m.t === "kv") {
      const kv = scopedKv(this.opts.store, this.opts.name, p.ctx.principal.tenant);
      const op = m.op === "get" ? kv.get(m.key!) : m.op === "set" ? kv.set(m.key!, String((m as { value?: unknown }).value), m.ttlMs ? { ttlMs: m.ttlMs } : undefined).then(() => null) : kv.del(m.key!).then(() => null);
      op.then(
        (value) => w.postMessage({ t: "kv", kvId: m.kvId, ok: true, value }),
        (err: Error) => w.postMessage({ t: "kv", kvId: m.kvId, ok: false, error: err.message }),
      );
    }
  }

  /** While calls are in flight, sample the process RSS: a synchronous allocation loop never reports its heap. */
  private watchMemory(): void {
    if (this.sampler || this.kind === "process") return; // the gateway's RSS says nothing about another process
    this.rssBaseline = process.memoryUsage.rss();
    this.sampler = setInterval(() => {
      const grown = process.memoryUsage.rss() - this.rssBaseline;
      if (grown > this.limitBytes + 64 * 1024 * 1024) this.reset("memory", `process memory grew ${Math.round(grown / 1048576)} MB during a call (limit ${this.opts.memoryLimitMb} MB)`);
    }, 20);
  }

  private idleCheck(): void {
    if (this.pending.size === 0 && this.sampler) {
      clearInterval(this.sampler);
      this.sampler = undefined;
    }
  }

  timedOut(): void {
    this.reset("timeout", "hook timed out: worker terminated");
  }

  /** Terminate the worker; every pending call fails with `reason`; the next call starts a new one. */
  private reset(reason: "crash" | "memory" | "timeout", message: string): void {
    const w = this.worker;
    if (!w) return;
    this.worker = undefined;
    this.ready = undefined;
    this.restarts++;
    this.terminating = w.terminate().catch(() => {});
    const failed = [...this.pending.values()];
    this.pending.clear();
    this.idleCheck();
    for (const p of failed) p.reject(new PluginCrashError(reason, message));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const w = this.worker;
    this.worker = undefined;
    this.ready = undefined;
    if (this.sampler) clearInterval(this.sampler);
    for (const p of this.pending.values()) p.reject(new PluginCrashError("crash", "plugin stopped"));
    this.pending.clear();
    if (w) await w.terminate();
  }
}

function rebuildError(e: Record<string, unknown>): Error {
  if (e.name === "PluginRefusalError" || e.name === "GatewayError") {
    return new GatewayError({ status: Number(e.status) || 400, code: String(e.code ?? "plugin_refused"), message: String(e.message ?? ""), ...(e.param ? { param: String(e.param) } : {}) });
  }
  const err = new Error(String(e.message ?? "error"));
  err.name = String(e.name ?? "Error");
  return err;
}
