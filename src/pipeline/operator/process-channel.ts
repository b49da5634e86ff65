/**
 * `isolation: "process"`: the plugin runs in a separate Bun process (the same entry script as a
 * worker, speaking the same messages over Bun's IPC channel), started
 * - with an EMPTY environment (no TOLLGATE_MASTER_KEY, provider keys, cloud credentials; its
 *   own `/proc/self/environ` and every process it spawns inherit nothing);
 * - with its working directory in the plugin's folder;
 * - after the gateway made itself non-dumpable (prctl PR_SET_DUMPABLE 0, Linux): another process
 *   of the same user can no longer read the gateway's `/proc/<pid>/environ` or memory.
 * - confined in the file system by the plugin process itself with Landlock before the plugin's
 *   code loads (sandbox.ts, called from worker-entry.ts): no data dir, no writes.
 * What it does NOT isolate: the network. See docs/plugins.md and docs/security.md.
 */
import { EventEmitter } from "node:events";

let hardened: boolean | undefined;

/** Make this process non-dumpable (Linux): its /proc environ and memory unreadable by its siblings. */
export function hardenGatewayProcess(): boolean {
  if (hardened !== undefined) return hardened;
  hardened = false;
  if (process.platform !== "linux") return hardened;
  try {
    const { dlopen, FFIType } = require("bun:ffi") as typeof import("bun:ffi");
    const libc = dlopen("libc.so.6", { prctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 } });
    const PR_SET_DUMPABLE = 4;
    hardened = libc.symbols.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) === 0;
  } catch {
    hardened = false;
  }
  return hardened;
}

/** A plugin process behind the worker's interface: postMessage, "message"/"exit"/"error" events, terminate. */
export class ProcessChannel extends EventEmitter {
  private readonly proc: ReturnType<typeof Bun.spawn>;

  constructor(script: string, entry: string, cwd: string) {
    super();
    hardenGatewayProcess();
    this.proc = Bun.spawn({
      cmd: [process.execPath, script, entry],
      cwd,
      env: {},
      stdin: "ignore",
      stdout: "ignore",
      stderr: "ignore",
      serialization: "json",
      ipc: (message) => this.emit("message", message),
    });
    void this.proc.exited.then((code) => this.emit("exit", code));
  }

  get pid(): number {
    return this.proc.pid;
  }

  postMessage(message: unknown): void {
    try {
      this.proc.send(message);
    } catch (err) {
      this.emit("error", err as Error);
    }
  }

  terminate(): Promise<number> {
    this.proc.kill("SIGKILL");
    return this.proc.exited;
  }
}
