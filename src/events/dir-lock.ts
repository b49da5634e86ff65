/**
 * A cross-process lock on a data directory: a `LOCK` file holding the owner's pid, created with
 * O_EXCL. A lock whose process is gone (a crash, SIGKILL) is stale and taken over; a live owner
 * makes the second opener fail with a clear error instead of two writers corrupting the files.
 *
 * @example
 * const release = acquireDirLock("./data/log");   // throws DirLockedError if another process holds it
 * release();
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";

export class DirLockedError extends Error {
  override name = "DirLockedError";
  constructor(
    readonly dir: string,
    readonly pid: number,
  ) {
    super(`${dir} is in use by another process (pid ${pid}): stop it first, or use another data dir`);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM"; // exists, owned by someone else
  }
}

/** Takes the lock on `dir` (which must exist); returns its release function. */
export function acquireDirLock(dir: string): () => void {
  const file = join(dir, "LOCK");
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, "wx");
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      return () => {
        try {
          if (Number(readFileSync(file, "utf8").trim()) === process.pid) rmSync(file, { force: true });
        } catch {
          // already gone
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    let owner = NaN;
    try {
      owner = Number(readFileSync(file, "utf8").trim());
    } catch {
      continue; // removed meanwhile: try again
    }
    // Our own pid can only be a stale file (e.g. pid 1 again after a container restart).
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) throw new DirLockedError(dir, owner);
    rmSync(file, { force: true }); // stale: its process is gone
  }
  throw new Error(`could not take the lock on ${dir}`);
}
