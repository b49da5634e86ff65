/**
 * The explorer's migration against a REAL ClickHouse server process (scripts/clickhouse.sh →
 * CLICKHOUSE_TEST_URL; Debian's 18.16, which has no `ADD COLUMN IF NOT EXISTS`): a
 * `usage_events` table created before the explorer gains its columns, twice without error, and
 * the request-id index table takes the projection's inline JSONEachRow inserts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ClickHouseAnalyticsStore } from "../../src/analytics/clickhouse-store.ts";
import { EXPLORER_COLUMNS, migrateExplorer } from "../../src/analytics/explorer-columns.ts";
import { indexRows, writeIndexRows } from "../../src/explorer/log-index.ts";
import { makeEvent } from "../../src/events/envelope.ts";
import { servicesOrFail } from "../helpers/services.ts";
import { portableTable, uniqDb } from "../analytics/clickhouse-server.helpers.ts";

const NAME = "explorer migration on a real ClickHouse server";
const URL_ = servicesOrFail(["clickhouse"], NAME)?.clickhouseTestUrl;

if (URL_) {
  describe(NAME, () => {
    const db = uniqDb();
    let admin: ClickHouseAnalyticsStore;
    let store: ClickHouseAnalyticsStore;
    beforeAll(async () => {
      admin = await ClickHouseAnalyticsStore.connect({ url: URL_, database: "default" });
      await admin.exec(`CREATE DATABASE ${db}`);
      await admin.exec(portableTable(db));
      store = await ClickHouseAnalyticsStore.connect({ url: URL_, database: db });
    });
    afterAll(async () => {
      await admin.exec(`DROP DATABASE IF EXISTS ${db}`);
      await Promise.all([admin.close(), store.close()]);
    });

    test("adds the explorer columns (twice: idempotent) and the index table", async () => {
      await migrateExplorer(store, db);
      await migrateExplorer(store, db);
      const cols = (await store.query<{ name: string; type: string }>(`SELECT name, type FROM system.columns WHERE database = '${db}' AND table = 'usage_events'`)).map((r) => r.name);
      for (const c of EXPLORER_COLUMNS) expect(cols).toContain(c.name);
      const tables = (await store.query<{ name: string }>(`SELECT name FROM system.tables WHERE database = '${db}'`)).map((r) => r.name);
      expect(tables).toContain("request_log_index");
    });

    test("index rows go in as the projection writes them", async () => {
      const batch = [0, 1, 2].map((offset) => ({ stream: "requests" as const, partition: 3, offset, key: "t", event: makeEvent({ type: offset ? "route.selected" : "request.received", tenant: "t", requestId: "r-1", payload: {} }) }));
      await writeIndexRows(store, indexRows(batch));
      const rows = await store.query<{ n: number | string }>(`SELECT count() AS n FROM ${db}.request_log_index WHERE request_id = 'r-1' AND partition = 3`);
      expect(Number(rows[0]!.n)).toBe(3);
    });
  });
}
