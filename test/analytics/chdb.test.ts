/** ChdbAnalyticsStore: the shared contract on the embedded engine, in a temp dir. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChdbAnalyticsStore } from "../../src/analytics/chdb-store.ts";
import { analyticsStoreContract } from "./contract.ts";

analyticsStoreContract("chdb", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-chdb-"));
  const store = await ChdbAnalyticsStore.open(dir);
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
