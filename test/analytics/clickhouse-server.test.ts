/**
 * ClickHouseAnalyticsStore against a REAL ClickHouse server process (scripts/clickhouse.sh; make test
 * starts one through scripts/with-services.sh and exports CLICKHOUSE_TEST_URL).
 *
 * The server Debian ships is 18.16 (2018): too old for the real schema (no DateTime64, no
 * LowCardinality, no `{name:Type}` query parameters, no insert_deduplication_token, no
 * `DROP DATABASE … SYNC`). So these tests cover what the driver itself does over HTTP — connection,
 * health, batched JSONEachRow inserts, server errors vs. connection errors, retry with backoff
 * across a server restart, the server-down error — on a portable `usage_events` table with the
 * `UsageRow` columns in types every version has. The schema and the queries are covered by the
 * contract on chDB (chdb.test.ts); see docs/analytics-clickhouse-server.md.
 *
 * The restart/server-down cases, on a server of their own, are in clickhouse-server-restart.test.ts;
 * the helpers shared by both in clickhouse-server.helpers.ts.
 *
 * Attempts are counted structurally: the store pauses with `Bun.sleep(backoff)` between attempts,
 * so a spy on Bun.sleep sees one call per retry (none = the error was not retried).
 *
 * Stores whose requests are expected to fail get `?log_level=OFF` in their URL (a @clickhouse/client
 * URL parameter): the client would otherwise log a stack trace per failed request.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { servicesOrFail } from "../helpers/services.ts";
import { AnalyticsUnavailableError, ClickHouseAnalyticsStore } from "../../src/analytics/clickhouse-store.ts";
import { nanoColumnStatements, toClickHouseTime } from "../../src/analytics/schema.ts";
import { TOTALS_SQL, type Totals, countSql, expectedTotals, legacyPortableTable, makeRows, portableTable, spySleep, uniqDb } from "./clickhouse-server.helpers.ts";

const NAME = "ClickHouseAnalyticsStore against a real ClickHouse server";

const SHARED_URL = servicesOrFail(["clickhouse"], NAME)?.clickhouseTestUrl;

if (SHARED_URL) {
  describe(NAME, () => {
    /** A store on the default database, for CREATE/DROP DATABASE (store.drop() uses `SYNC`, which 18.16 rejects). */
    let admin: ClickHouseAnalyticsStore;
    let db: string;
    let store: ClickHouseAnalyticsStore;
    let version = "";

    beforeAll(async () => {
      admin = await ClickHouseAnalyticsStore.connect({ url: SHARED_URL, database: "default" });
      db = uniqDb();
      await admin.exec(`CREATE DATABASE ${db}`);
      store = await ClickHouseAnalyticsStore.connect({ url: SHARED_URL, database: db });
      await store.exec(portableTable(db));
    });

    afterAll(async () => {
      await admin?.exec(`DROP DATABASE IF EXISTS ${db}`);
      await Promise.all([store?.close(), admin?.close()]);
    });

    test("connects; health() is ok and reports the server's version", async () => {
      const h = await store.health();
      expect(h.ok).toBe(true);
      expect(h.kind).toBe("clickhouse");
      expect(h.error).toBeUndefined();
      expect(h.version).toMatch(/^\d+\.\d+\.\d+/); // 18.16.1 from Debian's package
      version = h.version!;
      const [row] = await store.query<{ v: string; db: string }>("SELECT version() AS v, currentDatabase() AS db");
      expect(row).toEqual({ v: version, db });
      console.info(`[clickhouse-server] ${SHARED_URL}: ClickHouse ${version}`);
    });

    test("batched inserts: three JSONEachRow batches, 6,000 rows, exact counts and sums read back", async () => {
      const batches = [makeRows(1, 1_000), makeRows(2, 2_500), makeRows(3, 2_500)];
      // No dedupToken: 18.16 rejects insert_deduplication_token (see the next describe's last test).
      for (const rows of batches) await store.insert(rows);
      const all = batches.flat();

      const totals = await store.query<Totals>(TOTALS_SQL(db));
      const expected = expectedTotals(all);
      expect(totals).toEqual(expected); // latencies are multiples of 0.5: their float sums are exact
      expect(totals.reduce((s, t) => s + t.n, 0)).toBe(6_000);
      // UInt64 sums arrive as JSON numbers (the store sets output_format_json_quote_64bit_integers=0).
      expect(typeof totals[0]!.cost).toBe("number");

      // Rows arrive as sent: the time in the format toClickHouseTime gives, NULL kept, strings intact.
      const sample = batches[1]![3]!;
      const [back] = await store.query<Record<string, unknown>>(`SELECT * FROM ${db}.usage_events WHERE event_id = '${sample.event_id}'`);
      expect(back).toEqual({ ...sample, time: toClickHouseTime(sample.time) });
      expect((await store.query<{ n: number }>(`SELECT count() AS n FROM ${db}.usage_events WHERE ttft_ms IS NULL`))[0]!.n).toBe(all.filter((r) => r.ttft_ms === null).length);
    }, 30_000);

    test("upgrade on this server: micro-dollar rows written before the nano columns read back ×1000 after the real migration statements; new rows keep their nanos", async () => {
      const legacyDb = uniqDb();
      await admin.exec(`CREATE DATABASE ${legacyDb}`);
      const legacy = await ClickHouseAnalyticsStore.connect({ url: SHARED_URL, database: legacyDb });
      try {
        await legacy.exec(legacyPortableTable(legacyDb));
        const old = makeRows(7, 50).map(({ cost_nanos: _c, saved_nanos: _s, ...r }) => r);
        await legacy.exec(`INSERT INTO ${legacyDb}.usage_events FORMAT JSONEachRow\n${old.map((r) => JSON.stringify({ ...r, time: toClickHouseTime(r.time) })).join("\n")}`);
        // 18.16 has no `ADD COLUMN IF NOT EXISTS` (newer servers and chDB run the statements as they
        // are: the contract's upgrade test); the column DEFAULT (× 1000) that reads old rows is the same.
        for (const sql of nanoColumnStatements(legacyDb)) await legacy.exec(sql.replace(" IF NOT EXISTS", ""));
        const sumOld = old.reduce((n, r) => n + r.cost_micros, 0);
        const [a] = await legacy.query<{ nanos: number; micros: number; saved: number }>(`SELECT sum(cost_nanos) AS nanos, sum(cost_micros) AS micros, sum(saved_nanos) AS saved FROM ${legacyDb}.usage_events`);
        expect(a).toEqual({ nanos: sumOld * 1000, micros: sumOld, saved: old.reduce((n, r) => n + r.saved_micros, 0) * 1000 });
        // New rows: exact nanos below the micro-dollar (13,500 = gpt-4o-mini, 10 in / 20 out).
        const fresh = makeRows(8, 20).map((r) => ({ ...r, cost_nanos: 13_500, cost_micros: 14 }));
        await legacy.insert(fresh);
        const [b] = await legacy.query<{ nanos: number }>(`SELECT sum(cost_nanos) AS nanos FROM ${legacyDb}.usage_events`);
        expect(b!.nanos).toBe(sumOld * 1000 + 20 * 13_500);
      } finally {
        await admin.exec(`DROP DATABASE IF EXISTS ${legacyDb}`);
        await legacy.close();
      }
    });

    test("an empty batch sends nothing and succeeds", async () => {
      const before = await store.query<{ n: number }>(countSql(db));
      await store.insert([]);
      expect(await store.query<{ n: number }>(countSql(db))).toEqual(before);
    });
  });

  describe(`${NAME}: errors the server answers are not retried`, () => {
    let admin: ClickHouseAnalyticsStore;
    let db: string;
    let store: ClickHouseAnalyticsStore;
    let sleeps: ReturnType<typeof spySleep> | undefined;

    beforeAll(async () => {
      admin = await ClickHouseAnalyticsStore.connect({ url: SHARED_URL, database: "default" });
      db = uniqDb();
      await admin.exec(`CREATE DATABASE ${db}`);
      // Up to 4 attempts: a wrongly retried server error shows as backoff pauses (and, after them,
      // as an AnalyticsUnavailableError), so the assertions below name the bug instead of timing out.
      store = await ClickHouseAnalyticsStore.connect({ url: `${SHARED_URL}/?log_level=OFF`, database: db, maxAttempts: 4, backoffMs: 5 });
      await store.exec(portableTable(db));
    });
    afterEach(() => {
      sleeps?.restore();
      sleeps = undefined;
    });
    afterAll(async () => {
      await admin?.exec(`DROP DATABASE IF EXISTS ${db}`);
      await Promise.all([store?.close(), admin?.close()]);
    });

    /** The error an operation rejects with, and how many backoff pauses it took. */
    async function failure(op: () => Promise<unknown>): Promise<{ error: Error; retries: number }> {
      sleeps = spySleep();
      const error = await op().then(
        () => {
          throw new Error("expected the operation to fail");
        },
        (e: unknown) => e as Error,
      );
      const retries = sleeps.calls.length;
      sleeps.restore();
      sleeps = undefined;
      return { error, retries };
    }

    test("bad SQL: the server's syntax error surfaces at once, not as analytics_unavailable", async () => {
      for (const op of [() => store.exec("SELEC 1"), () => store.query("SELEC 1")]) {
        const { error, retries } = await failure(op);
        expect(retries).toBe(0);
        expect(error).not.toBeInstanceOf(AnalyticsUnavailableError);
        expect(error.message).toMatch(/Code: 62\b.*Syntax error/);
      }
    }, 10_000);

    test("unknown table (query) and a row the server cannot parse (insert): server errors, no retry", async () => {
      const q = await failure(() => store.query(`SELECT count() FROM ${db}.no_such_table`));
      expect(q.retries).toBe(0);
      expect(q.error).not.toBeInstanceOf(AnalyticsUnavailableError);
      expect(q.error.message).toMatch(/Code: 60\b/); // UNKNOWN_TABLE

      // A row with a string where a UInt32 goes: the server refuses the whole batch.
      const bad = { ...makeRows(9, 1)[0]!, input_tokens: "many" as unknown as number };
      const i = await failure(() => store.insert([...makeRows(8, 10), bad]));
      expect(i.retries).toBe(0);
      expect(i.error).not.toBeInstanceOf(AnalyticsUnavailableError);
      expect(i.error.message).toMatch(/Code: \d+/);
      expect((await store.query<{ n: number }>(countSql(db)))[0]!.n).toBe(0); // nothing of that batch landed
    }, 10_000);

    test("the same store keeps working after server errors", async () => {
      await store.insert(makeRows(7, 5));
      expect(await store.query(countSql(db))).toEqual([{ n: 5, ids: 5 }]);
      expect((await store.health()).ok).toBe(true);
    });

    test("insert with a dedupToken: a server without insert_deduplication_token says so (not retried)", async () => {
      const [{ v }] = (await store.query<{ v: string }>("SELECT version() AS v")) as [{ v: string }];
      const major = Number(v.split(".")[0]);
      if (major >= 22) {
        // A modern server knows the setting: the insert goes through.
        await store.insert(makeRows(6, 3), "tok-1");
        return;
      }
      // 18.16: the setting is unknown (Code 115). The projection's exactly-once needs it, which is
      // one reason the gateway needs ClickHouse >= 23.x; the driver is tested without tokens here.
      const { error, retries } = await failure(() => store.insert(makeRows(6, 3), "tok-1"));
      expect(retries).toBe(0);
      expect(error).not.toBeInstanceOf(AnalyticsUnavailableError);
      expect(error.message).toMatch(/Code: 115\b.*insert_deduplication_token/);
    }, 10_000);
  });
}
