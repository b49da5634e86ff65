/** ProcessAnalyticsStore: the shared contract on chDB run in its own process, plus what only it does. */
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ProcessAnalyticsStore } from "../../src/analytics/process-store.ts";
import { analyticsStoreContract } from "./contract.ts";

analyticsStoreContract("chdb in its own process", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-chdb-proc-"));
  const store = await ProcessAnalyticsStore.open(dir);
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

test("the engine runs in another process, and a killed engine is restarted by the next call", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-chdb-proc-"));
  const store = await ProcessAnalyticsStore.open(dir);
  try {
    await store.migrate();
    const first = store.pid;
    expect(first).toBeGreaterThan(0);
    expect(first).not.toBe(process.pid);
    process.kill(first!, "SIGKILL");
    for (let i = 0; i < 100 && store.pid === first; i++) await Bun.sleep(20);
    const [row] = await store.query<{ n: number }>("SELECT 1 AS n");
    expect(row?.n).toBe(1);
    expect(store.pid).toBeGreaterThan(0);
    expect(store.pid).not.toBe(first);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a directory the engine cannot open is an error at open, with chDB's reason", async () => {
  const file = join(mkdtempSync(join(tmpdir(), "tollgate-chdb-proc-")), "not-a-dir");
  await Bun.write(file, "x");
  await expect(ProcessAnalyticsStore.open(join(file, "sub"))).rejects.toThrow();
});
