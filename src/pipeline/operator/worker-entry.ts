/**
 * Runs inside a plugin's worker thread (`isolation: "worker"`) or its own process
 * (`isolation: "process"`: Bun IPC instead of the worker port, the entry path in argv): imports the plugin's entry module and answers hook
 * calls from the host (worker-host.ts). The plugin's ctx is rebuilt here from plain data;
 * `kv`, `emit`, `log` and `span` are messages back to the host, which scopes them.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { OperatorPluginDefinition, PluginContext } from "./api.ts";
import type { ViewData } from "./view.ts";
import { realpathSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { restrictFileSystem, type SandboxResult } from "./sandbox.ts";
import { explainLoadError, registerPluginSpecifiers } from "./specifier.ts";

registerPluginSpecifiers(); // virtual modules are per thread: the entry may import "tollgate/plugin"

interface Port {
  postMessage(m: unknown): void;
  // biome-ignore lint: the handler's message type is declared where it is registered
  on(event: "message", fn: (m: any) => void): unknown;
}
const port: Port = parentPort ? (parentPort as unknown as Port) : { postMessage: (m) => void process.send!(m), on: (_e, fn) => process.on("message", fn) };
const entry = parentPort ? (workerData as { entry: string }).entry : process.argv[2]!;
let def: OperatorPluginDefinition | undefined;
let kvSeq = 0;
const kvWaiting = new Map<number, { resolve: (v: string | null) => void; reject: (e: Error) => void }>();

async function heapBytes(): Promise<number> {
  try {
    const { heapStats } = await import("bun:jsc");
    return heapStats().heapSize;
  } catch {
    return process.memoryUsage().heapUsed;
  }
}

// Report the heap often: the host terminates the worker above its memory limit.
setInterval(() => {
  void heapBytes().then((bytes) => port.postMessage({ t: "heap", bytes }));
}, 50);

function kvCall(callId: number, op: "get" | "set" | "del", key: string, value?: string, ttlMs?: number): Promise<string | null> {
  const kvId = ++kvSeq;
  port.postMessage({ t: "kv", id: callId, kvId, op, key, value, ttlMs });
  return new Promise((resolve, reject) => kvWaiting.set(kvId, { resolve, reject }));
}

function contextFor(callId: number, data: ViewData): PluginContext {
  const log = (level: "info" | "warn" | "error") => (message: string, fields?: Record<string, unknown>) => port.postMessage({ t: "log", id: callId, level, message: String(message), fields });
  return {
    ...data,
    request: data.request,
    settings: Object.freeze(data.settings),
    kv: {
      get: (key) => kvCall(callId, "get", key),
      set: async (key, value, opts) => void (await kvCall(callId, "set", key, value, opts?.ttlMs)),
      del: async (key) => void (await kvCall(callId, "del", key)),
    },
    emit: (event) => port.postMessage({ t: "emit", id: callId, event }),
    log: { info: log("info"), warn: log("warn"), error: log("error") },
    async span(label, fn) {
      const t0 = performance.now();
      try {
        return await fn();
      } finally {
        port.postMessage({ t: "span", id: callId, label, ms: performance.now() - t0 });
      }
    },
  } as PluginContext;
}

port.on("message", async (m: { t: string; id: number; hook: string; view: ViewData; args: unknown[]; kvId: number; ok: boolean; value: string | null; error: string }) => {
  if (m.t === "kv") {
    const w = kvWaiting.get(m.kvId);
    kvWaiting.delete(m.kvId);
    if (m.ok) w?.resolve(m.value);
    else w?.reject(new Error(m.error));
    return;
  }
  if (m.t !== "call") return;
  const ctx = contextFor(m.id, m.view);
  const before = JSON.stringify(m.view.request);
  try {
    const fn = (def!.hooks as Record<string, ((...a: unknown[]) => unknown) | undefined>)[m.hook];
    const value = fn ? await fn(ctx, ...m.args) : undefined;
    const after = ctx.request === m.view.request && JSON.stringify(ctx.request) === before ? undefined : ctx.request;
    port.postMessage({ t: "result", id: m.id, ok: true, value: value ?? null, request: after });
  } catch (err) {
    const e = err as { name?: string; message?: string; status?: number; code?: string; param?: string };
    port.postMessage({ t: "result", id: m.id, ok: false, error: { name: e?.name ?? "Error", message: String(e?.message ?? err), status: e?.status, code: e?.code, param: e?.param } });
  }
});

// A plugin process confines its file system before any plugin code runs (sandbox.ts): it reads
// its own folder, the gateway's code and the system's libraries, and nothing of the data dir.
let sandbox: SandboxResult | undefined;
if (!parentPort) {
  const root = resolve(import.meta.dir, "../../..");
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return p;
    }
  };
  sandbox = restrictFileSystem(
    [process.cwd(), real(dirname(entry)), real(join(root, "src")), real(join(root, "node_modules")), join(root, "package.json"), join(root, "tsconfig.json"), join(root, "bunfig.toml"), dirname(real(process.execPath)), "/usr", "/lib", "/lib64", "/etc", "/proc/self"],
    ["/dev/null"],
  );
}

try {
  const mod = (await import(entry)) as { default?: unknown };
  const d = (typeof mod.default === "function" ? await (mod.default as () => unknown)() : mod.default) as OperatorPluginDefinition | undefined;
  if (!d || typeof d !== "object" || !d.hooks) throw new Error("the entry's default export is not a definePlugin(...) value");
  def = d;
  port.postMessage({ t: "ready", hooks: Object.keys(d.hooks).filter((k) => typeof (d.hooks as Record<string, unknown>)[k] === "function"), ...(sandbox ? { sandbox } : {}) });
} catch (err) {
  port.postMessage({ t: "load_error", message: explainLoadError(err) });
}
