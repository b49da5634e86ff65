/** The data-dir lock: a live process holding the file log refuses a second opener; a dead one's lock is taken over. */
import { afterAll, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DirLockedError } from "../../src/events/dir-lock.ts";
import { FileEventLog } from "../../src/events/file-log.ts";
import { makeEvent } from "../../src/events/envelope.ts";
import { waitFor } from "../helpers/gateway.ts";

const dir = mkdtempSync(join(tmpdir(), "tollgate-lock-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("another process holding the log: DirLockedError naming its pid; after it dies (SIGKILL) the stale lock is taken over", async () => {
  const logDir = join(dir, "log");
  const holder = join(dir, "holder.ts");
  writeFileSync(holder, `import { FileEventLog } from ${JSON.stringify(resolve(import.meta.dir, "../../src/events/file-log.ts"))};
const log = await FileEventLog.open({ dir: ${JSON.stringify(logDir)} });
console.log("open");
setInterval(() => void log.partitions("requests"), 1000); // keeps the log referenced (and the process alive)
`);
  const child = spawn(process.execPath, ["run", holder], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  await waitFor(() => out.includes("open"), 20_000, "holder opened the log");

  const err = await FileEventLog.open({ dir: logDir }).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(DirLockedError);
  expect((err as DirLockedError).pid).toBe(child.pid!);
  expect((err as Error).message).toContain("in use by another process");

  child.kill("SIGKILL");
  await new Promise((r) => child.once("exit", r));
  expect(Number(readFileSync(join(logDir, "LOCK"), "utf8"))).toBe(child.pid!); // left behind by the crash
  const log = await FileEventLog.open({ dir: logDir });
  expect(Number(readFileSync(join(logDir, "LOCK"), "utf8"))).toBe(process.pid);
  await log.append("requests", [{ key: "k", event: makeEvent({ type: "x.happened", tenant: "t", payload: {} }) }]);
  await log.close();
  expect(existsSync(join(logDir, "LOCK"))).toBe(false); // released on close
  // …and opened again in this process without trouble.
  await (await FileEventLog.open({ dir: logDir })).close();
}, 30_000);
