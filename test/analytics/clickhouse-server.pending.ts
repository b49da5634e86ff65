/**
 * NOT YET RUN BY THE SUITE (issue 7 in progress): the AnalyticsStore contract against a real
 * ClickHouse server. It joins the suite (renamed `*.test.ts`) once `scripts/with-services.sh`
 * starts a ClickHouse server new enough for the schema; until then CI=true would have to fail
 * it, and a silent skip is not allowed. Run by hand:
 *   CLICKHOUSE_URL=http://127.0.0.1:8123 bun test test/analytics/clickhouse-server.pending.ts
 */
import { test } from "bun:test";
import { ClickHouseAnalyticsStore } from "../../src/analytics/clickhouse-store.ts";
import { analyticsStoreContract } from "./contract.ts";

const URL_ = process.env.CLICKHOUSE_URL;
const CI = process.env.CI === "true";

if (URL_) {
  analyticsStoreContract("clickhouse", async () => {
    const store = await ClickHouseAnalyticsStore.connect({
      url: URL_,
      ...(process.env.CLICKHOUSE_USER ? { username: process.env.CLICKHOUSE_USER } : {}),
      ...(process.env.CLICKHOUSE_PASSWORD ? { password: process.env.CLICKHOUSE_PASSWORD } : {}),
      database: `tollgate_test_${crypto.randomUUID().replaceAll("-", "")}`,
    });
    return {
      store,
      cleanup: async () => {
        await store.drop();
        await store.close();
      },
    };
  });
} else if (CI) {
  test("ClickHouse contract needs CLICKHOUSE_URL under CI=true", () => {
    throw new Error("CLICKHOUSE_URL is not set: the ClickHouse AnalyticsStore contract cannot run (CI=true never skips)");
  });
} else {
  console.warn("[analytics] CLICKHOUSE_URL not set: skipping the ClickHouse AnalyticsStore contract");
  test.skip("ClickHouse contract (set CLICKHOUSE_URL)", () => {});
}

