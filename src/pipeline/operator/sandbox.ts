/**
 * File-system confinement of a plugin process (`isolation: "process"`) with Linux Landlock, the
 * unprivileged sandbox of the kernel (no root, no setuid helper): after `restrictFileSystem`,
 * the process (and whatever it spawns) can read only the listed paths and write only the listed
 * ones — so not the data dir (event log, outbox, chDB, `admin.key`) nor anything else of the
 * gateway's OS user. Applied by worker-entry.ts in the plugin process before the plugin's code
 * is imported. Where the kernel has no Landlock (not Linux, ABI < 1) it reports why and the
 * caller carries on unconfined (the host logs it). Network access is not restricted here.
 *
 * Calls go through libc's `syscall` with bun:ffi; the structs are the kernel's UAPI:
 *   struct landlock_ruleset_attr { __u64 handled_access_fs; }            (8 bytes, ABI 1 size)
 *   struct landlock_path_beneath_attr { __u64 allowed_access; __s32 parent_fd; } __packed (12)
 */
import { closeSync, existsSync, openSync, statSync } from "node:fs";

const SYS_LANDLOCK_CREATE_RULESET = 444;
const SYS_LANDLOCK_ADD_RULE = 445;
const SYS_LANDLOCK_RESTRICT_SELF = 446;
const LANDLOCK_CREATE_RULESET_VERSION = 1;
const LANDLOCK_RULE_PATH_BENEATH = 1;
const PR_SET_NO_NEW_PRIVS = 38;

// Access rights (linux/landlock.h).
const EXECUTE = 1n << 0n;
const WRITE_FILE = 1n << 1n;
const READ_FILE = 1n << 2n;
const READ_DIR = 1n << 3n;
const TRUNCATE = 1n << 14n;
const FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE;

/** Every right the kernel's ABI knows: what the ruleset handles (denied unless a rule allows it). */
function handledFor(abi: number): bigint {
  const bits = abi >= 5 ? 16n : abi >= 3 ? 15n : abi >= 2 ? 14n : 13n;
  return (1n << bits) - 1n;
}

export interface SandboxResult {
  ok: boolean;
  abi: number;
  reason?: string;
}

/** Confine this process: read (and execute) `readable`, also write `writable`; nothing else. */
export function restrictFileSystem(readable: readonly string[], writable: readonly string[] = []): SandboxResult {
  if (process.platform !== "linux" || (process.arch !== "x64" && process.arch !== "arm64")) return { ok: false, abi: 0, reason: `no Landlock on ${process.platform}/${process.arch}` };
  // x86_64 and arm64 share these syscall numbers (the generic table).
  let ffi: typeof import("bun:ffi");
  try {
    ffi = require("bun:ffi") as typeof import("bun:ffi");
  } catch {
    return { ok: false, abi: 0, reason: "bun:ffi unavailable" };
  }
  const { dlopen, FFIType, ptr } = ffi;
  const libc = dlopen("libc.so.6", {
    syscall: { args: [FFIType.i64, FFIType.i64, FFIType.i64, FFIType.i64, FFIType.i64], returns: FFIType.i64 },
    prctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 },
  });
  // Every argument passed (unused ones 0): landlock_add_rule takes four, and its `flags` must be 0.
  const sys = (n: number, a: number | bigint, b: number | bigint, c: number | bigint, d: number | bigint = 0) => Number(libc.symbols.syscall(n, a, b, c, d));
  const abi = sys(SYS_LANDLOCK_CREATE_RULESET, 0, 0, LANDLOCK_CREATE_RULESET_VERSION);
  if (abi < 1) return { ok: false, abi: 0, reason: "the kernel has no Landlock" };
  const handled = handledFor(abi);
  const attr = new BigUint64Array([handled]);
  const ruleset = sys(SYS_LANDLOCK_CREATE_RULESET, ptr(attr), 8, 0);
  if (ruleset < 0) return { ok: false, abi, reason: "landlock_create_ruleset failed" };
  const dirRead = EXECUTE | READ_FILE | READ_DIR;
  const add = (path: string, rights: bigint): void => {
    if (!existsSync(path)) return;
    const isDir = statSync(path).isDirectory();
    const fd = openSync(path, "r");
    try {
      const rule = new ArrayBuffer(12);
      const view = new DataView(rule);
      // A rule on a file may only carry file rights.
      view.setBigUint64(0, (isDir ? rights : rights & FILE_RIGHTS) & handled, true);
      view.setInt32(8, fd, true);
      if (sys(SYS_LANDLOCK_ADD_RULE, ruleset, LANDLOCK_RULE_PATH_BENEATH, ptr(new Uint8Array(rule))) < 0) throw new Error(`landlock_add_rule failed for ${path}`);
    } finally {
      closeSync(fd);
    }
  };
  try {
    for (const p of readable) add(p, dirRead);
    for (const p of writable) add(p, handled);
  } catch (err) {
    return { ok: false, abi, reason: (err as Error).message };
  }
  if (libc.symbols.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) !== 0) return { ok: false, abi, reason: "prctl(PR_SET_NO_NEW_PRIVS) failed" };
  if (sys(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0, 0) !== 0) return { ok: false, abi, reason: "landlock_restrict_self failed" };
  return { ok: true, abi };
}
